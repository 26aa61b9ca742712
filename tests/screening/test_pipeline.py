"""score_frame on frames that did not come through the readers (the API, notebooks)."""

from __future__ import annotations

import polars as pl
import pytest

from screening.errors import ResponseValidationError
from screening.pipeline import score_frame

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
