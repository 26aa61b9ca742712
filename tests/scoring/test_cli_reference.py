"""``screening reliability`` and ``norms`` from the command line, on files a researcher brings.

The numbers of these commands were compared with R 4.2 / psych 2.2.9 on CES-D, DASS-21 and
SCARED files (reverse keys, 1-10 % missing answers, empty rows, Chinese GBK headers mapped
with ``--map``, options numbered from 1, groups of 1-3 rows): see the report of that check.
The tests here pin what the comparison found wrong.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from screening.cli import main


def _cesd_file(path: Path, bad: str | None = None) -> Path:
    """40 CES-D rows with one answer given (an out-of-range code, say) where ``bad`` is set."""
    rows = [
        {"student_id": f"S{i:03d}", **{f"cesd_{j}": (i * j + i // 3) % 4 for j in range(1, 21)}}
        for i in range(40)
    ]
    frame = pl.DataFrame(rows).with_columns(pl.col("cesd_3").cast(pl.String))
    if bad is not None:
        frame = frame.with_columns(frame["cesd_3"].scatter(7, bad))
    frame.write_csv(path)
    return path


# a few identical rows: the careless check warns that D2 cannot be computed (not checked here)
@pytest.mark.filterwarnings("ignore::screening.scoring.careless.CarelessWarning")
def test_reliability_advice_on_invalid_answers_names_its_own_option(tmp_path, capsys):
    # `screening reliability` has --on-invalid raise|missing; its error advised
    # "--on-invalid flag" (the option of `score` and `norms`), which it refuses (exit 2).
    bad = _cesd_file(tmp_path / "bad.csv", bad="9")
    out = tmp_path / "rel"
    assert main(["reliability", str(bad), "-i", "cesd", "--out", str(out), "-q"]) == 2
    error = capsys.readouterr().err
    assert "--on-invalid missing" in error and "--on-invalid flag" not in error
    # the advice works
    assert (
        main(["reliability", str(bad), "-i", "cesd", "--on-invalid", "missing", "-o", str(out)])
        == 0
    )


def test_norms_advice_on_invalid_answers_names_its_own_option(tmp_path, capsys):
    bad = _cesd_file(tmp_path / "bad.csv", bad="9")
    out = tmp_path / "norms.json"
    args = ["norms", str(bad), "-i", "cesd", "--by", "student_id", "--version", "v"]
    assert main([*args, "--min-n", "1", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "--on-invalid flag" in error and "--on-invalid missing" not in error


@pytest.mark.filterwarnings("ignore::screening.scoring.careless.CarelessWarning")
def test_reliability_output_folder_inside_a_file_is_refused_with_a_message(tmp_path, capsys):
    source = _cesd_file(tmp_path / "a.csv")
    (tmp_path / "taken").write_text("not a folder", encoding="utf-8")
    out = tmp_path / "taken" / "quality"
    status = main(["reliability", str(source), "--instrument", "cesd", "--out", str(out)])
    assert status == 2
    assert "cannot write the results in this folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "taken"]
