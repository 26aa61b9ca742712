"""The batch run's choice between whole files and batches of rows (memory)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import screening.batch
from screening.batch import auto_chunk_rows, available_memory, score_files
from screening.errors import ResponseValidationError

ITEMS = [f"phq9_{i}" for i in range(1, 10)] + [f"gad7_{i}" for i in range(1, 8)]


def _city(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    answers = {c: pl.Series(rng.integers(-1, 4, n), dtype=pl.Int8) for c in ITEMS}
    frame = pl.DataFrame({"student_id": [f"S{i}" for i in range(n)], **answers})
    return frame.with_columns(pl.col(ITEMS).replace(-1, None))


@pytest.fixture
def big_csv(tmp_path: Path) -> Path:
    path = tmp_path / "city.csv"
    _city(25_000).write_csv(path)
    return path


def test_available_memory_is_read_on_linux():
    found = available_memory()
    assert found is None or found > 0


def test_inputs_are_read_whole_when_memory_suffices(big_csv, monkeypatch):
    monkeypatch.setattr(screening.batch, "available_memory", lambda: 8 << 30)
    assert auto_chunk_rows([big_csv], len(ITEMS)) is None


def test_inputs_are_read_whole_when_memory_is_unknown(big_csv, monkeypatch):
    monkeypatch.setattr(screening.batch, "available_memory", lambda: None)
    assert auto_chunk_rows([big_csv], len(ITEMS)) is None


def test_short_memory_gives_batches_and_the_same_results(big_csv, tmp_path, monkeypatch):
    monkeypatch.setattr(screening.batch, "available_memory", lambda: 10 << 20)
    assert auto_chunk_rows([big_csv], len(ITEMS)) == 10_000  # the smallest batch
    batched = score_files([big_csv], tmp_path / "batched", battery="default", on_invalid="flag")
    monkeypatch.setattr(screening.batch, "available_memory", lambda: None)
    whole = score_files([big_csv], tmp_path / "whole", battery="default", on_invalid="flag")
    assert batched.record["outputs"]["chunk_rows"] == 10_000
    assert whole.record["outputs"]["chunk_rows"] is None
    assert json.loads(batched.run_path.read_text("utf-8"))["outputs"]["chunk_rows"] == 10_000
    assert pl.read_parquet(batched.results_path).equals(pl.read_parquet(whole.results_path))
    assert batched.by_tier == whole.by_tier and batched.rows == 25_000


def test_batch_size_takes_a_quarter_of_the_available_memory(monkeypatch):
    monkeypatch.setattr(screening.batch, "available_memory", lambda: 8 << 30)
    monkeypatch.setattr(screening.batch, "_estimated_rows", lambda path: 10_000_000)
    row_bytes = screening.batch.ROW_BYTES_PER_ITEM * 116 + screening.batch.ROW_BYTES_BASE
    assert (
        auto_chunk_rows([Path("province.csv")], 116)
        == (8 << 30) // 4 // row_bytes // 10_000 * 10_000
    )
    assert auto_chunk_rows([Path("province.csv")], 116) == 2_270_000


def test_row_estimates(big_csv, tmp_path):
    parquet = tmp_path / "city.parquet"
    _city(25_000).write_parquet(parquet)
    assert screening.batch._estimated_rows(parquet) == 25_000
    assert screening.batch._estimated_rows(big_csv) == pytest.approx(25_000, rel=0.05)
    assert screening.batch._estimated_rows(tmp_path / "missing.csv") == 0
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    assert screening.batch._estimated_rows(tmp_path / "broken.parquet") == 0


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_sink_writes_small_frames_in_blocks(tmp_path, monkeypatch, fmt):
    """Frames are gathered into blocks of at least BLOCK_ROWS rows: one row group each."""
    monkeypatch.setattr(screening.batch, "BLOCK_ROWS", 3)
    frames = [
        pl.DataFrame({"student_id": [f"S{k}-{i}" for i in range(n)], "tier": [k] * n})
        for k, n in enumerate((1, 1, 2, 5, 1))
    ]
    path = tmp_path / f"scores.{fmt}"
    sink = screening.batch._Sink(path, fmt)
    for frame in frames:
        sink.write(frame)
    sink.close()
    expected = pl.concat(frames)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        groups = pq.ParquetFile(path).metadata
        assert [groups.row_group(g).num_rows for g in range(groups.num_row_groups)] == [4, 5, 1]
        assert pl.read_parquet(path).equals(expected)
    else:
        assert path.read_bytes().count(b"student_id") == 1
        assert pl.read_csv(path).equals(expected)


def test_sink_writes_one_block_in_one_go_and_nothing_when_aborted(tmp_path):
    frame = pl.DataFrame({"student_id": ["a", "b"], "tier": [1, 2]})
    sink = screening.batch._Sink(tmp_path / "one.parquet", "parquet")
    sink.write(frame)
    sink.write(frame)
    sink.close()
    assert pl.read_parquet(tmp_path / "one.parquet").equals(pl.concat([frame, frame]))
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "one.parquet").num_row_groups == 1
    sink = screening.batch._Sink(tmp_path / "none.parquet", "parquet")
    sink.write(frame)
    sink.abort()
    assert not (tmp_path / "none.parquet").exists()


def test_invalid_answers_of_several_files_in_one_table(tmp_path):
    paths = []
    for name, row in (("a.csv", 1), ("b.csv", 0)):
        path = tmp_path / name
        rows = [f"{name}{i}," + ",".join(["1"] * 9) for i in range(3)]
        rows[row] = rows[row][:-1] + "5"
        path.write_text(
            "student_id,"
            + ",".join(f"phq9_{i}" for i in range(1, 10))
            + "\n"
            + "\n".join(rows)
            + "\n"
        )
        paths.append(path)
    with pytest.raises(ResponseValidationError) as info:
        score_files(paths, tmp_path / "out", instrument="phq9", chunk_rows=1)
    cases = info.value.failure_cases
    assert cases.select("file", "row", "column", "value").rows() == [
        (str(paths[0]), 2, "phq9_9", "5"),
        (str(paths[1]), 1, "phq9_9", "5"),
    ]


def test_invalid_answers_of_many_files_are_summarised_shortly():
    cases = pl.DataFrame(
        {
            "row": [1, 2],
            "student_id": ["a", "b"],
            "column": ["phq9_1", "phq9_2"],
            "value": ["7", "x"],
            "reason": ["too high", "not a number"],
        }
    )
    few = str(ResponseValidationError.from_files([(f"{n}.csv", cases) for n in "ab"]))
    many = str(ResponseValidationError.from_files([(f"{n}.csv", cases) for n in "abcd"]))
    assert few.count("not a number") == 2 and "too high" in few
    assert many.count("d.csv: 2 invalid answers in 2 rows") == 1
    assert "not a number" not in many and many.count("too high") == 4
