"""What calamine (fastexcel) does not tell: ids that Excel shows zero-padded.

A 学号 typed as a number into a cell formatted ``00000`` is stored as the number 123 and
shown (and saved to CSV) as ``00123``. calamine gives the stored number. This module reads
the workbook's number formats (``xl/styles.xml``) and, only when some cell style pads with
zeros, the cells of one sheet that carry such a style, so that the reader can put the
text Excel shows in the id columns.

Only the parts that are needed are parsed: the workbook's sheet list and relationships
and the styles with defusedxml (small members), the sheet itself with expat in one pass
that keeps nothing but the padded number cells (the workbook has already passed
:func:`screening.io._check_xlsx`: no DTDs, no entities, no zip bombs).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from xml.parsers import expat

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
#: A number format that shows an integer padded with zeros, with optional literal text
#: ("S"0000, \S0000) before or after: the first section, up to any ';'.
_PADDING = re.compile(r'^((?:"[^"]*"|\\.)*)(0+)((?:"[^"]*"|\\.)*)$')
_LITERAL = re.compile(r'"([^"]*)"|\\(.)')
#: Integers Excel shows exactly (15 significant digits); longer ones are left alone
#: (:func:`screening.io.looks_rounded` warns about them).
_EXACT = 10**15


@dataclass(frozen=True)
class Padding:
    """How one cell style shows an integer: ``prefix`` + digits padded to ``width`` + ``suffix``."""

    prefix: str
    width: int
    suffix: str

    def show(self, stored: str) -> str | None:
        """The text Excel shows for the stored value, or None when it is not a whole
        number below 10**15 (decimals and long numbers keep calamine's text)."""
        try:
            value = Decimal(stored)
        except InvalidOperation:
            return None
        if not value.is_finite() or value != value.to_integral_value() or abs(value) >= _EXACT:
            return None
        number = int(value)
        sign = "-" if number < 0 else ""
        return f"{sign}{self.prefix}{abs(number):0{self.width}d}{self.suffix}"


def _padding(code: str) -> Padding | None:
    """The padding of a number format code, or None when it does not pad (``0``, ``@``,
    ``General``, decimals, dates ...)."""
    section = code.split(";", 1)[0]
    match = _PADDING.match(section)
    if match is None:
        return None
    prefix, zeros, suffix = match.groups()
    if len(zeros) < 2 and not prefix and not suffix:
        return None  # "0": an integer shows as calamine writes it

    def text(literals: str) -> str:
        return "".join(a or b for a, b in _LITERAL.findall(literals))

    return Padding(text(prefix), len(zeros), text(suffix))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse(archive: zipfile.ZipFile, member: str):
    import defusedxml.ElementTree as SafeET

    with archive.open(member) as stream:
        return SafeET.parse(stream).getroot()


def _part(archive: zipfile.ZipFile, base: str, target: str) -> str:
    """A relationship's target as a member name (relative to ``base``'s folder)."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), target))


def _relationships(archive: zipfile.ZipFile, member: str) -> list[tuple[str, str, str]]:
    """(id, type, member) of the relationships of ``member``."""
    folder, name = posixpath.split(member)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    if rels not in archive.NameToInfo:
        return []
    return [
        (r.get("Id", ""), r.get("Type", ""), _part(archive, member, r.get("Target", "")))
        for r in _parse(archive, rels)
        if _local(r.tag) == "Relationship" and r.get("TargetMode") != "External"
    ]


@dataclass(frozen=True)
class Workbook:
    """The member of each sheet and the paddings of the cell styles (index -> padding)."""

    sheets: dict[str, str]
    paddings: dict[int, Padding]


def workbook(archive: zipfile.ZipFile) -> Workbook:
    """Sheet members and padding styles of a workbook; empty where a part is missing."""
    main = next(
        (m for _, t, m in _relationships(archive, "") if t.endswith("/officeDocument")),
        "xl/workbook.xml",
    )
    if main not in archive.NameToInfo:
        return Workbook({}, {})
    rels = _relationships(archive, main)
    targets = {rid: member for rid, _, member in rels}
    sheets = {}
    for element in _parse(archive, main).iter(f"{{{_MAIN}}}sheet"):
        member = targets.get(element.get(f"{{{_REL}}}id", ""))
        if member is not None:
            sheets[element.get("name", "")] = member
    styles = next((m for _, t, m in rels if t.endswith("/styles")), None)
    paddings: dict[int, Padding] = {}
    if styles is not None and styles in archive.NameToInfo:
        root = _parse(archive, styles)
        formats = {
            int(f.get("numFmtId", "-1")): _padding(f.get("formatCode", ""))
            for f in root.iter(f"{{{_MAIN}}}numFmt")
        }
        for xfs in root.iter(f"{{{_MAIN}}}cellXfs"):
            for index, xf in enumerate(xfs.iter(f"{{{_MAIN}}}xf")):
                padding = formats.get(int(xf.get("numFmtId", "0")))
                if padding is not None:
                    paddings[index] = padding
    return Workbook(sheets, paddings)


def _column(reference: str) -> int:
    """0-based column of a cell reference such as ``AB12``."""
    column = 0
    for char in reference:
        if "A" <= char <= "Z":
            column = column * 26 + ord(char) - 64
        else:
            break
    return column - 1


def padded_cells(
    archive: zipfile.ZipFile, member: str, paddings: dict[int, Padding]
) -> tuple[dict[tuple[int, int], tuple[int, str]], int, int]:
    """The cells of a sheet that Excel shows padded, as ``(row, column) -> (stored
    integer, text shown)`` (0-based
    sheet coordinates), with the first row and column that hold a value: calamine's
    range starts there, so a frame cell (i, j) is the sheet cell (row0 + i, column0 + j).
    """
    styles = {str(k) for k in paddings}
    padded: dict[tuple[int, int], tuple[str, str]] = {}
    # the cell being read: its reference (``B7``, may be absent), its index in its row,
    # its style and type; the row; whether the row's first value is still to come
    reference: str | None = None
    index = row = -1
    style = kind = None
    row_first = False
    first_row: int | None = None
    first_col: int | None = None
    text: list[str] = []
    parser = expat.ParserCreate()  # names as written (``c``, or ``x:c`` with a prefix)
    parser.buffer_text = True

    def column() -> int:
        return _column(reference) if reference else index

    def start(name: str, attrs: dict[str, str]) -> None:
        # called for every element of the sheet: the common case (a cell) first
        nonlocal reference, index, style, kind, row, row_first, first_row, first_col
        local = name.rsplit(":", 1)[-1] if ":" in name else name
        if local == "c":
            reference = attrs.get("r")
            index += 1
            style = attrs.get("s")
            kind = attrs.get("t")
        elif local == "v" or local == "is":
            if row_first:  # cells of a row come in column order: its first value is its
                row_first = False  # leftmost (calamine's table starts at the leftmost)
                col = column()
                if first_col is None or col < first_col:
                    first_col = col
                if first_row is None:
                    first_row = row
            if style in styles and local == "v" and (kind is None or kind == "n"):
                text.clear()  # capture this value's text (handlers set only for it)
                parser.CharacterDataHandler = text.append
                parser.EndElementHandler = end
        elif local == "row":
            number = attrs.get("r")
            row = int(number) - 1 if number else row + 1
            index, row_first = -1, True

    def end(name: str) -> None:
        padded[(row, column())] = (style, "".join(text))
        parser.CharacterDataHandler = None
        parser.EndElementHandler = None

    parser.StartElementHandler = start
    with archive.open(member) as stream:
        parser.ParseFile(stream)
    shown = {}
    for cell, (style, stored) in padded.items():
        text_shown = paddings[int(style)].show(stored.strip())
        if text_shown is not None:
            shown[cell] = (int(Decimal(stored.strip())), text_shown)
    return shown, first_row or 0, first_col or 0
