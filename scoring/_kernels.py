"""Private numba kernels of the scoring core.

The kernels take numpy arrays and numbers only; the fronts (``screening.pipeline``) validate
and convert once. Every kernel has a plain-Python reference in ``tests/scoring/naive.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

MISSING = -1
BLOCK = 4096  # rows per block: the block's accumulators stay in L1/L2 cache

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
        Output: the same answer to every item of the instrument, other than its lowest
        answer (an all-lowest protocol is plausible: no symptoms) unless the instrument has
        reverse-keyed items, where any identical string contradicts itself.
    out_of_range : ndarray of int16, shape (n,)
        Output: answers outside their item's range.
    """
    n = responses.shape[0]
    n_inst = inst_ptr.shape[0] - 1
    n_scales = scale_ptr.shape[0] - 1
    n_blocks = (n + BLOCK - 1) // BLOCK
    for block in prange(n_blocks):
        # rows r0 .. r0 + size, column by column: the inner loops run over rows (SIMD)
        r0 = block * BLOCK
        size = min(BLOCK, n - r0)
        count = np.zeros(size, dtype=np.int32)
        s1 = np.zeros(size, dtype=np.int32)
        s2 = np.zeros(size, dtype=np.int32)
        run = np.zeros(size, dtype=np.int32)
        best = np.zeros(size, dtype=np.int32)
        previous = np.zeros(size, dtype=np.int8)
        bad = np.zeros(size, dtype=np.int32)
        largest = np.zeros(size, dtype=np.int32)

        for m in range(n_inst):
            count[:] = 0
            s1[:] = 0
            s2[:] = 0
            run[:] = 0
            best[:] = 0
            previous[:] = MISSING
            for j in range(inst_ptr[m], inst_ptr[m + 1]):
                low = item_min[j]
                high = item_max[j]
                column = responses[r0 : r0 + size, j]
                for b in range(size):
                    x = column[b]
                    ok = (x >= low) & (x <= high)
                    bad[b] += (x != MISSING) & (not ok)
                    value = np.int32(x) if ok else np.int32(0)
                    count[b] += ok
                    s1[b] += value
                    s2[b] += value * value
                    same = ok & (x == previous[b])
                    run[b] = run[b] + 1 if same else np.int32(ok)
                    previous[b] = x if ok else MISSING
                    best[b] = max(best[b], run[b])
            limit = max_longstring[m]
            n_items = inst_ptr[m + 1] - inst_ptr[m]
            floor = item_min[inst_ptr[m + 1] - 1]
            keyed_both_ways = False
            for j in range(inst_ptr[m], inst_ptr[m + 1]):
                keyed_both_ways |= reverse[j]
            straight_m = straight[r0 : r0 + size, m]
            answered_m = answered[r0 : r0 + size, m]
            longstring_m = longstring[r0 : r0 + size, m]
            irv_m = irv[r0 : r0 + size, m]
            invalid_m = invalid[r0 : r0 + size, m]
            for b in range(size):
                c = count[b]
                answered_m[b] = c
                longstring_m[b] = best[b]
                if c >= 2:
                    var = (s2[b] - s1[b] * s1[b] / c) / (c - 1)
                    irv_m[b] = np.sqrt(max(var, 0.0))
                else:
                    irv_m[b] = np.nan
                invalid_m[b] = limit > 0 and best[b] >= limit
                straight_m[b] = (
                    n_items >= 3
                    and best[b] == n_items
                    and (keyed_both_ways or previous[b] != floor)
                )
        out_of_range[r0 : r0 + size] = bad[:size]

        for s in range(n_scales):
            count[:] = 0
            s1[:] = 0
            largest[:] = -1
            for k in range(scale_ptr[s], scale_ptr[s + 1]):
                j = scale_idx[k]
                low = item_min[j]
                high = item_max[j]
                fill = np.int32(missing_means[j])
                flip = np.int32(low) + np.int32(high)
                column = responses[r0 : r0 + size, j]
                if reverse[j]:
                    for b in range(size):
                        x = column[b]
                        value = np.int32(x) if (x >= low) & (x <= high) else fill
                        present = value != MISSING
                        value = flip - value if present else np.int32(0)
                        count[b] += present
                        s1[b] += value
                        largest[b] = max(largest[b], value if present else np.int32(-1))
                else:
                    for b in range(size):
                        x = column[b]
                        value = np.int32(x) if (x >= low) & (x <= high) else fill
                        present = value != MISSING
                        value = value if present else np.int32(0)
                        count[b] += present
                        s1[b] += value
                        largest[b] = max(largest[b], value)
            n_items = scale_ptr[s + 1] - scale_ptr[s]
            method = scale_method[s]
            need = max(scale_required[s], 1)
            prorate = scale_prorate[s]
            multiplier = scale_multiplier[s]
            cut0 = band_ptr[s]
            cut1 = band_ptr[s + 1]
            scores_s = scores[r0 : r0 + size, s]
            bands_s = bands[r0 : r0 + size, s]
            for b in range(size):
                c = count[b]
                score = np.nan
                if c >= need:
                    if method == 0:
                        if c == n_items:
                            score = float(s1[b])
                        elif prorate:
                            score = s1[b] / c * n_items
                    elif method == 1:
                        score = s1[b] / c
                    else:
                        score = float(largest[b])
                    score *= multiplier
                scores_s[b] = score
                band = -1
                if cut1 > cut0 and not np.isnan(score):
                    band = 0
                    for cut in range(cut0, cut1):
                        band += score >= band_cuts[cut]
                bands_s[b] = band

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

        for v in range(valid_scale.shape[0]):
            s = valid_scale[v]
            m = scale_inst[s]
            for b in range(size):
                i = r0 + b
                score = scores[i, s]
                if not np.isnan(score) and _compare(score, valid_op[v], valid_value[v]):
                    invalid[i, m] = True
