"""Private numba kernels of the scoring core.

The kernels take numpy arrays and numbers only; the fronts (``screening.pipeline``) validate
and convert once. Every kernel has a plain-Python reference in ``tests/scoring/naive.py``.
"""

from __future__ import annotations

import numpy as np

# numba, imported by one thread at a time and without its BLAS probe
from screening.scoring._jit import njit, prange

MISSING = -1
BLOCK = 4096  # rows per block: its accumulators and four columns of answers stay in L2
N_WORK = 6  # accumulators per row of a block
INT16_MAX = 32767

# comparison codes, in the order of screening.instruments.models.COMPARISONS
GE, GT, LE, LT, EQ, NE = 0, 1, 2, 3, 4, 5


@njit(cache=True)
def _compare(value, op, threshold):  # pragma: no cover - compiled
    if op == GE:
        return value >= threshold
    if op == GT:
        return value > threshold
    if op == LE:
        return value <= threshold
    if op == LT:
        return value < threshold
    if op == EQ:
        return value == threshold
    return value != threshold


def _instrument_fits16(item_min, item_max, j0, j1):
    """Whether count, sum and sum of squares of the answers to columns ``j0:j1`` fit int16."""
    top = 1
    for j in range(j0, j1):
        top = max(top, abs(np.int64(item_min[j])), abs(np.int64(item_max[j])))
    return (j1 - j0) * top * top <= INT16_MAX


def _scale_fits16(item_min, item_max, missing_means, columns):
    """Whether the count and the sum (or maximum) of a scale's values fit int16."""
    top = 1
    for j in columns:
        low = np.int64(item_min[j])
        high = np.int64(item_max[j])
        fill = np.int64(missing_means[j])
        top = max(top, abs(low), abs(high), abs(fill), abs(low + high - fill))
    return columns.shape[0] * top <= INT16_MAX


@njit(inline="always")
def _answer(cast, x8, low, high, c, t, q, r, best, p, bad):  # pragma: no cover - compiled
    """One answer into an instrument's accumulators, all of type ``cast`` (``bad``: int16).

    ``c``, ``t``, ``q``: valid answers, their sum and sum of squares; ``r``, ``best``, ``p``:
    the current run of identical answers, the longest run and the previous answer (-1 when
    it was not valid); ``bad``: answers out of range.
    """
    x = cast(x8)
    ok = (x >= low) & (x <= high)
    one = cast(1) if ok else cast(0)
    c = cast(c + one)
    t = cast(t + (x if ok else cast(0)))
    q = cast(q + (cast(x * x) if ok else cast(0)))
    r = cast(r + cast(1)) if ok & (x == p) else one
    p = x if ok else cast(MISSING)
    best = max(best, r)
    bad = np.int16(bad + (np.int16(1) if (x != MISSING) & (not ok) else np.int16(0)))
    return c, t, q, r, best, p, bad


@njit(cache=True, error_model="numpy")
def _instrument_block(
    cast, responses, r0, size, j0, j1, item_min, item_max, work, bad
):  # pragma: no cover - compiled
    """Accumulate columns ``j0:j1`` of rows ``r0:r0+size`` into ``work`` (type ``cast``).

    ``work`` holds, ``BLOCK`` apart: answers, sum, sum of squares, run, longest run and
    previous answer per row. Four columns at a time: the accumulators are loaded and stored
    once per four answers.
    """
    for b in range(size):
        work[b] = 0
        work[BLOCK + b] = 0
        work[2 * BLOCK + b] = 0
        work[3 * BLOCK + b] = 0
        work[4 * BLOCK + b] = 0
        work[5 * BLOCK + b] = MISSING
    j = j0
    while j + 4 <= j1:
        x0 = responses[r0 : r0 + size, j]
        x1 = responses[r0 : r0 + size, j + 1]
        x2 = responses[r0 : r0 + size, j + 2]
        x3 = responses[r0 : r0 + size, j + 3]
        lo0, hi0 = cast(item_min[j]), cast(item_max[j])
        lo1, hi1 = cast(item_min[j + 1]), cast(item_max[j + 1])
        lo2, hi2 = cast(item_min[j + 2]), cast(item_max[j + 2])
        lo3, hi3 = cast(item_min[j + 3]), cast(item_max[j + 3])
        for b in range(size):
            c = work[b]
            t = work[BLOCK + b]
            q = work[2 * BLOCK + b]
            r = work[3 * BLOCK + b]
            longest = work[4 * BLOCK + b]
            p = work[5 * BLOCK + b]
            d = bad[b]
            c, t, q, r, longest, p, d = _answer(cast, x0[b], lo0, hi0, c, t, q, r, longest, p, d)
            c, t, q, r, longest, p, d = _answer(cast, x1[b], lo1, hi1, c, t, q, r, longest, p, d)
            c, t, q, r, longest, p, d = _answer(cast, x2[b], lo2, hi2, c, t, q, r, longest, p, d)
            c, t, q, r, longest, p, d = _answer(cast, x3[b], lo3, hi3, c, t, q, r, longest, p, d)
            work[b] = c
            work[BLOCK + b] = t
            work[2 * BLOCK + b] = q
            work[3 * BLOCK + b] = r
            work[4 * BLOCK + b] = longest
            work[5 * BLOCK + b] = p
            bad[b] = d
        j += 4
    while j < j1:
        x0 = responses[r0 : r0 + size, j]
        lo0, hi0 = cast(item_min[j]), cast(item_max[j])
        for b in range(size):
            c, t, q, r, longest, p, d = _answer(
                cast,
                x0[b],
                lo0,
                hi0,
                work[b],
                work[BLOCK + b],
                work[2 * BLOCK + b],
                work[3 * BLOCK + b],
                work[4 * BLOCK + b],
                work[5 * BLOCK + b],
                bad[b],
            )
            work[b] = c
            work[BLOCK + b] = t
            work[2 * BLOCK + b] = q
            work[3 * BLOCK + b] = r
            work[4 * BLOCK + b] = longest
            work[5 * BLOCK + b] = p
            bad[b] = d
        j += 1


@njit(cache=True, error_model="numpy")
def _instrument_outputs(work, size, r0, m, spec, outputs):  # pragma: no cover - compiled
    """Outputs of instrument ``m`` in rows ``r0:r0+size`` from its accumulators in ``work``;
    ``spec``: (inst_ptr, max_longstring, benign_answer), ``outputs``: (answered,
    longstring, irv, invalid, straight) of :func:`score_rows`."""
    inst_ptr, max_longstring, benign_answer = spec
    n_items = inst_ptr[m + 1] - inst_ptr[m]
    limit = max_longstring[m]
    benign = benign_answer[m]
    rows = slice(r0, r0 + size)
    answered = outputs[0][rows, m]
    longstring = outputs[1][rows, m]
    irv = outputs[2][rows, m]
    invalid = outputs[3][rows, m]
    straight = outputs[4][rows, m]
    use_limit = limit > 0
    long_enough = n_items >= 3
    for b in range(size):
        c = np.int64(work[b])
        t = np.int64(work[BLOCK + b])
        longest = work[4 * BLOCK + b]
        answered[b] = c
        longstring[b] = longest
        sd = np.nan
        if c >= 2:
            var = (np.int64(work[2 * BLOCK + b]) - t * t / c) / (c - 1)
            sd = np.sqrt(max(var, 0.0))
        irv[b] = sd
        invalid[b] = use_limit & (longest >= limit)
        straight[b] = long_enough & (longest == n_items) & (work[5 * BLOCK + b] != benign)


@njit(inline="always")
def _value(cast, x8, low, high, fill, flip, rev):  # pragma: no cover - compiled
    """A scale's value of one answer (type ``cast``) and whether it is present.

    Out of range counts as ``fill`` (-1: missing); reverse-keyed (``rev``) values are
    ``flip - value``.
    """
    x = cast(x8)
    v = x if (x >= low) & (x <= high) else fill
    present = v != MISSING
    return (cast(flip - v) if rev else v), present


@njit(inline="always")
def _add_value(cast, x8, low, high, fill, flip, rev, c, t):  # pragma: no cover - compiled
    """One answer into a scale's count and sum (type ``cast``); a missing value adds 0."""
    v, present = _value(cast, x8, low, high, fill, flip, rev)
    c = cast(c + (cast(1) if present else cast(0)))
    t = cast(t + (v if present else cast(0)))
    return c, t


@njit(cache=True, error_model="numpy")
def _scale_block(
    cast, responses, r0, size, columns, item_min, item_max, reverse, missing_means, work
):  # pragma: no cover - compiled
    """Accumulate a scale's ``columns`` of rows ``r0:r0+size`` into ``work`` (type ``cast``).

    ``work`` holds, ``BLOCK`` apart: the values present and their sum per row. Four columns
    at a time: the accumulators are loaded and stored once per four answers.
    """
    for b in range(size):
        work[b] = 0
        work[BLOCK + b] = 0
    k = 0
    n = columns.shape[0]
    while k + 4 <= n:
        j0, j1, j2, j3 = columns[k], columns[k + 1], columns[k + 2], columns[k + 3]
        x0 = responses[r0 : r0 + size, j0]
        x1 = responses[r0 : r0 + size, j1]
        x2 = responses[r0 : r0 + size, j2]
        x3 = responses[r0 : r0 + size, j3]
        lo0, hi0, f0 = cast(item_min[j0]), cast(item_max[j0]), cast(missing_means[j0])
        lo1, hi1, f1 = cast(item_min[j1]), cast(item_max[j1]), cast(missing_means[j1])
        lo2, hi2, f2 = cast(item_min[j2]), cast(item_max[j2]), cast(missing_means[j2])
        lo3, hi3, f3 = cast(item_min[j3]), cast(item_max[j3]), cast(missing_means[j3])
        fl0, fl1, fl2, fl3 = cast(lo0 + hi0), cast(lo1 + hi1), cast(lo2 + hi2), cast(lo3 + hi3)
        rv0, rv1, rv2, rv3 = reverse[j0], reverse[j1], reverse[j2], reverse[j3]
        for b in range(size):
            c = work[b]
            t = work[BLOCK + b]
            c, t = _add_value(cast, x0[b], lo0, hi0, f0, fl0, rv0, c, t)
            c, t = _add_value(cast, x1[b], lo1, hi1, f1, fl1, rv1, c, t)
            c, t = _add_value(cast, x2[b], lo2, hi2, f2, fl2, rv2, c, t)
            c, t = _add_value(cast, x3[b], lo3, hi3, f3, fl3, rv3, c, t)
            work[b] = c
            work[BLOCK + b] = t
        k += 4
    while k < n:
        j0 = columns[k]
        x0 = responses[r0 : r0 + size, j0]
        lo0, hi0, f0 = cast(item_min[j0]), cast(item_max[j0]), cast(missing_means[j0])
        fl0 = cast(lo0 + hi0)
        rv0 = reverse[j0]
        for b in range(size):
            c, t = _add_value(cast, x0[b], lo0, hi0, f0, fl0, rv0, work[b], work[BLOCK + b])
            work[b] = c
            work[BLOCK + b] = t
        k += 1


@njit(cache=True, error_model="numpy")
def _scale_max_block(
    cast, responses, r0, size, columns, item_min, item_max, reverse, missing_means, work
):  # pragma: no cover - compiled
    """The maximum of a scale's values per row into ``work[2 * BLOCK:]`` (type ``cast``).

    A missing value counts 0, or -1 where reverse-keyed (-1 with no value at all).
    """
    for b in range(size):
        work[2 * BLOCK + b] = -1
    for j in columns:
        x0 = responses[r0 : r0 + size, j]
        low, high, fill = cast(item_min[j]), cast(item_max[j]), cast(missing_means[j])
        flip = cast(low + high)
        rev = reverse[j]
        absent = cast(-1) if rev else cast(0)
        for b in range(size):
            v, present = _value(cast, x0[b], low, high, fill, flip, rev)
            work[2 * BLOCK + b] = max(work[2 * BLOCK + b], v if present else absent)


@njit(cache=True)
def _scale_accumulate(
    cast, responses, r0, size, columns, item_min, item_max, reverse, missing_means, method, work
):  # pragma: no cover - compiled
    """A scale's count and sum into ``work``, and for ``method`` 2 (max) its maximum."""
    _scale_block(
        cast, responses, r0, size, columns, item_min, item_max, reverse, missing_means, work
    )
    if method == 2:
        _scale_max_block(
            cast, responses, r0, size, columns, item_min, item_max, reverse, missing_means, work
        )


@njit(cache=True, error_model="numpy")
def _scale_outputs(work, size, r0, s, n_items, spec, scores, bands):  # pragma: no cover
    """Scores and bands of scale ``s`` in rows ``r0:r0+size`` from its accumulators in
    ``work``; ``spec``: the scale arrays (method, required, prorate, multiplier, band_ptr,
    band_cuts) of :func:`score_rows`."""
    scale_method, scale_required, scale_prorate, scale_multiplier, band_ptr, band_cuts = spec
    method = scale_method[s]
    need = max(scale_required[s], 1)
    prorate = scale_prorate[s]
    multiplier = scale_multiplier[s]
    cuts = band_cuts[band_ptr[s] : band_ptr[s + 1]]
    bands = bands[r0 : r0 + size, s]
    scores = scores[r0 : r0 + size, s]
    whole = np.float64(n_items)
    if method == 0:
        for b in range(size):
            c = work[b]
            score = np.nan
            if c >= need:
                if c == n_items:
                    score = np.float64(work[BLOCK + b])
                elif prorate:
                    score = np.float64(work[BLOCK + b]) / np.float64(c) * whole
                score *= multiplier
            scores[b] = score
    elif method == 1:
        for b in range(size):
            c = work[b]
            score = np.nan
            if c >= need:
                score = np.float64(work[BLOCK + b]) / np.float64(c) * multiplier
            scores[b] = score
    else:
        for b in range(size):
            score = np.nan
            if work[b] >= need:
                score = np.float64(work[2 * BLOCK + b]) * multiplier
            scores[b] = score
    if cuts.shape[0] == 0:
        for b in range(size):
            bands[b] = -1
    else:
        first = cuts[0]
        for b in range(size):
            score = scores[b]
            bands[b] = -1 if np.isnan(score) else (1 if score >= first else 0)
        for cut in cuts[1:]:
            for b in range(size):
                bands[b] += scores[b] >= cut


@njit(cache=True)
def _add_counts(work, size, total):  # pragma: no cover - compiled
    """Add the count and sum of ``work`` (a part of a derived scale) to ``total``."""
    for b in range(size):
        total[b] += work[b]
        total[BLOCK + b] += work[BLOCK + b]


def _is_part(t, s, source, size, scale_ptr, scale_idx, mark):
    """Whether scale ``t`` can be a part of ``s``: computed from its own columns, smaller, and
    every column once and in ``s`` (``mark`` is 1 on the columns of ``s``, 0 elsewhere)."""
    if t == s or source[t] != -1 or size[t] >= size[s]:
        return False
    fits = True
    for k in range(scale_ptr[t], scale_ptr[t + 1]):
        j = scale_idx[k]
        fits &= mark[j] == 1
        mark[j] += 2  # a column twice in t does not fit
    for k in range(scale_ptr[t], scale_ptr[t + 1]):
        mark[scale_idx[k]] -= 2
    return fits


def _scale_sources(
    item_min,
    item_max,
    reverse,
    missing_means,
    inst_ptr,
    scale_ptr,
    scale_idx,
    scale_method,
    scale_inst,
    scale_narrow,
):
    """Where each scale's count and sum come from, to read every answer as few times as can be.

    Returns ``source`` per scale: -1 its own columns; ``-2 - m`` the accumulators of
    instrument ``m`` (the scale has every column of the instrument, each plain: not
    reverse-keyed, no ``missing_means``, -1 out of range); ``d >= 0`` derived slot ``d``:
    the sum of the counts and sums of other scales whose columns partition its own (an
    int16 sum or mean scale; its parts are then int16 too). ``part_ptr``/``part_of`` list
    per scale the derived slots it adds to; the last value is the number of derived slots.
    Integer sums in another order are the same sums: the results do not change.
    """
    n_scales = scale_ptr.shape[0] - 1
    p = item_min.shape[0]
    source = np.full(n_scales, -1, dtype=np.int64)
    size = scale_ptr[1:] - scale_ptr[:-1]
    mark = np.zeros(p, dtype=np.int64)
    covered = np.zeros(p, dtype=np.bool_)
    for s in range(n_scales):
        if scale_method[s] == 2:
            continue
        m = scale_inst[s]
        mark[:] = 0
        plain = True
        for k in range(scale_ptr[s], scale_ptr[s + 1]):
            j = scale_idx[k]
            mark[j] += 1
            plain &= (not reverse[j]) & (missing_means[j] == MISSING)
            plain &= (item_min[j] > MISSING) | (item_max[j] < MISSING)
        whole = size[s] == inst_ptr[m + 1] - inst_ptr[m]
        for j in range(inst_ptr[m], inst_ptr[m + 1]):
            whole &= mark[j] == 1
        if plain and whole:
            source[s] = -2 - m
    n_parts = np.zeros(n_scales, dtype=np.int64)
    chosen = np.zeros((n_scales, n_scales), dtype=np.bool_)
    n_derived = 0
    by_size = np.argsort(-size, kind="mergesort")
    for s in np.argsort(size, kind="mergesort"):
        if source[s] != -1 or scale_method[s] == 2 or not scale_narrow[s] or size[s] < 2:
            continue
        mark[:] = 0
        unique = True
        for k in range(scale_ptr[s], scale_ptr[s + 1]):
            unique &= mark[scale_idx[k]] == 0
            mark[scale_idx[k]] = 1
        if not unique:
            continue
        # greedy exact cover by the largest parts first, from each possible first part
        found = False
        for first in by_size:
            if not _is_part(first, s, source, size, scale_ptr, scale_idx, mark):
                continue
            covered[:] = False
            chosen[s, :] = False
            n_covered = 0
            for i in range(-1, n_scales):
                t = first if i < 0 else by_size[i]
                if chosen[s, t] or not _is_part(t, s, source, size, scale_ptr, scale_idx, mark):
                    continue
                disjoint = True
                for k in range(scale_ptr[t], scale_ptr[t + 1]):
                    disjoint &= not covered[scale_idx[k]]
                if disjoint:
                    for k in range(scale_ptr[t], scale_ptr[t + 1]):
                        covered[scale_idx[k]] = True
                    n_covered += size[t]
                    chosen[s, t] = True
            if n_covered == size[s]:
                found = True
                break
        if found:
            source[s] = n_derived
            n_derived += 1
            for t in range(n_scales):
                n_parts[t] += chosen[s, t]
        else:
            chosen[s, :] = False
    part_ptr = np.zeros(n_scales + 1, dtype=np.int64)
    part_ptr[1:] = np.cumsum(n_parts)
    part_of = np.empty(part_ptr[-1] + 1, dtype=np.int64)
    fill = part_ptr[:-1].copy()
    for s in range(n_scales):
        if source[s] >= 0:
            for t in range(n_scales):
                if chosen[s, t]:
                    part_of[fill[t]] = source[s]
                    fill[t] += 1
    part_of[-1] = n_derived
    return source, part_ptr, part_of


def block_plan(
    item_min,
    item_max,
    reverse,
    missing_means,
    inst_ptr,
    scale_ptr,
    scale_idx,
    scale_method,
    scale_inst,
):
    """How :func:`score_rows` accumulates a battery: plain Python, once per battery.

    Returns ``inst_narrow``, ``scale_narrow`` (int16 accumulators where the sums provably
    fit: twice the SIMD lanes of int32), and ``source``, ``part_ptr``, ``part_of`` of
    :func:`_scale_sources`.
    """
    n_inst = inst_ptr.shape[0] - 1
    n_scales = scale_ptr.shape[0] - 1
    inst_narrow = np.empty(n_inst, dtype=np.bool_)
    for m in range(n_inst):
        inst_narrow[m] = _instrument_fits16(item_min, item_max, inst_ptr[m], inst_ptr[m + 1])
    scale_narrow = np.array(
        [
            _scale_fits16(
                item_min, item_max, missing_means, scale_idx[scale_ptr[s] : scale_ptr[s + 1]]
            )
            for s in range(n_scales)
        ],
        dtype=np.bool_,
    )
    sources = _scale_sources(
        item_min,
        item_max,
        reverse,
        missing_means,
        inst_ptr,
        scale_ptr,
        scale_idx,
        scale_method,
        scale_inst,
        scale_narrow,
    )
    return (inst_narrow, scale_narrow, *sources)


@njit(parallel=True, cache=True)
def score_rows(
    responses,
    item_min,
    item_max,
    reverse,
    missing_means,
    inst_ptr,
    scale_ptr,
    scale_idx,
    scale_method,
    scale_required,
    scale_prorate,
    scale_multiplier,
    band_ptr,
    band_cuts,
    crit_col,
    crit_threshold,
    valid_scale,
    valid_op,
    valid_value,
    scale_inst,
    max_longstring,
    benign_answer,
    inst_narrow,
    scale_narrow,
    source,
    part_ptr,
    part_of,
    scores,
    bands,
    answered,
    longstring,
    irv,
    critical,
    invalid,
    straight,
    out_of_range,
):  # pragma: no cover - compiled
    """Score every row of a battery's response matrix in one pass.

    Parameters
    ----------
    responses : ndarray of int8, shape (n, p)
        Answers; -1 is missing. Any memory order.
    item_min, item_max : ndarray of int8, shape (p,)
        Valid range per column; answers outside it count as missing and are counted in
        ``out_of_range``.
    reverse : ndarray of bool, shape (p,)
        Reverse-keyed columns, scored as ``item_min + item_max - answer``.
    missing_means : ndarray of int8, shape (p,)
        Value a missing answer counts as in scales (-1: stays missing).
    inst_ptr : ndarray of int64, shape (m + 1,)
        Columns of instrument ``k`` are ``inst_ptr[k]:inst_ptr[k+1]``.
    scale_ptr, scale_idx : ndarray of int64
        Columns of scale ``s`` are ``scale_idx[scale_ptr[s]:scale_ptr[s+1]]``.
    scale_method : ndarray of int8
        0 sum (prorated as ``mean * n_items`` when allowed), 1 mean, 2 max.
    scale_required : ndarray of int64
        Answers a scale needs; with fewer its score is NaN.
    scale_prorate : ndarray of bool
        Whether an incomplete sum is prorated.
    scale_multiplier : ndarray of float64
        Applied to the score.
    band_ptr, band_cuts : ndarray
        Cut-offs of scale ``s``: the band is the number of cuts ``<=`` the score.
    crit_col, crit_threshold : ndarray
        Critical items: endorsed when the answer is ``>= threshold``.
    valid_scale, valid_op, valid_value : ndarray
        Validity rules: the instrument of ``valid_scale`` is invalid when the rule holds.
    scale_inst : ndarray of int64
        Instrument of each scale.
    max_longstring : ndarray of int64
        Per instrument; a longstring ``>=`` it makes the protocol invalid (0: never).
    benign_answer : ndarray of int64
        Per instrument, the answer that given to every item is not straight-lining (the
        no-symptom end; -1: none, as for an instrument keyed both ways).
    inst_narrow, scale_narrow, source, part_ptr, part_of : ndarray
        The battery's :func:`block_plan`.
    scores : ndarray of float64, shape (n, s)
        Output: scale scores, NaN when not scorable.
    bands : ndarray of int8, shape (n, s)
        Output: band index, -1 when not scorable or the scale has no bands.
    answered, longstring : ndarray of int16, shape (n, m)
        Output: answers given (valid only) and longest run of identical answers.
    irv : ndarray of float64, shape (n, m)
        Output: intra-individual response variability (sample sd of the answers, NaN with
        fewer than two answers).
    critical : ndarray of bool, shape (n, c)
        Output: critical items endorsed.
    invalid : ndarray of bool, shape (n, m)
        Output: a validity rule or the longstring limit fired.
    straight : ndarray of bool, shape (n, m)
        Output: the same answer to every item of an instrument of three items or more,
        other than its ``benign_answer`` (all "not at all" is plausible: no symptoms; on an
        instrument keyed both ways any identical string contradicts itself).
    out_of_range : ndarray of int16, shape (n,)
        Output: answers outside their item's range.

    Notes
    -----
    Rows are scored in blocks of ``BLOCK`` (one ``prange`` task each), column by column,
    four columns at a time, with the inner loops over rows (SIMD). Counts and sums are
    int16 where they provably fit (answers count, sum and sum of squares of an instrument:
    ``n_items * max|answer| ** 2 <= 32767``; of a scale: ``n_items * max|value| <= 32767``),
    int32 otherwise. A scale with every column of its instrument, each plain (not
    reverse-keyed, no ``missing_means``, -1 not in range), takes the instrument's count and
    sum; a sum or mean scale whose columns are partitioned by other scales adds up theirs.
    Integer sums do not depend on their order: the results are those of scoring every scale
    from its own columns.
    """
    n = responses.shape[0]
    n_inst = inst_ptr.shape[0] - 1
    n_scales = scale_ptr.shape[0] - 1
    n_derived = part_of[-1]
    wide_size = 0 if inst_narrow.all() and scale_narrow.all() else N_WORK * BLOCK
    spec = (scale_method, scale_required, scale_prorate, scale_multiplier, band_ptr, band_cuts)
    inst = (inst_ptr, max_longstring, benign_answer)
    inst_outputs = (answered, longstring, irv, invalid, straight)
    n_blocks = (n + BLOCK - 1) // BLOCK
    for block in prange(n_blocks):
        # rows r0 .. r0 + size, column by column: the inner loops run over rows (SIMD)
        r0 = block * BLOCK
        size = min(BLOCK, n - r0)
        narrow = np.empty(N_WORK * BLOCK, dtype=np.int16)
        wide = np.empty(wide_size, dtype=np.int32)
        derived = np.zeros(n_derived * 2 * BLOCK, dtype=np.int16)
        bad = np.zeros(size, dtype=np.int16)
        for m in range(n_inst):
            j0 = inst_ptr[m]
            j1 = inst_ptr[m + 1]
            if inst_narrow[m]:
                work16 = narrow
                _instrument_block(
                    np.int16, responses, r0, size, j0, j1, item_min, item_max, work16, bad
                )
                _instrument_outputs(work16, size, r0, m, inst, inst_outputs)
                for s in range(n_scales):
                    if source[s] == -2 - m:  # the instrument's count and sum are the scale's
                        _scale_outputs(work16, size, r0, s, j1 - j0, spec, scores, bands)
            else:
                work32 = wide
                _instrument_block(
                    np.int32, responses, r0, size, j0, j1, item_min, item_max, work32, bad
                )
                _instrument_outputs(work32, size, r0, m, inst, inst_outputs)
                for s in range(n_scales):
                    if source[s] == -2 - m:
                        _scale_outputs(work32, size, r0, s, j1 - j0, spec, scores, bands)
        out_of_range[r0 : r0 + size] = bad

        for s in range(n_scales):
            if source[s] != -1:
                continue
            columns = scale_idx[scale_ptr[s] : scale_ptr[s + 1]]
            if scale_narrow[s]:
                work16 = narrow
                _scale_accumulate(
                    np.int16,
                    responses,
                    r0,
                    size,
                    columns,
                    item_min,
                    item_max,
                    reverse,
                    missing_means,
                    scale_method[s],
                    work16,
                )
                for k in range(part_ptr[s], part_ptr[s + 1]):
                    d = part_of[k]
                    _add_counts(work16, size, derived[d * 2 * BLOCK : (d + 1) * 2 * BLOCK])
                _scale_outputs(work16, size, r0, s, columns.shape[0], spec, scores, bands)
            else:
                work32 = wide
                _scale_accumulate(
                    np.int32,
                    responses,
                    r0,
                    size,
                    columns,
                    item_min,
                    item_max,
                    reverse,
                    missing_means,
                    scale_method[s],
                    work32,
                )
                _scale_outputs(work32, size, r0, s, columns.shape[0], spec, scores, bands)
        for s in range(n_scales):
            d = source[s]
            if d >= 0:  # the sum of its parts' counts and sums
                work = derived[d * 2 * BLOCK : (d + 1) * 2 * BLOCK]
                n_items = scale_ptr[s + 1] - scale_ptr[s]
                _scale_outputs(work, size, r0, s, n_items, spec, scores, bands)

        for c in range(crit_col.shape[0]):
            j = crit_col[c]
            low = item_min[j]
            high = item_max[j]
            threshold = crit_threshold[c]
            column = responses[r0 : r0 + size, j]
            critical_c = critical[r0 : r0 + size, c]
            for b in range(size):
                x = column[b]
                critical_c[b] = (x >= low) & (x <= high) & (x >= threshold)

        # validity rules, column by column: a rule that holds makes the protocol invalid
        for v in range(valid_scale.shape[0]):
            s = valid_scale[v]
            op = valid_op[v]
            value = valid_value[v]
            scores_s = scores[r0 : r0 + size, s]
            invalid_m = invalid[r0 : r0 + size, scale_inst[s]]
            for b in range(size):
                score = scores_s[b]
                invalid_m[b] |= (not np.isnan(score)) & _compare(score, op, value)
