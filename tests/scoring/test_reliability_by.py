"""Grouped, chunked and merged reliability equal separate in-memory calls; properties of alpha."""

from __future__ import annotations

from pathlib import Path

import naive
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from screening.scoring.reliability import (
    ALPHA_COLUMNS,
    ITEM_COLUMNS,
    ReliabilityAccumulator,
    cronbach_alpha,
    item_statistics,
    reliability_by,
)

DATA = Path(__file__).parent / "data"
PHQ = pl.read_csv(DATA / "phq_like.csv")

# Small groups and random answers have items without variance, which alpha leaves out with
# a warning; these tests compare numbers, and test_reliability.py checks the warning.
pytestmark = pytest.mark.filterwarnings("ignore::screening.scoring.reliability.ItemsLeftOutWarning")
ITEMS = [f"phq9_{i}" for i in range(1, 10)]


def _synthetic(n=6000, groups=40, seed=11):
    rng = np.random.default_rng(seed)
    school = rng.integers(0, groups, n)
    f = rng.normal(size=n) + 0.3 * (school % 5)
    z = 0.6 * f[:, None] + rng.normal(size=(n, 9))
    x = np.clip(np.floor(z + 1.0), 0, 3).astype(np.int64)
    frame = pl.DataFrame({f"phq9_{j + 1}": x[:, j] for j in range(9)}).with_columns(
        school_id=pl.Series([f"S{s:03d}" for s in school]),
        sex=pl.Series(rng.choice(["F", "M", None], n, p=[0.49, 0.49, 0.02])),
    )
    holes = rng.random((n, 9)) < 0.05
    return frame.with_columns(
        pl.when(pl.Series(holes[:, j]))
        .then(None)
        .otherwise(pl.col(f"phq9_{j + 1}"))
        .alias(f"phq9_{j + 1}")
        for j in range(9)
    )


def _assert_frames_close(got: pl.DataFrame, want: pl.DataFrame, columns, tol=1e-10):
    assert got.height == want.height
    for column in columns:
        np.testing.assert_allclose(
            got[column].to_numpy().astype(float),
            want[column].to_numpy().astype(float),
            rtol=tol,
            atol=tol,
            err_msg=column,
        )


@pytest.mark.parametrize("missing", ["pairwise", "listwise"])
def test_grouped_equals_separate_calls(missing):
    frame = _synthetic(n=3000, groups=12)
    by = ["school_id", "sex"]
    tables = reliability_by(frame, "phq9", by, missing=missing)
    groups = frame.select(by).unique().sort(by, nulls_last=True)
    assert tables.scales.select(by).equals(groups)
    for key in groups.iter_rows(named=True):
        rows = frame.filter(
            pl.all_horizontal(pl.col(c).eq_missing(pl.lit(v)) for c, v in key.items())
        )
        sel = pl.all_horizontal(pl.col(c).eq_missing(pl.lit(v)) for c, v in key.items())
        _assert_frames_close(
            tables.scales.filter(sel),
            cronbach_alpha(rows, instrument="phq9", missing=missing),
            ALPHA_COLUMNS,
        )
        _assert_frames_close(
            tables.items.filter(sel),
            item_statistics(rows, instrument="phq9", missing=missing),
            ITEM_COLUMNS,
        )


def test_grouped_fixture_school_equals_psych_numbers():
    # psych 2.2.9: alpha(items[x$school_id == "B", ])$total$raw_alpha, $feldt
    tables = reliability_by(PHQ, items=ITEMS, by=["school_id"])
    row = tables.scales.filter(pl.col("school_id") == "B").row(0, named=True)
    assert row["alpha"] == pytest.approx(0.634492986558962, abs=1e-12)
    assert row["ci_low"] == pytest.approx(0.531884994256284, abs=1e-12)
    assert row["ci_high"] == pytest.approx(0.722138353466123, abs=1e-12)
    assert row["rows"] == PHQ.filter(pl.col("school_id") == "B").height


def test_chunked_and_merged_equal_in_memory():
    frame = _synthetic(seed=5)
    order = np.random.default_rng(1).permutation(frame.height)
    shuffled = frame[order]
    whole = reliability_by(frame, "phq9", ["school_id"])
    acc = ReliabilityAccumulator("phq9", ["school_id"])
    for chunk in shuffled.iter_slices(1700):
        acc.add(chunk)
    chunked = acc.result()
    left = ReliabilityAccumulator("phq9", ["school_id"]).add(shuffled[:2500])
    right = ReliabilityAccumulator("phq9", ["school_id"]).add(shuffled[2500:])
    merged = left.merge(right).result()
    for got in (chunked, merged):
        assert got.scales["school_id"].equals(whole.scales["school_id"])
        _assert_frames_close(got.scales, whole.scales, ALPHA_COLUMNS)
        _assert_frames_close(got.items, whole.items, ITEM_COLUMNS)


@pytest.mark.parametrize("missing", ["pairwise", "listwise"])
def test_chunked_row_mean_statistics_are_bit_identical(missing):
    """The row mean enters as integer row sums by number of answers: exact sums."""
    frame = _synthetic(n=5000, groups=3, seed=8)
    whole = reliability_by(frame, "phq9", ["school_id"], missing=missing, careless=False)
    acc = ReliabilityAccumulator("phq9", ["school_id"], missing=missing)
    for chunk in frame[np.random.default_rng(2).permutation(frame.height)].iter_slices(333):
        acc.add(chunk)
    got = acc.result()
    assert got.scales.equals(whole.scales)
    assert got.items.equals(whole.items)


def test_row_mean_and_sd_equal_exact_rational_values():
    from fractions import Fraction

    frame = _synthetic(n=4000, groups=1, seed=9)
    x = frame.select(ITEMS).to_numpy().astype(float)
    sums = [Fraction(int(np.nansum(row))) / int((~np.isnan(row)).sum()) for row in x]
    mean = sum(sums) / len(sums)
    var = (sum(t * t for t in sums) - len(sums) * mean * mean) / (len(sums) - 1)
    got = cronbach_alpha(frame, instrument="phq9").row(0, named=True)
    assert got["mean"] == pytest.approx(float(mean), rel=2**-51, abs=0)
    assert got["sd"] == pytest.approx(float(var) ** 0.5, rel=2**-51, abs=0)


def test_pandas_csv_chunks_of_int_and_float_dtype_merge(tmp_path):
    """pandas ``read_csv(chunksize=...)`` reads a chunk with an empty cell as float64."""
    import pandas as pd

    path = tmp_path / "answers.csv"
    frame = _synthetic(n=2000, groups=6, seed=3)
    # the first chunk has no empty cell, so its item columns are int64
    frame = pl.concat([frame.head(1000).drop_nulls(ITEMS), frame.slice(1000)])
    frame.write_csv(path)
    whole = reliability_by(pl.read_csv(path), "phq9", ["school_id"], careless=False)
    acc = ReliabilityAccumulator("phq9", ["school_id"])
    kinds = set()
    for chunk in pd.read_csv(path, chunksize=300):
        kinds.add(str(chunk["phq9_1"].dtype))
        acc.add(chunk)
    assert kinds == {"int64", "float64"}
    got = acc.result()
    _assert_frames_close(got.scales, whole.scales, ALPHA_COLUMNS)
    _assert_frames_close(got.items, whole.items, ITEM_COLUMNS)
    # a chunk of fractional answers (a float matrix) still merges with integer chunks
    half = pl.DataFrame({**{c: [1.5, 2.0] for c in ITEMS}, "school_id": ["S000", "S000"]})
    assert acc.add(half).result().scales.height == whole.scales.height


def test_small_groups_are_flagged_not_dropped():
    frame = _synthetic(n=600, groups=30)
    tables = reliability_by(frame, "phq9", ["school_id"], min_n=25)
    assert tables.scales.height == frame["school_id"].n_unique()
    assert (tables.scales["small"] == (tables.scales["n"] < 25)).all()
    assert tables.scales["small"].any()


def test_no_group_columns_make_one_group():
    tables = reliability_by(PHQ, items=ITEMS, by=[])
    assert tables.scales.height == 1
    assert tables.scales["alpha"][0] == pytest.approx(0.6334166117823017, abs=1e-12)


def test_accumulator_needs_a_fixed_range():
    with pytest.raises(ValueError, match="item_range"):
        ReliabilityAccumulator(None, ["school_id"], items=ITEMS)


# --- properties -------------------------------------------------------------------------------

answers = hnp.arrays(
    np.int8, st.tuples(st.integers(3, 40), st.integers(2, 6)), elements=st.integers(0, 4)
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    column=hnp.arrays(np.int8, st.integers(3, 50), elements=st.integers(0, 4)),
    copies=st.integers(2, 6),
)
def test_alpha_of_identical_items_is_one(column, copies):
    x = np.repeat(column[:, None], copies, axis=1)
    got = cronbach_alpha(x)
    if column.min() == column.max():
        assert got["alpha"][0] is None  # no variance: nothing to measure
    else:
        assert got["alpha"][0] == pytest.approx(1.0, abs=1e-12)
        assert got["std_alpha"][0] == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=answers, shift=st.floats(-50, 50, allow_nan=False), holes=st.integers(0, 2**32 - 1))
# constant items shifted by a constant whose square underflows: the variance residue is
# subnormal (alpha was 1.0 instead of null)
@example(x=np.zeros((3, 2), dtype=np.int8), shift=6.456839918592333e-158, holes=0)
def test_alpha_is_invariant_to_a_constant(x, shift, holes):
    xf = x.astype(float)
    xf[np.random.default_rng(holes).random(x.shape) < 0.1] = np.nan
    a = cronbach_alpha(xf)
    b = cronbach_alpha(xf + shift)
    for column in ["alpha", "std_alpha", "g6", "ci_low", "ci_high"]:
        va, vb = a[column][0], b[column][0]
        assert (va is None and vb is None) or va == pytest.approx(vb, rel=1e-7, abs=1e-7)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=answers)
def test_listwise_equals_pairwise_on_complete_data(x):
    a = cronbach_alpha(x, missing="pairwise")
    b = cronbach_alpha(x, missing="listwise")
    assert a.equals(b, null_equal=True) or np.allclose(
        a.select(ALPHA_COLUMNS).to_numpy(), b.select(ALPHA_COLUMNS).to_numpy(), equal_nan=True
    )


def _well_conditioned(c: np.ndarray) -> bool:
    """Whether every summed covariance that alpha divides by (the whole scale's, each
    drop-one scale's, the summed correlations) is clear of zero. Pairwise covariances need
    not form a positive definite matrix; where a sum is near zero, alpha is rounding noise
    (1e16 against -inf in one draw) in any implementation."""
    k = c.shape[0]
    d = np.sqrt(np.diag(c))
    rest = [np.delete(np.delete(c, i, 0), i, 1).sum() for i in range(k)]
    sums = [c.sum(), *rest, (c / np.outer(d, d)).sum()]
    return min(abs(v) for v in sums) > 1e-6 * max(float(np.trace(c)), 1.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=answers, holes=st.integers(0, 2**32 - 1))
def test_alpha_equals_naive_pairwise_reference(x, holes):
    xf = x.astype(float)
    xf[np.random.default_rng(holes).random(x.shape) < 0.15] = np.nan
    c = naive.pairwise_cov(xf)
    if not (np.isfinite(c).all() and (np.diag(c) > 0).all() and _well_conditioned(c)):
        return  # degenerate draws are covered by the constant-item test
    want = naive.alpha(xf)
    got = cronbach_alpha(xf)
    items = item_statistics(xf)
    assert got["alpha"][0] == pytest.approx(want["alpha"], abs=1e-9)
    assert got["std_alpha"][0] == pytest.approx(want["std_alpha"], abs=1e-9)
    got_r_drop = items["r_drop"].fill_null(np.nan).to_numpy()
    np.testing.assert_allclose(got_r_drop, want["r_drop"], atol=1e-9, equal_nan=True)
    got_alpha_drop = items["alpha_drop"].fill_null(np.nan).to_numpy()
    np.testing.assert_allclose(got_alpha_drop, want["alpha_drop"], atol=1e-9, equal_nan=True)


def test_careless_rates_come_with_the_groups():
    frame = _synthetic(n=1500, groups=6)
    tables = reliability_by(frame, "phq9", ["school_id"])
    assert tables.careless is not None
    assert tables.careless["school_id"].equals(tables.scales["school_id"])
    assert (tables.careless["rows"] == tables.scales["rows"]).all()
    assert reliability_by(frame, "phq9", ["school_id"], careless=False).careless is None


def test_grouped_omega_equals_separate_calls():
    from screening.scoring.omega import mcdonald_omega

    frame = _synthetic(n=2000, groups=5)
    tables = reliability_by(frame, "phq9", ["school_id"], omega=True, careless=False)
    for row in tables.scales.iter_rows(named=True):
        rows = frame.filter(pl.col("school_id") == row["school_id"])
        want = mcdonald_omega(rows, instrument="phq9", nfactors=1)["omega_total"][0]
        assert row["omega_total"] == pytest.approx(want, abs=1e-10)
