"""Re-test of b36a7ea..2c6783f against psych 2.2.9 (R 4.2.2): integer missing codes, the
Feldt interval's N, singular covariances in Mahalanobis D2 and the omega_h note.

R data use ``grid()`` as in test_r_reference_qa.py. Tests marked xfail(strict=True) pin
behaviour that differs from R or from the documented rule today.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
from test_r_reference_qa import frame, grid, jensen_weng_like

from screening.scoring import careless, cronbach_alpha, item_statistics, mcdonald_omega
from screening.scoring._frames import PsychometricInputError
from screening.scoring.careless import CarelessWarning

TOL = 1e-9


def empty_rows() -> np.ndarray:
    """w <- grid(120, 5, 4); w[(0:119) %% 9 == 0, ] <- NA; w[(0:119) %% 7 == 3, 2] <- NA"""
    w = grid(120, 5, 4).astype(np.float64)
    i = np.arange(120)
    w[i % 9 == 0] = np.nan
    w[i % 7 == 3, 1] = np.nan
    return w


@pytest.mark.parametrize(
    ("missing", "want"),
    [
        # a <- alpha(w): raw_alpha, ase, feldt lower.ci, upper.ci (N = 120 rows, 14 empty)
        ("pairwise", [0.882116764830336, 0.017053813504904, 0.845140552565979,
                      0.912450671560241]),
        # a <- alpha(w, use = "complete.obs")
        ("listwise", [0.886022241392244, 0.016477164405747, 0.850271052602503,
                      0.915351184510536]),
    ],
)  # fmt: skip
def test_feldt_and_ase_count_empty_rows_as_psych(missing, want):
    got = cronbach_alpha(frame(empty_rows()), missing=missing)
    assert got.select("alpha", "ase", "ci_low", "ci_high").row(0) == pytest.approx(want, abs=TOL)


def test_mahalanobis_of_a_near_singular_integer_covariance_equals_psych():
    # x <- grid(300, 6, 5); x$i6 <- x$i1 + x$i2; x$i6[1] <- x$i6[1] + 1
    # rcond(cov(x)) = 9.088e-05, solve() answers: outlier(x, plot = FALSE)[1:4]
    x = grid(300, 6, 5)
    x[:, 5] = x[:, 0] + x[:, 1]
    x[0, 5] += 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", CarelessWarning)
        got = careless(x)["mahad"].head(4).to_numpy()
    want = [298.003333333349474, 2.678077554719202, 6.702267502611346, 2.936052757140845]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_mahalanobis_with_a_mean_score_column_is_not_reported():
    # x <- grid(300, 5, 5, 1) / 2; x$i6 <- rowMeans(x); outlier(x, plot = FALSE)
    # Error: system is computationally singular: reciprocal condition number = 2.4861e-18
    x = grid(300, 5, 5, 1) / 2
    x = np.column_stack([x, x.mean(axis=1)])
    with pytest.warns(CarelessWarning, match="singular"):
        got = careless(x)
    assert got["mahad"].null_count() == got.height


def test_minus_one_is_an_answer_when_a_float_column_goes_below_minus_one():
    # y <- grid(200, 4, 3, -1); y$i3 <- y$i3 + 0.5; y$i3[1] <- -2.5
    # alpha(y)$total$raw_alpha
    x = grid(200, 4, 3, -1)
    data = pl.DataFrame(
        {"i1": x[:, 0], "i2": x[:, 1], "i3": x[:, 2] + 0.5, "i4": x[:, 3]}
    ).with_columns(pl.when(pl.int_range(pl.len()) == 0).then(-2.5).otherwise("i3").alias("i3"))
    assert cronbach_alpha(data)["alpha"][0] == pytest.approx(0.821761718913928, abs=TOL)


def minus_one_coded() -> np.ndarray:
    """z <- grid(200, 4, 5); z[z == 0] <- NA   (here coded -1)"""
    z = grid(200, 4, 5)
    return np.where(z == 0, -1, z)


def test_minus_one_is_missing_in_integer_columns_with_a_range_from_zero():
    # alpha(z)$total$raw_alpha
    got = cronbach_alpha(pd.DataFrame(minus_one_coded()), item_range=(0, 4))
    assert got["alpha"][0] == pytest.approx(0.818563581875049, abs=TOL)


def test_minus_one_is_missing_in_a_pandas_float_column_of_whole_answers():
    data = pd.DataFrame(minus_one_coded(), columns=["i1", "i2", "i3", "i4"]).astype(float)
    data.iloc[5, 0] = np.nan  # one empty cell: how pandas reads such a CSV column
    whole = cronbach_alpha(pd.DataFrame(minus_one_coded()).astype(float), item_range=(0, 4))
    got = cronbach_alpha(data, item_range=(0, 4))
    assert got["n"][0] == whole["n"][0]


def test_a_stray_answer_below_minus_one_is_the_one_reported():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (200, 9))
    x[rng.random(x.shape) < 0.05] = -1
    x[5, 4] = -2
    data = pl.DataFrame(x, schema=[f"phq9_{j}" for j in range(1, 10)])
    with pytest.raises(PsychometricInputError, match="Got -2"):
        cronbach_alpha(data, instrument="phq9")


def test_floor_and_ceiling_of_answers_above_127():
    x = np.tile(np.arange(129), 2).reshape(-1, 2)  # every answer of 0..128 twice per item
    got = item_statistics(x, item_range=(0, 128))
    assert got["floor"].to_list() == pytest.approx([1 / 129, 1 / 129])


def test_population_hierarchical_matrix_is_not_flagged():
    # r <- sim.hierarchical(gload = c(.3, .2, .2)); o <- omega(r, 3)
    # c(o$omega_h, o$omega.tot) = 0.1003073671, 0.6599872697; o$schmid$phi: .06, .06, .04
    r = jensen_weng_like([0.3, 0.2, 0.2], [0.8, 0.7, 0.6, 0.7, 0.6, 0.5, 0.6, 0.5, 0.4], 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = mcdonald_omega(r, nfactors=3)
    assert got["omega_h"][0] == pytest.approx(0.1003073671, abs=1e-4)
    assert got["note"][0] is None
