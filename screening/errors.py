"""The errors of the toolkit: one base class, one message template.

Every message says what is wrong, where (file, row, column, field path) and how to fix it.
The command line prints the message and exits non-zero; the service answers 422 with the
failure cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

FAILURE_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.Int64(),
    "student_id": pl.String(),
    "column": pl.String(),
    "value": pl.String(),
    "reason": pl.String(),
}


class ScreeningError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class InstrumentDefinitionError(ScreeningError, ValueError):
    """An instrument or battery file is not valid.

    Parameters
    ----------
    path
        The file that holds the definition (or its bundled id).
    field
        The field path inside the file, e.g. ``scales[0].bands.cuts``.
    problem
        What is wrong and how to fix it (with the first others where there are several).
    problems
        Every problem found, as (field path, what is wrong) pairs; by default the one above.
    """

    def __init__(
        self,
        path: str | Path,
        field: str,
        problem: str,
        problems: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        self.problems = tuple(problems) or ((field, problem),)
        where = f"{self.path}: {field}" if field else self.path
        super().__init__(f"{where}: {problem}")


class RuleSyntaxError(ScreeningError, ValueError):
    """A triage rule of a battery cannot be parsed or names something unknown."""

    def __init__(self, rule: str, position: int, problem: str, where: str = "") -> None:
        self.rule = rule
        self.position = position
        self.problem = problem
        self.where = where
        pointer = " " * position + "^"
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}Rule {rule!r}: {problem}\n    {rule}\n    {pointer}")

    def at(self, where: str) -> RuleSyntaxError:
        """The same error, naming where the rule is written (file and field path)."""
        return RuleSyntaxError(self.rule, self.position, self.problem, where)


class InputFileError(ScreeningError, ValueError):
    """A response file cannot be read at all (encoding, shape, missing columns, duplicates)."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class OutputFolderError(ScreeningError, OSError):
    """The output folder of a run cannot be made or written (a file in its place or above
    it, no permission, a read-only file system); nothing was written."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


#: The option that keeps invalid answers as missing in ``score`` and ``norms``.
KEEP_FLAGGED = "keep the rows flagged with --on-invalid flag"


class ResponseValidationError(ScreeningError, ValueError):
    """Some answers are out of range or not numbers.

    Attributes
    ----------
    failure_cases : polars.DataFrame
        One row per bad cell with columns ``row`` (1-based data row of the input file),
        ``student_id``, ``column``, ``value`` and ``reason``.
    """

    def __init__(self, message: str, failure_cases: pl.DataFrame) -> None:
        self.failure_cases = failure_cases
        super().__init__(message)

    @classmethod
    def from_cases(cls, cases: pl.DataFrame, hint: str = "") -> ResponseValidationError:
        """Build the error whose message summarises ``cases`` column by column."""
        return cls("\n".join([*_summary(cases), hint or _FIX]), cases)

    @classmethod
    def from_files(
        cls, cases: Sequence[tuple[str, pl.DataFrame]], hint: str = "", keep: str = KEEP_FLAGGED
    ) -> ResponseValidationError:
        """The error for the invalid answers of several input files (rows counted in each
        file): each file's summary, then how to fix them (``hint``, before the general
        advice, which ends with ``keep``: how the command goes on past invalid answers);
        the failure cases gain a ``file`` column."""
        shown = None if len(cases) <= 3 else 2  # with many files, their first lines only
        lines = [
            f"{path}: {line}" if i == 0 else line
            for path, table in cases
            for i, line in enumerate(_summary(table)[:shown])
        ]
        table = pl.concat([t.with_columns(file=pl.lit(path)) for path, t in cases])
        return cls("\n".join([*lines, *([hint] if hint else []), _fix(keep)]), table)


#: How to fix missing columns from the command line; the service, which takes no mapping
#: file, replaces it with :data:`UPLOAD_NAMING_ADVICE`.
NAMING_ADVICE = (
    "Name the columns {instrument}_{item} (e.g. phq9_1) and student_id, "
    "or map your headers with --map mapping.toml."
)
UPLOAD_NAMING_ADVICE = (
    "Name the columns {instrument}_{item} (e.g. phq9_1) and student_id in the file, "
    "then upload it again."
)


def _fix(keep: str = KEEP_FLAGGED) -> str:
    """How to fix invalid answers; ``keep`` names the command's own way to go on."""
    return (
        "Correct the answers in the file (leave a missing answer empty), map the columns "
        "with --map (answers given as option text need an [answers] table there, option "
        f"numbers that start at 1 need '[options] numbered_from = 1'), or {keep}."
    )


_FIX = _fix()


def _summary(cases: pl.DataFrame) -> list[str]:
    """How many answers in how many rows are invalid, then one line per column and reason."""
    rows = count_of(cases["row"].n_unique(), "row")
    lines = [
        f"{count_of(cases.height, 'invalid answer')} in {rows} "
        "(rows counted from 1 after the header)."
    ]
    for (_, reason), group in cases.group_by(["column", "reason"], maintain_order=True):
        first = group.row(0, named=True)
        student = f", student {first['student_id']!r}" if first["student_id"] else ""
        values = group["value"].unique(maintain_order=True).head(3).to_list()
        shown = ", ".join(repr(v) for v in values)
        lines.append(
            f"{reason}. Got {shown} in {count_of(group.height, 'row')} "
            f"(first: row {first['row']}{student})."
        )
    return lines[:21]


def failure_frame(rows: Sequence[dict[str, Any]] | None = None) -> pl.DataFrame:
    """A failure-case table with the standard schema (empty when ``rows`` is None)."""
    return pl.DataFrame(rows or [], schema=FAILURE_SCHEMA)


def count_of(n: int, noun: str) -> str:
    """``"1 row"``, ``"12 rows"``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
