"""Careless-responding indices against R (careless 1.2.2 definitions, psych::outlier)."""

from __future__ import annotations

from pathlib import Path

import naive
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from screening.scoring._frames import PsychometricInputError
from screening.scoring.careless import CarelessWarning, careless, careless_rates

DATA = Path(__file__).parent / "data"
BFI = pl.read_csv(DATA / "bfi.csv")
BFI_ITEMS = [c for c in BFI.columns if c not in ("gender", "education")]
BFI_KEYS = ["A1", "C4", "C5", "E1", "E2", "O2", "O5"]  # psych's bfi.keys

# R 4.x, psych 2.2.9; careless 1.2.2 cannot be installed here, so its code was transcribed:
#   b <- read.csv("bfi.csv")[, 1:25]; keyed <- b; keyed[keys] <- 7 - keyed[keys]
#   longstr <- apply(b, 1, function(r) max(rle(r)$lengths))
#   avgstr  <- apply(b, 1, function(r) mean(rle(r)$lengths))
#   irv     <- apply(b, 1, stats::sd, na.rm = TRUE)
#   eo      <- careless::evenodd body on keyed with factors rep(5, 5) (SB-corrected, negated)
#   d2      <- psych::outlier(b, plot = FALSE); cut <- qchisq(0.99, 25)
R_ROWS = [1, 2, 3, 4, 5, 6, 9, 12, 35, 42]  # 1-based; the last four have missing answers
R_VALUES = {
    "longstring": [3, 4, 3, 3, 3, 3, 4, 5, 6, 2],
    "avgstr": [
        1.47058823529412,
        1.47058823529412,
        1.25,
        1.47058823529412,
        1.47058823529412,
        1.19047619047619,
        1.47058823529412,
        1.31578947368421,
        1.5625,
        1.13636363636364,
    ],
    "irv": [
        0.9,
        1.29486163997034,
        1.09239797387826,
        1.16619037896906,
        1.0,
        1.86368809979925,
        1.50301629100103,
        1.02062072615966,
        1.03209369308428,
        1.49818731051605,
    ],
    "evenodd": [
        -0.814814814814815,
        0.0,
        0.193255223275256,
        -0.154372200339731,
        -0.882185221544529,
        -0.783458569705203,
        1.0,
        -0.910873154824434,
        -0.915709147598412,
        -0.747422933413197,
    ],
    "mahad": [
        13.4060962455225,
        24.8795437567522,
        13.4034159582510,
        27.9190423095577,
        18.6020979954572,
        26.0984425259240,
        39.3938373016469,
        11.5488939562853,
        15.9660673836067,
        30.1382906072590,
    ],
}
# sum(longstr), sum(avgstr), sum(irv), sum(eo, na.rm = TRUE), sum(is.na(eo)), sum(d2),
# sum(d2 > cut)
R_SUMS = [9645, 3934.71083123551, 4453.51447309565, -1858.64339386487, 6, 69752.57883543326, 225]


@pytest.fixture(scope="module")
def bfi_careless():
    return careless(BFI, BFI_ITEMS, reverse=BFI_KEYS, item_range=(1, 6), factors=[5] * 5)


def test_indices_equal_r(bfi_careless):
    rows = bfi_careless[[r - 1 for r in R_ROWS]]
    for column, want in R_VALUES.items():
        np.testing.assert_allclose(rows[column].to_numpy(), want, rtol=0, atol=1e-10)


def test_totals_over_every_row_equal_r(bfi_careless):
    got = bfi_careless
    sums = [
        got["longstring"].sum(),
        got["avgstr"].sum(),
        got["irv"].sum(),
        got["evenodd"].sum(),
        got["evenodd"].null_count(),
        got["mahad"].sum(),
        got["mahad_flag"].sum(),
    ]
    np.testing.assert_allclose(sums, R_SUMS, rtol=1e-12)


def test_rows_equal_naive_reference(bfi_careless):
    raw = BFI.select(BFI_ITEMS).rows()[:300]
    keyed_frame = BFI.select(BFI_ITEMS).with_columns((7 - pl.col(c)).alias(c) for c in BFI_KEYS)
    keyed = keyed_frame.rows()[:300]
    factors = [list(range(f * 5, f * 5 + 5)) for f in range(5)]
    for i, (row, krow) in enumerate(zip(raw, keyed, strict=True)):
        want = naive.careless_row(list(row), list(krow), factors)
        got = bfi_careless.row(i, named=True)
        assert got["answered"] == want[0]
        assert got["longstring"] == want[1]
        assert got["avgstr"] == pytest.approx(want[2], abs=1e-12)
        assert got["irv"] == pytest.approx(want[3], abs=1e-12)
        if np.isnan(want[4]):
            assert got["evenodd"] is None
        else:
            assert got["evenodd"] == pytest.approx(want[4], abs=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    x=hnp.arrays(
        np.int8, st.tuples(st.integers(8, 40), st.integers(4, 8)), elements=st.integers(-1, 3)
    ),
)
def test_mahalanobis_equals_naive(x):
    xf = np.where(x < 0, np.nan, x.astype(float))
    c = naive.pairwise_cov(xf)
    if not np.isfinite(c).all() or np.linalg.cond(c) > 1e8:
        return
    want = naive.mahalanobis(xf)
    got = careless(x)["mahad"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)


def test_straight_liner_and_missing_runs():
    x = np.array([[2, 2, 2, 2, 2, 2], [0, 1, 2, 3, 0, 1], [1, -1, -1, 1, 1, 1]], dtype=np.int8)
    with pytest.warns(CarelessWarning, match=r"Items \['item3'\] have no variance"):
        got = careless(x, max_longstring=5)
    assert got["mahad"].null_count() == 3
    assert got["longstring"].to_list() == [6, 1, 3]
    # a missing answer is a run of its own: runs 1, NA, NA, 1-1-1 -> 4 runs of 6 items
    assert got["avgstr"].to_list() == [6.0, 1.0, 1.5]
    assert got["irv"][0] == 0.0
    assert got["longstring_flag"].to_list() == [True, False, False]
    assert got["evenodd"].null_count() == 3  # no factors given


def test_instrument_scales_are_the_evenodd_factors():
    rng = np.random.default_rng(2)
    cols = [f"dass21_{i}" for i in range(1, 22)]
    frame = pl.DataFrame({c: rng.integers(0, 4, 200) for c in cols})
    got = careless(frame, instrument="dass21")
    assert got["evenodd"].null_count() < 200  # three subscales: defined for most rows
    with pytest.raises(PsychometricInputError, match="factors= sizes"):
        careless(frame, instrument="dass21", factors=[20, 20])


def test_rates_per_group_equal_rates_by_hand():
    frame = BFI.with_columns(school_id=pl.Series(np.arange(BFI.height) % 7))
    rates = careless_rates(
        frame, items=BFI_ITEMS, by=["school_id"], max_longstring=5, straightline_share=0.5
    )
    rows = careless(frame, BFI_ITEMS, max_longstring=5)
    assert rates.height == 7
    for g in range(7):
        mine = rows.filter(pl.Series(np.arange(BFI.height) % 7 == g))
        r = rates.filter(pl.col("school_id") == g).row(0, named=True)
        assert r["rows"] == mine.height
        assert r["mahad_rate"] == pytest.approx(mine["mahad_flag"].cast(float).mean())
        assert r["longstring_rate"] == pytest.approx(mine["longstring_flag"].cast(float).mean())
        straight = ((mine["answered"] == 25) & (mine["longstring"] >= 13)).sum()
        assert r["straightline_rate"] == pytest.approx(straight / mine.height)
        assert r["irv_mean"] == pytest.approx(mine["irv"].mean())


def test_covariance_with_pairs_never_answered_together_is_explained():
    # planned missingness (as in psychTools::msq, whose items alone, kindly and scornful
    # were never given with anxious, cheerful, ...): R 4.x, psych 2.2.9
    #   x <- data.frame(a = c(1, 2, 3, 4, NA, NA, NA, NA, 2, 3),
    #                   b = c(2, 2, 3, 5, NA, NA, NA, NA, 1, 3),
    #                   c = c(NA, NA, NA, NA, 1, 3, 2, 4, NA, NA),
    #                   d = c(1, 3, 2, 4, 2, 4, 1, 3, 4, 1))
    #   cov(x, use = "pairwise")["a", "c"]   # NA
    #   psych::outlier(x, plot = FALSE)
    #   Error in solve.default(Sx): system is computationally singular: reciprocal
    #   condition number = 0
    x = pl.DataFrame(
        {"a": [1, 2, 3, 4, None, None, None, None, 2, 3],
         "b": [2, 2, 3, 5, None, None, None, None, 1, 3],
         "c": [None, None, None, None, 1, 3, 2, 4, None, None],
         "d": [1, 3, 2, 4, 2, 4, 1, 3, 4, 1]}
    )  # fmt: skip
    with pytest.warns(
        CarelessWarning,
        match=r"covariance of the items cannot be computed.*\('a', 'c'\), \('b', 'c'\) are "
        r"answered together in fewer than two rows",
    ):
        got = careless(x)
    assert got["mahad"].null_count() == got["mahad_flag"].null_count() == got.height
    assert got["irv"].null_count() == 0  # the other indices stay
    # an item answered once: c(NA, NA, NA, NA, NA, 3, NA, ...) has no variance in R either
    once = x.with_columns(c=pl.Series([None, None, None, None, None, 3, None, None, None, None]))
    with pytest.warns(CarelessWarning, match=r"Items \['c'\] have fewer than two answers"):
        assert careless(once)["mahad"].null_count() == once.height
    with pytest.warns(CarelessWarning, match="No item has two answers; give at least two rows"):
        careless(x.head(1))


def test_a_group_without_answers_has_null_rates_not_nan():
    # a school that did not give the instrument: no rate can be computed, and NaN in one
    # column (where the others are null) would turn a district mean of the rates into NaN
    rng = np.random.default_rng(1)
    items = [f"phq9_{i}" for i in range(1, 10)]
    answers = {c: [*rng.integers(0, 4, 30).tolist(), *[None] * 10] for c in items}
    frame = pl.DataFrame({**answers, "school_id": ["A"] * 30 + ["B"] * 10})
    rates = careless_rates(frame, "phq9", ["school_id"], max_longstring=5)
    empty = rates.filter(pl.col("school_id") == "B").row(0, named=True)
    assert empty["answered_rows"] == 0
    rate_columns = ["straightline_rate", "longstring_rate", "mahad_rate", "longstring_mean"]
    assert [empty[c] for c in rate_columns] == [None] * 4
    assert rates.select(pl.col(pl.Float64).is_nan().any()).row(0) == (False,) * 6


@pytest.mark.filterwarnings("ignore:Mahalanobis D2 is left empty:UserWarning")  # two rows
def test_evenodd_with_half_means_equal_but_for_rounding_is_missing():
    # fractional answers whose odd means are all 0.2 but for the last bit of a double sum:
    # (0.1 + 0.2 + 0.3) / 3 = 0.20000000000000004, (0.3 + 0.2 + 0.1) / 3 = 0.19999999999999998
    # R's mean() sums in long double and gives 0.2 for both, so cor() is NA ("the standard
    # deviation is zero"); a correlation of the rounding residue would be noise. R 4.x:
    #   x <- rbind(c(.1, .5, .2, .9, .3,  .3, .1, .2, .4, .1,  .2, .6, .2, .8, .2),
    #              c(rep(c(.5, .1), 7), .5))
    #   careless 1.2.2 evenodd(as.data.frame(x), c(5, 5, 5)) (transcribed): NA, 1
    x = np.array(
        [[0.1, 0.5, 0.2, 0.9, 0.3, 0.3, 0.1, 0.2, 0.4, 0.1, 0.2, 0.6, 0.2, 0.8, 0.2],
         [0.5, 0.1] * 7 + [0.5]]
    )  # fmt: skip
    got = careless(x, factors=[5, 5, 5], item_range=(0, 1))
    assert got["evenodd"].to_list() == [None, 1.0]
    keyed = [list(row) for row in x]
    factors = [list(range(f * 5, f * 5 + 5)) for f in range(3)]
    assert np.isnan(naive.careless_row(keyed[0], keyed[0], factors)[4])
