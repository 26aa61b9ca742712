"""The synthetic city: reproducible, well-formed, psychometrically plausible."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from screening.demo import ItemSpec, generate_city, write_city
from screening.io import read_responses

PHQ9 = [f"phq9_{i}" for i in range(1, 10)]
GAD7 = [f"gad7_{i}" for i in range(1, 8)]
PASSTHROUGH = ["student_id", "school_id", "class_id", "grade", "sex"]


@pytest.fixture(scope="module")
def city() -> pl.DataFrame:
    return generate_city(20_000, seed=3)


def cronbach_alpha(items: np.ndarray) -> float:
    """alpha = k/(k-1) * (1 - sum of item variances / variance of the total), complete rows."""
    items = items[~np.isnan(items).any(axis=1)]
    k = items.shape[1]
    return k / (k - 1) * (1 - items.var(axis=0, ddof=1).sum() / items.sum(axis=1).var(ddof=1))


def test_alpha_matches_a_hand_computed_value():
    # item variances 2, 2/3, 1/4; totals 3, 6, 7, 9 with variance 6.25:
    # alpha = 1.5 * (1 - 2.91667 / 6.25) = 0.8. Same value from
    # pingouin.cronbach_alpha(pd.DataFrame(items)) -> 0.8000000000000002 and from R
    # psych::alpha(data.frame(a=c(0,2,3,3), b=c(1,2,2,3), c=c(2,2,2,3)))$total$raw_alpha -> 0.8
    items = np.array([[0, 1, 2], [2, 2, 2], [3, 2, 2], [3, 3, 3]], dtype=float)
    assert cronbach_alpha(items) == pytest.approx(0.8, abs=1e-12)


def test_columns_and_types(city):
    assert city.columns == PASSTHROUGH + PHQ9 + GAD7
    assert city.height == 20_000
    assert all(city.schema[c] == pl.String for c in PASSTHROUGH)
    assert all(city.schema[c] == pl.Int8 for c in PHQ9 + GAD7)


def test_same_seed_same_city_other_seed_other_city(city):
    assert generate_city(20_000, seed=3).equals(city)
    assert not generate_city(20_000, seed=4).equals(city)


def test_layout(city):
    assert city["student_id"].is_unique().all()
    assert city["student_id"].str.contains(r"^ST\d{8}$").all()
    assert city["school_id"].n_unique() == 20  # one school per 1,000 students
    assert city["school_id"].str.contains(r"^S\d{4}$").all()
    assert (city["class_id"].str.slice(0, 5) == city["school_id"]).all()
    assert (city["class_id"].str.slice(6, 2).cast(pl.Int8) == city["grade"].cast(pl.Int8)).all()
    assert city.group_by("class_id").len()["len"].max() <= 45
    assert set(city["grade"].cast(pl.Int8).unique()) == set(range(4, 13))
    assert set(city["sex"].unique()) == {"F", "M"}
    assert 0.45 < (city["sex"] == "F").mean() < 0.51
    assert generate_city(500, n_schools=7)["school_id"].n_unique() == 7


def test_answers_in_range_with_some_missing(city):
    answers = city.select(PHQ9 + GAD7)
    assert answers.min_horizontal().min() == 0
    assert answers.max_horizontal().max() == 3
    missing = answers.null_count().sum_horizontal().item() / (answers.height * answers.width)
    assert 0.01 < missing < 0.03  # 1 % blank cells plus 1 % of students breaking off


def test_phq9_and_gad7_reliability_is_realistic(city):
    alpha_phq9 = cronbach_alpha(city.select(PHQ9).to_numpy().astype(float))
    alpha_gad7 = cronbach_alpha(city.select(GAD7).to_numpy().astype(float))
    assert 0.84 <= alpha_phq9 <= 0.91
    assert 0.80 <= alpha_gad7 <= 0.90


def test_score_distribution_looks_like_a_school_sample(city):
    complete = city.filter(pl.all_horizontal(pl.col(PHQ9 + GAD7).is_not_null()))
    total = complete.select(pl.sum_horizontal(PHQ9)).to_series()
    assert 3.5 < total.mean() < 6.0
    assert 0.10 < (total >= 10).mean() < 0.22
    assert 0.005 < (total >= 20).mean() < 0.04
    phq, gad = complete.select(pl.sum_horizontal(PHQ9), pl.sum_horizontal(GAD7)).to_numpy().T
    assert 0.55 < np.corrcoef(phq, gad)[0, 1] < 0.8
    girls = total.filter(complete["sex"] == "F").mean()
    boys = total.filter(complete["sex"] == "M").mean()
    assert girls > boys


@pytest.mark.parametrize("share", [0.02, 0.08])
def test_critical_share(share):
    city = generate_city(40_000, seed=1, careless_share=0, missing_share=0, critical_share=share)
    assert city.select(PHQ9 + GAD7).null_count().sum_horizontal().item() == 0
    assert abs((city["phq9_9"] >= 1).mean() - share) < 0.01


def test_careless_responders_straight_line():
    def straight(frame):
        return frame.select(
            (pl.min_horizontal(PHQ9) == pl.max_horizontal(PHQ9))
            & (pl.min_horizontal(GAD7) == pl.max_horizontal(GAD7))
            & (pl.max_horizontal(PHQ9) > 0)
        ).to_series()

    careful = generate_city(10_000, seed=2, careless_share=0, missing_share=0)
    careless = generate_city(10_000, seed=2, careless_share=0.2, missing_share=0)
    assert straight(careful).mean() < 0.01
    # half of the 20 % straight-line, and 3 in 4 of those on a PHQ-9 value above 0: 7.5 %
    assert 0.06 < straight(careless).mean() < 0.09


def test_no_missing_when_missing_share_is_zero():
    city = generate_city(2_000, missing_share=0)
    assert city.select(PHQ9 + GAD7).null_count().sum_horizontal().item() == 0


def test_generic_item_spec_with_reverse_keys_and_low_risk():
    reverse = (False, True, False, False)
    spec = ItemSpec.simple("wb", 4, 1, 5, reverse=reverse, risk="high")
    city = generate_city(5_000, instruments=[spec], careless_share=0, missing_share=0)
    answers = city.select(spec.columns).to_numpy().astype(float)
    assert answers.min() == 1 and answers.max() == 5
    r = np.corrcoef(answers.T)
    assert r[0, 1] < -0.3 and r[0, 2] > 0.3  # the reversed item runs the other way
    wellbeing = ItemSpec.simple("who", 5, 0, 5, risk="low")
    high = generate_city(5_000, instruments=[wellbeing], missing_share=0)
    assert high.select(wellbeing.columns).to_numpy().mean() > 2.5  # mostly on the good side


def test_bundled_instrument_specs():
    phq9 = ItemSpec.from_instrument("phq9")
    assert phq9.columns == tuple(PHQ9)
    assert phq9.critical == ((8, 1),)
    assert set(phq9.low) == {0} and set(phq9.high) == {3}
    assert ItemSpec.from_instrument("gad7").trait == "anxiety"
    assert ItemSpec.from_instrument("who5").risk == "low"
    cesd = ItemSpec.from_instrument("cesd")
    assert [i + 1 for i, r in enumerate(cesd.reverse) if r] == [4, 8, 12, 16]


@pytest.mark.parametrize("name", ["city.csv", "city.parquet"])
def test_written_city_reads_back_identically(tmp_path, name):
    city = generate_city(3_000, seed=5)
    path = write_city(city, tmp_path / name)
    assert read_responses(path, item_columns=PHQ9 + GAD7).equals(city)


def test_bad_arguments():
    with pytest.raises(ValueError, match="careless_share"):
        generate_city(10, careless_share=1.5)
    with pytest.raises(ValueError, match="critical_share"):
        generate_city(10, critical_share=0)
    with pytest.raises(ValueError, match="n_students"):
        generate_city(0)
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        write_city(generate_city(10), "city.xlsx")


def test_yes_no_items_are_answered_yes_by_few_students():
    """ASQ items 1-4: a school sample answers 'yes' rarely; the screen is positive for
    about one student in five (blanks count as 'yes'), not for most."""
    from screening.pipeline import score_frame

    city = generate_city(20_000, seed=3, instruments=("phq9", "gad7", "asq"))
    yes = city.select(pl.col(f"asq_{i}").mean() for i in range(1, 5)).row(0)
    assert all(0.02 < share < 0.12 for share in yes), yes
    results = score_frame(city, "default-asq", on_invalid="flag").results
    positive = (results["asq.screen.band"] == "positive").mean()
    assert 0.12 < positive < 0.26, positive
