"""numba loads cached kernels without its compiler's registries and without importing
scipy.linalg; compiling and BLAS still work where they are needed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _run(code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.slow
def test_scoring_a_battery_does_not_import_scipy_linalg() -> None:
    out = _run(
        """
        import sys
        import numpy as np
        from screening.pipeline import Scorer, run_kernel
        scorer = Scorer.for_battery("default")
        out = run_kernel(scorer, np.zeros((3, scorer.compiled.n_items), np.int8, order="F"))
        assert (out["scores"] == 0).all()
        print("scipy.linalg" in sys.modules)
        """
    )
    assert out == "False"


@pytest.mark.slow
def test_jitted_blas_still_works_after_the_probe_was_skipped() -> None:
    out = _run(
        """
        import numpy as np
        from numba import njit
        from screening.pipeline import Scorer, run_kernel
        scorer = Scorer.for_battery("default")
        run_kernel(scorer, np.zeros((3, scorer.compiled.n_items), np.int8, order="F"))
        from numba.np.arraymath import _HAVE_BLAS

        @njit
        def product(a, b):
            return np.dot(a, b)

        a = np.arange(6.0).reshape(2, 3)
        print(_HAVE_BLAS, product(a, a.T).tolist() == (a @ a.T).tolist())
        """
    )
    assert out == "False True"


SCORE_AND_LIST_MODULES = """
import sys
import numpy as np
from screening.pipeline import Scorer, run_kernel
scorer = Scorer.for_battery("default")
answers = np.array([[0] * 16, [3] * 16, [1, -1] * 8], np.int8)
out = run_kernel(scorer, np.asfortranarray(answers))
print(out["scores"].tolist(), out["bands"].tolist())
print(sorted(name for name in sys.modules if name.startswith("numba.")))
"""


@pytest.mark.slow
def test_a_cached_kernel_loads_without_the_compilers_registries(tmp_path: Path) -> None:
    """The first run compiles into an empty cache (numba refreshes its registries itself);
    the second loads from it without importing them, and scores the same."""
    compiled = _run(SCORE_AND_LIST_MODULES, NUMBA_CACHE_DIR=str(tmp_path)).splitlines()
    loaded = _run(SCORE_AND_LIST_MODULES, NUMBA_CACHE_DIR=str(tmp_path)).splitlines()
    assert loaded[0] == compiled[0]
    registries = {"numba.np.random.generator_methods", "numba.typed.typeddict"}
    assert registries <= set(eval(compiled[1]))
    assert not registries & set(eval(loaded[1]))


RACE = """
import sys
import threading
import time

import screening.io, screening.pipeline  # noqa: F401, E401

errors = []


def load(module):
    try:
        __import__(module)
    except Exception as error:  # the race shows as an ImportError or AttributeError
        errors.append(f"{module}: {error!r}")


reader = threading.Thread(target=load, args=("screening._csv_kernels",))
reader.start()
time.sleep(float(sys.argv[1]))
load(sys.argv[2])
reader.join()
print(errors)
"""


@pytest.mark.slow
@pytest.mark.parametrize("main_thread", ["screening.scoring._jit", "screening.scoring._kernels"])
def test_two_threads_loading_numba_kernels_at_once(main_thread: str) -> None:
    """The batch run reads a CSV (numba tokeniser) in a thread while the main thread loads
    the scoring kernel. numba imported from both threads at once used to fail with
    "partially initialized module" errors, depending on the timing."""
    for delay in (0.0, 0.05, 0.1, 0.15, 0.2):
        done = subprocess.run(
            [sys.executable, "-c", RACE, str(delay), main_thread],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[]", f"after {delay} s: {done.stdout}"
