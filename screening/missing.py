"""What an answer cell may hold, and when it is missing: the one rule of the readers and
the pipeline.

Item columns hold numbers, booleans, text or categories (R factors and pandas categories
arrive as such from Parquet); categories are read as their text. Any other type (dates,
durations, lists, structs, binary) is an error that names the column.

Text cells are read in Unicode NFKC form first, so that full-width digits, signs and points
(``１``, ``－``, ``．`` typed with a Chinese input method in full-width mode) are the numbers
they show. ``TRUE`` and ``FALSE``, in any letter case, are 1 and 0: that is how Excel writes
its booleans to CSV, and how the Excel reader (which reads every cell as text) sees them.

A cell is missing when it is empty or whitespace only (full-width spaces included), or when
it holds one of the spellings that statistics packages and spreadsheets write for a missing
value (``NA`` from R, ``NaN`` and ``None`` from pandas, ``NULL`` from databases, ``#N/A``
from Excel). Codes such as ``99`` or ``-9`` are not missing marks: they are numbers, and the
pipeline reports them as answers out of range.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from screening.errors import InputFileError

MISSING_MARKS = ("NA", "N/A", "n/a", "#N/A", "<NA>", "NaN", "nan", "NULL", "null", "None")
BOOLEANS = {"true": "1", "false": "0"}


def answer_text(text: pl.Series) -> pl.Series:
    """``text`` in NFKC form (full-width digits become ASCII) and stripped of surrounding
    whitespace, ``TRUE``/``FALSE`` (any case) as ``1``/``0``, every missing cell null."""
    text = text.str.normalize("NFKC").str.strip_chars()
    text = text.set((text == "") | text.is_in(MISSING_MARKS), None)
    words = text.str.to_lowercase()
    booleans = words.is_in(list(BOOLEANS))
    return text.zip_with(~booleans, words.replace(BOOLEANS)) if booleans.any() else text


def answer_cells(series: pl.Series, label: str | Path | None = None) -> pl.Series:
    """An item column in a type that answers are read from (categories become text).

    Raises
    ------
    InputFileError
        When the column holds neither numbers, booleans, text nor categories.
    """
    dtype = series.dtype
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return series.cast(pl.String)
    if dtype.is_numeric() or dtype in (pl.String, pl.Boolean, pl.Null):
        return series
    raise InputFileError(
        label,
        f"item column {series.name!r} holds {dtype} values. Answers must be numbers or text: "
        "store the column as integers.",
    )
