"""Private numba kernels of the scoring core.

The kernels take numpy arrays and numbers only; the fronts (``screening.pipeline``) validate
and convert once. Every kernel has a plain-Python reference in ``tests/scoring/naive.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

MISSING = -1

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
    out_of_range : ndarray of int16, shape (n,)
        Output: answers outside their item's range.
    """
    n = responses.shape[0]
    n_inst = inst_ptr.shape[0] - 1
    n_scales = scale_ptr.shape[0] - 1
    for i in prange(n):
        bad = 0
        for m in range(n_inst):
            count = 0
            run = 0
            best = 0
            previous = MISSING
            s1 = 0.0
            s2 = 0.0
            for j in range(inst_ptr[m], inst_ptr[m + 1]):
                x = responses[i, j]
                if x == MISSING:
                    previous = MISSING
                    run = 0
                    continue
                if x < item_min[j] or x > item_max[j]:
                    bad += 1
                    previous = MISSING
                    run = 0
                    continue
                count += 1
                run = run + 1 if x == previous else 1
                previous = x
                best = max(best, run)
                s1 += x
                s2 += x * x
            answered[i, m] = count
            longstring[i, m] = best
            if count >= 2:
                var = (s2 - s1 * s1 / count) / (count - 1)
                irv[i, m] = np.sqrt(max(var, 0.0))
            else:
                irv[i, m] = np.nan
            invalid[i, m] = max_longstring[m] > 0 and best >= max_longstring[m]
        out_of_range[i] = bad

        for s in range(n_scales):
            total = 0.0
            count = 0
            largest = -1.0
            for k in range(scale_ptr[s], scale_ptr[s + 1]):
                j = scale_idx[k]
                x = responses[i, j]
                if x != MISSING and (x < item_min[j] or x > item_max[j]):
                    x = MISSING
                if x == MISSING:
                    x = missing_means[j]
                    if x == MISSING:
                        continue
                value = float(item_min[j] + item_max[j] - x) if reverse[j] else float(x)
                total += value
                count += 1
                largest = max(largest, value)
            n_items = scale_ptr[s + 1] - scale_ptr[s]
            score = np.nan
            if count >= scale_required[s] and count > 0:
                method = scale_method[s]
                if method == 0:
                    if count == n_items:
                        score = total
                    elif scale_prorate[s]:
                        score = total / count * n_items
                elif method == 1:
                    score = total / count
                else:
                    score = largest
                score *= scale_multiplier[s]
            scores[i, s] = score
            band = -1
            if not np.isnan(score) and band_ptr[s + 1] > band_ptr[s]:
                band = 0
                for b in range(band_ptr[s], band_ptr[s + 1]):
                    if score >= band_cuts[b]:
                        band += 1
            bands[i, s] = band

        for c in range(crit_col.shape[0]):
            j = crit_col[c]
            x = responses[i, j]
            critical[i, c] = (
                x != MISSING and item_min[j] <= x <= item_max[j] and x >= crit_threshold[c]
            )

        for v in range(valid_scale.shape[0]):
            s = valid_scale[v]
            score = scores[i, s]
            if not np.isnan(score) and _compare(score, valid_op[v], valid_value[v]):
                invalid[i, scale_inst[s]] = True
