"""Mergeable per-group sufficient statistics of item responses (private numba kernels).

One pass over the rows of a response matrix accumulates, for every group, the counts, sums
and cross-products that reliability and item statistics are computed from. Every quantity is
a sum over rows, so the statistics of two row sets are the sum of their statistics
(:func:`merge`): grouped, chunked and distributed runs give the numbers of one in-memory
call. Sums of integer responses are exact in float64 (below 2**53), so for Likert data the
merged sums are bit-identical whatever the order of the rows. The row mean enters only
through the integer row sum, kept apart for every number of answered items, so the mean,
sd and item-total correlations of the row mean are bit-identical too.

The kernel sorts rows by group once (a counting sort), then splits the sorted rows into one
contiguous block per thread. A group that lies inside one block is written straight into its
own output slot; the first and last group of a block may be shared with the neighbouring
blocks, so they go to small per-thread buffers that are added into the output after the
parallel loop. Memory is therefore that of the output plus two groups per thread.

Layout of the statistics of ``G`` groups and ``p`` items (values after reverse keying):

``pair`` : float64 (G, 4, p, p)
    ``[0, j, k]`` rows where items j and k are both present; ``[1, j, k]`` sum of item j over
    those rows; ``[2, j, k]`` sum of squares of item j over those rows; ``[3, j, k]`` sum of
    the products of items j and k. ``[0]`` and ``[3]`` are symmetric; the diagonal of
    ``[0..2]`` holds the per-item count, sum and sum of squares.
``total`` : float64 (G, 3, p, p)
    With ``S`` the sum of the row's present items and ``m`` their number: ``[0, m-1, j]``
    sum of S, ``[1, m-1, j]`` sum of S**2 and ``[2, m-1, j]`` sum of S times item j, over
    the rows with ``m`` items present where item j is present. The row mean is ``t = S/m``,
    so the sums of t, t**2 and t times item j are ``sum over m`` of these divided by m,
    m**2 and m.
``rows`` : float64 (G, 2)
    ``[0]`` rows of the group; ``[1]`` rows used (at least one item present; all items
    present under listwise deletion).
``sums`` : float64 (G, 2, p)
    ``[0, m-1]`` sum of S and ``[1, m-1]`` sum of S**2 over the rows used with ``m`` items
    present.
``answered`` : float64 (G, p)
    Rows where item j is present, counted over all rows whatever the missing-data policy.
``hist`` : float64 (G, p, L)
    Number of raw answers equal to ``low + level`` for level in ``0..L-1`` (all rows).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Idle OpenMP threads sleep instead of spinning between parallel regions: on a server
# shared with other work, GNU OpenMP's spinning threads take the cores the others need
# (measured here: the 1M-row kernel 2.3x slower with spinning). Read once, when numba first
# starts its OpenMP threads; a value set by the user is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

# numba, imported by one thread at a time and without its BLAS probe
from screening.scoring._jit import PARALLEL_LAUNCH, get_num_threads, njit, prange

N_PAIR = 4
N_TOTAL = 3
N_ROWS = 2
N_SUMS = 2


@njit(cache=True)
def group_order(codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Order rows by group code with a stable counting sort.

    Parameters
    ----------
    codes : int64 array (n,)
        Group code of each row in ``0..n_groups-1``; a negative code drops the row.
    n_groups : int
        Number of groups.

    Returns
    -------
    order : int64 array (m,)
        Row indices sorted by group, input order kept within a group; dropped rows absent.
    starts : int64 array (n_groups + 1,)
        Rows of group g are ``order[starts[g]:starts[g + 1]]``.
    """
    counts = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(codes.shape[0]):
        c = codes[i]
        if c >= 0:
            counts[c + 1] += 1
    for g in range(n_groups):
        counts[g + 1] += counts[g]
    starts = counts.copy()
    fill = counts[:n_groups].copy()
    order = np.empty(counts[n_groups], dtype=np.int64)
    for i in range(codes.shape[0]):
        c = codes[i]
        if c >= 0:
            order[fill[c]] = i
            fill[c] += 1
    return order, starts


@njit(cache=True)
def _accumulate_rows(
    x,
    order,
    r0,
    r1,
    flip,
    offset,
    missing,
    listwise,
    low,
    step,
    pair,
    total,
    rows,
    sums,
    answered,
    hist,
    g,
):
    """Add rows ``order[r0:r1]`` of ``x`` into slot ``g`` of the statistics arrays.

    Rows with every item present (most rows) go to compact local sums (p sums, p squares,
    p(p+1)/2 products) that are added to every pair at the end; only rows with missing
    answers take the full pairwise update. Both give the same sums.
    """
    p = x.shape[1]
    n_levels = hist.shape[2]
    vals = np.empty(p, dtype=np.float64)
    present = np.empty(p, dtype=np.bool_)
    full_n = 0.0
    full_t = 0.0
    full_tt = 0.0
    full_s = np.zeros(p)
    full_q = np.zeros(p)
    full_tx = np.zeros(p)
    full_c = np.zeros((p, p))
    seen = np.zeros(p)  # answered, histogram and row counts kept locally, added at the end
    levels = np.zeros((p, n_levels))
    by_m = np.zeros((2, p))  # sum of S and of S**2 by number of answered items
    n_rows = 0.0
    n_used = 0.0
    for r in range(r0, r1):
        i = order[r]
        m = 0
        ssum = 0.0
        for j in range(p):
            xv = x[i, j]
            if xv != xv or xv == missing:
                present[j] = False
                continue
            present[j] = True
            seen[j] += 1.0
            if n_levels > 0:
                level = int(xv) - low
                if (
                    level >= 0
                    and level % step == 0
                    and level // step < n_levels
                    and float(xv) == float(int(xv))
                ):
                    levels[j, level // step] += 1.0
            v = float(xv)
            if flip[j]:
                v = offset[j] - v
            vals[j] = v
            m += 1
            ssum += v
        n_rows += 1.0
        if m == 0 or (listwise and m < p):
            continue
        t = ssum  # the row sum: an integer for integer answers, so every sum is exact
        n_used += 1.0
        by_m[0, m - 1] += t
        by_m[1, m - 1] += t * t
        if m == p:
            full_n += 1.0
            full_t += t
            full_tt += t * t
            for j in range(p):
                vj = vals[j]
                full_s[j] += vj
                full_q[j] += vj * vj
                full_tx[j] += t * vj
                for k in range(j + 1, p):
                    full_c[j, k] += vj * vals[k]
            continue
        for j in range(p):
            if not present[j]:
                continue
            vj = vals[j]
            total[g, 0, m - 1, j] += t
            total[g, 1, m - 1, j] += t * t
            total[g, 2, m - 1, j] += t * vj
            for k in range(j, p):
                if not present[k]:
                    continue
                vk = vals[k]
                pair[g, 0, j, k] += 1.0
                pair[g, 1, j, k] += vj
                pair[g, 2, j, k] += vj * vj
                pair[g, 3, j, k] += vj * vk
                if k != j:
                    pair[g, 1, k, j] += vk
                    pair[g, 2, k, j] += vk * vk
    rows[g, 0] += n_rows
    rows[g, 1] += n_used
    for j in range(p):
        sums[g, 0, j] += by_m[0, j]
        sums[g, 1, j] += by_m[1, j]
        answered[g, j] += seen[j]
        for level in range(n_levels):
            hist[g, j, level] += levels[j, level]
    if full_n > 0:
        for j in range(p):
            total[g, 0, p - 1, j] += full_t
            total[g, 1, p - 1, j] += full_tt
            total[g, 2, p - 1, j] += full_tx[j]
            pair[g, 3, j, j] += full_q[j]
            for k in range(j, p):
                pair[g, 0, j, k] += full_n
                pair[g, 1, j, k] += full_s[j]
                pair[g, 2, j, k] += full_q[j]
                if k != j:
                    pair[g, 1, k, j] += full_s[k]
                    pair[g, 2, k, j] += full_q[k]
                    pair[g, 3, j, k] += full_c[j, k]


@njit(parallel=True, cache=True)
def accumulate(
    x: np.ndarray,
    order: np.ndarray,
    starts: np.ndarray,
    flip: np.ndarray,
    offset: np.ndarray,
    missing: float,
    listwise: bool,
    low: int,
    step: int,
    n_levels: int,
    n_blocks: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Accumulate the per-group statistics of a response matrix in one parallel pass.

    Parameters
    ----------
    x : int8 or float64 array (n, p)
        Responses; a cell equal to ``missing`` (int input) or NaN (float input) is missing.
    order, starts : int64 arrays
        Rows sorted by group, from :func:`group_order`.
    flip : bool array (p,)
        Reverse-keyed items: their value ``v`` is replaced by ``offset - v``.
    offset : float64 array (p,)
        Item minimum plus maximum, for reverse keying.
    missing : float
        Missing code of integer input (-1); NaN for float input.
    listwise : bool
        Use only rows with every item present (otherwise every pair of items uses the rows
        where both are present, and item sums the rows where the item is present).
    low, step, n_levels : int
        Histogram of the raw answers ``low + step * level`` for level ``0 .. n_levels - 1``;
        ``n_levels = 0`` skips it.
    n_blocks : int
        Number of contiguous row blocks processed in parallel (usually the thread count).

    Returns
    -------
    pair, total, rows, sums, answered, hist : float64 arrays
        The statistics described in the module docstring.
    """
    p = x.shape[1]
    n_groups = starts.shape[0] - 1
    n_sorted = starts[n_groups]
    n_blocks = max(1, min(n_blocks, n_sorted))
    # slots 0..G-1 hold the groups; G + 2b + s the shared first (s=0) and last (s=1) group
    # of block b, added into their group after the parallel loop
    slots = n_groups + 2 * n_blocks
    pair = np.zeros((slots, N_PAIR, p, p))
    total = np.zeros((slots, N_TOTAL, p, p))
    rows = np.zeros((slots, N_ROWS))
    sums = np.zeros((slots, N_SUMS, p))
    answered = np.zeros((slots, p))
    hist = np.zeros((slots, p, n_levels))
    part_group = np.full((n_blocks, 2), -1, dtype=np.int64)
    for b in prange(n_blocks):
        lo = n_sorted * b // n_blocks
        hi = n_sorted * (b + 1) // n_blocks
        if hi <= lo:
            continue
        # first group with rows at or after lo, last group with rows before hi
        g = np.searchsorted(starts, lo, side="right") - 1
        g_first = g
        while g < n_groups and starts[g] < hi:
            r0 = max(starts[g], lo)
            r1 = min(starts[g + 1], hi)
            if r1 > r0:
                slot = g
                if r0 != starts[g] or r1 != starts[g + 1]:
                    side = 0 if g == g_first else 1
                    part_group[b, side] = g
                    slot = n_groups + 2 * b + side
                _accumulate_rows(
                    x,
                    order,
                    r0,
                    r1,
                    flip,
                    offset,
                    missing,
                    listwise,
                    low,
                    step,
                    pair,
                    total,
                    rows,
                    sums,
                    answered,
                    hist,
                    slot,
                )
            g += 1
    for b in range(n_blocks):
        for side in range(2):
            g = part_group[b, side]
            if g >= 0:
                slot = n_groups + 2 * b + side
                pair[g] += pair[slot]
                total[g] += total[slot]
                rows[g] += rows[slot]
                sums[g] += sums[slot]
                answered[g] += answered[slot]
                hist[g] += hist[slot]
    # the kernel fills k >= j of the symmetric counts and cross-products
    for g in range(n_groups):
        for j in range(p):
            for k in range(j + 1, p):
                pair[g, 0, k, j] = pair[g, 0, j, k]
                pair[g, 3, k, j] = pair[g, 3, j, k]
    return (
        pair[:n_groups],
        total[:n_groups],
        rows[:n_groups],
        sums[:n_groups],
        answered[:n_groups],
        hist[:n_groups],
    )


@njit(cache=True)
def accumulate_serial(x, order, starts, flip, offset, missing, listwise, low, step, n_levels):
    """:func:`accumulate` in one thread, for small inputs (no parallel start-up cost)."""
    p = x.shape[1]
    n_groups = starts.shape[0] - 1
    pair = np.zeros((n_groups, N_PAIR, p, p))
    total = np.zeros((n_groups, N_TOTAL, p, p))
    rows = np.zeros((n_groups, N_ROWS))
    sums = np.zeros((n_groups, N_SUMS, p))
    answered = np.zeros((n_groups, p))
    hist = np.zeros((n_groups, p, n_levels))
    for g in range(n_groups):
        _accumulate_rows(
            x,
            order,
            starts[g],
            starts[g + 1],
            flip,
            offset,
            missing,
            listwise,
            low,
            step,
            pair,
            total,
            rows,
            sums,
            answered,
            hist,
            g,
        )
        for j in range(p):
            for k in range(j + 1, p):
                pair[g, 0, k, j] = pair[g, 0, j, k]
                pair[g, 3, k, j] = pair[g, 3, j, k]
    return pair, total, rows, sums, answered, hist


SERIAL_ROWS = 20_000
MAX_HIST_LEVELS = 128  # answers counted one by one; wider ranges count their two ends


def default_blocks() -> int:
    """Number of parallel row blocks: the numba thread count."""
    return int(get_num_threads())


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of ``G`` groups (see the module docstring for the layout).

    ``low`` is the raw answer counted by the first histogram level, ``step`` the distance
    between the answers of two levels (1, or the whole range where only its ends are
    counted).
    """

    pair: np.ndarray
    total: np.ndarray
    rows: np.ndarray
    sums: np.ndarray
    answered: np.ndarray
    hist: np.ndarray
    low: int
    step: int = 1

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return int(self.pair.shape[0])

    def row_mean_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Sums of the row mean t = S/m: over the rows used (G,) and by item (G, p).

        Returns the sums of t and t**2 over the rows used, and per item j the sums of t,
        t**2 and t times item j over the rows where j is present. Each is a fixed sum of
        the exact per-m sums divided by m, so it is the same number whatever the chunking.
        """
        p = self.sums.shape[-1]
        m = np.arange(1.0, p + 1.0)
        sum_t = (self.sums[:, 0] / m).sum(axis=-1)
        sum_tt = (self.sums[:, 1] / m**2).sum(axis=-1)
        per_m = m[:, None]
        t_item = (self.total[:, 0] / per_m).sum(axis=1)
        tt_item = (self.total[:, 1] / per_m**2).sum(axis=1)
        tx_item = (self.total[:, 2] / per_m).sum(axis=1)
        return sum_t, sum_tt, t_item, tt_item, tx_item

    def merge(self, other: Moments) -> Moments:
        """Statistics of the union of two disjoint row sets of the same groups."""
        if self.pair.shape != other.pair.shape or self.hist.shape != other.hist.shape:
            raise ValueError("cannot merge statistics of different shapes")
        if (self.low, self.step) != (other.low, other.step):
            raise ValueError("cannot merge histograms of different answers")
        return Moments(
            self.pair + other.pair,
            self.total + other.total,
            self.rows + other.rows,
            self.sums + other.sums,
            self.answered + other.answered,
            self.hist + other.hist,
            self.low,
            self.step,
        )

    def grow(self, n_groups: int) -> Moments:
        """The same statistics padded with empty groups up to ``n_groups``."""
        extra = n_groups - self.n_groups
        if extra <= 0:
            return self

        def pad(a: np.ndarray) -> np.ndarray:
            return np.concatenate([a, np.zeros((extra, *a.shape[1:]))])

        return Moments(
            pad(self.pair),
            pad(self.total),
            pad(self.rows),
            pad(self.sums),
            pad(self.answered),
            pad(self.hist),
            self.low,
            self.step,
        )

    def select(self, index: np.ndarray | int) -> Moments:
        """The statistics of some groups (an integer keeps a group axis of length one)."""
        idx = np.atleast_1d(np.asarray(index, dtype=np.int64))
        return Moments(
            self.pair[idx],
            self.total[idx],
            self.rows[idx],
            self.sums[idx],
            self.answered[idx],
            self.hist[idx],
            self.low,
            self.step,
        )


def compute_moments(
    values: np.ndarray,
    *,
    flip: np.ndarray,
    offset: np.ndarray,
    missing: float,
    listwise: bool,
    codes: np.ndarray | None = None,
    n_groups: int = 1,
    hist_range: tuple[int, int] | None = None,
    n_blocks: int | None = None,
) -> Moments:
    """Group and accumulate a response matrix (the front of :func:`accumulate`).

    Parameters
    ----------
    values : int8 or float64 array (n, p)
        Responses.
    flip, offset, missing, listwise
        As in :func:`accumulate`.
    codes : int64 array (n,), optional
        Group of each row (negative drops the row); default: one group of all rows.
    n_groups : int
        Number of groups.
    hist_range : (low, high), optional
        Integer answer range to count, every answer of it or, beyond
        :data:`MAX_HIST_LEVELS` answers, its two ends only; None skips the histogram.
    n_blocks : int, optional
        Parallel row blocks; default the numba thread count, or one thread (the serial
        kernel) below ``SERIAL_ROWS`` rows.
    """
    if codes is None:
        codes = np.zeros(values.shape[0], dtype=np.int64)
        n_groups = 1
    order, starts = group_order(np.ascontiguousarray(codes, dtype=np.int64), n_groups)
    low, step, n_levels = 0, 1, 0
    if hist_range is not None:
        low, n_levels = hist_range[0], hist_range[1] - hist_range[0] + 1
        if n_levels > MAX_HIST_LEVELS:  # floor and ceiling only
            step, n_levels = hist_range[1] - hist_range[0], 2
    args = (
        values,
        order,
        starts,
        np.ascontiguousarray(flip, dtype=np.bool_),
        np.ascontiguousarray(offset, dtype=np.float64),
        float(missing),
        bool(listwise),
        int(low),
        int(step),
        int(n_levels),
    )
    if n_blocks is None and values.shape[0] < SERIAL_ROWS:
        stats = accumulate_serial(*args)
    else:
        with PARALLEL_LAUNCH:
            stats = accumulate(*args, int(n_blocks or default_blocks()))
    return Moments(*stats, int(low), int(step))
