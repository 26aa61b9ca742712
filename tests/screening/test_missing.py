"""The one rule for answer text: NFKC, stripped, booleans as 1/0, missing marks as null."""

from __future__ import annotations

import polars as pl
import pytest

from screening.errors import InputFileError
from screening.missing import MISSING_MARKS, answer_cells, answer_text


def test_answer_text():
    cells = [" 2 ", "\uff11", "TRUE", "False", " true", "NA", "", "\u3000", None, "x", "truth"]
    expected = ["2", "1", "1", "0", "1", None, None, None, None, "x", "truth"]
    assert answer_text(pl.Series(cells)).to_list() == expected


@pytest.mark.parametrize("mark", MISSING_MARKS)
def test_every_missing_mark_is_null(mark):
    assert answer_text(pl.Series([mark, f" {mark} "])).to_list() == [None, None]


def test_answer_cells():
    categories = pl.Series(["1", "2"], dtype=pl.Categorical)
    assert answer_cells(categories).dtype == pl.String
    with pytest.raises(InputFileError, match="item column 'd' holds Date values"):
        answer_cells(pl.Series("d", [None], dtype=pl.Date))
