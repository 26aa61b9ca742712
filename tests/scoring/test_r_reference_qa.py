"""Reference checks on data the other scoring tests never saw (psych 2.2.9, R 4.2.2 from
Debian bookworm's r-cran-psych; careless 1.2.2 is not packaged there, so its definitions
were transcribed as in test_careless.py).

The data are generated here by integer arithmetic that R reproduces exactly:

    grid <- function(n, k, levels, offset = 0) {
      i <- matrix(0:(n - 1), n, k); j <- matrix(0:(k - 1), n, k, byrow = TRUE)
      a <- (i * 37) %% 101; b <- (i * 17 + j * 29 + i * j * 7) %% 53
      x <- ((3 * a + 4 * b) * levels) %/% 509 + offset
      colnames(x) <- paste0("i", 1:k); as.data.frame(x)
    }

Tests marked xfail(strict=True) pin behaviour that differs from R today; they start to pass
(and so fail as XPASS) once it is fixed.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from screening.scoring import careless, cronbach_alpha, item_statistics, mcdonald_omega
from screening.scoring.careless import CarelessWarning

TOL = 1e-9


def grid(n: int, k: int, levels: int, offset: int = 0) -> np.ndarray:
    i = np.arange(n)[:, None]
    j = np.arange(k)[None, :]
    a = (i * 37) % 101
    b = (i * 17 + j * 29 + i * j * 7) % 53
    return ((3 * a + 4 * b) * levels) // 509 + offset


def frame(x: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {f"i{j + 1}": x[:, j] for j in range(x.shape[1])}, nan_to_null=True, strict=False
    )


def x2(fraction: bool = False) -> np.ndarray:
    """grid(300, 8, 5, 1), missing where (i*13 + j*7) %% 17 == 0, i3 reversed in the raw data."""
    x = grid(300, 8, 5, 1).astype(np.float64)
    i = np.arange(300)[:, None]
    j = np.arange(8)[None, :]
    x[(i * 13 + j * 7) % 17 == 0] = np.nan
    x[:, 2] = 6 - x[:, 2]
    if fraction:
        x = x + ((i * j) % 7) / 8
    return x


# x1 <- grid(200, 6, 3, -1); a <- alpha(x1)   (answers -1, 0, 1)
# a$total: raw_alpha, std.alpha, G6(smc), average_r; a$feldt$lower.ci, upper.ci
MINUS_ONE = [0.87265362035225, 0.87260048206693, 0.852192973437105, 0.533049338359329,
             0.843228073999026, 0.898167593349843]  # fmt: skip
# a$item.stats$mean
MINUS_ONE_MEANS = [0.015, 0.000, 0.015, 0.005, 0.005, -0.040]
MINUS_ONE_COLS = ["alpha", "std_alpha", "g6", "average_r", "ci_low", "ci_high"]


def test_answers_of_minus_one_as_floats_equal_psych():
    x = grid(200, 6, 3, -1).astype(np.float64)
    got = cronbach_alpha(x)
    for column, want in zip(MINUS_ONE_COLS, MINUS_ONE, strict=True):
        assert got[column][0] == pytest.approx(want, abs=TOL), column
    means = item_statistics(x)["mean"].to_numpy()
    np.testing.assert_allclose(means, MINUS_ONE_MEANS, atol=TOL)


@pytest.mark.parametrize("as_polars", [False, True])
def test_integer_answers_of_minus_one_are_answers(as_polars):
    x = grid(200, 6, 3, -1)
    data = frame(x) if as_polars else x
    got = cronbach_alpha(data, item_range=(-1, 1))
    assert got["n"][0] == 200
    assert got["alpha"][0] == pytest.approx(MINUS_ONE[0], abs=TOL)


# a <- alpha(x2, keys = c("i3")) with x2 as in x2() (pairwise, the default)
# unlist(a$total): raw_alpha, std.alpha, G6(smc), average_r, S/N, ase, mean, sd, median_r
KEYED = [0.92640175703108396, 0.92643289442344401, 0.91860374251278398, 0.61151907563052355,
         12.59303172474785271, 0.00642745635688565, 2.99803571428571436, 0.87988144814567826,
         0.61629413557747903]  # fmt: skip
KEYED_FELDT = [0.913108736787539, 0.938354484079415]  # a$feldt$lower.ci, $upper.ci
# a$item.stats$r.drop, a$item.stats$r.cor, a$alpha.drop$raw_alpha
KEYED_R_DROP = [0.752502422493197, 0.749533787275863, 0.745165993128650, 0.751022038106750,
                0.755339770563043, 0.729987705937837, 0.750903865508446, 0.755791507721803]  # fmt: skip
KEYED_R_COR = [0.781720509546510, 0.780124368996701, 0.774366887360665, 0.780280882447647,
               0.784812106656634, 0.759226982737996, 0.781589828741098, 0.787362985517278]  # fmt: skip
KEYED_DROP = [0.916494334684032, 0.916696694529168, 0.917034134750197, 0.916581864896026,
              0.916252026658307, 0.918189815808708, 0.916590725153418, 0.916241684943192]  # fmt: skip
TOTAL = ["alpha", "std_alpha", "g6", "average_r", "signal_noise", "ase", "mean", "sd", "median_r"]


def test_keyed_items_with_missing_values_equal_psych():
    data = frame(x2())
    got = cronbach_alpha(data, reverse=["i3"], item_range=(1, 5))
    for column, want in zip(TOTAL, KEYED, strict=True):
        assert got[column][0] == pytest.approx(want, abs=TOL), column
    assert [got["ci_low"][0], got["ci_high"][0]] == pytest.approx(KEYED_FELDT, abs=TOL)
    items = item_statistics(data, reverse=["i3"], item_range=(1, 5))
    np.testing.assert_allclose(items["r_drop"].to_numpy(), KEYED_R_DROP, atol=TOL)
    np.testing.assert_allclose(items["r_cor"].to_numpy(), KEYED_R_COR, atol=TOL)
    np.testing.assert_allclose(items["alpha_drop"].to_numpy(), KEYED_DROP, atol=TOL)


# x2f <- x2 + ((i * j) %% 7) / 8; a <- alpha(x2f)   (float answers, i3 not reversed)
FLOAT = [0.7772524152397430, 0.7781845187555374, 0.8581383877484211, 0.3048466202774320,
         3.5082516080016144, 0.0138324590205519, 3.2827157738095236, 0.6935494328349900,
         0.5917183510539021]  # fmt: skip
FLOAT_FELDT = [0.737020637496498, 0.813427750056348]
# a$item.stats$raw.r, a$alpha.drop$raw_alpha
FLOAT_RAW_R = [0.798180314887789, 0.801505634756584, -0.606453757486846, 0.804115012461760,
               0.810599515493305, 0.797585248350410, 0.801512102554537, 0.798029335461863]  # fmt: skip
FLOAT_DROP = [0.716164500513844, 0.711277679722348, 0.913055158732714, 0.712150111812123,
              0.710372734931536, 0.712978783163994, 0.712211997922149, 0.711962794125676]  # fmt: skip


def test_float_answers_with_a_negative_item_equal_psych():
    data = frame(x2(fraction=True))
    got = cronbach_alpha(data)
    for column, want in zip(TOTAL, FLOAT, strict=True):
        assert got[column][0] == pytest.approx(want, abs=TOL), column
    assert [got["ci_low"][0], got["ci_high"][0]] == pytest.approx(FLOAT_FELDT, abs=TOL)
    items = item_statistics(data)
    np.testing.assert_allclose(items["raw_r"].to_numpy(), FLOAT_RAW_R, atol=TOL)
    np.testing.assert_allclose(items["alpha_drop"].to_numpy(), FLOAT_DROP, atol=TOL)
    assert items.filter(pl.col("item") == "i3")["flag"][0] == "check reverse key"


def test_duhachek_interval_is_psychs_ase_times_the_normal_quantile():
    # x4 <- grid(12, 5, 4); a <- alpha(x4); c(a$total$raw_alpha, a$total$ase)
    # (print.psych shows raw_alpha -/+ 1.96 * ase: 0.7399115659802749, 0.9806543764148743)
    want = [0.8602829711975746, 0.0614139822537243]
    got = cronbach_alpha(grid(12, 5, 4), ci_method="duhachek")
    assert [got["alpha"][0], got["ase"][0]] == pytest.approx(want, abs=TOL)
    z = 1.959963984540054  # qnorm(0.975)
    bounds = [want[0] - z * want[1], want[0] + z * want[1]]
    assert [got["ci_low"][0], got["ci_high"][0]] == pytest.approx(bounds, abs=TOL)


def test_careless_indices_on_keyed_data_with_missing_values():
    # k2 <- x2; k2$i3 <- 6 - k2$i3   (the key applied, for even-odd only)
    # longstring(x2, avg = TRUE)[1:8, ], irv(x2)[1:8], evenodd(k2, c(3, 5))[1:8] (careless
    # 1.2.2 definitions), psych::outlier(x2, plot = FALSE)[1:8]
    got = careless(frame(x2()), factors=[3, 5], reverse=["i3"], item_range=(1, 5))
    assert got["longstring"].head(8).to_list() == [1, 2, 2, 5, 6, 2, 2, 1]
    np.testing.assert_allclose(
        got["avgstr"].head(8).to_numpy(),
        [1.0, 4 / 3, 4 / 3, 4.0, 8 / 3, 4 / 3, 8 / 7, 1.0],
        atol=TOL,
    )
    np.testing.assert_allclose(
        got["irv"].head(8).to_numpy(),
        [1.345185418269099, 0.487950036474267, 0.755928946018454, 0.517549169506766,
         0.534522483824849, 0.834522960396280, 0.755928946018454, 0.690065559342354],
        atol=TOL,
    )  # fmt: skip
    assert got["evenodd"].head(8).to_list() == [1.0, None, 1.0, -1.0, None, -1.0, None, 1.0]
    np.testing.assert_allclose(
        got["mahad"].head(8).to_numpy(),
        [10.03054128035381, 4.72560674101836, 9.16211466005834, 4.64246754611272,
         4.52173049822333, 10.89355032797208, 4.61864314619681, 6.61078993506876],
        atol=1e-8,
    )  # fmt: skip
    assert got["mahad_flag"].sum() == 0  # sum(outlier(x2) > qchisq(0.99, 8))


def test_mahalanobis_of_a_singular_covariance_is_not_reported():
    # x <- grid(50, 6, 3); x$i6 <- x$i1 + x$i2; outlier(x, plot = FALSE)
    # Error in solve.default(Sx): system is computationally singular: reciprocal condition
    # number = 4.85064e-18
    x = grid(50, 6, 3)
    x[:, 5] = x[:, 0] + x[:, 1]
    with pytest.warns(CarelessWarning, match=r"singular.*\['item1', 'item2', 'item6'\]"):
        got = careless(x)
    assert got["mahad"].null_count() == got["mahad_flag"].null_count() == got.height
    assert got["irv"].null_count() == 0  # the other indices stay


@pytest.mark.filterwarnings("ignore:Mahalanobis D2 is left empty:UserWarning")  # one row
def test_evenodd_with_equal_half_means_is_missing():
    # row 47 of psychTools::spi[, 11:40]; factors c(10, 10, 9, 1): the odd means are
    # 14/5, 14/5, 14/5 and cor(even, odd) is NA ("the standard deviation is zero")
    row = [4, 2, 2, 3, 2, 5, 2, 4, 4, 5, 2, 4, 4, 2, 4, 1, 2, 2, 2, 6,
           3, 3, 2, 2, 4, 2, 1, 4, 4, 5]  # fmt: skip
    got = careless(np.array([row]), factors=[10, 10, 9, 1], item_range=(1, 6))
    assert got["evenodd"][0] is None


def jensen_weng_like(gload: list[float], fload: list[float], nf: int) -> np.ndarray:
    """psych::sim.hierarchical(gload, fload) with fload as a block matrix (population R)."""
    p = len(fload)
    f = np.zeros((p, nf))
    for j, v in enumerate(fload):
        f[j, j // (p // nf)] = v
    g = np.asarray(gload)
    phi = np.outer(g, g)
    np.fill_diagonal(phi, 1.0)
    r = f @ phi @ f.T
    np.fill_diagonal(r, 1.0)
    return r


@pytest.mark.parametrize(
    ("gload", "fload", "nf", "want"),
    [
        # fl(v, nf): v on a block diagonal; r <- sim.hierarchical(gload, fl(fload, nf))
        # omega(r, 1)$omega.tot; omega(r, 2): omega_h, omega.tot; omega(r, 3): the same
        ([0.8, 0.6, 0.4], [0.7, 0.5, 0.6, 0.4, 0.6, 0.5, 0.3, 0.6, 0.5], 3,
         [0.603304361434124, 0.308827246773286, 0.634475209820354, 0.440481991012861,
          0.66322045594607]),
        ([0.7, 0.6, 0.5, 0.6], [0.5, 0.6, 0.4] * 4, 4,
         [0.61784473856267, 0.363457002272039, 0.638611737790572, 0.311461705062494,
          0.657973116971541]),
    ],
)  # fmt: skip
def test_omega_on_other_hierarchical_structures_equals_psych(gload, fload, nf, want):
    r = jensen_weng_like(gload, fload, nf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = mcdonald_omega(r, nfactors=1)
        two = mcdonald_omega(r, nfactors=2)
        three = mcdonald_omega(r, nfactors=3)
    got = [one["omega_total"][0], two["omega_h"][0], two["omega_t"][0]]
    got += [three["omega_h"][0], three["omega_t"][0]]
    assert got == pytest.approx(want, abs=1e-4)


def test_omega_h_with_an_undetermined_general_factor_is_noted():
    """Factor correlations of about 0, 0 and -0.24 leave the three-factor general factor
    undetermined: any general loadings with g2 * g3 = -0.24 fit. psych's fa lands on one
    of them (omega_h 0.2687), the fit here on another (0.3302): both are arbitrary, so the
    result says so and warns; omega_t is determined and agrees."""
    # r <- round(cor(psychTools::spi[1:2000, 11:28], use = "pairwise"), 6)  (data/spi18_cor.csv)
    # o <- omega(r, 3): c(o$omega_h, o$omega.tot) = 0.268663089392046, 0.750246583682490
    from pathlib import Path

    r = pl.read_csv(Path(__file__).parent / "data" / "spi18_cor.csv").to_numpy()
    with pytest.warns(UserWarning, match="general factor is not determined"):
        got = mcdonald_omega(r, nfactors=3)
    assert got["omega_t"][0] == pytest.approx(0.750246583682490, abs=1e-3)
    assert "not determined" in got["note"][0]
