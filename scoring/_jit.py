"""The one place numba is imported: at most one thread at a time, kernels loaded from
numba's cache without loading its compiler, no BLAS probe, and one lock for parallel
kernel launches.

Import
------
The batch run reads a CSV (a numba tokeniser) in one thread while the main thread loads
the scoring kernel. numba's package imports itself in circles; two threads importing it at
once fail, depending on the timing, with errors such as "cannot import name '_Intrinsic'
from partially initialized module 'numba.core.extending'". Every module of this package
that uses numba therefore takes it from here (``from screening.scoring._jit import njit``):
Python imports this module in one thread while the others wait, so numba is imported whole
before any of them uses it.

Loading a cached kernel
-----------------------
Before numba looks a function up in its on-disk cache, it refreshes its target context:
it imports and registers every typing and lowering rule it has (``numba.np.random``,
``numba.typed``, ``numba.np.arraymath`` and some thirty more modules). Compiling needs
them; loading machine code from the cache needs only numba's runtime (NRT), which the
loaded code calls to allocate arrays. :func:`load_cached` is numba's
``Cache.load_overload`` without the refresh: it starts the runtime, then loads. Where
the cache has no entry, numba compiles next, and its compiler refreshes the context
itself (``CompilerBase.__init__``), so nothing else changes. This takes 0.15-0.2 s off
every batch run (measured: a cached scoring kernel loads in 0.07-0.13 s instead of
0.21-0.28 s).

Loading (the cached environment of a kernel) and compiling import ``numba.np.arraymath``,
whose module body probes for BLAS by importing ``scipy.linalg`` in full (about 0.3 s).
The kernels of this package use no BLAS, so this module, on import, has
:func:`skip_blas_probe` import ``numba.np.arraymath`` while ``scipy.linalg.cython_blas``
cannot be imported, and the probe answers "no BLAS". Functions that do use BLAS
(``np.dot``, ``np.linalg``) check again, with a real import, when numba compiles them;
the probe's only other use is that jitted ``np.correlate`` and ``np.convolve`` take a
plain loop instead of BLAS.

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
from numba.core.caching import Cache
from numba.core.runtime import rtsys

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


def load_cached(cache: Cache, signature: object, target_context: object) -> object:
    """numba's ``Cache.load_overload`` without refreshing ``target_context`` first (see
    the module docstring): the compiled function, or None when the cache has none."""
    rtsys.initialize(target_context)  # what loaded code needs of the refresh
    with cache._guard_against_spurious_io_errors():
        return cache._load_overload(signature, target_context)


skip_blas_probe()
_NUMBA_PARTS = ("_load_overload", "_guard_against_spurious_io_errors")
if all(hasattr(Cache, name) for name in _NUMBA_PARTS):  # else numba loads as it always did
    Cache.load_overload = load_cached

__all__ = [
    "PARALLEL_LAUNCH",
    "get_num_threads",
    "load_cached",
    "njit",
    "numba",
    "prange",
    "skip_blas_probe",
]
