"""Plain-Python references of the psychometric kernels (no numba, no vectorisation).

Each function follows the definition row by row so that the compiled kernels can be checked
against it on random data with missing values.
"""

from __future__ import annotations

import math

import numpy as np


def _value(x, i, j, missing):
    v = x[i][j]
    if isinstance(v, float) and math.isnan(v):
        return None
    if missing is not None and v == missing:
        return None
    return float(v)


def moments(x, codes, n_groups, flip, offset, missing, listwise, low, n_levels):
    """Reference of ``_moments.accumulate``: the same arrays, row by row."""
    x = np.asarray(x).tolist()
    p = len(x[0]) if x else 0
    pair = np.zeros((n_groups, 4, p, p))
    total = np.zeros((n_groups, 3, p))
    rows = np.zeros((n_groups, 4))
    answered = np.zeros((n_groups, p))
    hist = np.zeros((n_groups, p, n_levels))
    for i, g in enumerate(codes):
        if g < 0:
            continue
        raw = [_value(x, i, j, missing) for j in range(p)]
        vals = [None if r is None else (offset[j] - r if flip[j] else r) for j, r in enumerate(raw)]
        rows[g, 0] += 1
        for j, r in enumerate(raw):
            if r is not None:
                answered[g, j] += 1
                level = int(r) - low
                if r == int(r) and 0 <= level < n_levels:
                    hist[g, j, level] += 1
        present = [v for v in vals if v is not None]
        if not present or (listwise and len(present) < p):
            continue
        t = sum(present) / len(present)
        rows[g, 1] += 1
        rows[g, 2] += t
        rows[g, 3] += t * t
        for j in range(p):
            if vals[j] is None:
                continue
            total[g, 0, j] += t
            total[g, 1, j] += t * t
            total[g, 2, j] += t * vals[j]
            for k in range(p):
                if vals[k] is None:
                    continue
                pair[g, 0, j, k] += 1
                pair[g, 1, j, k] += vals[j]
                pair[g, 2, j, k] += vals[j] ** 2
                pair[g, 3, j, k] += vals[j] * vals[k]
    return pair, total, rows, answered, hist


def pairwise_cov(x):
    """R's ``cov(x, use="pairwise")`` with NaN for missing, by explicit loops."""
    x = np.asarray(x, dtype=float)
    p = x.shape[1]
    c = np.full((p, p), np.nan)
    for j in range(p):
        for k in range(p):
            both = ~np.isnan(x[:, j]) & ~np.isnan(x[:, k])
            n = both.sum()
            if n < 2:
                continue
            a, b = x[both, j], x[both, k]
            c[j, k] = sum((a - a.mean()) * (b - b.mean())) / (n - 1)
    return c


def alpha(x):
    """Raw and standardised alpha, r.drop and alpha if deleted from ``pairwise_cov``."""
    c = pairwise_cov(x)
    k = c.shape[0]
    d = np.sqrt(np.diag(c))
    r = c / np.outer(d, d)

    def raw(cm):
        m = cm.shape[0]
        return m / (m - 1) * (1 - np.trace(cm) / cm.sum())

    out = {
        "alpha": raw(c),
        "std_alpha": k / (k - 1) * (1 - k / r.sum()),
        "r_drop": [],
        "alpha_drop": [],
    }
    for i in range(k):
        keep = [j for j in range(k) if j != i]
        rest = c[np.ix_(keep, keep)]
        cov_item_rest = sum(c[i, j] for j in keep)
        out["r_drop"].append(cov_item_rest / math.sqrt(c[i, i] * rest.sum()))
        out["alpha_drop"].append(raw(rest) if k > 2 else float("nan"))
    return out
