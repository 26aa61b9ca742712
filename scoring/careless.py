"""Careless-responding indices per respondent, and their rates per group.

Definitions follow the R ``careless`` package (Yentes & Wilhelm, version 1.2) and
``psych::outlier``:

- ``longstring``: the longest run of identical consecutive raw answers, in questionnaire
  order; ``avgstr`` the mean run length. A missing answer is a run of its own (as R's
  ``rle`` treats ``NA``).
- ``irv``: intra-individual response variability, the standard deviation (n - 1) of a
  row's answered items (Dunn et al., 2018).
- ``evenodd``: for each factor (scale), the mean of its odd-numbered and of its
  even-numbered items (reverse keyed, missing ignored); the correlation across factors of
  the odd and even means (pairwise complete), Spearman–Brown corrected
  (:math:`2r / (1 + r)`, at least -1) and negated, so that higher means more careless
  (Johnson, 2005). It needs at least two factors, and is null where the even or the odd
  means are all equal (R's ``cor`` is NA), to a relative 1e-12 for fractional answers, as
  R's long-double ``mean`` makes them.
- ``mahad``: Mahalanobis :math:`D^2 = \\sum_{j,k} d_j (S^{-1})_{jk} d_k` over the answered
  items, with :math:`d` the deviations from the item means and :math:`S` the pairwise
  covariance matrix of all rows given (``psych::outlier``); ``mahad_flag`` when
  :math:`D^2` exceeds the chi-square quantile ``confidence`` with as many degrees of freedom
  as items (Meade & Craig, 2012). Rows with no answer get none. Where :math:`S` is
  singular (an item duplicated, reversed or the sum of others; a constant item), where
  ``psych::outlier`` stops, every ``mahad`` is null and :class:`CarelessWarning` names the
  items that depend on each other; so it is, naming the items, where :math:`S` cannot be
  computed (an item with fewer than two answers, two items answered together in fewer
  than two rows).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

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
)

# numba, imported by one thread at a time and without its BLAS probe
from screening.scoring._jit import PARALLEL_LAUNCH, njit, prange
from screening.scoring._moments import compute_moments
from screening.scoring.reliability import covariance


class CarelessWarning(UserWarning):
    """An index could not be computed for the data given (and is left null)."""


CARELESS_SCHEMA = {
    "answered": pl.Int64,
    "longstring": pl.Int64,
    "avgstr": pl.Float64,
    "irv": pl.Float64,
    "evenodd": pl.Float64,
    "mahad": pl.Float64,
    "mahad_flag": pl.Boolean,
    "longstring_flag": pl.Boolean,
}


#: Squared deviations of the half means below this share of their squares are rounding
#: residue (means equal to a relative 1e-12), not variance.
RESIDUE = 1e-24


@njit(parallel=True, cache=True)
def careless_rows(
    x: np.ndarray,
    missing: float,
    flip: np.ndarray,
    offset: np.ndarray,
    factor_items: np.ndarray,
    factor_starts: np.ndarray,
    means: np.ndarray,
    inverse: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Careless-responding indices of every row (prange over rows).

    Parameters
    ----------
    x : int8 or float64 array (n, p)
        Raw answers in questionnaire order; ``missing`` (int) or NaN (float) is missing.
    missing : float
        Missing code of integer input (-1); NaN for float input.
    flip, offset : arrays (p,)
        Reverse keys (``offset - v``) used by even-odd consistency.
    factor_items, factor_starts : int64 arrays
        Items of factor f are ``factor_items[factor_starts[f]:factor_starts[f + 1]]`` in
        order; fewer than two factors gives NaN even-odd.
    means, inverse : float64 arrays (p,), (p, p)
        Item means and inverse covariance for Mahalanobis D²; NaN means skip it.

    Returns
    -------
    answered, longstring : int64 arrays (n,)
    avgstr, irv, evenodd, mahad : float64 arrays (n,)
        NaN where not defined (irv with fewer than two answers, even-odd with fewer than two
        usable factors or no variance, D² for a row without answers).
    """
    n, p = x.shape
    n_factors = factor_starts.shape[0] - 1
    answered = np.zeros(n, dtype=np.int64)
    longest = np.zeros(n, dtype=np.int64)
    avgstr = np.full(n, np.nan)
    irv = np.full(n, np.nan)
    evenodd = np.full(n, np.nan)
    mahad = np.full(n, np.nan)
    use_d2 = not np.isnan(inverse).any()
    for i in prange(n):
        vals = np.empty(p)
        present = np.empty(p, dtype=np.bool_)
        m = 0
        total = 0.0
        for j in range(p):
            v = x[i, j]
            ok = not (v != v or v == missing)
            present[j] = ok
            if ok:
                vals[j] = float(v)
                m += 1
                total += float(v)
        answered[i] = m
        # runs of identical raw answers; a missing answer is a run of its own
        runs = 0
        run = 0
        best = 0
        for j in range(p):
            if j > 0 and present[j] and present[j - 1] and vals[j] == vals[j - 1]:
                run += 1
            else:
                if j > 0:
                    runs += 1
                run = 1
            if run > best:
                best = run
        runs += 1
        longest[i] = best
        avgstr[i] = p / runs
        if m >= 2:
            mean = total / m
            ss = 0.0
            for j in range(p):
                if present[j]:
                    ss += (vals[j] - mean) ** 2
            irv[i] = np.sqrt(ss / (m - 1))
        if n_factors >= 2:
            odd = np.full(n_factors, np.nan)
            even = np.full(n_factors, np.nan)
            for f in range(n_factors):
                so = 0.0
                no = 0
                se = 0.0
                ne = 0
                for pos in range(factor_starts[f + 1] - factor_starts[f]):
                    j = factor_items[factor_starts[f] + pos]
                    if not present[j]:
                        continue
                    v = offset[j] - vals[j] if flip[j] else vals[j]
                    if pos % 2 == 0:  # 1st, 3rd, ... item: odd-numbered
                        so += v
                        no += 1
                    else:
                        se += v
                        ne += 1
                if no > 0:
                    odd[f] = so / no
                if ne > 0:
                    even[f] = se / ne
            k = 0
            sa = 0.0
            sb = 0.0
            qa = 0.0
            qb = 0.0
            for f in range(n_factors):
                if odd[f] == odd[f] and even[f] == even[f]:
                    k += 1
                    sa += even[f]
                    sb += odd[f]
                    qa += even[f] ** 2
                    qb += odd[f] ** 2
            if k >= 2:
                ma = sa / k
                mb = sb / k
                saa = 0.0
                sbb = 0.0
                sab = 0.0
                for f in range(n_factors):
                    if odd[f] == odd[f] and even[f] == even[f]:
                        saa += (even[f] - ma) ** 2
                        sbb += (odd[f] - mb) ** 2
                        sab += (even[f] - ma) * (odd[f] - mb)
                # R's cor is NA where either half's means are all equal; R's mean sums in
                # long double, so means equal but for the last bits of a double sum (of
                # fractional answers) are equal there: no variance below RESIDUE
                if saa > RESIDUE * qa and sbb > RESIDUE * qb:
                    r = sab / np.sqrt(saa * sbb)
                    sb_r = -1.0
                    if 1.0 + r > 0.0:
                        sb_r = max(2.0 * r / (1.0 + r), -1.0)
                    evenodd[i] = -sb_r
        if use_d2 and m > 0:
            d2 = 0.0
            for j in range(p):
                if not present[j]:
                    continue
                dj = vals[j] - means[j]
                for k2 in range(p):
                    if present[k2]:
                        d2 += dj * inverse[j, k2] * (vals[k2] - means[k2])
            mahad[i] = d2
    return answered, longest, avgstr, irv, evenodd, mahad


def _factors(
    matrix: ItemMatrix, instrument: Instrument | None, factors: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Flattened item positions of each factor (consecutive sizes, name lists or scales)."""
    p = len(matrix.names)
    groups: list[list[int]] = []
    if factors is not None:
        factors = list(factors)
        if all(isinstance(f, int | np.integer) for f in factors):
            if sum(factors) > p:
                raise PsychometricInputError(
                    f"factors= sizes add up to {sum(factors)} items but there are {p}."
                )
            start = 0
            for size in factors:
                groups.append(list(range(start, start + int(size))))
                start += int(size)
        else:
            for f in factors:
                unknown = [name for name in f if name not in matrix.names]
                if unknown:
                    raise PsychometricInputError(
                        f"factors= names items that are not among the items: {unknown}."
                    )
                groups.append([matrix.names.index(name) for name in f])
    elif instrument is not None:
        columns = instrument.item_columns()
        for scale in instrument.scales:
            positions = [instrument.item_index(i) for i in scale.items]
            if len(positions) < p:  # a total over every item is not a factor
                groups.append([matrix.names.index(columns[j]) for j in positions])
    flat = np.asarray([j for g in groups for j in g], dtype=np.int64)
    starts = np.cumsum([0, *[len(g) for g in groups]]).astype(np.int64)
    return flat, starts


def _mahalanobis_parts(matrix: ItemMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Item means and inverse pairwise covariance (raw answers), as ``psych::outlier``.

    Integer answers give exact sums; fractional answers are centred on their item means
    first (a second pass, as R's ``cov``), so that a singular covariance is seen as one.
    """
    p = len(matrix.names)
    values = matrix.values
    if not matrix.is_integer:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an item with no answer
            centre = np.nan_to_num(np.nanmean(values, axis=0))  # no answer: no shift
        values = values - centre
    m = compute_moments(
        values,
        flip=np.zeros(p, dtype=bool),
        offset=np.zeros(p),
        missing=matrix.missing,
        listwise=False,
    )
    idx = np.arange(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = m.pair[0, 1, idx, idx] / m.pair[0, 0, idx, idx]
    if not matrix.is_integer:
        means = means + centre
    cov = covariance(m)[0]
    nan = np.full((p, p), np.nan)
    if not np.isfinite(cov).all():
        warnings.warn(_incomplete_note(m.pair[0, 0], matrix.names), CarelessWarning, stacklevel=4)
        return means, nan
    rcond = 1.0 / np.linalg.cond(cov, 1)  # R's solve() stops below machine epsilon
    if not rcond >= np.finfo(float).eps:
        warnings.warn(_singular_note(cov, matrix.names, rcond), CarelessWarning, stacklevel=4)
        return means, nan
    return means, np.linalg.inv(cov)


def _incomplete_note(n: np.ndarray, names: list[str]) -> str:
    """Which items leave the pairwise covariance incomplete (fewer than two rows in common).

    ``n`` holds the number of rows in which each pair of items is answered together.
    """
    few = [name for j, name in enumerate(names) if n[j, j] < 2]
    if len(few) == len(names):
        why = "No item has two answers; give at least two rows of answers"
    elif few:
        why = f"Items {few} have fewer than two answers; leave them out"
    else:
        pairs = [(names[j], names[k]) for j, k in zip(*np.nonzero(np.triu(n < 2, 1)), strict=True)]
        shown = ", ".join(f"({a!r}, {b!r})" for a, b in pairs[:5])
        more = f" and {len(pairs) - 5} more pairs" if len(pairs) > 5 else ""
        why = (
            f"Items {shown}{more} are answered together in fewer than two rows (were they "
            "given to different students?); leave one of each pair out"
        )
    return (
        "Mahalanobis D2 is left empty: the covariance of the items cannot be computed "
        f"(psych::outlier stops here). {why} to compute D2."
    )


def _singular_note(cov: np.ndarray, names: list[str], rcond: float) -> str:
    """Which items make the covariance singular: the weights of its smallest direction."""
    sd = np.sqrt(np.diag(cov))
    constant = [name for name, s in zip(names, sd, strict=True) if not s > 0]
    if constant:
        why = f"Items {constant} have no variance; leave them out"
    else:
        _, _, vt = np.linalg.svd(cov / np.outer(sd, sd))
        weights = np.abs(vt[-1])
        involved = [n for n, w in zip(names, weights, strict=True) if w > 0.05 * weights.max()]
        why = (
            f"Items {involved} depend linearly on each other (an item duplicated, reversed or "
            "a sum of others); leave one of them out"
        )
    return (
        f"Mahalanobis D2 is left empty: the covariance of the items is singular (reciprocal "
        f"condition number {rcond:.3g}; psych::outlier stops here). {why} to compute D2."
    )


def careless(
    data: Any,
    items: Sequence[str] | None = None,
    *,
    instrument: Instrument | str | None = None,
    factors: Sequence[int] | Sequence[Sequence[str]] | None = None,
    reverse: Sequence[str] | Sequence[bool] | np.ndarray | None = None,
    item_range: tuple[float, float] | None = None,
    confidence: float = 0.99,
    max_longstring: int | None = None,
) -> pl.DataFrame:
    r"""Careless-responding indices of every respondent.

    Parameters
    ----------
    data : polars.DataFrame, pandas.DataFrame or numpy.ndarray
        One row per respondent, items in questionnaire order.
    items, instrument, reverse, item_range
        As in :func:`screening.scoring.cronbach_alpha`. The instrument's scales (other than
        one over every item) are the factors of even-odd consistency, and its
        ``careless.max_longstring`` the default ``max_longstring``.
    factors : list of int or list of lists of item names, optional
        Factors for even-odd consistency: consecutive sizes as in ``careless::evenodd`` or
        the items of each factor.
    confidence : float
        Chi-square quantile above which ``mahad_flag`` is set.
    max_longstring : int, optional
        ``longstring_flag`` is set when ``longstring >= max_longstring``; null without one.

    Returns
    -------
    polars.DataFrame
        One row per input row, in order: ``answered``, ``longstring``, ``avgstr``, ``irv``,
        ``evenodd``, ``mahad``, ``mahad_flag``, ``longstring_flag``.

    Notes
    -----
    Longstring, average string and IRV use the raw answers; even-odd consistency uses the
    reverse-keyed values; :math:`D^2` does not depend on keying. See the module docstring
    for the definitions.

    References
    ----------
    .. [1] Yentes, R. D., & Wilhelm, F. (2023). careless: Procedures for computing indices of
       careless responding. R package version 1.2.2.
    .. [2] Johnson, J. A. (2005). Ascertaining the validity of individual protocols from
       web-based personality inventories. Journal of Research in Personality, 39, 103–129.
    .. [3] Meade, A. W., & Craig, S. B. (2012). Identifying careless responses in survey
       data. Psychological Methods, 17(3), 437–455.
    .. [4] Dunn, A. M., Heggestad, E. D., Shanock, L. R., & Theilgard, N. (2018).
       Intra-individual response variability as an indicator of insufficient effort
       responding. Journal of Business and Psychology, 33(1), 105–121.
    """
    inst = resolve_instrument(instrument)
    matrix = item_matrix(data, items, instrument=inst, reverse=reverse, item_range=item_range)
    if max_longstring is None and inst is not None:
        max_longstring = inst.careless.max_longstring
    return _careless_matrix(matrix, inst, factors, confidence, max_longstring)


def _careless_matrix(
    matrix: ItemMatrix,
    instrument: Instrument | None,
    factors: Any,
    confidence: float,
    max_longstring: int | None,
) -> pl.DataFrame:
    if not 0 < confidence < 1:
        raise PsychometricInputError(f"confidence must be in (0, 1); got {confidence}.")
    flat, starts = _factors(matrix, instrument, factors)
    means, inverse = _mahalanobis_parts(matrix)
    with PARALLEL_LAUNCH:
        answered, longest, avgstr, irv, evenodd, mahad = careless_rows(
            matrix.values,
            matrix.missing,
            matrix.reverse,
            matrix.low + matrix.high,
            flat,
            starts,
            means,
            inverse,
        )
    cut = sps.chi2.ppf(confidence, len(matrix.names))
    with np.errstate(invalid="ignore"):
        flag = pl.Series(mahad > cut).set(pl.Series(np.isnan(mahad)), None)
    long_flag = (
        pl.Series(longest >= max_longstring)
        if max_longstring
        else pl.Series([None] * len(longest), dtype=pl.Boolean)
    )
    return pl.DataFrame(
        {
            "answered": answered,
            "longstring": longest,
            "avgstr": avgstr,
            "irv": irv,
            "evenodd": evenodd,
            "mahad": mahad,
            "mahad_flag": flag,
            "longstring_flag": long_flag,
        },
        schema=CARELESS_SCHEMA,
    ).with_columns(pl.col(pl.Float64).fill_nan(None))


def careless_rates(
    data: Any,
    instrument: Instrument | str | None = None,
    by: Sequence[str] = ("school_id",),
    *,
    items: Sequence[str] | None = None,
    factors: Any = None,
    reverse: Sequence[str] | Sequence[bool] | np.ndarray | None = None,
    item_range: tuple[float, float] | None = None,
    confidence: float = 0.99,
    max_longstring: int | None = None,
    straightline_share: float = 1.0,
    straightline_floor: np.ndarray | None = None,
    on_invalid: str = "raise",
) -> pl.DataFrame:
    """Careless-responding rates per group.

    Parameters
    ----------
    data : polars.DataFrame or pandas.DataFrame
        Responses and the group columns.
    instrument, items, factors, reverse, item_range, confidence, max_longstring
        As in :func:`careless`. :math:`D^2` is relative to all rows given, not to the group.
    by : list of str
        Group columns.
    straightline_share : float
        A row straight-lines when every item is answered and its longstring covers at least
        this share of the items (1.0: the same answer to every item).
    straightline_floor : array (p,), optional
        Lowest answer of each item: a row answering every item with its lowest answer is not
        counted as straight-lining (a symptom-free student may answer "not at all"
        throughout). Only used with ``straightline_share=1``.
    on_invalid : {"raise", "missing"}
        Answers that are not numbers or out of range raise, or count as missing.

    Returns
    -------
    polars.DataFrame
        One row per group (sorted): ``rows``, ``answered_rows`` (at least one answer),
        ``straightline_rate``, ``longstring_rate`` (share flagged by ``max_longstring``;
        null without a limit), ``mahad_rate``, and the means of ``longstring``, ``irv`` and
        ``evenodd``. Rates are shares of the rows with at least one answer (null in a
        group without one).
    """
    frame = as_frame(data)
    inst = resolve_instrument(instrument)
    matrix = item_matrix(
        frame,
        items,
        instrument=inst,
        reverse=reverse,
        item_range=item_range,
        on_invalid=on_invalid,
    )
    if max_longstring is None and inst is not None:
        max_longstring = inst.careless.max_longstring
    rows = _careless_matrix(matrix, inst, factors, confidence, max_longstring)
    p = len(matrix.names)
    by = list(by)
    absent = [c for c in by if c not in frame.columns]
    if absent:
        raise PsychometricInputError(
            f"Group columns {absent} are not in the data (columns: {frame.columns[:20]})."
        )
    need = int(np.ceil(straightline_share * p))
    straight = (rows["answered"] == p) & (rows["longstring"] >= need)
    if straightline_floor is not None and need == p:
        values = matrix.values
        at_floor = (values == np.asarray(straightline_floor)[None, :]).all(axis=1)
        straight = straight & pl.Series(~at_floor)
    joined = pl.concat([frame.select(by), rows], how="horizontal").with_columns(
        any_answer=pl.col("answered") > 0, straight=straight
    )
    answered = pl.col("any_answer")
    aggregations = [
        pl.len().alias("rows"),
        answered.sum().alias("answered_rows"),
        # null, like the other rates, for a group without answers (not 0 / 0 = NaN)
        pl.col("straight").filter(answered).cast(pl.Float64).mean().alias("straightline_rate"),
        (pl.col("longstring_flag").filter(answered).cast(pl.Float64).mean()).alias(
            "longstring_rate"
        ),
        (pl.col("mahad_flag").filter(answered).cast(pl.Float64).mean()).alias("mahad_rate"),
        pl.col("longstring").filter(answered).mean().alias("longstring_mean"),
        pl.col("irv").mean().alias("irv_mean"),
        pl.col("evenodd").mean().alias("evenodd_mean"),
    ]
    if not by:
        return joined.select(aggregations)
    return joined.group_by(by).agg(aggregations).sort(by, nulls_last=True)


__all__ = ["careless", "careless_rates", "careless_rows"]
