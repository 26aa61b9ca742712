"""Start-up of the service: the kernels are loaded before the first upload needs them."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

from screening.api.main import warm_kernels


def test_warm_kernels_logs_no_error(caplog):
    with caplog.at_level(logging.ERROR):
        warm_kernels()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.slow
def test_warm_kernels_leaves_the_first_upload_nothing_to_load():
    """In a fresh process, after the warm-up, numba loads nothing more for an upload."""
    code = """
        from numba.core.registry import cpu_target  # noqa: F401
        from screening.api.main import warm_kernels
        from screening.api.services.uploads import prepare_upload
        from screening.scoring._kernels import score_rows
        from screening import _csv_kernels

        warm_kernels()
        dispatchers = [score_rows, _csv_kernels._tokenise_parts, _csv_kernels._view_rows]
        before = [len(d.overloads) for d in dispatchers]
        rows = "student_id,name," + ",".join(f"phq9_{k}" for k in range(1, 10))
        rows += "," + ",".join(f"gad7_{k}" for k in range(1, 8)) + "\\n"
        rows += "S9,张三," + ",".join(["1"] * 16) + "\\n"
        prepare_upload(rows.encode("utf-8"), "school.csv", "default")
        print(before, [len(d.overloads) for d in dispatchers])
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.strip().split("] [")
    assert before.lstrip("[") == after.rstrip("]")
    assert "0" not in before.lstrip("[").split(", ")
