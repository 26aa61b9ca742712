"""Adversarial tests of batch runs: chunked, several files, CSV or Parquet, failing runs.

Each test pins one defect found by hand: a chunked run (``chunk_rows``) or a run of several
files must give exactly what one in-memory run of the same rows gives.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from screening.batch import score_files

WHO5 = [f"who5_{i}" for i in range(1, 6)]


def _who5_csv(path: Path, rows: list[list[str]], header: str | None = None) -> Path:
    lines = [header or ",".join(["student_id", *WHO5]), *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("chunk_rows", [1, 2, 3])
def test_an_instrument_run_keeps_the_reasons_of_invalid_answers_in_every_batch(
    tmp_path, chunk_rows
):
    """``--instrument`` with ``--on-invalid flag``: the results had a ``reasons`` column only
    when the frame held an invalid answer, so a chunked run either dropped it (the first
    batch clean: the invalid row's reason was lost) or crashed with ColumnNotFoundError
    (the first batch invalid, a later one clean)."""
    source = _who5_csv(
        tmp_path / "a.csv",
        [["S1", "1", "2", "3", "4", "5"], ["S2", "1", "2", "3", "4", "5"],
         ["S3", "1", "2", "9", "4", "5"], ["S4", "1", "1", "1", "1", "1"]],
    )  # fmt: skip
    whole = score_files([source], tmp_path / "whole", instrument="who5", on_invalid="flag")
    chunked = score_files(
        [source], tmp_path / "chunked", instrument="who5", on_invalid="flag", chunk_rows=chunk_rows
    )
    expected = pl.read_parquet(whole.results_path)
    got = pl.read_parquet(chunked.results_path)
    assert got.equals(expected)
    assert got.get_column("reasons").to_list() == [[], [], ["invalid answer who5_3 = '9'"], []]


def test_an_instrument_run_of_a_clean_file_then_an_invalid_one_keeps_its_reasons(tmp_path):
    """Several files: the first clean, the second with an invalid answer (flagged)."""
    clean = _who5_csv(tmp_path / "a.csv", [["S1", "1", "2", "3", "4", "5"]])
    invalid = _who5_csv(tmp_path / "b.csv", [["S2", "1", "2", "9", "4", "5"]])
    summary = score_files([clean, invalid], tmp_path / "out", instrument="who5", on_invalid="flag")
    reasons = pl.read_parquet(summary.results_path).get_column("reasons").to_list()
    assert reasons == [[], ["invalid answer who5_3 = '9'"]]


def test_warnings_about_empty_group_cells_are_in_the_same_order_in_batches(tmp_path):
    """run.json of a chunked run listed the empty-grade warning before the empty-school one
    when a grade was left empty in an earlier batch: the order followed the batches, not
    the columns, so run.json differed from the in-memory run's."""
    header = ",".join(["student_id", "school_id", "grade", *WHO5])
    source = _who5_csv(
        tmp_path / "a.csv",
        [["S1", "A", "7", "1", "1", "1", "1", "1"], ["S2", "A", "", "1", "1", "1", "1", "1"],
         ["S3", "", "7", "1", "1", "1", "1", "1"]],
        header,
    )  # fmt: skip
    whole = score_files([source], tmp_path / "whole", instrument="who5")
    chunked = score_files([source], tmp_path / "chunked", instrument="who5", chunk_rows=2)
    assert [w.split(": ", 1)[1][:9] for w in whole.warnings] == ["school_id", "grade is "]
    assert chunked.warnings == whole.warnings
    record = json.loads(chunked.run_path.read_text("utf-8"))
    assert record["warnings"] == whole.warnings


def test_an_output_folder_inside_a_file_is_refused_with_a_message(tmp_path):
    """``--out taken/results`` where ``taken`` is a file: the command ended in a FileExistsError
    traceback from ``mkdir`` instead of a message naming the folder (as a ScreeningError,
    which the command line prints and exits 2 with)."""
    from screening.cli import main
    from screening.errors import OutputFolderError

    source = _who5_csv(tmp_path / "a.csv", [["S1", "1", "2", "3", "4", "5"]])
    (tmp_path / "taken").write_text("not a folder", encoding="utf-8")
    out = tmp_path / "taken" / "results"
    with pytest.raises(OutputFolderError, match="taken/results: cannot write the results"):
        score_files([source], out, instrument="who5")
    status = main(["score", str(source), "--instrument", "who5", "--out", str(out), "-q"])
    assert status == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "taken"]
