"""Private numba kernels that tokenise the data region of a clean CSV, and the frame built
from their output without a Python object per cell (the fast path of :mod:`screening.io`).

A clean CSV is UTF-8, holds no quote characters, ends its lines with ``\\n`` or ``\\r\\n``
and has exactly ``n_fields`` fields on every line. Item cells must be empty or an unsigned
decimal of one to three digits in 0..127; every other cell is text, located by its byte
offsets. Anything else makes the tokeniser decline (a status code), so that the caller can
fall back to the general parser, which reports the problem precisely.

The byte range is split at line breaks into one part per numba thread; a first pass
counts the records of each part, a second one tokenises the parts in parallel, each into
its own rows of the output arrays. Four one-digit item cells in a row ("1,0,2,3,") are
checked and read as one 64-bit word. Text cells are then copied, row by row, into Arrow
string views (:func:`string_views`, what polars takes without a copy) or, for a column
with more text than 32-bit view offsets reach, into Arrow's plain layout (:func:`gather`).
The kernels take numpy arrays and numbers only; the plain-Python reference is
``tests/screening/naive_csv.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from screening.item_blocks import register

# numba, imported by one thread at a time and without its BLAS probe
from screening.scoring._jit import PARALLEL_LAUNCH, njit, numba, prange

#: Status codes of the tokeniser; anything but OK means: use the general parser.
OK, FIELD_COUNT, BAD_ITEM, QUOTE, STRAY_CR, NOT_UTF8, EMPTY_LINE = range(7)
REASONS = {
    OK: "clean",
    FIELD_COUNT: "a line has another number of fields than the header",
    BAD_ITEM: "an item cell is not an unsigned integer in 0..127",
    QUOTE: "a quote character",
    STRAY_CR: "a carriage return that does not end a line",
    NOT_UTF8: "bytes that are not UTF-8",
    EMPTY_LINE: "an empty line",
}
MISSING = -1  # an empty item cell

_NEWLINE, _RETURN, _COMMA, _QUOTE, _ZERO = 10, 13, 44, 34, 48
_MAX_DIGITS, _MAX_ITEM = 3, 127
# "d,d,d,d," as a little-endian 64-bit word: commas in the odd bytes, digits in the even
_ODD_BYTES = np.uint64(0xFF00FF00FF00FF00)
_EVEN_BYTES = np.uint64(0x00FF00FF00FF00FF)
_FOUR_COMMAS = np.uint64(0x2C002C002C002C00)
_LANE_ZEROS = np.uint64(0x0030003000300030)
_LANE_PLUS_D0 = np.uint64(0x00D000D000D000D0)  # 0x100 - ord("0")
_LANE_PLUS_C6 = np.uint64(0x00C600C600C600C6)  # 0x100 - (ord("9") + 1)
_LANE_CARRY = np.uint64(0x0100010001000100)
_BLOCK_ROWS = 512  # rows of item cells buffered before they are copied into columns
VIEW_INLINE = 12  # text cells of at most this many bytes are stored in their string view
VIEW_DATA_LIMIT = 1 << 31  # bytes of longer cells per column: view offsets are 32-bit


@dataclass
class Tokens:
    """The cells of a clean CSV region, column by column.

    Attributes
    ----------
    status
        :data:`OK` or the first reason to decline (then the arrays are meaningless).
    n_records
        Number of records (lines) in the region.
    items
        int8, shape (item columns, records): the item cells, :data:`MISSING` when empty.
    text_starts, text_ends
        int64, shape (records, text columns): where each text cell starts and ends in
        the buffer.
    cuts
        Offsets where the records ``every``, ``2 * every``, ... start (batch boundaries).
    """

    status: int
    n_records: int
    items: np.ndarray
    text_starts: np.ndarray
    text_ends: np.ndarray
    cuts: np.ndarray


# ------------------------------------------------------------------------------ kernels


@njit(cache=True, nogil=True)
def _part_bounds(data, start, end, n_parts):  # pragma: no cover - compiled
    """``n_parts + 1`` offsets from ``start`` to ``end``, each inner one just after a
    line break (parts may be empty)."""
    bounds = np.empty(n_parts + 1, dtype=np.int64)
    bounds[0] = start
    bounds[n_parts] = end
    step = (end - start) // n_parts
    for k in range(1, n_parts):
        position = max(start + k * step, bounds[k - 1])
        while start < position < end and data[position - 1] != _NEWLINE:
            position += 1
        bounds[k] = position
    return bounds


@njit(cache=True, nogil=True)
def _count_records(data, lo, hi):  # pragma: no cover - compiled
    """Records in ``data[lo:hi]``, a range that starts at a line start."""
    if lo >= hi:
        return 0
    count = 0
    for i in range(lo, hi):
        count += data[i] == _NEWLINE
    return count + (data[hi - 1] != _NEWLINE)


@njit(cache=True, nogil=True)
def _utf8_length(data, i, hi):  # pragma: no cover - compiled
    """Length of the valid UTF-8 sequence that starts at ``data[i]`` (>= 0x80), or 0."""
    lead = data[i]
    if lead < 0xC2 or lead > 0xF4:
        return 0  # a continuation byte, an overlong lead or beyond U+10FFFF
    length = 2 if lead < 0xE0 else (3 if lead < 0xF0 else 4)
    if i + length > hi:
        return 0
    low, high = 0x80, 0xBF  # allowed range of the second byte
    if lead == 0xE0:
        low = 0xA0  # overlong
    elif lead == 0xED:
        high = 0x9F  # surrogates
    elif lead == 0xF0:
        low = 0x90  # overlong
    elif lead == 0xF4:
        high = 0x8F  # beyond U+10FFFF
    if data[i + 1] < low or data[i + 1] > high:
        return 0
    for k in range(i + 2, i + length):
        if data[k] < 0x80 or data[k] > 0xBF:
            return 0
    return length


@njit(cache=True, nogil=True)
def _scan_item(data, i, hi):  # pragma: no cover - compiled
    """(end of the cell, value or MISSING, ok) of the item cell starting at ``i``."""
    value = 0
    digits = 0
    while i < hi:
        digit = np.int64(data[i]) - _ZERO
        if digit < 0 or digit > 9:
            break
        value = value * 10 + digit
        digits += 1
        i += 1
    ok = digits <= _MAX_DIGITS and value <= _MAX_ITEM
    if i < hi:
        b = data[i]
        ok = ok and (b == _COMMA or b == _NEWLINE or b == _RETURN)
    return i, (value if digits else MISSING), ok


@njit(cache=True, nogil=True)
def _scan_text(data, i, hi):  # pragma: no cover - compiled
    """(end of the cell, status) of the text cell starting at ``i``."""
    while i < hi:
        b = data[i]
        if b == _COMMA or b == _NEWLINE or b == _RETURN:
            break
        if b == _QUOTE:
            return i, QUOTE
        if b < 0x80:
            i += 1
            continue
        length = _utf8_length(data, i, hi)
        if length == 0:
            return i, NOT_UTF8
        i += length
    return i, OK


@njit(cache=True, nogil=True)
def _four_digits(data, i):  # pragma: no cover - compiled
    """The digits of ``data[i:i + 8]`` packed into one byte each when it reads "d,d,d,d,"
    (four one-digit cells), else -1; eight bytes tested at once."""
    word = np.uint64(0)
    at = np.uint64(i)  # unsigned indices: no negative-index test, so one 8-byte load
    for k in range(8):
        word |= np.uint64(data[at + np.uint64(k)]) << np.uint64(8 * k)
    if word & _ODD_BYTES != _FOUR_COMMAS:
        return -1
    lanes = word & _EVEN_BYTES  # four 16-bit lanes, one byte each: the cells
    at_least_zero = (lanes + _LANE_PLUS_D0) & _LANE_CARRY  # lane >= "0": carries
    above_nine = (lanes + _LANE_PLUS_C6) & _LANE_CARRY  # lane > "9": carries
    if at_least_zero != _LANE_CARRY or above_nine != 0:
        return -1
    values = lanes - _LANE_ZEROS  # lanes 0..9, at bytes 0, 2, 4, 6
    packed = (values | (values >> np.uint64(8))) & np.uint64(0x0000FFFF0000FFFF)
    return np.int64((packed | (packed >> np.uint64(16))) & np.uint64(0xFFFFFFFF))


@njit(cache=True, nogil=True)
def _flush_block(block, n_rows, items, first_row):  # pragma: no cover - compiled
    """Copy the first ``n_rows`` rows of ``block`` (rows x items) into the columns of
    ``items`` (items x records) from ``first_row`` on."""
    for slot in range(block.shape[1]):
        for r in range(n_rows):
            items[slot, first_row + r] = block[r, slot]


@njit(cache=True, nogil=True)
def _tokenise_part(
    data, lo, hi, row, item_slot, item_run, text_slot, store, every, items, starts, ends, cuts
):  # pragma: no cover - compiled
    """Tokenise the records of ``data[lo:hi]`` (a range of whole lines) into rows from
    ``row`` on; returns a status code. See :func:`tokenise` for the arguments.

    Item cells go to a block of rows first (written row by row, in cache), copied into
    the item columns when full: writing 100 columns a byte at a time is slow."""
    n_fields = len(item_slot)
    block = np.empty((_BLOCK_ROWS, items.shape[0]), dtype=np.int8)
    filled = 0
    position = lo
    while position < hi:
        if row > 0 and row % every == 0:
            cuts[row // every - 1] = position
        i = position
        field = 0
        while True:
            while item_run[field] >= 4 and i + 8 <= hi:  # the commonest case: "d,d,d,d,"
                digits = _four_digits(data, i)
                if digits < 0:
                    break
                slot = item_slot[field]
                for k in range(4):
                    block[filled, slot + k] = (digits >> (8 * k)) & 0xFF
                field += 4
                i += 8
            if field == n_fields:
                return FIELD_COUNT
            slot = item_slot[field]
            if slot >= 0 and i + 1 < hi and data[i + 1] == _COMMA:
                # the common case first: an empty cell or one digit, then a comma
                b = data[i]
                if b == _COMMA or _ZERO <= b <= _ZERO + 9:
                    block[filled, slot] = MISSING if b == _COMMA else b - _ZERO
                    field += 1
                    if field == n_fields:
                        return FIELD_COUNT
                    i += 1 if b == _COMMA else 2
                    continue
            if slot >= 0:
                stop, value, ok = _scan_item(data, i, hi)
                if not ok:
                    return QUOTE if stop < hi and data[stop] == _QUOTE else BAD_ITEM
                block[filled, slot] = value
            else:
                stop, status = _scan_text(data, i, hi)
                if status != OK:
                    return status
                if store:
                    starts[row, text_slot[field]] = i
                    ends[row, text_slot[field]] = stop
            if stop < hi and data[stop] == _COMMA:
                field += 1
                if field == n_fields:
                    return FIELD_COUNT
                i = stop + 1
                continue
            break  # stop: the end of the line's last cell, at "\r", "\n" or hi
        if field == 0 and stop == position:
            return EMPTY_LINE
        if field + 1 != n_fields:
            return FIELD_COUNT
        if stop < hi and data[stop] == _RETURN:
            if stop + 1 >= hi or data[stop + 1] != _NEWLINE:
                return STRAY_CR
            stop += 1
        position = stop + 1
        row += 1
        filled += 1
        if filled == _BLOCK_ROWS:
            if store:
                _flush_block(block, filled, items, row - filled)
            filled = 0
    if store:
        _flush_block(block, filled, items, row - filled)
    return OK


@njit(parallel=True, cache=True, nogil=True)
def _count_parts(data, bounds):  # pragma: no cover - compiled
    """Records in each part ``data[bounds[p]:bounds[p + 1]]``."""
    n_parts = len(bounds) - 1
    counts = np.zeros(n_parts, dtype=np.int64)
    for p in prange(n_parts):
        counts[p] = _count_records(data, bounds[p], bounds[p + 1])
    return counts


@njit(parallel=True, cache=True, nogil=True)
def _tokenise_parts(
    data,
    bounds,
    first_rows,
    item_slot,
    item_run,
    text_slot,
    store,
    every,
    items,
    starts,
    ends,
    cuts,
):  # pragma: no cover - compiled
    """Tokenise every part in parallel; the first status other than OK, or OK."""
    n_parts = len(bounds) - 1
    statuses = np.zeros(n_parts, dtype=np.int64)
    for p in prange(n_parts):
        statuses[p] = _tokenise_part(
            data,
            bounds[p],
            bounds[p + 1],
            first_rows[p],
            item_slot,
            item_run,
            text_slot,
            store,
            every,
            items,
            starts,
            ends,
            cuts,
        )
    for p in range(n_parts):
        if statuses[p] != OK:
            return statuses[p]
    return OK


@njit(parallel=True, cache=True, nogil=True)
def _gather_rows(data, starts, offsets, bases, values):  # pragma: no cover - compiled
    """Copy text cell (row r, column c) to ``values[bases[c] + offsets[c, r]:]``, row by
    row: the cells of a row share cache lines of ``data``."""
    for r in prange(starts.shape[0]):
        for c in range(starts.shape[1]):
            source = starts[r, c]
            target = bases[c] + offsets[c, r]
            for k in range(offsets[c, r + 1] - offsets[c, r]):
                values[target + k] = data[source + k]


@njit(cache=True, nogil=True)
def _put_int32(out, at, value):  # pragma: no cover - compiled
    for k in range(4):
        out[at + k] = (value >> (8 * k)) & 0xFF


@njit(cache=True, nogil=True)
def _long_offsets(starts, ends):  # pragma: no cover - compiled
    """(text columns, records + 1): where each cell longer than VIEW_INLINE starts in its
    column's data buffer (the running total of the longer cells before it)."""
    n_records, n_text = starts.shape
    offsets = np.empty((n_text, n_records + 1), dtype=np.int64)
    offsets[:, 0] = 0
    for r in range(n_records):
        for c in range(n_text):
            length = ends[r, c] - starts[r, c]
            offsets[c, r + 1] = offsets[c, r] + (length if length > VIEW_INLINE else 0)
    return offsets


@njit(parallel=True, cache=True, nogil=True)
def _view_rows(data, starts, ends, long_offsets, bases, views, long_values):  # pragma: no cover
    """Write the Arrow string view of text cell (row r, column c) to ``views[c, r]`` and
    copy a cell longer than :data:`VIEW_INLINE` bytes to ``long_values``, row by row."""
    for r in prange(starts.shape[0]):
        for c in range(starts.shape[1]):
            source = starts[r, c]
            length = ends[r, c] - source
            view = views[c, r]
            _put_int32(view, 0, length)
            if length <= VIEW_INLINE:
                for k in range(VIEW_INLINE):
                    view[4 + k] = data[source + k] if k < length else 0
                continue
            for k in range(4):
                view[4 + k] = data[source + k]  # the prefix
            _put_int32(view, 8, 0)  # the index of the column's one data buffer
            _put_int32(view, 12, long_offsets[c, r])
            target = bases[c] + long_offsets[c, r]
            for k in range(length):
                long_values[target + k] = data[source + k]


# ------------------------------------------------------------------------------- fronts


def tokenise(
    data: np.ndarray,
    start: int,
    end: int,
    is_item: np.ndarray,
    *,
    store: bool = True,
    every: int = 0,
    n_parts: int | None = None,
) -> Tokens:
    """Tokenise the records of ``data[start:end]``.

    Parameters
    ----------
    data
        uint8, the whole buffer (offsets in the result index into it).
    start, end
        The region: ``start`` is the start of a line, ``end`` the end of the last record
        or just after its line break; records are ended by ``\\n`` or ``\\r\\n``.
    is_item
        bool, one per field of a line: True for item columns (int8), False for text.
    store
        False to only check the region and count its records (no per-cell arrays).
    every
        With ``every > 0``, also return the offsets where the records ``every``,
        ``2 * every``, ... start (the first offset of each batch after the first).
    n_parts
        Parts tokenised in parallel; default: one per numba thread.

    Returns
    -------
    Tokens
        The cells, or a status other than :data:`OK` when the region is not clean.
    """
    is_item = np.asarray(is_item, dtype=np.bool_)
    item_slot = np.where(is_item, np.cumsum(is_item) - 1, -1)
    text_slot = np.where(is_item, -1, np.cumsum(~is_item) - 1)
    n_parts = n_parts or numba.get_num_threads()
    bounds = _part_bounds(data, start, end, max(n_parts, 1))
    with PARALLEL_LAUNCH:
        counts = _count_parts(data, bounds)
    first_rows = np.concatenate(([0], np.cumsum(counts)[:-1]))
    n_records = int(counts.sum())
    n_stored = n_records if store else 0
    items = np.empty((int(is_item.sum()), n_stored), dtype=np.int8)
    starts = np.empty((n_stored, len(is_item) - len(items)), dtype=np.int64)
    ends = np.empty_like(starts)
    every = every if every > 0 else n_records + 1
    cuts = np.zeros((n_records - 1) // every, dtype=np.int64)
    with PARALLEL_LAUNCH:
        status = _tokenise_parts(
            data,
            bounds,
            first_rows,
            item_slot,
            _item_runs(is_item),
            text_slot,
            store,
            every,
            items,
            starts,
            ends,
            cuts,
        )
    return Tokens(int(status), n_records, items, starts, ends, cuts)


def _item_runs(is_item: np.ndarray) -> np.ndarray:
    """For each field, how many item fields follow from it on (itself included); one
    more entry, 0, past the last field."""
    runs = np.zeros(len(is_item) + 1, dtype=np.int64)
    for field in range(len(is_item) - 1, -1, -1):
        runs[field] = runs[field + 1] + 1 if is_item[field] else 0
    return runs


def gather(
    data: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Copy the text cells ``data[starts[r, c]:ends[r, c]]``, column by column.

    Returns
    -------
    offsets
        int64, shape (text columns, records + 1): where each cell of column ``c`` starts
        in ``values[c]`` (Arrow's string layout).
    values
        uint8 per text column: the bytes of its cells, one after the other.
    """
    n_records, n_text = starts.shape
    offsets = np.zeros((n_text, n_records + 1), dtype=np.int64)
    np.cumsum((ends - starts).T, axis=1, out=offsets[:, 1:])
    totals = offsets[:, -1]
    bases = np.cumsum(totals) - totals  # where each column starts in the buffer
    buffer = np.empty(int(totals.sum()), dtype=np.uint8)
    with PARALLEL_LAUNCH:
        _gather_rows(data, starts, offsets, bases, buffer)
    return offsets, [buffer[base : base + total] for base, total in zip(bases, totals, strict=True)]


def string_views(
    data: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The text cells ``data[starts[r, c]:ends[r, c]]`` in Arrow's string view layout, the
    one polars uses (so that it takes them without a copy).

    Returns
    -------
    views
        uint8, shape (text columns, records, 16): one view per cell, the cell inline when
        it has at most :data:`VIEW_INLINE` bytes, else its length, first four bytes and
        offset in the column's data buffer.
    long_values
        uint8 per text column: its data buffer, the bytes of its longer cells.

    Raises
    ------
    ValueError
        When a column's longer cells hold :data:`VIEW_DATA_LIMIT` bytes or more.
    """
    n_records, n_text = starts.shape
    long_offsets = _long_offsets(starts, ends)
    totals = long_offsets[:, -1]
    if n_text and totals.max() >= VIEW_DATA_LIMIT:
        raise ValueError("text columns too long for string views")
    bases = np.cumsum(totals) - totals
    views = np.empty((n_text, n_records, 16), dtype=np.uint8)
    long_values = np.empty(int(totals.sum()), dtype=np.uint8)
    with PARALLEL_LAUNCH:
        _view_rows(data, starts, ends, long_offsets, bases, views, long_values)
    return views, [long_values[b : b + t] for b, t in zip(bases, totals, strict=True)]


# ------------------------------------------------------------------------ Arrow columns


def to_frame(
    data: np.ndarray, names: Sequence[str], item_columns: Collection[str], tokens: Tokens
) -> pl.DataFrame:
    """The frame of tokenised cells: Int8 items, String text, empty cells null.

    Parameters
    ----------
    data
        The bytes of the file (uint8) that ``tokens`` locate cells in.
    names
        Column names in file order.
    item_columns
        Which of them are item columns.
    tokens
        What :func:`tokenise` found.
    """
    items = [_int8_array(row) for row in tokens.items]
    register(tokens.items, [array.null_count for array in items])  # the matrix, in place
    item_arrays, texts = iter(items), iter(_text_arrays(data, tokens))
    arrays = [next(item_arrays) if name in item_columns else next(texts) for name in names]
    return pl.from_arrow(pa.Table.from_arrays(arrays, names=list(names)))


def _text_arrays(data: np.ndarray, tokens: Tokens) -> list[pa.Array]:
    """The text columns as Arrow string views (what polars takes without a copy), or as
    large strings when a column holds too much text for 32-bit view offsets."""
    starts, ends = tokens.text_starts, tokens.text_ends
    present = (ends > starts).T
    try:
        views, long_values = string_views(data, starts, ends)
    except ValueError:
        offsets, values = gather(data, starts, ends)
        return [_string_array(*column) for column in zip(offsets, values, strict=True)]
    return [_string_view_array(*column) for column in zip(views, long_values, present, strict=True)]


def _validity(present: np.ndarray) -> tuple[pa.Buffer | None, int]:
    """Arrow validity bitmap (None when nothing is null) and null count."""
    n_null = len(present) - int(np.count_nonzero(present))
    return (pa.py_buffer(np.packbits(present, bitorder="little")) if n_null else None), n_null


def _int8_array(values: np.ndarray) -> pa.Array:
    validity, n_null = _validity(values != MISSING)
    return pa.Array.from_buffers(pa.int8(), len(values), [validity, pa.py_buffer(values)], n_null)


def _string_view_array(views: np.ndarray, long_values: np.ndarray, present: np.ndarray) -> pa.Array:
    """Arrow string views from their 16-byte views and one data buffer."""
    validity, n_null = _validity(present)
    buffers = [validity, pa.py_buffer(views), pa.py_buffer(long_values)]
    return pa.Array.from_buffers(pa.string_view(), len(views), buffers, n_null)


def _string_array(offsets: np.ndarray, values: np.ndarray) -> pa.Array:
    """Arrow text from Arrow offsets and bytes; empty cells are null."""
    validity, n_null = _validity(offsets[1:] > offsets[:-1])
    return pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(values), validity, n_null
    )
