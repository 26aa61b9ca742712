"""The response matrix read in place from a tokenised CSV's item block, and every case
where it must not be (then the matrix is built from the columns, as before)."""

from __future__ import annotations

import gc
from pathlib import Path
from unittest import mock

import numpy as np
import polars as pl
import pytest

from screening import item_blocks
from screening.batch import score_files
from screening.io import read_responses
from screening.item_blocks import register, shared_matrix
from screening.pipeline import Scorer, response_matrix

PHQ = [f"phq9_{i}" for i in range(1, 10)]
GAD = [f"gad7_{i}" for i in range(1, 8)]
ITEMS = PHQ + GAD


def _csv(path: Path, n: int = 60, seed: int = 3, order: list[str] = ITEMS, shift: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    answers = rng.integers(0, 4, size=(n, len(order))) + shift
    gaps = rng.random(answers.shape) < 0.1
    lines = ["student_id,school_id," + ",".join(order)]
    for r in range(n):
        cells = ["" if gaps[r, j] else str(answers[r, j]) for j in range(len(order))]
        lines.append(f"S{r:04d},A," + ",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _built(frame: pl.DataFrame, scorer: Scorer) -> np.ndarray:
    """The matrix built from the columns, as for any other frame."""
    with mock.patch("screening.pipeline.shared_matrix", return_value=None):
        return response_matrix(frame, scorer)[0]


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.for_battery("default")


def test_matrix_of_a_tokenised_csv_is_its_item_block(tmp_path: Path, scorer: Scorer) -> None:
    frame = read_responses(_csv(tmp_path / "r.csv"), item_columns=ITEMS)
    matrix, cases = response_matrix(frame, scorer)
    assert cases.height == 0
    assert matrix.flags.f_contiguous and matrix.flags.writeable
    assert matrix.base is not None  # a view of the block, not a copy
    np.testing.assert_array_equal(matrix, _built(frame, scorer))
    assert (matrix == -1).any()  # the gaps are -1, as in the built matrix


def test_columns_in_another_order_are_copied_from_the_block(tmp_path: Path, scorer) -> None:
    order = GAD[::-1] + PHQ  # the file's order is not the battery's
    frame = read_responses(_csv(tmp_path / "r.csv", order=order), item_columns=ITEMS)
    matrix, _ = response_matrix(frame, scorer)
    assert matrix.flags.f_contiguous
    np.testing.assert_array_equal(matrix, _built(frame, scorer))
    np.testing.assert_array_equal(matrix[:, 0], frame.get_column("phq9_1").fill_null(-1))


def test_scores_from_a_csv_equal_those_from_parquet(tmp_path: Path) -> None:
    source = _csv(tmp_path / "r.csv", n=300)
    pl.read_csv(source, schema_overrides={"student_id": pl.String}).write_parquet(
        tmp_path / "r.parquet"
    )
    from_csv = score_files([source], tmp_path / "csv", battery="default")
    from_parquet = score_files([tmp_path / "r.parquet"], tmp_path / "pq", battery="default")
    assert pl.read_parquet(from_csv.results_path).equals(pl.read_parquet(from_parquet.results_path))


def test_chunked_csv_runs_use_each_batch_block(tmp_path: Path) -> None:
    source = _csv(tmp_path / "r.csv", n=250)
    whole = score_files([source], tmp_path / "whole", battery="default")
    chunked = score_files([source], tmp_path / "chunks", battery="default", chunk_rows=100)
    assert pl.read_parquet(chunked.results_path).equals(pl.read_parquet(whole.results_path))


def test_changed_columns_are_not_read_from_the_block(tmp_path: Path) -> None:
    frame = read_responses(_csv(tmp_path / "r.csv"), item_columns=ITEMS)
    columns = lambda f: [f.get_column(c) for c in ITEMS]  # noqa: E731
    assert shared_matrix(columns(frame)) is not None
    # a mask adds nulls but keeps the values: the null count tells
    masked = frame.with_columns(pl.when(pl.col("phq9_1") > 1).then(pl.col("phq9_1")))
    assert shared_matrix(columns(masked)) is None
    # new values are new memory
    assert shared_matrix(columns(frame.with_columns(pl.col("phq9_2").fill_null(0)))) is None
    assert shared_matrix(columns(frame.with_columns(pl.col("phq9_3") + 0))) is None
    # part of the rows, or another type
    assert shared_matrix(columns(frame.slice(5, 20))) is None
    assert shared_matrix(columns(frame.with_columns(pl.col("phq9_4").cast(pl.Int16)))) is None
    # columns of two files
    other = read_responses(_csv(tmp_path / "s.csv", seed=4), item_columns=ITEMS)
    mixed = [*columns(frame)[:5], *columns(other)[5:]]
    assert shared_matrix(mixed) is None
    # a frame that no CSV was tokenised into
    assert shared_matrix(columns(frame.select(ITEMS).clone().rechunk() * 1)) is None
    assert (
        shared_matrix(
            columns(pl.DataFrame({c: pl.Series([1, None], dtype=pl.Int8) for c in ITEMS}))
        )
        is None
    )
    assert shared_matrix([]) is None


def test_renumbered_answers_are_built_not_shared(tmp_path: Path, scorer: Scorer) -> None:
    numbered = read_responses(_csv(tmp_path / "n.csv", shift=1), item_columns=ITEMS)
    coded = read_responses(_csv(tmp_path / "c.csv"), item_columns=ITEMS)
    matrix, _ = response_matrix(numbered, scorer, numbered_from=1)
    np.testing.assert_array_equal(matrix, response_matrix(coded, scorer)[0])


def test_a_block_is_forgotten_when_it_dies() -> None:
    block = np.array([[1, -1, 2], [0, 0, -1]], dtype=np.int8)
    register(block, [1, 1])
    assert block.ctypes.data in item_blocks._BLOCKS
    address = block.ctypes.data
    del block
    gc.collect()
    assert address not in item_blocks._BLOCKS


@pytest.mark.parametrize(
    ("block", "counts"),
    [
        (np.zeros((2, 3), dtype=np.int16), [0, 0]),
        (np.zeros((3, 2), dtype=np.int8).T, [0, 0]),
        (np.zeros(3, dtype=np.int8), [0]),
        (np.zeros((2, 3), dtype=np.int8), [0]),
    ],
)
def test_register_refuses_what_is_not_an_item_block(block: np.ndarray, counts) -> None:
    with pytest.raises(ValueError, match=r"item block|null count"):
        register(block, counts)
