"""score_frame on frames that did not come through the readers (the API, notebooks)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from screening.errors import InputFileError, ResponseValidationError
from screening.pipeline import Scorer, response_matrix, score_frame

PHQ = [f"phq9_{i}" for i in range(1, 10)]
GAD = [f"gad7_{i}" for i in range(1, 8)]


def _frame(phq: list, gad: list, dtype: pl.DataType) -> pl.DataFrame:
    answers = {c: pl.Series(c, [v], dtype=dtype) for c, v in zip(PHQ + GAD, phq + gad, strict=True)}
    return pl.DataFrame({"student_id": ["S1"], **answers})


@pytest.mark.parametrize("mark", ["NA", " NaN ", "#N/A", "", "　", None])
def test_missing_marks_in_text_columns_are_missing_answers(mark):
    frame = _frame(["1"] * 8 + [mark], ["2"] * 6 + [mark], pl.String)
    row = score_frame(frame, "default").results.row(0, named=True)
    assert row["phq9.answered"] == 8 and row["phq9.total"] == 9.0  # 8 × 1 prorated to 9
    assert row["gad7.answered"] == 6 and row["gad7.total"] == 14.0
    assert row["phq9.critical"] is False


def test_nan_in_float_columns_is_missing():
    frame = _frame([1.0] * 8 + [float("nan")], [2.0] * 7, pl.Float64)
    assert score_frame(frame, "default").results["phq9.answered"][0] == 8


@pytest.mark.parametrize("bad", ["99", "-9", "1.5", "two", "N.A."])
def test_other_text_is_an_invalid_answer_named_in_the_error(bad):
    frame = _frame(["1"] * 8 + [bad], ["2"] * 7, pl.String)
    with pytest.raises(ResponseValidationError) as info:
        score_frame(frame, "default")
    assert f"Got '{bad}'" in str(info.value) and "phq9_9" in str(info.value)
    assert info.value.failure_cases.select("row", "column").row(0) == (1, "phq9_9")


def _cell(value, low: int, high: int) -> int:
    """Plain-Python reference of one item cell: -1 missing, 127 invalid, else the answer."""
    if value is None or (isinstance(value, float) and value != value):
        return -1
    if isinstance(value, str):
        text = value.strip()
        if text in ("", "NA"):
            return -1
        try:
            value = float(text)
        except ValueError:
            return 127
    if value != int(value) or not low <= value <= high:
        return 127
    return int(value)


def test_response_matrix_mixes_clean_and_dirty_columns_in_battery_order():
    """Clean integer columns are converted together, the others one by one: same order."""
    phq = {
        "phq9_1": pl.Series([0, 3, None, 2], dtype=pl.Int8),
        "phq9_2": pl.Series([1, 4, 2, None], dtype=pl.Int64),  # 4 is out of range
        "phq9_3": pl.Series(["1", "NA", "x", " 2 "], dtype=pl.String),
        "phq9_4": pl.Series([None, None, None, None], dtype=pl.Null),
        "phq9_5": pl.Series([0.0, 1.5, float("nan"), 3.0], dtype=pl.Float64),
        "phq9_6": pl.Series([3, 2, 1, 0], dtype=pl.UInt64),
        "phq9_7": pl.Series([-1, 0, 1, 2], dtype=pl.Int16),  # -1 is out of range
        "phq9_8": pl.Series([1, 1, 1, 1], dtype=pl.UInt8),
        "phq9_9": pl.Series([0, 0, None, 1], dtype=pl.Int32),
    }
    gad = {c: pl.Series([2, 2, 2, 2], dtype=pl.Int64) for c in GAD}
    frame = pl.DataFrame({"student_id": ["A", "B", "C", "D"], **phq, **gad})
    scorer = Scorer.for_battery("default")
    matrix, cases = response_matrix(frame, scorer, row_offset=10)
    expected = np.array(
        [[_cell(v, 0, 3) for v in frame.get_column(c).to_list()] for c in PHQ + GAD]
    ).T
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.flags.f_contiguous and matrix.flags.writeable and matrix.dtype == np.int8
    assert cases.select("row", "column", "value").rows() == [
        (11, "phq9_7", "-1"),
        (12, "phq9_2", "4"),
        (12, "phq9_5", "1.5"),
        (13, "phq9_3", "x"),
    ]


def test_response_matrix_of_clean_integer_columns_is_writable_fortran_order():
    frame = pl.DataFrame({c: pl.Series([1, None, 0], dtype=pl.Int8) for c in PHQ + GAD})
    matrix, cases = response_matrix(frame, Scorer.for_battery("default"))
    assert matrix.flags.f_contiguous and matrix.flags.writeable and cases.height == 0
    np.testing.assert_array_equal(matrix, np.array([[1] * 16, [-1] * 16, [0] * 16], np.int8))


@pytest.mark.parametrize(
    ("dtype", "values"),
    [
        (pl.Categorical, ["1", "NA"]),
        (pl.Enum(["1", "2", "NA"]), ["1", "NA"]),
        (pl.Boolean, [True, None]),
    ],
)
def test_categories_and_booleans_are_answers(dtype, values):
    frame = pl.DataFrame(
        {"student_id": ["A", "B"], **{c: pl.Series(values, dtype=dtype) for c in PHQ + GAD}}
    )
    results = score_frame(frame, "default").results
    assert results["phq9.answered"].to_list() == [9, 0]
    assert results["phq9.total"].to_list() == [9.0, None]


@pytest.mark.parametrize("values", [[[1], [2]], [{"a": 1}, {"a": 2}], [object(), object()]])
def test_item_columns_of_other_types_are_a_clear_error(values):
    frame = pl.DataFrame(
        {"student_id": ["A", "B"], **{c: pl.Series([1, 2]) for c in PHQ + GAD}}
    ).with_columns(pl.Series("phq9_4", values))
    with pytest.raises(InputFileError, match=r"item column 'phq9_4' holds .* values"):
        score_frame(frame, "default")
