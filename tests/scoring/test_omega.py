"""McDonald's omega and its parts against R psych 2.2.9 and GPArotation 2022.10-2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from screening.scoring._frames import PsychometricInputError, item_matrix
from screening.scoring.omega import (
    OmegaIdentificationWarning,
    degrees_of_freedom,
    mcdonald_omega,
    minres,
    oblimin,
    omega_from_correlation,
    pairwise_correlation,
    varimax,
)
from screening.scoring.reliability import _matrix_moments

DATA = Path(__file__).parent / "data"
PHQ = pl.read_csv(DATA / "phq_like.csv")
PHQ_ITEMS = [f"phq9_{i}" for i in range(1, 10)]
BFI = pl.read_csv(DATA / "bfi.csv")
BFI_ITEMS = BFI.columns[:25]
REV = pl.read_csv(DATA / "reverse.csv")
TOL = 1e-3  # the tolerance; the values below agree to about 1e-5


def jensen_weng() -> np.ndarray:
    """psych::sim.hierarchical(): the Jensen & Weng (1994) population correlations."""
    g = np.array([0.9, 0.8, 0.7])
    f = np.array([[0.8, 0.7, 0.6], [0.7, 0.6, 0.5], [0.6, 0.5, 0.4]])
    loadings = np.zeros((9, 3))
    for k in range(3):
        loadings[3 * k : 3 * k + 3, k] = f[k]
    phi = np.outer(g, g)
    np.fill_diagonal(phi, 1.0)
    r = loadings @ phi @ loadings.T
    np.fill_diagonal(r, 1.0)
    return r


def test_jensen_weng_population_structure_equals_psych():
    r = jensen_weng()
    # round(sim.hierarchical(), 4)[1, 1:5]
    np.testing.assert_allclose(r[0, :5], [1, 0.56, 0.48, 0.4032, 0.3456], atol=1e-12)
    got = omega_from_correlation(r, 3)
    # o <- omega(sim.hierarchical(), plot = FALSE): omega_h, omega.tot, alpha, omega.lim, ECV
    assert got["omega_h"] == pytest.approx(0.685736338730978, abs=TOL)
    assert got["omega_t"] == pytest.approx(0.798400154382582, abs=TOL)
    assert got["alpha_std"] == pytest.approx(0.763085229588007, abs=1e-12)
    assert got["omega_lim"] == pytest.approx(0.858888033734501, abs=TOL)
    assert got["ecv"] == pytest.approx(0.681009735711083, abs=TOL)
    one = omega_from_correlation(r, 1)
    # omega(sim.hierarchical(), nfactors = 1)$omega.tot, $omega_h
    assert one["omega_t"] == pytest.approx(0.768927786780646, abs=TOL)
    assert one["omega_h"] == pytest.approx(0.765467635740898, abs=TOL)
    # the same through the front, with a correlation matrix as input
    frame = mcdonald_omega(r)
    assert frame["omega_h"][0] == pytest.approx(0.685736338730978, abs=TOL)
    assert frame["omega_total"][0] == pytest.approx(0.768927786780646, abs=TOL)
    assert frame["n"][0] is None


RAW_CASES = [
    # omega(x, plot = FALSE) and omega(x, nfactors = 1)$omega.tot, x <- phq_like.csv[, 3:11]
    (PHQ, PHQ_ITEMS, 3,
     {"omega_h": 0.471973617901943, "omega_t": 0.699972007195967, "ecv": 0.420561284390707,
      "omega_total": 0.640602738679509}),
    # omega(b, nfactors = 5), b <- bfi.csv[, 1:25] (missing values, pairwise)
    (BFI, BFI_ITEMS, 5,
     {"omega_h": 0.461709603442416, "omega_t": 0.874809510971861, "ecv": 0.242870782306042}),
    # omega(b[, 1:10], nfactors = 2) (two factors: equal general loadings)
    (BFI, BFI_ITEMS[:10], 2, {"omega_h": 0.380790680570611, "omega_t": 0.783544282449088}),
    # omega(b[, 1:15], nfactors = 3)
    (BFI, BFI_ITEMS[:15], 3, {"omega_h": 0.542833474700898, "omega_t": 0.848139768931427}),
    # omega(b[, 6:10], nfactors = 1)$omega.tot (C4, C5 flipped by their loadings)
    (BFI, BFI_ITEMS[5:10], 1, {"omega_total": 0.731189719945136}),
    # omega(y, nfactors = 1): omega.tot, omega_h; y <- reverse.csv (r2, r5 flipped)
    (REV, None, 1, {"omega_total": 0.776392598886539, "omega_h": 0.777139708303288}),
]  # fmt: skip


@pytest.mark.filterwarnings("ignore::screening.scoring.omega.OmegaIdentificationWarning")
@pytest.mark.parametrize(("data", "items", "nfactors", "want"), RAW_CASES)
def test_omega_equals_psych(data, items, nfactors, want):
    got = mcdonald_omega(data, items, nfactors=nfactors)
    for column, value in want.items():
        assert got[column][0] == pytest.approx(value, abs=TOL), column
        assert got[column][0] == pytest.approx(value, abs=2e-5), column  # tighter in fact


def test_known_keys_equal_flipping():
    keyed = mcdonald_omega(REV, reverse=["r2", "r5"], nfactors=1)
    assert keyed["omega_total"][0] == pytest.approx(0.776392598886539, abs=TOL)


def test_varimax_and_oblimin_equal_r():
    # L <- unclass(fa(sim.hierarchical(), 3, rotate = "none")$loadings)
    unrotated = np.array([
        0.75317916755307468, 0.65903120447596242, 0.56488343238404182, 0.61547217672407617,
        0.52754553291935691, 0.43962145853130763, 0.46091928289247519, 0.38410076286129569,
        0.30727978261568317, 0.00623409723861851, 0.00545480379332867, 0.00467552088551511,
        -0.25229305759234644, -0.21624559863124970, -0.18020516035105019, 0.34249045919644489,
        0.28541545444817457, 0.22832826398886186, -0.26960098361674023, -0.23589929607287038,
        -0.20219813542812878, 0.21805559271345210, 0.18689920399446003, 0.15574983114638632,
        0.17392340337666945, 0.14494012598011247, 0.11594969370869494,
    ]).reshape(3, 9).T  # fmt: skip
    # stats::varimax(L)$loadings
    want_varimax = np.array([
        0.6972551783247840, 0.6100967282638081, 0.5229388011175753, 0.2417478293142564,
        0.2072152392941430, 0.1726791171328303, 0.1669133058623632, 0.1390922486815439,
        0.1112751208902818, 0.2551575584648152, 0.2232631971886911, 0.1913687235883315,
        0.1830267673144869, 0.1568812456984503, 0.1307342688499624, 0.5571985146196718,
        0.4643396041325545, 0.3714671151808911, 0.2978795888089431, 0.2606451384315810,
        0.2234105202671192, 0.6309240986145926, 0.5407845042497910, 0.4506544241155985,
        0.1471917587929356, 0.1226584533505642, 0.0981275813504489,
    ]).reshape(3, 9).T  # fmt: skip
    rotated = varimax(unrotated)
    np.testing.assert_allclose(rotated, want_varimax, atol=1e-10)
    # o <- GPArotation::oblimin(unclass(stats::varimax(L)$loadings)); o$Phi
    loadings, phi = oblimin(want_varimax)
    np.testing.assert_allclose(
        phi,
        [[1, 0.629977748236040, 0.719996801964349],
         [0.629977748236040, 1, 0.559973567464679],
         [0.719996801964349, 0.559973567464679, 1]],
        atol=1e-8,
    )  # fmt: skip
    # o$loadings: the population pattern .8 .7 .6 / .6 .5 .4 / .7 .6 .5 in the columns
    np.testing.assert_allclose(loadings[:3, 0], [0.800001974919564, 0.699999117916969,
                                                 0.599997139913605], atol=1e-8)  # fmt: skip
    np.testing.assert_allclose(np.abs(loadings[3:6, 0]), 0, atol=1e-4)


def test_minres_equals_psych_fa():
    # unclass(fa(x, 1)$loadings), x <- phq_like.csv[, 3:11] (pairwise correlations)
    want = [0.372903943274781, 0.471090892788311, 0.316647492864895, 0.414043456381266,
            0.524459167034979, 0.583245726163416, 0.410170548924741, 0.266259185085132,
            0.280876876878292]  # fmt: skip
    r = pairwise_correlation(_matrix_moments(item_matrix(PHQ, PHQ_ITEMS), False))[0]
    loadings, psi = minres(r, 1)
    np.testing.assert_allclose(loadings[:, 0], want, atol=1e-5)
    np.testing.assert_allclose(psi, 1 - loadings[:, 0] ** 2, atol=1e-8)
    # fa(jw, 3, rotate = "none")$uniquenesses
    _, psi3 = minres(jensen_weng(), 3)
    np.testing.assert_allclose(psi3, [0.36, 0.51, 0.64, 0.51, 0.64, 0.75, 0.64, 0.75, 0.84],
                               atol=1e-4)  # fmt: skip


def test_pairwise_correlation_equals_r():
    # r <- cor(x, use = "pairwise"); r[1:3, 1:3]
    r = pairwise_correlation(_matrix_moments(item_matrix(PHQ, PHQ_ITEMS), False))[0]
    np.testing.assert_allclose(r[0, 1:3], [0.2159594743302305, 0.0867185523502476], atol=1e-14)
    assert r[1, 2] == pytest.approx(0.1613595280344054, abs=1e-14)
    assert np.allclose(r, r.T)


def test_omega_per_scale_of_an_instrument():
    rng = np.random.default_rng(4)
    f = rng.normal(size=(600, 3))
    cols = {}
    for i in range(21):
        z = 0.7 * f[:, i % 3] + 0.4 * f[:, (i + 1) % 3] + rng.normal(size=600)
        cols[f"dass21_{i + 1}"] = np.clip(np.round(z + 1), 0, 3).astype(np.int64)
    got = mcdonald_omega(pl.DataFrame(cols), instrument="dass21")
    assert got.height >= 3
    assert got["omega_total"].is_between(0, 1).all()
    # 7-item subscales get the Schmid–Leiman solution with 3 factors
    assert (got["nfactors"] == 3).all()


def test_bad_requests_are_explained():
    with pytest.raises(PsychometricInputError, match="nfactors must be between 1 and 8"):
        omega_from_correlation(jensen_weng(), 9)
    few = mcdonald_omega(PHQ, PHQ_ITEMS[:3], nfactors=3)  # too few items: one factor only
    assert few["nfactors"][0] == 1
    r = jensen_weng()
    r[0, 1] = r[1, 0] = np.nan
    with pytest.raises(PsychometricInputError, match="without missing entries"):
        omega_from_correlation(r, 3)


def test_an_under_identified_model_is_warned_about_and_noted():
    # R: omega(x, nfactors = 2) with 4 items has dof = -1 (psych's fa: o$schmid$dof, and
    # "Three factors are required for identification" printed for two factors)
    x = PHQ.select(PHQ_ITEMS[:4])
    with pytest.warns(
        OmegaIdentificationWarning,
        match=r"A 2-factor model of 4 items is not identified \(-1 degrees",
    ):
        got = mcdonald_omega(x, nfactors=2)
    assert "not identified" in got["note"][0]
    # WHO-5 with the default three factors: 5 items, dof -2; two factors would do
    rng = np.random.default_rng(2)
    who5 = pl.DataFrame({f"who5_{i}": rng.integers(0, 6, 200) for i in range(1, 6)})
    with pytest.warns(OmegaIdentificationWarning) as caught:
        mcdonald_omega(who5, instrument="who5")
    assert [str(w.message).split(":")[0] for w in caught] == [
        "Scale 'raw'",
        "Scale 'percentage'",
    ]
    assert "A 3-factor model of 5 items is not identified (-2 degrees" in str(caught[0].message)
    assert "Use nfactors=2 or fewer" in str(caught[0].message)
    with pytest.warns(OmegaIdentificationWarning, match="Three factors are required"):
        mcdonald_omega(BFI, BFI_ITEMS[:10], nfactors=2)
    with pytest.warns(OmegaIdentificationWarning, match="5 items is not identified"):
        omega_from_correlation(jensen_weng()[:5, :5], 3)


@pytest.mark.filterwarnings("error")
def test_an_identified_model_has_no_note():
    assert degrees_of_freedom(9, 3) == 12 and degrees_of_freedom(4, 2) == -1
    got = mcdonald_omega(PHQ, PHQ_ITEMS, nfactors=3)
    assert got["note"][0] is None
    assert mcdonald_omega(PHQ, PHQ_ITEMS[:4], nfactors=1)["note"][0] is None


def test_items_without_correlations_are_named():
    x = PHQ.select(PHQ_ITEMS[:4]).with_columns(const=pl.lit(2), empty=pl.lit(None, pl.Int64))
    with pytest.raises(
        PsychometricInputError,
        match=r"every pair of items: item 'const' has no variance \(every answer is 2\); "
        r"item 'empty' has no answers\. Leave such items out",
    ):
        mcdonald_omega(x, nfactors=1)
    x = PHQ.select(PHQ_ITEMS[:3]).cast(pl.Float64).with_columns(const=pl.lit(0.7))
    with pytest.raises(
        PsychometricInputError, match=r"item 'const' has no variance \(every answer is 0\.7\)"
    ):
        mcdonald_omega(x, nfactors=1)
    # planned missingness: two pairs of items never answered together
    apart = pl.DataFrame(
        {"a": [0, 1, 2, 3, None, None, None, None], "b": [1, 1, 2, 3, None, None, None, None],
         "c": [None, None, None, None, 0, 2, 2, 3], "d": [None, None, None, None, 1, 2, 3, 3]}
    )  # fmt: skip
    with pytest.raises(
        PsychometricInputError, match="items 'a' and 'c' are answered together in 0 rows"
    ):
        mcdonald_omega(apart, nfactors=1)


def _from_lower(values: list[float], p: int) -> np.ndarray:
    """The correlation matrix of R's ``x[lower.tri(x)]`` (column by column)."""
    upper = np.zeros((p, p))
    upper[np.triu_indices(p, 1)] = values  # the upper triangle row by row is the same order
    return np.eye(p) + upper + upper.T


HARMAN8 = _from_lower(
    [0.846, 0.805, 0.859, 0.473, 0.398, 0.301, 0.382, 0.881, 0.826, 0.376, 0.326, 0.277,
     0.415, 0.801, 0.38, 0.319, 0.237, 0.345, 0.436, 0.329, 0.327, 0.365, 0.762, 0.73,
     0.629, 0.583, 0.577, 0.539], 8,
)  # fmt: skip  # h <- as.matrix(psych::Harman.8); h[lower.tri(h)]
DWYER = _from_lower(
    [0.58, -0.28, 0.01, 0.36, 0.38, 0.61, 0.15, -0.28, 0.1, 0.52, 0.44, 0.78, 0.1, 0.56,
     0.14, -0.56, -0.42, -0.7, 0.4, -0.34, -0.03, -0.65, 0.08, 0.46, -0.3, 0.54, 0.5, 0.25], 8,
)  # fmt: skip  # d <- as.matrix(psych::Dwyer); d[lower.tri(d)]


HEYWOOD_CASES = [
    # r <- matrix(c(1, .8, .8, .3, .8, 1, .5, .2, .8, .5, 1, .25, .3, .2, .25, 1), 4)
    # omega(r, nfactors = 1)$omega.tot: 0.818933680970809, with "An ultra-Heywood
    # case was detected" (the first loading is 1.02); the fit here gives 0.81906
    (np.array([[1, 0.8, 0.8, 0.3], [0.8, 1, 0.5, 0.2], [0.8, 0.5, 1, 0.25],
               [0.3, 0.2, 0.25, 1]]), 1, "omega_total", 0.818933680970809,
     r"communality of item 1 exceeds 1"),
    # omega(as.matrix(Harman.8), 4)$omega_h: 0.595783159218623, "An
    # ultra-Heywood case" (the uniqueness of item 2, arm span, is -0.00055); the fit
    # here gives 0.59614
    (HARMAN8, 4, "omega_h", 0.595783159218623, r"communality of item 2 exceeds 1"),
    # omega(as.matrix(Dwyer), 3)$omega_h: 0.502536730509901, "An ultra-Heywood case"
    # in the factor analysis of the factor correlations (general loading of F3 1.055)
    # and "convergence not obtained in GPFoblq"; the fit here gives 0.50546
    (DWYER, 3, "omega_h", 0.502536730509901,
     r"general loading of group factor 3 exceeds 1"),
]  # fmt: skip


@pytest.mark.parametrize(("r", "nfactors", "column", "want", "where"), HEYWOOD_CASES)
def test_a_heywood_case_is_warned_about_and_noted(r, nfactors, column, want, where):
    """At an ultra-Heywood case (a communality above 1) the fit is improper: psych's fa
    stops elsewhere on the bound than this fit does, so omega agrees only to about 5e-3."""
    with pytest.warns(OmegaIdentificationWarning, match=r"ultra-Heywood case: .*" + where):
        got = mcdonald_omega(r, nfactors=nfactors)
    assert got[column][0] == pytest.approx(want, abs=5e-3)
    assert "Heywood case" in got["note"][0]
