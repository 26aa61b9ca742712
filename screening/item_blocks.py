"""Response matrices read in place from the item block of a tokenised CSV.

The CSV fast path (:mod:`screening._csv_kernels`) writes the item cells of a file into one
int8 array, items × records, with -1 for an empty cell, and hands each of its rows to
polars as an Int8 column without a copy. Transposed, that array is the response matrix
the scoring kernel reads (records × items, column-major, missing -1). :func:`register`
records such an array; :func:`shared_matrix` finds the matrix of a frame's item columns in
it, which saves building it again from the columns (a million students with 116 items:
116 MB copied twice, by polars' ``fill_null`` and ``to_numpy``, about 0.1 s).

A column is taken from a block only when it is a whole, unchanged row of it: Int8, one
chunk, its values at the row's address, as long as the row, and with as many nulls as the
row had empty cells. An operation that changed values wrote new memory; one that only
added nulls (a mask) changed the count. Anything else gives None: build the matrix.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

import numpy as np
import polars as pl

_BLOCKS: dict[int, tuple[weakref.ref[np.ndarray], tuple[int, ...]]] = {}
_LOCK = threading.RLock()  # a block may die, and be forgotten, while it is held


def register(block: np.ndarray, null_counts: Sequence[int]) -> None:
    """Record an item block (int8, C-ordered, items × records, missing -1) whose rows are
    polars columns with ``null_counts`` nulls each, for as long as the block lives."""
    if block.ndim != 2 or block.dtype != np.int8 or not block.flags.c_contiguous:
        raise ValueError("an item block is a C-ordered two-dimensional int8 array")
    if len(null_counts) != block.shape[0]:
        raise ValueError("give the null count of every row of the block")
    if block.size == 0:
        return
    address = block.ctypes.data
    with _LOCK:
        _BLOCKS[address] = (weakref.ref(block), tuple(int(n) for n in null_counts))
    weakref.finalize(block, _forget, address)


def _forget(address: int) -> None:
    with _LOCK:
        _BLOCKS.pop(address, None)


def shared_matrix(columns: Sequence[pl.Series]) -> np.ndarray | None:
    """The response matrix (rows × columns, column-major, missing -1) of ``columns``
    read from a registered block without a copy, or None when they are not all whole,
    unchanged rows of one block (see the module docstring).

    Columns that are rows of the block in another order, or some of its rows, give a
    copy of those rows (numpy, about a tenth of the time polars takes).
    """
    with _LOCK:
        blocks = [(address, ref(), counts) for address, (ref, counts) in _BLOCKS.items()]
    found: list[int] = []
    block: np.ndarray | None = None
    for series in columns:
        located = _row_of(series, blocks)
        if located is None or (block is not None and located[0] is not block):
            return None
        block = located[0]
        found.append(located[1])
    if block is None:
        return None
    first = found[0]
    if found == list(range(first, first + len(found))):
        return block[first : first + len(found)].T  # a view, column-major
    return block[found].T


def _row_of(
    series: pl.Series, blocks: list[tuple[int, np.ndarray | None, tuple[int, ...]]]
) -> tuple[np.ndarray, int] | None:
    """(block, row) of a column that is a whole, unchanged row of a block, or None."""
    if series.dtype != pl.Int8 or series.n_chunks() != 1:
        return None
    values = series.to_arrow()
    address = values.buffers()[1].address + values.offset
    for base, block, null_counts in blocks:
        if block is None:
            continue
        records = block.shape[1]
        row, start = divmod(address - base, records)
        if 0 <= row < block.shape[0] and start == 0:
            if series.len() == records and series.null_count() == null_counts[row]:
                return block, row
            return None
    return None
