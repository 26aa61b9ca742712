"""The one place numba is imported: at most one thread at a time, without its BLAS probe,
and one lock for parallel kernel launches.

Import
------
The batch run reads a CSV (a numba tokeniser) in one thread while the main thread loads
the scoring kernel. numba's package imports itself in circles; two threads importing it at
once fail, depending on the timing, with errors such as "cannot import name '_Intrinsic'
from partially initialized module 'numba.core.extending'". Every module of this package
that uses numba therefore takes it from here (``from screening.scoring._jit import njit``):
Python imports this module in one thread while the others wait, so numba is imported whole
before any of them uses it.

Start-up
--------

The first time numba dispatches a function (a load from its on-disk cache included) it
imports ``numba.np.arraymath``, whose module body probes for BLAS by importing
``scipy.linalg`` in full. The kernels of this package use no BLAS, so the modules that
define kernels import this one first: it imports ``numba.np.arraymath`` while
``scipy.linalg.cython_blas`` cannot be imported, and the probe answers "no BLAS".

Nothing else changes. Functions that do use BLAS (``np.dot``, ``np.linalg``) check again,
with a real import, when numba compiles them; the probe's only other use is that jitted
``np.correlate`` and ``np.convolve`` take a plain loop instead of BLAS.

Launches
--------
The batch run reads the next input in a thread while it scores the current one, so two
threads may start parallel kernels at once. numba's workqueue threading layer, its
fallback where neither TBB nor OpenMP (libgomp) is installed, aborts the process when that
happens; every parallel kernel is therefore started under :data:`PARALLEL_LAUNCH`.
"""

from __future__ import annotations

import sys
import threading

import numba
from numba import get_num_threads, njit, prange

#: Held while a parallel (``prange``) kernel runs; see the module docstring.
PARALLEL_LAUNCH = threading.RLock()

_PROBED = "scipy.linalg.cython_blas"


def skip_blas_probe() -> None:
    """Import ``numba.np.arraymath`` without importing ``scipy.linalg`` (once per process).

    Does nothing when numba has already probed, or when ``scipy.linalg`` is already
    imported (then the probe is cheap and finds BLAS as usual).
    """
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    sys.modules[_PROBED] = None  # an import of it now raises ImportError
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        if sys.modules.get(_PROBED, 0) is None:
            del sys.modules[_PROBED]


skip_blas_probe()

__all__ = ["PARALLEL_LAUNCH", "get_num_threads", "njit", "numba", "prange", "skip_blas_probe"]
