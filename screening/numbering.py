"""How a response file numbers each item's options, and a check for files numbered from 1.

An instrument defines its answer codes (PHQ-9: 0 "not at all" to 3 "nearly every day").
Some survey tools export the position of the chosen option instead (问卷星's "按选项序号"
export writes PHQ-9 answers as 1-4). The column mapping says so with::

    [options]
    numbered_from = 1

and every answer ``a`` of an item whose lowest code is ``low`` is then read as
``a - numbered_from + low`` (:func:`renumbered`).

Without that line such a file usually fails, because its last option (4) is out of range.
When no student chose the last option of any item it would be scored one point too high
per item, without an error. :class:`LowestCodeCheck` catches that case: it warns when, in a
file, no answer to any item of an instrument is 0, its lowest code. (Instruments whose codes
start at 1 are not checked: numbering their options from 1 gives the codes.) Where invalid
answers are kept row by row (``--on-invalid flag``, the upload service), a file that also
answers one above an item's highest code (its last option's number) is refused instead
(:meth:`LowestCodeCheck.misnumbered`): kept, every answer would count one point too high.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from screening.instruments.compiler import CompiledBattery
from screening.missing import answer_cells, answer_text

#: Students who must have answered an instrument before its unused lowest code is reported:
#: in a smaller file, nobody choosing the lowest answer is plausible.
MIN_STUDENTS = 10
_FIRST_ROWS = 1024  # the lowest code nearly always turns up among a file's first rows


def renumbered(series: pl.Series, shift: int) -> pl.Series:
    """The answers of one item column with ``shift`` subtracted from every number.

    Integer, boolean (1 and 0) and float columns are shifted as numbers; in a text or
    category column every cell that reads as a number is shifted and any other text is kept,
    to be reported as an invalid answer.

    Parameters
    ----------
    series
        An item column.
    shift
        ``numbered_from - lowest code`` of the item.

    Raises
    ------
    InputFileError
        When the column's type holds no answers (see :func:`screening.missing.answer_cells`).
    """
    if shift == 0:
        return series
    series = answer_cells(series)
    if series.dtype == pl.Null:
        return series
    if series.dtype.is_integer() or series.dtype == pl.Boolean:
        return series.cast(pl.Int64) - shift
    if series.dtype.is_float():
        return series - shift
    text = answer_text(series)
    number = text.cast(pl.Float64, strict=False)
    shifted = (number - shift).cast(pl.String).str.strip_suffix(".0")
    return pl.select(
        pl.when(number.is_not_null()).then(shifted).otherwise(text).alias(series.name)
    ).to_series()


class LowestCodeCheck:
    """Whether any answer to an instrument was its lowest code, over the batches of a file.

    Parameters
    ----------
    compiled
        The battery the response matrices were built for.
    """

    def __init__(self, compiled: CompiledBattery) -> None:
        self._compiled = compiled
        lowest = np.minimum.reduceat(compiled.item_min, compiled.inst_ptr[:-1])
        self._seen = lowest != 0  # codes from 1 up: nothing to check
        self._students = np.zeros(len(compiled.instrument_ids), dtype=np.int64)
        self._invalid = np.zeros(len(compiled.instrument_ids), dtype=np.int64)
        self._one_above = np.zeros(len(compiled.instrument_ids), dtype=np.int64)

    def add(self, matrix: np.ndarray) -> None:
        """Take in the response matrix (int8, missing -1) of one batch."""
        c = self._compiled
        for m in np.flatnonzero(~self._seen):
            columns = slice(c.inst_ptr[m], c.inst_ptr[m + 1])
            block, lowest = matrix[:, columns], c.item_min[columns]
            start, size = 0, _FIRST_ROWS
            while start < len(block) and not self._seen[m]:
                self._seen[m] = bool((block[start : start + size] == lowest).any())
                start, size = start + size, size * 8
            if not self._seen[m]:
                answered = (block >= 0) & (block <= c.item_max[columns])
                self._students[m] += int(answered.any(axis=1).sum())

    def add_cases(self, cases: pl.DataFrame) -> None:
        """Take in the failure cases (the file's own values) of the batch last added: per
        instrument, its invalid answers, and those one above an item's highest code, as
        the last option of a file numbered from 1 is."""
        if cases.height == 0:
            return
        c = self._compiled
        position = {name: j for j, name in enumerate(c.columns)}
        items = cases.get_column("column").replace_strict(
            position, default=-1, return_dtype=pl.Int64
        )
        values = cases.get_column("value").cast(pl.String).str.strip_chars()
        numbers = values.cast(pl.Float64, strict=False).fill_null(np.nan).to_numpy()
        j = items.to_numpy()
        known = j >= 0
        j, numbers = j[known], numbers[known]
        instrument = np.searchsorted(c.inst_ptr, j, side="right") - 1
        np.add.at(self._invalid, instrument, 1)
        np.add.at(self._one_above, instrument, numbers == c.item_max[j].astype(np.int64) + 1)

    def misnumbered(self) -> list[str]:
        """One message per instrument whose answers are option numbers counted from 1, as
        far as a file can tell: none of at least :data:`MIN_STUDENTS` students chose an
        item's lowest code, and nine in ten of its invalid answers are one above an item's
        highest code. Scored as they stand (``--on-invalid flag``), every answer would
        count one point too high and the last option not at all: such a file is refused.
        """
        c = self._compiled
        suspect = ~self._seen & (self._students >= MIN_STUDENTS) & (self._one_above > 0)
        suspect &= self._one_above * 10 >= self._invalid * 9
        return [
            f"{c.instrument_ids[m]}: the answers look like option numbers counted from 1, not "
            f"answer codes: none of the {self._students[m]:,} students who answered it chose "
            f"the lowest answer (0) on any item, and {self._one_above[m]:,} answers are one "
            "above an item's highest code (the number of its last option). Scored as they "
            "stand, every answer would count one point too high. If the file numbers the "
            "options from 1 (as 问卷星's 按选项序号 export does), say so with '[options] "
            "numbered_from = 1' in the column mapping (--map), or export the answer codes."
            for m in np.flatnonzero(suspect)
        ]

    def warnings(self) -> list[str]:
        """One message per instrument that at least :data:`MIN_STUDENTS` students answered
        without any of them choosing an item's lowest code."""
        c = self._compiled
        messages = []
        for m in np.flatnonzero(~self._seen & (self._students >= MIN_STUDENTS)):
            messages.append(
                f"{c.instrument_ids[m]}: none of the {self._students[m]:,} students who "
                "answered it chose the lowest answer (0) on any item. If the file numbers the "
                "options from 1 (as 问卷星's 按选项序号 export does), every answer is one too "
                "high: export the answer codes instead, or say so with '[options] "
                "numbered_from = 1' in the column mapping (--map). If the answers are the "
                "codes (a small group of students may never choose 0), nothing needs to change."
            )
        return messages
