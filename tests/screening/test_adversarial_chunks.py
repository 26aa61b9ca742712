"""Adversarial tests of batch runs: chunked, several files, CSV or Parquet, failing runs.

Each test pins one defect found by hand: a chunked run (``chunk_rows``) or a run of several
files must give exactly what one in-memory run of the same rows gives.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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


def _answers(n: int, shift: int = 0) -> pl.DataFrame:
    """``n`` students of school A who answer the PHQ-9 and GAD-7 consistently (codes 0-3,
    plus ``shift`` for files that number the options from 1)."""
    rng = np.random.default_rng(7)
    items = [f"phq9_{i}" for i in range(1, 10)] + [f"gad7_{i}" for i in range(1, 8)]
    level = rng.integers(0, 4, size=(n, 1))
    codes = np.clip(level + rng.integers(-1, 2, size=(n, len(items))), 0, 3) + shift
    return pl.DataFrame(
        {"student_id": [f"S{i}" for i in range(n)], "school_id": ["A"] * n}
        | {c: codes[:, k] for k, c in enumerate(items)}
    )


def test_quality_of_a_chunked_run_is_that_of_the_whole_file(tmp_path):
    """``--quality`` with batches (``--chunk-rows``, or a file too large for memory) was
    computed per batch: run.json listed school A once per batch, each with the alpha and
    flagged share of that batch alone, instead of once with the file's figures."""
    _answers(60).write_csv(tmp_path / "a.csv")
    whole = score_files([tmp_path / "a.csv"], tmp_path / "w", battery="default", quality=True)
    chunked = score_files(
        [tmp_path / "a.csv"], tmp_path / "c", battery="default", quality=True, chunk_rows=25
    )
    assert [row["school_id"] for row in chunked.record["quality"]] == ["A"]
    assert chunked.record["quality"] == whole.record["quality"]
    assert whole.record["quality"][0]["rows"] == 60


def test_quality_of_several_files_is_that_of_the_whole_run(tmp_path):
    """One file per school: each school is compared with the whole run (the district), not
    with its own file alone."""
    a = _answers(60)
    b = _answers(40).with_columns(
        school_id=pl.lit("B"), student_id=pl.format("T{}", pl.col("student_id"))
    )
    a.write_csv(tmp_path / "a.csv")
    b.write_csv(tmp_path / "b.csv")
    pl.concat([a, b]).write_csv(tmp_path / "ab.csv")
    files = [tmp_path / "a.csv", tmp_path / "b.csv"]
    apart = score_files(files, tmp_path / "apart", battery="default", quality=True)
    together = score_files([tmp_path / "ab.csv"], tmp_path / "one", battery="default", quality=True)
    assert [row["school_id"] for row in apart.record["quality"]] == ["A", "B"]
    assert apart.record["quality"] == together.record["quality"]


def test_quality_reads_answers_numbered_from_one_as_their_codes(tmp_path):
    """With ``numbered_from = 1`` in the mapping the scores were right but ``--quality``
    read the file's option numbers (1-4) as answers: every 4 was out of range, so alpha
    and the answered counts were those of other, partly missing, data."""
    from screening.mapping import load_mapping

    _answers(60).write_csv(tmp_path / "codes.csv")
    _answers(60, shift=1).write_csv(tmp_path / "numbers.csv")
    (tmp_path / "m.toml").write_text("[options]\nnumbered_from = 1\n", encoding="utf-8")
    codes = score_files([tmp_path / "codes.csv"], tmp_path / "a", battery="default", quality=True)
    numbers = score_files(
        [tmp_path / "numbers.csv"],
        tmp_path / "b",
        battery="default",
        quality=True,
        mapping=load_mapping(tmp_path / "m.toml"),
    )
    assert numbers.record["quality"] == codes.record["quality"]
    assert numbers.record["quality"][0]["n_min"] == 60


def test_empty_text_cells_of_a_parquet_file_are_null_as_in_csv(tmp_path):
    """Parquet writers keep an empty cell as "" where CSV and Excel have nothing: it was
    grouped as a school of its own and the warning about empty school cells never came."""
    rows = [["S1", "A", "5", "1", "2", "3", "4", "5"], ["S2", "", "", "1", "2", "3", "4", "5"]]
    header = ",".join(["student_id", "school_id", "grade", *WHO5])
    source = _who5_csv(tmp_path / "a.csv", rows, header)
    frame = pl.DataFrame([dict(zip(header.split(","), row, strict=True)) for row in rows])
    frame.write_parquet(tmp_path / "a.parquet")
    from_csv = score_files([source], tmp_path / "csv", instrument="who5")
    from_parquet = score_files([tmp_path / "a.parquet"], tmp_path / "parquet", instrument="who5")
    got = pl.read_parquet(from_parquet.results_path)
    assert got.equals(pl.read_parquet(from_csv.results_path))
    assert got.get_column("school_id").to_list() == ["A", None]
    assert [w.split(": ", 1)[1] for w in from_parquet.warnings] == [
        w.split(": ", 1)[1] for w in from_csv.warnings
    ]
    assert any("school_id is empty in 1 of 2 rows" in w for w in from_parquet.warnings)


def test_quality_of_a_run_where_nothing_can_be_computed_is_written_as_nulls(tmp_path):
    """Every row incomplete: quality figures without data were NaN, which run.json cannot
    hold, and the whole run failed while writing it."""
    frame = _answers(5).with_columns(
        [pl.lit(None, pl.Int64).alias(c) for c in _answers(5).columns[4:]]
    )
    frame.write_csv(tmp_path / "a.csv")
    summary = score_files([tmp_path / "a.csv"], tmp_path / "out", battery="default", quality=True)
    assert summary.by_status == {"incomplete": 5}
    written = json.loads((tmp_path / "out" / "run.json").read_text("utf-8"))
    assert written["quality"] == summary.record["quality"]
    assert [row["school_id"] for row in written["quality"]] == ["A"]
