"""Cronbach's alpha and item statistics, alone or per group, from mergeable moments.

One function per statistic, pingouin style: each accepts a polars or pandas frame or a numpy
array (or a frame plus an instrument) and returns a polars DataFrame. All numbers are
computed from per-group sufficient statistics (:mod:`screening.scoring._moments`), so a
grouped call, a chunked call (:class:`ReliabilityAccumulator`) and separate calls on each
group's rows give the same numbers: bit-identical for integer answers (every sum is an exact
integer, the row mean's included), to rounding for fractional ones.

The definitions are those of R's ``psych::alpha`` (Revelle, 2024) with ``use="pairwise"``
(the default here) or on the complete rows (``missing="listwise"``, as
``psych::alpha(na.omit(x))``), and of ``pingouin.cronbach_alpha`` for the Feldt interval.

Differences from psych, on purpose:

- rows with no answered item of the scale are not counted in ``n`` (psych counts every row
  of the data it is given);
- under ``listwise`` every statistic uses the complete rows (psych's ``use="complete.obs"``
  keeps all rows for item means, sds and the total score);
- for a two-item scale the statistics "if item deleted" are missing (psych prints values
  that are not an alpha);
- an item without variance in a group is left out of that group's alpha, as psych does, but
  the row mean that ``raw_r`` correlates with always averages all answered items.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy import stats as sps

from screening.instruments import Instrument
from screening.scoring._frames import (
    ItemMatrix,
    PsychometricInputError,
    as_frame,
    item_matrix,
    resolve_instrument,
    scale_columns,
)
from screening.scoring._moments import Moments, compute_moments, group_order

MissingPolicy = Literal["pairwise", "listwise"]
CIMethod = Literal["feldt", "duhachek"]
FLAG_REVERSE = "check reverse key"
FLAG_NO_VARIANCE = "no variance"
FLAG_NO_ANSWERS = "no answers"


class ItemsLeftOutWarning(UserWarning):
    """:func:`cronbach_alpha` left items without variance or answers out of a scale."""


ALPHA_COLUMNS = [
    "n",
    "n_items",
    "alpha",
    "ci_low",
    "ci_high",
    "std_alpha",
    "g6",
    "average_r",
    "median_r",
    "var_r",
    "signal_noise",
    "ase",
    "mean",
    "sd",
]
ITEM_COLUMNS = [
    "n",
    "missing_rate",
    "mean",
    "sd",
    "floor",
    "ceiling",
    "raw_r",
    "std_r",
    "r_cor",
    "r_drop",
    "alpha_drop",
    "std_alpha_drop",
    "g6_drop",
    "average_r_drop",
]


# ---------------------------------------------------------------------------------------------
# statistics from moments (vectorised over groups)


def covariance(m: Moments) -> np.ndarray:
    r"""Pairwise covariance matrices of every group, shape (G, p, p).

    .. math:: c_{jk} = \frac{n_{jk} \sum x_j x_k - \sum x_j \sum x_k}{n_{jk} (n_{jk} - 1)}

    with sums over the rows where both items are present (R's ``cov(use="pairwise")``).
    For integer answers the numerator is an exact integer, so the result is correctly
    rounded whatever the grouping or chunking. Entries with fewer than two rows are NaN.
    """
    n = m.pair[:, 0]
    s = m.pair[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (n * m.pair[:, 3] - s * np.swapaxes(s, 1, 2)) / (n * (n - 1.0))
    c[n < 2] = np.nan
    return c


def _cov2cor(c: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.diagonal(c, axis1=-2, axis2=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return c / (d[..., :, None] * d[..., None, :])


def _pinv_symmetric(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Moore–Penrose inverses of symmetric matrices (G, k, k) and whether each is regular.

    psych's ``Pinv`` keeps singular values above :math:`\sqrt{\epsilon}` times the largest.
    When :math:`\lVert R^{-1}\rVert_F \lVert R\rVert_F` (a bound on the condition number) is
    below :math:`1/\sqrt{\epsilon}` every singular value is kept and the pseudo-inverse is the
    inverse, so the ordinary batched inverse serves; the other matrices take the
    eigendecomposition (for a symmetric matrix the singular values are the absolute
    eigenvalues).
    """
    limit = 1.0 / np.sqrt(np.finfo(float).eps)
    try:
        with np.errstate(all="ignore"):
            inv = np.linalg.inv(r)
            bound = np.linalg.norm(inv, axis=(-2, -1)) * np.linalg.norm(r, axis=(-2, -1))
    except np.linalg.LinAlgError:  # some matrix is exactly singular
        return _pinv_eigh(r)
    regular = np.isfinite(bound) & (bound < limit)
    if not regular.all():
        slow = ~regular
        inv[slow], regular[slow] = _pinv_eigh(r[slow])
    return inv, regular


def _pinv_eigh(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(r)
    size = np.abs(values)
    keep = size > np.sqrt(np.finfo(float).eps) * size.max(axis=-1, keepdims=True)
    inv_values = np.where(keep, 1.0 / np.where(keep, values, 1.0), 0.0)
    inv = (vectors * inv_values[:, None, :]) @ np.swapaxes(vectors, -1, -2)
    return inv, keep.all(axis=-1)


def smc(r: np.ndarray) -> np.ndarray:
    r"""Squared multiple correlations of each item with the others, batched.

    :math:`\mathrm{smc}_j = 1 - 1 / (R^{+})_{jj}` with :math:`R^{+}` the Moore–Penrose inverse
    (tolerance :math:`\sqrt{\epsilon}` of the largest singular value), clipped to [0, 1], as
    ``psych::smc``. Matrices with missing entries give NaN.
    """
    r = np.asarray(r, dtype=np.float64)
    out = np.full(r.shape[:-1], np.nan)
    ok = np.isfinite(r).all(axis=(-2, -1))
    if ok.any():
        inv, _ = _pinv_symmetric(r[ok])
        with np.errstate(divide="ignore"):
            out[ok] = np.clip(1.0 - 1.0 / np.diagonal(inv, axis1=-2, axis2=-1), 0.0, 1.0)
    return out


def _smc_all(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """smc of every matrix (G, k) and of every matrix without item i (G, k, k-1).

    For a regular matrix with inverse :math:`P`, the inverse of the matrix without item
    :math:`i` has diagonal :math:`P_{jj} - P_{ji}^2 / P_{ii}` (the Schur complement), so one
    inverse serves all k submatrices; singular matrices take one pseudo-inverse each.
    """
    g, k = r.shape[0], r.shape[-1]
    whole = np.full((g, k), np.nan)
    drop = np.full((g, k, max(k - 1, 0)), np.nan)
    ok = np.isfinite(r).all(axis=(-2, -1))
    if not ok.any():
        return whole, drop
    inv, regular = _pinv_symmetric(r[ok])
    d = np.diagonal(inv, axis1=-2, axis2=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        whole[ok] = np.clip(1.0 - 1.0 / d, 0.0, 1.0)
        sub = np.empty((inv.shape[0], k, k - 1))
        for i in range(k):
            keep = np.delete(np.arange(k), i)
            sub[:, i] = d[:, keep] - inv[:, keep, i] ** 2 / inv[:, i, i][:, None]
        sub = np.clip(1.0 - 1.0 / sub, 0.0, 1.0)
    singular = np.flatnonzero(~regular)
    for i in range(k):
        if singular.size:
            keep = np.delete(np.arange(k), i)
            sub[singular, i] = smc(r[ok][singular][:, keep][:, :, keep])
    drop[ok] = sub
    return whole, drop


@lru_cache(maxsize=64)
def _tril(k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(k, -1)


def _alpha1(
    c: np.ndarray, r: np.ndarray, smc_r: np.ndarray, full: bool = True
) -> dict[str, np.ndarray]:
    """psych's ``alpha.1`` for stacks of covariance and correlation matrices (G, k, k).

    ``full=False`` leaves out what the item-deleted statistics do not report (Duhachek's
    Q, the variance and median of the correlations).
    """
    k = c.shape[-1]
    tr_c = np.trace(c, axis1=-2, axis2=-1)
    sum_c = c.sum(axis=(-2, -1))
    sum_r = r.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = (1.0 - tr_c / sum_c) * (k / (k - 1.0))
        std = (1.0 - k / sum_r) * (k / (k - 1.0))
        g6 = 1.0 - (k - smc_r.sum(axis=-1)) / sum_r
        av_r = (sum_r - k) / (k * (k - 1.0))
        sn = k * av_r / (1.0 - av_r)
        if not full:
            return {"raw": raw, "std": std, "g6": g6, "av_r": av_r}
        cc = c @ c
        q = (2.0 * k**2 / ((k - 1.0) ** 2 * sum_c**3)) * (
            sum_c * (np.trace(cc, axis1=-2, axis2=-1) + tr_c**2)
            - 2.0 * tr_c * cc.sum(axis=(-2, -1))
        )
    lower = r[:, *_tril(k)]
    var_r = lower.var(axis=-1, ddof=1) if lower.shape[-1] > 1 else np.full(len(c), np.nan)
    med_r = np.median(lower, axis=-1)
    return {
        "raw": raw,
        "std": std,
        "g6": g6,
        "av_r": av_r,
        "sn": sn,
        "q": q,
        "var_r": var_r,
        "med_r": med_r,
    }


def _scale_stats(c: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Alpha of every group and the per-item statistics that depend only on C (k items)."""
    k = c.shape[-1]
    r = _cov2cor(c)
    smc_whole, smc_drop = _smc_all(r)
    whole = _alpha1(c, r, smc_whole)
    g = len(c)
    drop = {key: np.full((g, k), np.nan) for key in ("raw", "std", "g6", "av_r")}
    if k > 2:
        for i in range(k):
            keep = np.delete(np.arange(k), i)
            sub = _alpha1(
                c[:, keep][:, :, keep], r[:, keep][:, :, keep], smc_drop[:, i], full=False
            )
            for key in drop:
                drop[key][:, i] = sub[key]
    with np.errstate(divide="ignore", invalid="ignore"):
        if k == 2:  # one item left has no alpha: psych reports these in its place
            c12, r12 = c[:, 0, 1], r[:, 0, 1]
            drop["raw"] = np.stack([c12 / c[:, 1, 1], c12 / c[:, 0, 0]], axis=-1)
            drop["std"] = np.stack([r12, r12], axis=-1)
            drop["av_r"] = drop["std"].copy()
            drop["g6"] = np.stack([smc_whole[:, 0], smc_whole[:, 0]], axis=-1)
        std_r = r.sum(axis=-2) / np.sqrt(r.sum(axis=(-2, -1)))[:, None]
        rc = r.copy()
        idx = np.arange(k)
        rc[:, idx, idx] = smc_whole
        r_cor = rc.sum(axis=-2) / np.sqrt(rc.sum(axis=(-2, -1)))[:, None]
        col = c.sum(axis=-2)
        diag = np.diagonal(c, axis1=-2, axis2=-1)
        v_drop = c.sum(axis=(-2, -1))[:, None] - 2.0 * col + diag
        r_drop = (col - diag) / np.sqrt(diag * v_drop)
    items = {
        "std_r": std_r,
        "r_cor": r_cor,
        "r_drop": r_drop,
        "alpha_drop": drop["raw"],
        "std_alpha_drop": drop["std"],
        "g6_drop": drop["g6"],
        "average_r_drop": drop["av_r"],
    }
    return whole, items


def _patterns(good: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups that share the same set of usable items: ``(group indices, item indices)``."""
    p = good.shape[1]
    if p <= 62:
        keys = good.astype(np.int64) @ (np.int64(1) << np.arange(p, dtype=np.int64))
        values, which = np.unique(keys, return_inverse=True)
        patterns = ((values[:, None] >> np.arange(p)) & 1).astype(bool)
    else:
        patterns, which = np.unique(good, axis=0, return_inverse=True)
    which = which.ravel()
    return [
        (np.flatnonzero(which == i), np.flatnonzero(pattern)) for i, pattern in enumerate(patterns)
    ]


def _statistics(
    m: Moments, low: np.ndarray, high: np.ndarray, ci: float, ci_method: CIMethod
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Scale-level (G,) and item-level (G, p) statistics of every group."""
    g, p = m.answered.shape
    c = covariance(m)
    var = np.diagonal(c, axis1=-2, axis2=-1)
    idx = np.arange(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_square = m.pair[:, 2][:, idx, idx] / m.pair[:, 0][:, idx, idx]
    # no variance: exactly zero for integer answers; float answers may leave a rounding
    # residue, relative to their mean square, or subnormal where that square underflows
    # (answers of about 1e-155); NaN (fewer than two answers) compares false
    good = (var > 1e-12 * mean_square) & (var >= np.finfo(float).tiny)
    scale = {
        key: np.full(g, np.nan) for key in ("raw", "std", "g6", "av_r", "sn", "q", "var_r", "med_r")
    }
    item_keys = (
        "std_r",
        "r_cor",
        "r_drop",
        "alpha_drop",
        "std_alpha_drop",
        "g6_drop",
        "average_r_drop",
    )
    items = {key: np.full((g, p), np.nan) for key in item_keys}
    n_items = good.sum(axis=1)
    for groups, cols in _patterns(good):
        if cols.size < 2:
            continue
        whole, per_item = _scale_stats(c[groups][:, cols][:, :, cols])
        for key in scale:
            scale[key][groups] = whole[key]
        for key in item_keys:
            items[key][np.ix_(groups, cols)] = per_item[key]
    n = m.rows[:, 1]
    n_obs = m.rows[:, 0]  # psych's n.obs and pingouin's n: every row given
    with np.errstate(divide="ignore", invalid="ignore"):
        ase = np.sqrt(scale["q"] / n_obs)
        if ci_method == "feldt":
            df1 = n_obs - 1.0
            df2 = df1 * (n_items - 1.0)
            tail = (1.0 - ci) / 2.0
            ci_low = 1.0 - (1.0 - scale["raw"]) * sps.f.isf(tail, df1, df2)
            ci_high = 1.0 - (1.0 - scale["raw"]) * sps.f.isf(1.0 - tail, df1, df2)
        elif ci_method == "duhachek":
            z = sps.norm.ppf(0.5 + ci / 2.0)
            ci_low = scale["raw"] - z * ase
            ci_high = scale["raw"] + z * ase
        else:
            raise PsychometricInputError(
                f"ci_method must be 'feldt' or 'duhachek'; got {ci_method!r}."
            )
        sum_t, sum_tt, t_sum, t_sq, t_x = m.row_mean_sums()
        mean_t = sum_t / n
        sd_t = np.sqrt(np.maximum(sum_tt - sum_t**2 / n, 0.0) / (n - 1.0))
    alpha = {
        "n": n.astype(np.int64),
        "n_items": n_items.astype(np.int64),
        "alpha": scale["raw"],
        "ci_low": ci_low,
        "ci_high": ci_high,
        "std_alpha": scale["std"],
        "g6": scale["g6"],
        "average_r": scale["av_r"],
        "median_r": scale["med_r"],
        "var_r": scale["var_r"],
        "signal_noise": scale["sn"],
        "ase": ase,
        "mean": mean_t,
        "sd": sd_t,
    }

    n_item = m.pair[:, 0][:, idx, idx]
    s_item = m.pair[:, 1][:, idx, idx]
    q_item = m.pair[:, 2][:, idx, idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        raw_r = (n_item * t_x - t_sum * s_item) / np.sqrt(
            (n_item * t_sq - t_sum**2) * (n_item * q_item - s_item**2)
        )
        missing_rate = 1.0 - m.answered / m.rows[:, :1]
        mean_item = s_item / n_item  # NaN (null) for an item nobody answered
        floor, ceiling = _floor_ceiling(m, low, high)
    item = {
        "n": n_item.astype(np.int64),
        "missing_rate": missing_rate,
        "mean": mean_item,
        # below the rounding residue of float answers a variance is zero, not its residue
        "sd": np.where(good | np.isnan(var), np.sqrt(np.maximum(var, 0.0)), 0.0),
        "floor": floor,
        "ceiling": ceiling,
        "raw_r": raw_r,
        **items,
    }
    item["flag"] = np.where(
        n_item == 0,
        FLAG_NO_ANSWERS,
        np.where(~good, FLAG_NO_VARIANCE, np.where(items["r_drop"] < 0, FLAG_REVERSE, "")),
    )
    return alpha, item


def _floor_ceiling(m: Moments, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of each item's answers at its lowest and highest possible value (raw answers)."""
    g, p = m.answered.shape
    floor = np.full((g, p), np.nan)
    ceiling = np.full((g, p), np.nan)
    for j in range(p):
        if not (float(low[j]).is_integer() and float(high[j]).is_integer()):
            continue  # no answer level sits at a fractional end of the range
        lo, hi = _level(m, int(low[j])), _level(m, int(high[j]))
        if lo is not None:
            floor[:, j] = m.hist[:, j, lo] / m.answered[:, j]
        if hi is not None:
            ceiling[:, j] = m.hist[:, j, hi] / m.answered[:, j]
    return floor, ceiling


def _level(m: Moments, answer: int) -> int | None:
    """The histogram level that counts ``answer`` (None when none does)."""
    offset = answer - m.low
    if offset < 0 or offset % m.step or offset // m.step >= m.hist.shape[-1]:
        return None
    return offset // m.step


# ---------------------------------------------------------------------------------------------
# fronts


def _policy(missing: str) -> bool:
    if missing not in ("pairwise", "listwise"):
        raise PsychometricInputError(f"missing must be 'pairwise' or 'listwise'; got {missing!r}.")
    return missing == "listwise"


def _hist_range(matrix: ItemMatrix) -> tuple[int, int] | None:
    """Answers counted for floor and ceiling: from the range alone, whatever the dtype.

    Chunks of one accumulator share the range, so their histograms always merge (the kernel
    counts only whole answers of float data).
    """
    if not (np.isfinite(matrix.low).all() and np.isfinite(matrix.high).all()):
        return None
    lo, hi = int(np.floor(matrix.low.min())), int(np.ceil(matrix.high.max()))
    return (lo, hi) if lo <= hi else None


def _matrix_moments(
    matrix: ItemMatrix, listwise: bool, codes: np.ndarray | None = None, n_groups: int = 1
) -> Moments:
    return compute_moments(
        matrix.values,
        flip=matrix.reverse,
        offset=matrix.low + matrix.high,
        missing=matrix.missing,
        listwise=listwise,
        codes=codes,
        n_groups=n_groups,
        hist_range=_hist_range(matrix),
    )


def _scales(
    matrix: ItemMatrix, instrument: Instrument | None, scale: str | None
) -> list[tuple[str | None, ItemMatrix]]:
    if instrument is None:
        if scale is not None:
            raise PsychometricInputError("scale= needs instrument=.")
        return [(None, matrix)]
    out = []
    for scale_id, cols in scale_columns(instrument, scale):
        if len(cols) >= 2:
            out.append((scale_id, matrix.take(cols)))
    if not out:
        raise PsychometricInputError(
            f"Instrument {instrument.id!r} has no scale with two or more items."
        )
    return out


def _alpha_frame(alpha: dict[str, np.ndarray]) -> dict[str, Any]:
    return {name: alpha[name] for name in ALPHA_COLUMNS}


def _item_frame(item: dict[str, np.ndarray], names: list[str], g: int) -> dict[str, Any]:
    p = len(names)
    out: dict[str, Any] = {"item": pl.Series(np.tile(np.asarray(names, dtype=str), g))}
    for name in ITEM_COLUMNS:
        out[name] = item[name].reshape(g * p)
    flags = pl.Series(item["flag"].reshape(g * p).astype(str))
    out["flag"] = pl.select(pl.when(flags != "").then(flags)).to_series()
    return out


def _nulls(frame: pl.DataFrame) -> pl.DataFrame:
    """Statistics that cannot be computed are null (not NaN), like unscorable scores."""
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None))


ALPHA_SCHEMA = {
    "scale": pl.String,
    "n": pl.Int64,
    "n_items": pl.Int64,
    **{name: pl.Float64 for name in ALPHA_COLUMNS[2:]},
}
ITEM_SCHEMA = {
    "scale": pl.String,
    "item": pl.String,
    "n": pl.Int64,
    **{name: pl.Float64 for name in ITEM_COLUMNS[1:]},
    "flag": pl.String,
}


def cronbach_alpha(
    data: Any,
    items: Sequence[str] | None = None,
    *,
    instrument: Instrument | str | None = None,
    scale: str | None = None,
    reverse: Sequence[str] | Sequence[bool] | np.ndarray | None = None,
    item_range: tuple[float, float] | None = None,
    missing: MissingPolicy = "pairwise",
    ci: float = 0.95,
    ci_method: CIMethod = "feldt",
) -> pl.DataFrame:
    r"""Cronbach's alpha with its confidence interval, standardised alpha and Guttman's λ6.

    Parameters
    ----------
    data : polars.DataFrame, pandas.DataFrame or numpy.ndarray
        One row per respondent; integer answers (missing null, NaN or -1) or floats.
    items : list of str, optional
        Item columns; default the instrument's items, else every column.
    instrument : Instrument or str, optional
        An instrument (or bundled id or path): items, reverse keys, response range and scales.
    scale : str, optional
        One scale of the instrument; default every scale (one row each).
    reverse : list of item names or boolean mask, optional
        Reverse-keyed items, reversed as ``low + high - x``.
    item_range : (low, high), optional
        Response range; default the instrument's, else the data's smallest and largest answer.
    missing : {"pairwise", "listwise"}
        ``pairwise`` (psych's default) uses, for each pair of items, the rows where both are
        answered; ``listwise`` only the rows with every item of the scale answered.
    ci : float
        Confidence level of the interval.
    ci_method : {"feldt", "duhachek"}
        Feldt's F-based interval (psych ``alpha.ci``, pingouin) or Duhachek's normal interval
        :math:`\alpha \pm z\,\mathrm{ase}`.

    Returns
    -------
    polars.DataFrame
        One row per scale: ``scale`` (null without an instrument), ``n`` (rows used),
        ``n_items`` (items with variance), ``alpha``, ``ci_low``, ``ci_high``, ``std_alpha``,
        ``g6``, ``average_r``, ``median_r``, ``var_r``, ``signal_noise``, ``ase`` (Duhachek's
        asymptotic standard error), ``mean`` and ``sd`` of the row mean of answered items.

    Notes
    -----
    With :math:`C` the pairwise covariance matrix of the :math:`k` items, :math:`R` the
    matching correlation matrix (``cov2cor(C)``) and :math:`\bar r` the mean off-diagonal
    correlation:

    .. math::

        \alpha = \frac{k}{k-1}\left(1 - \frac{\mathrm{tr}\,C}{\mathbf 1^\top C \mathbf 1}\right),
        \quad
        \alpha_{std} = \frac{k}{k-1}\left(1 - \frac{k}{\mathbf 1^\top R \mathbf 1}\right),
        \quad
        \lambda_6 = 1 - \frac{k - \sum_j \mathrm{smc}_j}{\mathbf 1^\top R \mathbf 1}.

    Feldt's interval: :math:`1 - (1-\alpha) F_{1-a/2}` to :math:`1 - (1-\alpha) F_{a/2}`
    with :math:`F` the quantiles of :math:`F(N-1, (N-1)(k-1))`. Duhachek's variance
    :math:`Q/N` is psych's ``ase``; the interval takes the exact normal quantile (psych
    prints :math:`\alpha \pm 1.96\,\mathrm{ase}`, 3.6e-5 ase wider). As in psych
    (``n.obs``) and pingouin, :math:`N` counts every row given, also rows with no answer
    and, with ``listwise``, rows left out for a missing answer; ``n`` counts only the rows
    used. Drop unanswered rows first for an interval over the answered rows alone.

    Items without variance or without answers are left out with an
    :class:`ItemsLeftOutWarning` (psych deletes them with a warning), so ``n_items`` may be
    below the number of items. Statistics are from one pass of mergeable sums;
    see :func:`reliability_by` for groups.

    References
    ----------
    .. [1] Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
       Psychometrika, 16(3), 297–334.
    .. [2] Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Statistical inference for
       coefficient alpha. Applied Psychological Measurement, 11(1), 93–103.
    .. [3] Duhachek, A., & Iacobucci, D. (2004). Alpha's standard error (ASE). Journal of
       Applied Psychology, 89(5), 792–808.
    .. [4] Revelle, W. (2024). psych: Procedures for psychological, psychometric, and
       personality research (``alpha``). R package.

    Examples
    --------
    >>> import numpy as np
    >>> from screening.scoring import cronbach_alpha
    >>> x = np.array([[0, 1, 1], [1, 1, 2], [2, 3, 3], [3, 2, 3], [1, 0, 1]], dtype=np.int8)
    >>> round(cronbach_alpha(x)["alpha"][0], 4)  # R: psych::alpha(x)$total$raw_alpha
    0.913
    """
    listwise = _policy(missing)
    inst = resolve_instrument(instrument)
    matrix = item_matrix(data, items, instrument=inst, reverse=reverse, item_range=item_range)
    rows = []
    for scale_id, sub in _scales(matrix, inst, scale):
        alpha, item = _statistics(_matrix_moments(sub, listwise), sub.low, sub.high, ci, ci_method)
        _warn_left_out(scale_id, sub.names, item["flag"][0])
        rows.append({"scale": [scale_id], **_alpha_frame(alpha)})
    return _nulls(pl.concat([pl.DataFrame(r, schema=ALPHA_SCHEMA) for r in rows]))


def _warn_left_out(scale_id: str | None, names: list[str], flags: np.ndarray) -> None:
    """Warn, as psych does, when items are left out of a scale's alpha."""
    left_out = [
        f"{name!r} ({flag})"
        for name, flag in zip(names, flags, strict=True)
        if flag in (FLAG_NO_VARIANCE, FLAG_NO_ANSWERS)
    ]
    if left_out:
        where = f"scale {scale_id!r}" if scale_id else "alpha"
        warnings.warn(
            f"{where}: left out {', '.join(left_out)}; n_items counts the items kept.",
            ItemsLeftOutWarning,
            stacklevel=3,
        )


def item_statistics(
    data: Any,
    items: Sequence[str] | None = None,
    *,
    instrument: Instrument | str | None = None,
    scale: str | None = None,
    reverse: Sequence[str] | Sequence[bool] | np.ndarray | None = None,
    item_range: tuple[float, float] | None = None,
    missing: MissingPolicy = "pairwise",
) -> pl.DataFrame:
    r"""Item statistics: answers, mean, sd, floor and ceiling, item-total correlations.

    Parameters
    ----------
    data, items, instrument, scale, reverse, item_range, missing
        As in :func:`cronbach_alpha`.

    Returns
    -------
    polars.DataFrame
        One row per scale and item: ``n`` (answers used), ``missing_rate`` (share of rows
        without an answer), ``mean`` and ``sd`` (after reverse keying), ``floor`` and
        ``ceiling`` (share of answers at the lowest and highest possible answer), ``raw_r``
        (correlation with the row mean of answered items), ``std_r``, ``r_cor`` (corrected
        for item overlap with smc), ``r_drop`` (corrected item-total correlation: with the
        total of the other items), ``alpha_drop``, ``std_alpha_drop``, ``g6_drop`` and
        ``average_r_drop`` (the scale without the item) and ``flag``: ``"check reverse key"``
        when ``r_drop`` is negative, ``"no variance"`` when every answer is the same,
        ``"no answers"`` when nobody answered the item (in the rows ``missing`` keeps).

    Notes
    -----
    psych's ``alpha()$item.stats`` and ``$alpha.drop``. With :math:`c_{\cdot j}` the column
    sums of the covariance matrix :math:`C`:

    .. math::

        r_{drop,j} = \frac{c_{\cdot j} - c_{jj}}
                          {\sqrt{c_{jj}\,(\mathbf 1^\top C \mathbf 1 - 2 c_{\cdot j} + c_{jj})}},
        \quad
        r_{std,j} = \frac{r_{\cdot j}}{\sqrt{\mathbf 1^\top R \mathbf 1}},
        \quad
        r_{cor,j} = \frac{(R_s)_{\cdot j}}{\sqrt{\mathbf 1^\top R_s \mathbf 1}}

    where :math:`R_s` is :math:`R` with the squared multiple correlations on its diagonal.
    A scale of two items has no alpha without one of them; as psych, the ``*_drop``
    columns of item 1 then hold :math:`c_{12}/c_{22}`, :math:`r_{12}`, :math:`r_{12}^2`
    and :math:`r_{12}` (item 2: :math:`c_{12}/c_{11}`, the others alike).
    Floor and ceiling count raw answers (before reverse keying) and, like ``missing_rate``,
    use every row whatever ``missing``; the other columns use the rows ``missing`` keeps.
    Whole-number float answers (pandas' float64 for a column with an empty cell) count as
    integer answers; an end of the range that is not a whole number has no floor or ceiling.

    References
    ----------
    .. [1] Revelle, W. (2024). psych (``alpha``: ``item.stats``, ``alpha.drop``). R package.
    .. [2] Cronbach, L. J. (1951). Psychometrika, 16(3), 297–334.
    """
    listwise = _policy(missing)
    inst = resolve_instrument(instrument)
    matrix = item_matrix(data, items, instrument=inst, reverse=reverse, item_range=item_range)
    frames = []
    for scale_id, sub in _scales(matrix, inst, scale):
        _, item = _statistics(_matrix_moments(sub, listwise), sub.low, sub.high, 0.95, "feldt")
        body = _item_frame(item, sub.names, 1)
        frames.append(
            pl.DataFrame({"scale": [scale_id] * len(sub.names), **body}, schema=ITEM_SCHEMA)
        )
    return _nulls(pl.concat(frames))


# ---------------------------------------------------------------------------------------------
# grouped and chunked


@dataclass(frozen=True)
class ReliabilityTables:
    """Per-group results of :func:`reliability_by`.

    Attributes
    ----------
    scales : polars.DataFrame
        One row per group and scale: the group columns, ``scale``, the columns of
        :func:`cronbach_alpha`, ``rows`` (rows of the group) and ``small`` (fewer than
        ``min_n`` rows used: report with care).
    items : polars.DataFrame
        One row per group, scale and item: the columns of :func:`item_statistics`.
    careless : polars.DataFrame or None
        One row per group: the careless-responding rates of
        :func:`screening.scoring.careless.careless_rates` over every item.
    """

    scales: pl.DataFrame
    items: pl.DataFrame
    careless: pl.DataFrame | None = None


class ReliabilityAccumulator:
    """Accumulate the reliability statistics of row chunks, per group; merge exactly.

    Feed chunks of rows with :meth:`add` (or merge two accumulators with :meth:`merge`) and
    read the tables with :meth:`result`. The numbers equal one :func:`reliability_by` call on
    all the rows. The response range must be fixed in advance (an instrument or
    ``item_range``) so that every chunk counts floor and ceiling alike.

    Parameters
    ----------
    instrument : Instrument or str, optional
        Items, keys, range and scales. Without it give ``items`` and ``item_range``.
    by : list of str
        Group columns; an empty list makes one group.
    items, reverse, item_range, missing
        As in :func:`cronbach_alpha`.
    on_invalid : {"raise", "missing"}
        Answers that are not numbers or out of range raise, or count as missing.
    """

    def __init__(
        self,
        instrument: Instrument | str | None = None,
        by: Sequence[str] = (),
        *,
        items: Sequence[str] | None = None,
        reverse: Sequence[str] | Sequence[bool] | np.ndarray | None = None,
        item_range: tuple[float, float] | None = None,
        missing: MissingPolicy = "pairwise",
        on_invalid: str = "raise",
    ) -> None:
        self.instrument = resolve_instrument(instrument)
        if self.instrument is None and (items is None or item_range is None):
            raise PsychometricInputError(
                "Without an instrument, give items=[...] and item_range=(low, high) so that "
                "every chunk is read alike."
            )
        self.by = list(by)
        self.items = list(items) if items is not None else self.instrument.item_columns()
        self.reverse = reverse
        self.item_range = item_range
        self.listwise = _policy(missing)
        self.on_invalid = on_invalid
        self._keys: dict[tuple, int] = {}
        self._key_frame: list[tuple] = []
        self._moments: list[Moments | None] = []
        self._scales: list[tuple[str | None, list[str]]] | None = None
        self._meta: list[ItemMatrix] = []

    def _codes(self, frame: pl.DataFrame) -> np.ndarray:
        if not self.by:
            if not self._keys:
                self._keys[()] = 0
                self._key_frame.append(())
            return np.zeros(frame.height, dtype=np.int64)
        absent = [c for c in self.by if c not in frame.columns]
        if absent:
            raise PsychometricInputError(
                f"Group columns {absent} are not in the data (columns: {frame.columns[:20]})."
            )
        local = (
            frame.select(pl.struct(self.by).rank("dense").alias("code") - 1)["code"]
            .to_numpy()
            .astype(np.int64)
        )
        n_local = int(local.max()) + 1 if local.size else 0
        order, starts = group_order(local, n_local)
        keys = frame.select(self.by)[order[starts[:-1]]]  # the first row of every group
        mapping = np.empty(n_local, dtype=np.int64)
        for i, key in enumerate(keys.iter_rows()):
            if key not in self._keys:
                self._keys[key] = len(self._key_frame)
                self._key_frame.append(key)
            mapping[i] = self._keys[key]
        return mapping[local]

    def add(self, data: Any) -> ReliabilityAccumulator:
        """Add a chunk of rows (a polars or pandas frame); returns self."""
        frame = as_frame(data)
        matrix = item_matrix(
            frame,
            self.items,
            instrument=self.instrument,
            reverse=self.reverse,
            item_range=self.item_range,
            on_invalid=self.on_invalid,
        )
        codes = self._codes(frame)
        n_groups = len(self._key_frame)
        parts = _scales(matrix, self.instrument, None)
        if self._scales is None:
            self._scales = [(sid, sub.names) for sid, sub in parts]
            self._meta = [sub for _, sub in parts]
            self._moments = [None] * len(parts)
        for s, (_, sub) in enumerate(parts):
            m = _matrix_moments(sub, self.listwise, codes, n_groups)
            old = self._moments[s]
            self._moments[s] = m if old is None else old.grow(n_groups).merge(m)
        return self

    def merge(self, other: ReliabilityAccumulator) -> ReliabilityAccumulator:
        """Add the statistics of another accumulator of the same set-up; returns self."""
        if other._scales is None:
            return self
        if self._scales is None:
            self._scales, self._meta = other._scales, other._meta
            self._moments = [None] * len(other._scales)
        if [n for _, n in self._scales] != [n for _, n in other._scales]:
            raise PsychometricInputError("Cannot merge accumulators of different items.")
        mapping = np.empty(len(other._key_frame), dtype=np.int64)
        for i, key in enumerate(other._key_frame):
            if key not in self._keys:
                self._keys[key] = len(self._key_frame)
                self._key_frame.append(key)
            mapping[i] = self._keys[key]
        n_groups = len(self._key_frame)
        for s, theirs in enumerate(other._moments):
            if theirs is None:
                continue
            placed = _place(theirs, mapping, n_groups)
            old = self._moments[s]
            self._moments[s] = placed if old is None else old.grow(n_groups).merge(placed)
        return self

    def result(
        self,
        *,
        ci: float = 0.95,
        ci_method: CIMethod = "feldt",
        min_n: int = 30,
        omega: bool = False,
    ) -> ReliabilityTables:
        """The per-group tables of everything added so far (groups sorted by key).

        With ``omega=True`` the scales table gains ``omega_total``, the one-factor omega
        total of each group's pairwise correlations (:func:`screening.scoring.omega`).
        """
        if self._scales is None:
            raise PsychometricInputError("No rows were added.")
        n_groups = len(self._key_frame)
        keys = (
            pl.DataFrame(
                [list(k) for k in self._key_frame] if self.by else None,
                schema=self.by or None,
                orient="row",
            )
            if self.by
            else pl.DataFrame()
        )
        order = (
            np.asarray(keys.with_row_index("__i").sort(self.by, nulls_last=True)["__i"])
            if self.by
            else np.zeros(1, dtype=np.int64)
        )
        keys = keys[order] if self.by else keys
        scale_frames, item_frames = [], []
        for (scale_id, names), sub, m in zip(self._scales, self._meta, self._moments, strict=True):
            m = m.grow(n_groups).select(order)
            alpha, item = _statistics(m, sub.low, sub.high, ci, ci_method)
            body = pl.DataFrame(
                {"scale": [scale_id] * len(order), **_alpha_frame(alpha)}, schema=ALPHA_SCHEMA
            )
            body = body.with_columns(
                rows=pl.Series(m.rows[:, 0].astype(np.int64)),
                small=pl.Series(alpha["n"] < min_n),
            )
            if omega:
                body = body.with_columns(omega_total=pl.Series(_group_omega(m), dtype=pl.Float64))
            scale_frames.append(pl.concat([keys, body], how="horizontal") if self.by else body)
            p = len(names)
            ibody = pl.DataFrame(
                {"scale": [scale_id] * (len(order) * p), **_item_frame(item, names, len(order))},
                schema=ITEM_SCHEMA,
            )
            if self.by:
                repeated = keys[np.repeat(np.arange(keys.height), p)]
                ibody = pl.concat([repeated, ibody], how="horizontal")
            item_frames.append(ibody)
        return ReliabilityTables(_nulls(pl.concat(scale_frames)), _nulls(pl.concat(item_frames)))


def _group_omega(m: Moments) -> list[float | None]:
    """One-factor omega total of every group (null where the correlations are incomplete)."""
    from threadpoolctl import threadpool_limits

    from screening.scoring.omega import _omega, pairwise_correlation

    out: list[float | None] = []
    with threadpool_limits(1, user_api="blas"):  # tiny matrices: threads only cost
        for r in pairwise_correlation(m):
            if not np.isfinite(r).all():
                out.append(None)
                continue
            out.append(_omega(r, 1, np.ones(r.shape[0]))["omega_t"])
    return out


def _place(m: Moments, mapping: np.ndarray, n_groups: int) -> Moments:
    arrays = (m.pair, m.total, m.rows, m.sums, m.answered, m.hist)
    out = Moments(*(np.zeros((n_groups, *a.shape[1:])) for a in arrays), m.low, m.step)
    for arr_out, arr_in in zip(
        (out.pair, out.total, out.rows, out.sums, out.answered, out.hist), arrays, strict=True
    ):
        arr_out[mapping] = arr_in
    return out


def reliability_by(
    data: Any,
    instrument: Instrument | str | None = None,
    by: Sequence[str] = ("school_id",),
    *,
    items: Sequence[str] | None = None,
    reverse: Sequence[str] | Sequence[bool] | np.ndarray | None = None,
    item_range: tuple[float, float] | None = None,
    missing: MissingPolicy = "pairwise",
    ci: float = 0.95,
    ci_method: CIMethod = "feldt",
    min_n: int = 30,
    careless: bool = True,
    omega: bool = False,
    on_invalid: str = "raise",
) -> ReliabilityTables:
    """Alpha, its interval, item statistics and careless rates for every group.

    Parameters
    ----------
    data : polars.DataFrame or pandas.DataFrame
        Responses and the group columns.
    instrument : Instrument or str, optional
        Items, keys, range and scales; without it give ``items`` (and ``item_range`` to fix
        floor and ceiling; default the data's smallest and largest answer).
    by : list of str
        Group columns (e.g. ``["school_id", "grade", "sex"]``); null is a group of its own.
    items, reverse, item_range, missing, ci, ci_method
        As in :func:`cronbach_alpha`.
    min_n : int
        Groups with fewer rows used are kept and marked ``small``.
    careless : bool
        Also compute the careless-responding rates per group (a second, row-wise pass).
    omega : bool
        Also compute each group's one-factor omega total (a minres fit per group).
    on_invalid : {"raise", "missing"}
        Answers that are not numbers or out of range raise, or count as missing.

    Returns
    -------
    ReliabilityTables
        ``scales`` (one row per group and scale), ``items`` (one row per group, scale and
        item) and ``careless`` (one row per group), groups sorted by key.

    Notes
    -----
    The sums of every group are accumulated in one parallel pass
    (:mod:`screening.scoring._moments`); every group's numbers equal a separate
    :func:`cronbach_alpha` / :func:`item_statistics` call on that group's rows, bit for bit
    for integer answers (to rounding for fractional ones).
    """
    frame = as_frame(data)
    if items is not None and item_range is None and resolve_instrument(instrument) is None:
        item_range = _observed_range(frame, items)
    acc = ReliabilityAccumulator(
        instrument,
        by,
        items=items,
        reverse=reverse,
        item_range=item_range,
        missing=missing,
        on_invalid=on_invalid,
    )
    tables = acc.add(frame).result(ci=ci, ci_method=ci_method, min_n=min_n, omega=omega)
    if not careless:
        return tables
    from screening.scoring.careless import careless_rates  # careless uses this module

    rates = careless_rates(
        frame,
        instrument,
        by,
        items=items,
        reverse=reverse,
        item_range=item_range,
        on_invalid=on_invalid,
    )
    return ReliabilityTables(tables.scales, tables.items, rates)


def _observed_range(frame: pl.DataFrame, items: Sequence[str]) -> tuple[float, float]:
    matrix = item_matrix(frame, items)
    return float(matrix.low[0]), float(matrix.high[0])


__all__ = [
    "ReliabilityAccumulator",
    "ReliabilityTables",
    "covariance",
    "cronbach_alpha",
    "item_statistics",
    "reliability_by",
    "smc",
]
