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


def moments(x, codes, n_groups, flip, offset, missing, listwise, low, n_levels, step=1):
    """Reference of ``_moments.accumulate``: the same arrays, row by row."""
    x = np.asarray(x).tolist()
    p = len(x[0]) if x else 0
    pair = np.zeros((n_groups, 4, p, p))
    total = np.zeros((n_groups, 3, p, p))
    rows = np.zeros((n_groups, 2))
    sums = np.zeros((n_groups, 2, p))
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
                level, apart = divmod(int(r) - low, step)
                if r == int(r) and apart == 0 and 0 <= level < n_levels:
                    hist[g, j, level] += 1
        present = [v for v in vals if v is not None]
        if not present or (listwise and len(present) < p):
            continue
        s, m = sum(present), len(present)  # the row sum and the number of answers
        rows[g, 1] += 1
        sums[g, 0, m - 1] += s
        sums[g, 1, m - 1] += s * s
        for j in range(p):
            if vals[j] is None:
                continue
            total[g, 0, m - 1, j] += s
            total[g, 1, m - 1, j] += s * s
            total[g, 2, m - 1, j] += s * vals[j]
            for k in range(p):
                if vals[k] is None:
                    continue
                pair[g, 0, j, k] += 1
                pair[g, 1, j, k] += vals[j]
                pair[g, 2, j, k] += vals[j] ** 2
                pair[g, 3, j, k] += vals[j] * vals[k]
    return pair, total, rows, sums, answered, hist


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
        # pairwise covariances need not form a positive matrix: a negative variance of the
        # rest gives NaN, as in R (sqrt of a negative number)
        denominator = c[i, i] * rest.sum()
        out["r_drop"].append(
            cov_item_rest / math.sqrt(denominator) if denominator > 0 else float("nan")
        )
        # two items: one left has no alpha; psych reports cov(1, 2) / var(the other)
        out["alpha_drop"].append(raw(rest) if k > 2 else c[0, 1] / rest[0, 0])
    return out


def careless_row(row, keyed, factors):
    """Reference of one row of ``careless_rows``: lists with None for missing answers.

    ``row`` holds raw answers, ``keyed`` the reverse-keyed ones, ``factors`` lists of item
    positions. Returns (answered, longstring, avgstr, irv, evenodd) as R's careless does.
    """
    runs = []
    for j, v in enumerate(row):
        if j > 0 and v is not None and row[j - 1] is not None and v == row[j - 1]:
            runs[-1] += 1
        else:
            runs.append(1)
    present = [v for v in row if v is not None]
    irv = float("nan")
    if len(present) >= 2:
        mean = sum(present) / len(present)
        irv = math.sqrt(sum((v - mean) ** 2 for v in present) / (len(present) - 1))
    pairs = []
    for items in factors:
        odd = [keyed[j] for pos, j in enumerate(items) if pos % 2 == 0 and keyed[j] is not None]
        even = [keyed[j] for pos, j in enumerate(items) if pos % 2 == 1 and keyed[j] is not None]
        if odd and even:
            pairs.append((sum(even) / len(even), sum(odd) / len(odd)))
    evenodd = float("nan")
    if len(pairs) >= 2:
        a = [e for e, _ in pairs]
        b = [o for _, o in pairs]
        ma, mb = sum(a) / len(a), sum(b) / len(b)
        saa = sum((v - ma) ** 2 for v in a)
        sbb = sum((v - mb) ** 2 for v in b)
        # means equal but for rounding (R's long-double mean makes them equal): no variance
        if saa > 1e-24 * sum(v * v for v in a) and sbb > 1e-24 * sum(v * v for v in b):
            r = sum((u - ma) * (v - mb) for u, v in zip(a, b, strict=True)) / math.sqrt(saa * sbb)
            sb = -1.0 if 1 + r <= 0 else max(2 * r / (1 + r), -1.0)
            evenodd = -sb
    return len(present), max(runs), len(row) / len(runs), irv, evenodd


def mahalanobis(x):
    """``psych::outlier``: D² over answered items with the pairwise covariance (NaN missing)."""
    x = np.asarray(x, dtype=float)
    inv = np.linalg.inv(pairwise_cov(x))
    means = np.nanmean(x, axis=0)
    out = []
    for row in x:
        ok = ~np.isnan(row)
        if not ok.any():
            out.append(float("nan"))
            continue
        d = row[ok] - means[ok]
        out.append(float(d @ inv[np.ix_(ok, ok)] @ d))
    return np.array(out)
