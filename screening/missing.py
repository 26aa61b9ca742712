"""What counts as a missing answer in a text cell: the one rule of the readers and the
pipeline.

A cell is missing when it is empty or whitespace only (full-width spaces included), or when
it holds one of the spellings that statistics packages and spreadsheets write for a missing
value (``NA`` from R, ``NaN`` and ``None`` from pandas, ``NULL`` from databases, ``#N/A``
from Excel). Codes such as ``99`` or ``-9`` are not missing marks: they are numbers, and the
pipeline reports them as answers out of range.
"""

from __future__ import annotations

import polars as pl

MISSING_MARKS = ("NA", "N/A", "n/a", "#N/A", "<NA>", "NaN", "nan", "NULL", "null", "None")


def missing_to_null(text: pl.Series) -> pl.Series:
    """``text`` stripped of surrounding whitespace, with every missing cell set to null."""
    text = text.str.strip_chars()
    return text.set((text == "") | text.is_in(MISSING_MARKS), None)
