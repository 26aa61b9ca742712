"""The ``screening`` entry point: ``run`` ends the process quickly but loses no output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

QUICK = [sys.executable, "-m", "screening.cli"]  # __main__ calls run(): os._exit at the end
NORMAL = [sys.executable, "-c", "import sys; from screening.cli import main; sys.exit(main())"]


def _command(prefix: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize(
    "args",
    [
        ("instruments", "show", "scared"),  # a long rich table through a pipe
        ("instruments", "test"),  # every golden vector, one line each
        ("--version",),
    ],
)
def test_quick_exit_prints_exactly_what_a_normal_exit_prints(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    quick = _command(QUICK, *args, cwd=tmp_path)
    normal = _command(NORMAL, *args, cwd=tmp_path)
    assert quick.returncode == normal.returncode == 0, quick.stderr
    assert quick.stdout.endswith("\n")
    assert quick.stdout == normal.stdout


def test_quick_exit_keeps_the_error_status_and_message(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    done = _command(QUICK, "score", "empty.csv", "-q", "--out", "o", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: empty.csv: the file is empty"), done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "o").exists()


def test_the_toolkits_warnings_are_lines_of_their_own(capsys):
    """A command's warnings read like its other messages, not Python's file:line form."""
    import warnings

    from screening.cli import _warnings_as_lines
    from screening.scoring.norms import NormsWarning

    with warnings.catch_warnings(), _warnings_as_lines():
        warnings.simplefilter("always")
        warnings.warn("12 scored rows found no phq9 norms", NormsWarning, stacklevel=1)
        warnings.warn("something of another library", UserWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert "warning: 12 scored rows found no phq9 norms\n" in err
    assert "NormsWarning" not in err
    assert "warning: something of another library" not in err  # shown as Python shows it
