"""What a response file leaves empty or loses: instruments nobody answered, rows that
answered nothing, rows without a student id, student ids that Excel has rounded.

All are scored as the rules say, and all are most likely a slip in making the file, so a
run warns about them (in ``run.json``, on the command line and on the upload page):

- A battery instrument that the school did not give (the ASQ left out, say) has no answer
  in any row. Its scores are then not computed, and every student's status is
  ``incomplete``; or, for an instrument that counts a missing answer as an answer (the
  ASQ counts a refusal as "yes"), every student is scored from missing answers alone: the
  whole school turns orange.
- A row that answered no item at all is a totals row (合计) or a note below the data that
  is not a student, or a student who was not screened. (A row whose only answers are
  invalid, a totals row of sums kept with ``--on-invalid flag``, is ``invalid`` and among
  the failures instead.) It is scored as incomplete, unless
  an instrument counts a missing answer as an answer (the ASQ counts a refusal as "yes"):
  then the row is scored from missing answers alone (a blank ASQ screens positive, status
  ``scored`` where it is given alone, a red or orange tier in a battery), and the warning
  says what the rows were scored as, so that nobody discounts students who are flagged.
- A grade, class, sex or school left empty in some rows, where other rows have one (what
  merged cells in Excel leave: the value in the top row only), drops those rows from
  every report by that column.
- A row without a student id is scored, but its result, a red tier included, cannot be
  traced back to a student.
- Excel keeps 15 significant digits of a number. An id of 16 digits or more (an 18-digit
  identity-card number) typed into a cell formatted as a number loses its last digits
  (``110101200801011000``) and no longer names its student (how such ids are told:
  :func:`screening.io.looks_rounded`). A file is warned about when at least
  :data:`ROUNDED_IDS` of its long ids, and half of them or more, look rounded. (Where
  rounded ids collide, reading the file reports the duplicates, with the same advice.)
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl

from screening.instruments.compiler import CompiledBattery
from screening.io import EXCEL_ROUNDED, looks_rounded

#: An id as Excel writes a long number in a General cell: 1.10101E+17.
SCIENTIFIC = r"^[0-9](?:\.[0-9]+)?[Ee]\+[0-9]+$"

#: Columns that reports group by, checked for cells left empty (merged cells in Excel).
GROUP_COLUMNS = ("school_id", "class_id", "grade", "sex")
#: Ids that look rounded by Excel (and half of the long ids at least) that make a warning.
ROUNDED_IDS = 5


class CoverageCheck:
    """Which instruments were answered at all, and how many rows lack an id, over the
    batches of one file.

    Parameters
    ----------
    compiled
        The battery the results were scored with.
    id_column
        The column that holds student ids (not checked when the results have none).
    blank_ids
        Whether to warn about rows without an id (not where the caller refuses them).
    """

    def __init__(
        self, compiled: CompiledBattery, id_column: str = "student_id", blank_ids: bool = True
    ) -> None:
        self._compiled = compiled
        self._id_column = id_column
        self._blank_ids = blank_ids
        self._answered = np.zeros(len(compiled.instrument_ids), dtype=bool)
        self._rows = 0
        self._without_id = 0
        self._long_ids = 0  # ids of 16 digits or more
        self._rounded = 0  # of those, ids that look rounded by Excel
        self._example: str | None = None
        self._scientific = 0  # ids written as 1.10101E+17
        self._scientific_example: str | None = None
        self._blank = 0  # rows that answered no item at all
        self._gaps: dict[str, list[int]] = {}  # group column: [empty rows, first empty row]
        self._filled: set[str] = set()  # group columns with a value somewhere
        self._blank_example: str | None = None
        self._imputing = _imputing_instruments(compiled)
        self._blank_outcomes: Counter[tuple[str, str]] = Counter()  # (column, value): rows

    def add(self, results: pl.DataFrame) -> None:
        """Take in the results of one batch (with its ``{instrument}.answered`` columns)."""
        for m, instrument in enumerate(self._compiled.instrument_ids):
            if not self._answered[m]:
                answered = results.get_column(f"{instrument}.answered").max()
                self._answered[m] = answered is not None and answered > 0
        for column in GROUP_COLUMNS:
            if column in results.columns:
                self._count_gaps(results.get_column(column))
        answered = [f"{i}.answered" for i in self._compiled.instrument_ids]
        nothing = pl.sum_horizontal(answered) == 0
        if "status" in results.columns:  # invalid answers count as missing, but were given
            nothing = nothing & (pl.col("status") != "invalid")
        blank = results.select(nothing).to_series()
        self._blank += int(blank.sum())
        if self._imputing and blank.any():
            self._count_blank_outcomes(results.filter(blank))
        if self._blank_example is None and self._id_column in results.columns:
            named = results.get_column(self._id_column).filter(blank).drop_nulls()
            self._blank_example = named[0] if named.len() else None
        if self._id_column in results.columns:
            ids = results.get_column(self._id_column)
            self._without_id += ids.null_count()
            self._count_rounded(ids)
        self._rows += results.height

    def _count_blank_outcomes(self, blank: pl.DataFrame) -> None:
        """Tally what the rows that answered nothing were scored as: their status, tier and
        the bands of the instruments that count a missing answer as an answer.

        Parameters
        ----------
        blank
            The results of the rows of one batch that answered no item at all.
        """
        prefixes = tuple(f"{instrument}." for instrument in self._imputing)
        bands = [c for c in blank.columns if c.startswith(prefixes) and c.endswith(".band")]
        for column in ("status", "tier_label", *bands):
            if column not in blank.columns:
                continue
            for value, rows in blank.get_column(column).drop_nulls().value_counts().iter_rows():
                self._blank_outcomes[(column, str(value))] += rows

    def _blank_rows_message(self) -> str:
        """The warning about rows that answered no item at all, saying what they were scored
        as: incomplete, or, where an instrument counts a missing answer as an answer, the
        status, tier and bands that the missing answers gave them."""
        example = f" (e.g. {self._blank_example!r})" if self._blank_example else ""
        head = f"rows that answered no item at all: {self._blank:,} of {self._rows:,}{example}."
        advice = (
            " If they are totals, notes or empty lines, delete them; if they are students, they "
            "were not screened"
        )
        if not self._imputing:
            return f"{head} They are scored as incomplete.{advice}."
        names = ", ".join(self._imputing)
        verb = "counts" if len(self._imputing) == 1 else "count"
        return (
            f"{head} {names} {verb} a missing answer as an answer (a refusal), so these rows "
            f"were scored from missing answers alone: {_outcomes_text(self._blank_outcomes)}."
            f"{advice}: screen them, and until then take their results as they stand."
        )

    def _count_gaps(self, values: pl.Series) -> None:
        if values.null_count() < values.len():
            self._filled.add(values.name)
        if values.null_count():
            first = self._rows + 1 + int(values.is_null().arg_max())
            gaps = self._gaps.setdefault(values.name, [0, first])
            gaps[0] += values.null_count()

    def _count_rounded(self, ids: pl.Series) -> None:
        scientific = ids.filter(ids.str.contains(SCIENTIFIC))
        self._scientific += scientific.len()
        if self._scientific_example is None and scientific.len():
            self._scientific_example = scientific[0]
        long = ids.filter(ids.str.len_bytes() >= 16)
        long = long.filter(long.str.contains(r"^[0-9]{16,}$"))
        if not long.len():
            return
        rounded = looks_rounded(long)
        self._long_ids += long.len()
        self._rounded += int(rounded.sum())
        if self._example is None and rounded.any():
            self._example = long.filter(rounded)[0]

    def warnings(self) -> list[str]:
        """One message per instrument without any answer, one for ids Excel has rounded, one
        for rows that answered nothing, one per group column left empty in some rows, and
        one for rows without an id."""
        c = self._compiled
        messages = []
        for m in np.flatnonzero(~self._answered) if self._rows else ():
            instrument = c.instrument_ids[m]
            columns = slice(c.inst_ptr[m], c.inst_ptr[m + 1])
            if (c.missing_means[columns] >= 0).any():
                effect = (
                    "and it counts a missing answer as an answer, so every student was scored "
                    "from missing answers alone"
                )
            else:
                effect = "so nobody has its scores"
            messages.append(
                f"{instrument}: none of the {self._rows:,} students answered any of its items, "
                f"{effect}. If {instrument} was not given, score the file with a battery "
                "that leaves it out."
            )
        if self._rounded >= max(ROUNDED_IDS, self._long_ids / 2):
            messages.append(
                f"{self._id_column}: {self._rounded:,} ids of 16 or more digits look like "
                f"numbers that Excel has rounded (e.g. {self._example!r}): Excel keeps 15 "
                "digits of a number, so these ids have lost their last digits and no longer "
                f"name their students. {EXCEL_ROUNDED}, and score it again."
            )
        if self._scientific:
            messages.append(
                f"{self._id_column}: {self._scientific:,} ids are numbers in scientific "
                f"notation (e.g. {self._scientific_example!r}), as Excel shows and saves a "
                "long number in a cell formatted General: they have lost their last digits "
                f"and no longer name their students. {EXCEL_ROUNDED}, and score it again."
            )
        if self._blank and self._answered.any():  # else the lines above said it
            messages.append(self._blank_rows_message())
        for column in GROUP_COLUMNS:  # in this order whichever batch shows the gap first
            empty, first = self._gaps.get(column, (0, 0))
            if empty and column in self._filled:
                messages.append(
                    f"{column} is empty in {empty:,} of {self._rows:,} rows (first: row "
                    f"{first}) though other rows have one: reports by {column} leave those "
                    "rows out. If the sheet has merged cells, unmerge them and fill every row; "
                    "else fill in the missing values."
                )
        if self._without_id and self._blank_ids:
            messages.append(
                f"rows without a {self._id_column}: {self._without_id:,} of {self._rows:,}. "
                "Their results cannot be traced back to a student: fill in the ids and score "
                "the file again."
            )
        return messages


def _imputing_instruments(compiled: CompiledBattery) -> tuple[str, ...]:
    """The instruments of ``compiled`` that count a missing answer to some item as an answer.

    Parameters
    ----------
    compiled
        The battery the results were scored with.

    Returns
    -------
    tuple of str
        Their ids, in battery order (the ASQ, whose missing answers to items 1-4 count as
        "yes").
    """
    return tuple(
        instrument
        for m, instrument in enumerate(compiled.instrument_ids)
        if (compiled.missing_means[compiled.inst_ptr[m] : compiled.inst_ptr[m + 1]] >= 0).any()
    )


def _outcomes_text(outcomes: Counter[tuple[str, str]]) -> str:
    """``status scored: 1, tier orange: 1, asq.screen positive: 1``: status first, then
    tier, then bands, each value with its number of rows.

    Parameters
    ----------
    outcomes
        Rows by (results column, value).

    Returns
    -------
    str
        The tally in words; ``"no result"`` when it is empty.
    """
    rank = {"status": 0, "tier_label": 1}
    parts = [
        f"{'tier' if column == 'tier_label' else column.removesuffix('.band')} {value}: {rows:,}"
        for (column, value), rows in sorted(
            outcomes.items(), key=lambda item: (rank.get(item[0][0], 2), item[0])
        )
    ]
    return ", ".join(parts) or "no result"
