"""Plain-Python reference of the CSV tokeniser in ``screening._csv_kernels``.

Written for clarity, not speed: split the region into lines and the lines into cells,
then check every rule of a clean CSV on the cells.
"""

from __future__ import annotations

from collections.abc import Sequence

MISSING = -1


def lines_of(region: bytes) -> list[bytes] | None:
    """The lines of ``region`` without their line breaks; None when a carriage return is
    not followed by a line feed or a line is empty."""
    *ended, last = region.split(b"\n")
    lines = [line.removesuffix(b"\r") for line in ended]  # "\r\n" ends a line too
    if last:
        lines.append(last)  # the last line, without a line break
    if any(b"\r" in line or not line for line in lines):
        return None
    return lines


def item_value(cell: bytes) -> int | None:
    """The value of a clean item cell (MISSING when empty), None when it is not clean."""
    if cell == b"":
        return MISSING
    if not (cell.isdigit() and len(cell) <= 3) or int(cell) > 127:
        return None
    return int(cell)


def is_utf8(cell: bytes) -> bool:
    try:
        cell.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def tokenise(
    data: bytes, start: int, end: int, is_item: Sequence[bool], every: int = 0
) -> tuple[list[list[int]], list[list[bytes]], list[int]] | None:
    """Item values per item column, text cells per text column and batch cuts, or None
    when ``data[start:end]`` is not a clean CSV region (then the kernel declines)."""
    region = data[start:end]
    lines = lines_of(region)
    if b'"' in region or lines is None:
        return None
    rows = [line.split(b",") for line in lines]
    if any(len(row) != len(is_item) for row in rows):
        return None
    items: list[list[int]] = []
    texts: list[list[bytes]] = []
    for j, item in enumerate(is_item):
        column = [row[j] for row in rows]
        if item:
            values = [item_value(cell) for cell in column]
            if None in values:
                return None
            items.append(values)
        else:
            if not all(is_utf8(cell) for cell in column):
                return None
            texts.append(column)
    cuts = []
    if every > 0:
        position = start
        for index, line in enumerate(region.split(b"\n")[: len(rows)]):
            if index and index % every == 0:
                cuts.append(position)
            position += len(line) + 1
    return items, texts, cuts
