"""Data quality per school (or any grouping): which groups' data need a second look.

:func:`quality_tables` runs, for every instrument of a battery, the grouped reliability
(:func:`screening.scoring.reliability.reliability_by`) and careless-responding rates
(:func:`screening.scoring.careless.careless_rates`), and sums them up in one row per group
with the reasons to look again:

``low alpha``
    some scale's alpha is below ``alpha_min`` (groups with at least ``min_n`` rows);
``reverse key``
    some item correlates negatively with the rest of its scale (``r_drop < 0``): a
    reverse-keyed item answered as if it were not, or a mis-coded column;
``straight-lining``
    rows that give the same answer to every item of an instrument (other than its lowest
    answer, which a symptom-free student may well give throughout) are more common than in
    the data as a whole: see below;
``careless``
    rows over the instrument's longstring limit (and, with ``use_mahalanobis``, Mahalanobis
    outliers) are more common than in the data as a whole. Mahalanobis outliers are only
    reported by default, not flagged: D² also grows with genuine symptom severity, so a
    school whose students are more distressed would be flagged as careless.

A rate is "more common" when it is above the given absolute limit (``straightline_max``,
``mahad_max``, ``longstring_max``), or at least ``rate_ratio`` times the rate over all
groups and above it beyond chance (one-sided binomial test at ``flag_p``). Mahalanobis
outliers are relative, because skewed answers to a symptom scale make many more than the
nominal 1 % of rows exceed the chi-square quantile;
``many flagged`` / ``few flagged``
    the share of students at tier ``flag_tier`` or above is implausible for the group's size
    given the share over all groups: beyond chance (one-sided binomial tests at ``flag_p``)
    and at least ``rate_ratio`` times above or below it; needs the scored results;
``small group``
    fewer than ``min_n`` rows: the other figures are unreliable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import stats as sps

from screening.instruments import Instrument, LoadedBattery, load_battery, load_instrument
from screening.scoring._frames import PsychometricInputError
from screening.scoring.careless import careless_rates
from screening.scoring.reliability import MissingPolicy, reliability_by


@dataclass(frozen=True)
class QualityThresholds:
    """When a group is flagged (see the module docstring).

    ``flag_p`` is small because one test runs per group, index and instrument: with 2,000
    schools, 1e-4 expects about one school flagged by chance per index.
    """

    alpha_min: float = 0.60
    straightline_max: float = 0.20
    mahad_max: float = 0.30
    longstring_max: float = 0.20
    rate_ratio: float = 2.0
    use_mahalanobis: bool = False
    flag_tier: int = 2
    flag_p: float = 1e-4


@dataclass(frozen=True)
class QualityTables:
    """The tables of :func:`quality_tables`.

    Attributes
    ----------
    reliability : polars.DataFrame
        One row per group, instrument and scale (alpha, interval, λ6, ...; ``small``).
    items : polars.DataFrame
        One row per group, instrument, scale and item.
    careless : polars.DataFrame
        One row per group and instrument: careless-responding rates.
    quality : polars.DataFrame
        One row per group: ``rows``, ``alpha_min`` and ``alpha_min_scale``,
        ``negative_items`` (names), ``straightline_rate``, ``mahad_rate``,
        ``longstring_rate`` (largest over instruments), ``flagged`` and ``flagged_share``
        (with results), ``flags`` (list of reasons) and ``needs_review``.
    by : list of str
        The group columns.
    """

    reliability: pl.DataFrame
    items: pl.DataFrame
    careless: pl.DataFrame
    quality: pl.DataFrame
    by: list[str]


def instruments_of(spec: Any) -> list[Instrument]:
    """The instruments of a battery (loaded, id or path), an instrument, or a list of them."""
    if isinstance(spec, LoadedBattery):
        return list(spec.instruments)
    if isinstance(spec, Instrument):
        return [spec]
    if isinstance(spec, str | Path):
        text = str(spec)
        try:
            return list(load_battery(text).instruments)
        except Exception:  # not a battery: an instrument id or path
            return [load_instrument(text)]
    if hasattr(spec, "instruments") and hasattr(spec, "battery"):
        return list(spec.instruments)
    return [s if isinstance(s, Instrument) else load_instrument(s) for s in spec]


def quality_tables(
    frame: pl.DataFrame,
    spec: Any,
    by: Sequence[str] = ("school_id",),
    *,
    results: pl.DataFrame | None = None,
    missing: MissingPolicy = "pairwise",
    min_n: int = 30,
    omega: bool = False,
    thresholds: QualityThresholds | None = None,
    on_invalid: str = "raise",
) -> QualityTables:
    """Reliability, item statistics, careless rates and quality flags per group.

    Parameters
    ----------
    frame : polars.DataFrame
        Answers (``{instrument}_{item}`` columns) and the group columns.
    spec : battery, instrument, or list of instruments
        What was given (a loaded battery, a bundled id or path, instrument objects).
    by : list of str
        Group columns (e.g. ``["school_id"]`` or ``["school_id", "grade", "sex"]``).
    results : polars.DataFrame, optional
        Scored results of the same rows in the same order (with a ``tier`` column), for
        the plausibility of the share of flagged students.
    missing, min_n, omega
        As in :func:`screening.scoring.reliability.reliability_by`.
    thresholds : QualityThresholds, optional
        When to flag a group.
    on_invalid : {"raise", "missing"}
        Answers that are not numbers or out of range raise, or count as missing.

    Returns
    -------
    QualityTables
    """
    limits = thresholds or QualityThresholds()
    by = list(by)
    rel, items, careless = [], [], []
    for inst in instruments_of(spec):
        tables = reliability_by(
            frame,
            inst,
            by,
            missing=missing,
            min_n=min_n,
            careless=False,
            omega=omega,
            on_invalid=on_invalid,
        )
        tag = pl.lit(inst.id).alias("instrument")
        rel.append(tables.scales.with_columns(tag))
        items.append(tables.items.with_columns(tag))
        careless.append(
            _careless_flags(
                careless_rates(
                    frame, inst, by, straightline_floor=inst.item_min(), on_invalid=on_invalid
                ),
                limits,
            ).with_columns(tag)
        )
    order = [*by, "instrument"]
    reliability = _front(pl.concat(rel, how="diagonal_relaxed"), order)
    item_table = _front(pl.concat(items, how="diagonal_relaxed"), order)
    careless_table = _front(pl.concat(careless, how="diagonal_relaxed"), order)
    quality = _quality(frame, reliability, item_table, careless_table, by, results, min_n, limits)
    return QualityTables(reliability, item_table, careless_table, quality, by)


def _more_common(
    rate: pl.Series, n: pl.Series, limit: float, limits: QualityThresholds
) -> pl.Series:
    """Rates above ``limit``, or ``rate_ratio`` times the overall rate beyond chance."""
    r = rate.fill_nan(None).fill_null(0.0).to_numpy()  # no rate (0 of 0): not more common
    m = n.fill_null(0).to_numpy().astype(np.int64)
    hits = np.rint(r * m).astype(np.int64)
    total = m.sum()
    p0 = hits.sum() / total if total else 0.0
    with np.errstate(invalid="ignore"):
        beyond = sps.binom.sf(hits - 1, m, p0) < limits.flag_p if p0 > 0 else hits > 0
    relative = beyond & (r >= limits.rate_ratio * p0) & (m > 0)
    return pl.Series((r > limit) | relative)


def _careless_flags(rates: pl.DataFrame, limits: QualityThresholds) -> pl.DataFrame:
    n = rates["answered_rows"]
    return rates.with_columns(
        straightline_flag=_more_common(rates["straightline_rate"], n, limits.straightline_max,
                                       limits),
        mahad_flag_group=_more_common(rates["mahad_rate"], n, limits.mahad_max, limits),
        longstring_flag_group=_more_common(rates["longstring_rate"], n, limits.longstring_max,
                                           limits),
    )  # fmt: skip


def _front(frame: pl.DataFrame, first: list[str]) -> pl.DataFrame:
    return frame.select(*first, pl.exclude(first))


def _quality(
    frame: pl.DataFrame,
    reliability: pl.DataFrame,
    items: pl.DataFrame,
    careless: pl.DataFrame,
    by: list[str],
    results: pl.DataFrame | None,
    min_n: int,
    limits: QualityThresholds,
) -> pl.DataFrame:
    key = by or []
    scale_name = pl.concat_str(pl.col("instrument"), pl.lit("."), pl.col("scale"))
    rel = (
        reliability.with_columns(scale_name.alias("scale_name"))
        .sort("alpha", nulls_last=True)
        .group_by(key or pl.lit(1), maintain_order=True)
        .agg(
            pl.col("rows").max().alias("rows"),
            pl.col("n").min().alias("n_min"),
            pl.col("alpha").first().alias("alpha_min"),
            pl.col("scale_name").first().alias("alpha_min_scale"),
            pl.col("small").any().alias("small"),
        )
    )
    negative = (
        items.filter(pl.col("flag") == "check reverse key")
        .group_by(key or pl.lit(1))
        .agg(pl.col("item").unique().sort().alias("negative_items"))
    )
    rates = careless.group_by(key or pl.lit(1)).agg(
        pl.col("straightline_rate").max(),
        pl.col("mahad_rate").max(),
        pl.col("longstring_rate").max(),
        pl.col("straightline_flag").any().alias("straight_any"),
        (
            (pl.col("mahad_flag_group") & pl.lit(limits.use_mahalanobis))
            | pl.col("longstring_flag_group")
        )
        .any()
        .alias("careless_any"),
    )
    if not key:
        rel, rates = (t.drop("literal") for t in (rel, rates))
        names = negative["negative_items"][0].to_list() if negative.height else []
        out = pl.concat([rel, rates], how="horizontal").with_columns(
            negative_items=pl.Series([names], dtype=pl.List(pl.String))
        )
    else:
        out = rel.join(negative, on=key, how="left", nulls_equal=True).join(
            rates, on=key, how="left", nulls_equal=True
        )
    out = out.with_columns(pl.col("negative_items").fill_null(pl.lit([], dtype=pl.List(pl.String))))
    out = _flagged_students(out, frame, by, results, limits)
    big = ~pl.col("small")
    flag_exprs = [
        pl.when(big & (pl.col("alpha_min") < limits.alpha_min)).then(pl.lit("low alpha")),
        pl.when(big & (pl.col("negative_items").list.len() > 0)).then(pl.lit("reverse key")),
        pl.when(pl.col("straight_any")).then(pl.lit("straight-lining")),
        pl.when(pl.col("careless_any")).then(pl.lit("careless")),
        pl.when(pl.col("flagged_test") == "many").then(pl.lit("many flagged")),
        pl.when(pl.col("flagged_test") == "few").then(pl.lit("few flagged")),
        pl.when(pl.col("small")).then(pl.lit("small group")),
    ]
    out = out.with_columns(
        pl.concat_list(flag_exprs).list.drop_nulls().alias("flags")
    ).with_columns(
        needs_review=pl.col("flags")
        .list.eval(pl.element().is_in(["small group"]).not_())
        .list.any()
    )
    columns = [
        *key, "rows", "n_min", "alpha_min", "alpha_min_scale", "negative_items",
        "straightline_rate", "mahad_rate", "longstring_rate", "flagged", "flagged_share",
        "flagged_expected", "flags", "needs_review", "small",
    ]  # fmt: skip
    return out.select(columns).sort(key, nulls_last=True) if key else out.select(columns)


def _flagged_students(
    out: pl.DataFrame,
    frame: pl.DataFrame,
    by: list[str],
    results: pl.DataFrame | None,
    limits: QualityThresholds,
) -> pl.DataFrame:
    """Add ``flagged``, ``flagged_share``, ``flagged_expected`` and the binomial verdict."""
    if results is None or "tier" not in results.columns:
        return out.with_columns(
            flagged=pl.lit(None, dtype=pl.Int64),
            flagged_share=pl.lit(None, dtype=pl.Float64),
            flagged_expected=pl.lit(None, dtype=pl.Float64),
            flagged_test=pl.lit(None, dtype=pl.String),
        )
    if results.height != frame.height:
        raise PsychometricInputError(
            f"results has {results.height} rows but the answers have {frame.height}; pass the "
            "results of these answers, in the same order."
        )
    tier = results["tier"].cast(pl.Int64)
    keyed = pl.DataFrame(
        {"scored": tier.is_not_null(), "flagged": tier.fill_null(-1) >= limits.flag_tier}
    )
    if by:
        keyed = pl.concat([frame.select(by), keyed], how="horizontal")
    counts = (
        keyed.group_by(by or pl.lit(1))
        .agg(pl.col("scored").sum().alias("scored"), pl.col("flagged").sum().alias("flagged"))
        .drop("literal", strict=False)
    )
    total_scored = int(counts["scored"].sum())
    p0 = float(counts["flagged"].sum()) / total_scored if total_scored else float("nan")
    n = counts["scored"].to_numpy().astype(np.int64)
    x = counts["flagged"].to_numpy().astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n > 0, x / np.maximum(n, 1), np.nan)
    many = (sps.binom.sf(x - 1, n, p0) < limits.flag_p) & (share >= limits.rate_ratio * p0)
    few = (sps.binom.cdf(x, n, p0) < limits.flag_p) & (share <= p0 / limits.rate_ratio)
    verdict = np.where(many & (n > 0), "many", np.where(few & (n > 0), "few", None))
    counts = counts.with_columns(
        flagged_share=pl.when(pl.col("scored") > 0).then(pl.col("flagged") / pl.col("scored")),
        flagged_expected=pl.lit(p0),
        flagged_test=pl.Series(verdict.tolist(), dtype=pl.String),
    ).drop("scored")
    if not by:
        return pl.concat([out, counts], how="horizontal")
    return out.join(counts, on=by, how="left", nulls_equal=True)


def quality_by_school(
    frame: pl.DataFrame,
    battery_or_instruments: Any,
    *,
    results: pl.DataFrame | None = None,
    school_column: str = "school_id",
    min_n: int = 30,
    on_invalid: str = "missing",
) -> pl.DataFrame:
    """Quality figures of every school, for ``run.json`` and reports.

    Parameters
    ----------
    frame : polars.DataFrame
        Answers and the school column.
    battery_or_instruments
        A loaded battery, a battery or instrument id or path, or a list of instruments.
    results : polars.DataFrame, optional
        The scored results of the same rows (for the share of flagged students).
    school_column : str
        The school column; without it, one row for all the data.
    min_n : int
        Schools with fewer rows are marked ``small group``.
    on_invalid : {"missing", "raise"}
        Answers that are not numbers or out of range count as missing (the default: the
        scoring run has already reported them), or raise.

    Returns
    -------
    polars.DataFrame
        The ``quality`` table of :func:`quality_tables` by school.
    """
    by = [school_column] if school_column in frame.columns else []
    return quality_tables(
        frame, battery_or_instruments, by, results=results, min_n=min_n, on_invalid=on_invalid
    ).quality


__all__ = [
    "QualityTables",
    "QualityThresholds",
    "instruments_of",
    "quality_by_school",
    "quality_tables",
]
