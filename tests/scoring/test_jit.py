"""numba starts without importing scipy.linalg, and BLAS still works where it is needed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
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
        import screening.scoring._jit  # noqa: F401
        from numba.np.arraymath import _HAVE_BLAS

        @njit
        def product(a, b):
            return np.dot(a, b)

        a = np.arange(6.0).reshape(2, 3)
        print(_HAVE_BLAS, product(a, a.T).tolist() == (a @ a.T).tolist())
        """
    )
    assert out == "False True"
