"""Column mapping: rename the headers of a response file before it is typed.

Survey tools and school spreadsheets name their columns in their own words (``学号``,
``题1``). A mapping file, given with ``--map mapping.toml``, renames them to the names the
toolkit reads (``student_id``, ``phq9_1``)::

    [columns]
    "学号" = "student_id"
    "学校" = "school_id"
    "题1" = "phq9_1"
    "题2" = "phq9_2"

Columns that the mapping does not name keep their own names. A mapping may name headers
that a file does not have (one mapping can serve several exports); a required column that
is still missing after mapping is reported by the reader.

Survey tools that export the text of the chosen option instead of its code (问卷星's
"按选项文本" export) need an ``[answers]`` table too, label -> code, for every item column::

    [answers]
    "完全不会" = 0
    "好几天" = 1
    "一半以上的天数" = 2
    "几乎每天" = 3

Labels are matched after surrounding whitespace is stripped; a label the table does not
name is reported as an invalid answer. Labels must be text (a number is read as itself),
and a mapping may hold ``[answers]`` without ``[columns]``.

Survey tools that export the position of the chosen option (问卷星's "按选项序号" export:
PHQ-9 answered 1-4 instead of 0-3) need an ``[options]`` table that says where the
numbering starts (see :mod:`screening.numbering`)::

    [options]
    numbered_from = 1
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType

import polars as pl

from screening.errors import InputFileError

#: Columns passed through to the results unchanged (besides any other non-item column).
PASSTHROUGH_COLUMNS: tuple[str, ...] = ("student_id", "school_id", "class_id", "grade", "sex")


def _listed(names: Iterable[str], limit: int = 10) -> str:
    names = list(names)
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


@dataclass(frozen=True)
class ColumnMapping:
    """A renaming of input headers (source name -> target name).

    Parameters
    ----------
    columns
        Source header -> target column name. Two sources may not share a target.
    source
        Where the mapping came from (a file path), used in error messages.
    answers
        Answer label -> code, applied to every item column (``[answers]``).
    numbered_from
        The number the file gives each item's first option, when it is not the
        instrument's lowest code (``[options] numbered_from``); None: the answers are codes.
    """

    columns: Mapping[str, str]
    source: str | None = field(default=None, compare=False)
    answers: Mapping[str, int] = field(default_factory=dict)
    numbered_from: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "answers", MappingProxyType(self._checked_answers()))
        self._check_numbering()
        columns = dict(self.columns)
        for name, target in columns.items():
            if not isinstance(name, str) or not isinstance(target, str):
                raise InputFileError(
                    self.source,
                    f"[columns] {name!r} = {target!r}: both the header and the target must "
                    'be strings, e.g. "题1" = "phq9_1".',
                )
            if not name.strip() or not target.strip():
                raise InputFileError(
                    self.source,
                    f"[columns] {name!r} = {target!r}: empty names are not allowed. "
                    "Remove the line or write the header and the target name.",
                )
        shared = [target for target, n in Counter(columns.values()).items() if n > 1]
        if shared:
            lines = [
                f"{target!r} <- {_listed(s for s, t in columns.items() if t == target)}"
                for target in shared
            ]
            raise InputFileError(
                self.source,
                "several headers are mapped to the same column: "
                + "; ".join(lines)
                + ". Map exactly one header to each column.",
            )
        object.__setattr__(self, "columns", MappingProxyType(columns))

    def _checked_answers(self) -> dict[str, int]:
        answers: dict[str, int] = {}
        for label, code in dict(self.answers).items():
            text = label.strip() if isinstance(label, str) else ""
            if not text or _is_number(text):
                raise InputFileError(
                    self.source,
                    f"[answers] {label!r} = {code!r}: a label must be the text of an answer, "
                    'not empty and not a number, e.g. "好几天" = 1.',
                )
            if isinstance(code, bool) or not isinstance(code, int) or not -128 <= code <= 127:
                raise InputFileError(
                    self.source,
                    f"[answers] {label!r} = {code!r}: the code must be a whole number from "
                    '-128 to 127, e.g. "好几天" = 1.',
                )
            if answers.get(text, code) != code:
                raise InputFileError(
                    self.source,
                    f"[answers] {text!r} is given two codes ({answers[text]} and {code}). "
                    "Keep one of them.",
                )
            answers[text] = code
        return answers

    def _check_numbering(self) -> None:
        first = self.numbered_from
        if first is None:
            return
        if isinstance(first, bool) or not isinstance(first, int) or not 0 <= first <= 100:
            raise InputFileError(
                self.source,
                f"[options] numbered_from = {first!r}: give the number of each item's first "
                "option, a whole number from 0 to 100, e.g. numbered_from = 1.",
            )
        if self.answers:
            raise InputFileError(
                self.source,
                "[options] numbered_from and [answers] cannot be used together: [answers] "
                "already gives each label its code. Keep [answers] for a file of answer "
                "texts, numbered_from for a file of option numbers.",
            )

    def recode(self, text: pl.Series) -> pl.Series:
        """Text answers with every label of ``[answers]`` replaced by its code (as text);
        anything but text, or a mapping without ``[answers]``, is returned as it is."""
        if not self.answers or text.dtype != pl.String:
            return text
        codes = {label: str(code) for label, code in self.answers.items()}
        return text.str.strip_chars().replace(codes)

    def check_targets(self, known: Iterable[str], *, path: str | Path | None = None) -> None:
        """Raise if a target is not a column the toolkit reads.

        Parameters
        ----------
        known
            The valid targets: the item columns of the battery and the passthrough columns.
        path
            The response file, named in the message when the mapping has no ``source``.

        Raises
        ------
        InputFileError
            Naming each unknown target, its header, and the valid choices.
        """
        known = list(dict.fromkeys(known))
        allowed = set(known)
        unknown = [(s, t) for s, t in self.columns.items() if t not in allowed]
        if unknown:  # one mapping may serve several batteries: other instruments' items
            allowed |= _bundled_item_columns()
            unknown = [(s, t) for s, t in unknown if t not in allowed]
        if unknown:
            pairs = ", ".join(f"{s!r} -> {t!r}" for s, t in unknown[:10])
            raise InputFileError(
                self.source or path,
                f"unknown target column(s): {pairs}. A target must be an item column of "
                f"the battery ({_listed(known, 12)}) or of another bundled instrument, or a "
                "passthrough column "
                f"({', '.join(PASSTHROUGH_COLUMNS)}). Fix the target name, or remove the "
                "line: unmapped columns pass through under their own names.",
            )

    def rename(self, names: Sequence[str], *, path: str | Path | None = None) -> list[str]:
        """The header ``names`` after mapping.

        Raises
        ------
        InputFileError
            When two columns would share a name after mapping (e.g. the file has both
            ``学号``, mapped to ``student_id``, and a ``student_id`` column).
        """
        renamed = [self.columns.get(name, name) for name in names]
        clashes = [name for name, n in Counter(renamed).items() if n > 1]
        if clashes:
            lines = []
            for clash in clashes:
                sources = [names[i] for i, name in enumerate(renamed) if name == clash]
                lines.append(f"{clash!r} <- columns {_listed(sources)}")
            raise InputFileError(
                path,
                "duplicate column names after applying the column mapping"
                + (f" {self.source}" if self.source else "")
                + ": "
                + "; ".join(lines)
                + ". Remove or rename one of the columns, or change the mapping.",
            )
        return renamed

    def apply(self, frame: pl.DataFrame, *, path: str | Path | None = None) -> pl.DataFrame:
        """Rename the columns of ``frame`` (values untouched)."""
        renamed = self.rename(frame.columns, path=path)
        return frame.rename(dict(zip(frame.columns, renamed, strict=True)))

    def missing_sources(self, names: Iterable[str]) -> list[str]:
        """Headers named by the mapping that ``names`` does not contain."""
        present = set(names)
        return [name for name in self.columns if name not in present]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read a column mapping from a TOML file: any of a ``[columns]``, an ``[answers]`` and
    an ``[options]`` table.

    Raises
    ------
    InputFileError
        When the file cannot be read, is not TOML, has none of these tables or another one,
        holds a malformed entry or maps two headers to one column.
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise InputFileError(path, f"cannot read the column mapping: {error.strerror}.") from None
    try:
        document = tomllib.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputFileError(
            path, "the column mapping is not UTF-8 text. Save it as UTF-8."
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise InputFileError(
            path,
            f"the column mapping is not valid TOML: {error}. "
            'Write one line per column, e.g. "题1" = "phq9_1", under [columns].',
        ) from None
    extra = sorted(set(document) - {"columns", "answers", "options"})
    if extra:
        raise InputFileError(
            path,
            f"unexpected key(s) {_listed(extra)} in the column mapping; "
            "only [columns], [answers] and [options] tables are allowed.",
        )
    columns, answers = document.get("columns", {}), document.get("answers", {})
    options = document.get("options", {})
    tables = (columns, answers, options)
    if not all(isinstance(table, dict) for table in tables) or not any(tables):
        raise InputFileError(
            path,
            'the column mapping needs a non-empty [columns] table, e.g.\n[columns]\n"学号" = '
            '"student_id"\n"题1" = "phq9_1"\nor an [answers] table, e.g.\n[answers]\n"好几天" = 1'
            "\nor an [options] table, e.g.\n[options]\nnumbered_from = 1",
        )
    unknown = sorted(set(options) - {"numbered_from"})
    if unknown:
        raise InputFileError(
            path,
            f"unexpected key(s) {_listed(unknown)} in [options]; the one option is "
            "numbered_from (e.g. numbered_from = 1).",
        )
    return ColumnMapping(
        columns, source=str(path), answers=answers, numbered_from=options.get("numbered_from")
    )


@cache
def _bundled_item_columns() -> frozenset[str]:
    """The input columns of every bundled instrument's items."""
    from screening.instruments.loader import bundled_instruments, load_instrument

    return frozenset(c for i in bundled_instruments() for c in load_instrument(i).item_columns())
