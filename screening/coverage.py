"""What a response file leaves empty: instruments nobody answered, rows without a student id.

Both are scored as the rules say, and both are most likely a slip in making the file, so a
run warns about them (in ``run.json``, on the command line and on the upload page):

- A battery instrument that the school did not give (the ASQ left out, say) has no answer
  in any row. Its scores are then not computed, and every student's status is
  ``incomplete``; or, for an instrument that counts a missing answer as an answer (the
  ASQ counts a refusal as "yes"), every student is scored from missing answers alone: the
  whole school turns orange.
- A row without a student id is scored, but its result, a red tier included, cannot be
  traced back to a student.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from screening.instruments.compiler import CompiledBattery


class CoverageCheck:
    """Which instruments were answered at all, and how many rows lack an id, over the
    batches of one file.

    Parameters
    ----------
    compiled
        The battery the results were scored with.
    id_column
        The column that holds student ids (not checked when the results have none).
    """

    def __init__(self, compiled: CompiledBattery, id_column: str = "student_id") -> None:
        self._compiled = compiled
        self._id_column = id_column
        self._answered = np.zeros(len(compiled.instrument_ids), dtype=bool)
        self._rows = 0
        self._without_id = 0

    def add(self, results: pl.DataFrame) -> None:
        """Take in the results of one batch (with its ``{instrument}.answered`` columns)."""
        self._rows += results.height
        for m, instrument in enumerate(self._compiled.instrument_ids):
            if not self._answered[m]:
                answered = results.get_column(f"{instrument}.answered").max()
                self._answered[m] = answered is not None and answered > 0
        if self._id_column in results.columns:
            self._without_id += results.get_column(self._id_column).null_count()

    def warnings(self) -> list[str]:
        """One message per instrument without any answer, and one for rows without an id."""
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
        if self._without_id:
            messages.append(
                f"rows without a {self._id_column}: {self._without_id:,} of {self._rows:,}. "
                "Their results cannot be traced back to a student: fill in the ids and score "
                "the file again."
            )
        return messages
