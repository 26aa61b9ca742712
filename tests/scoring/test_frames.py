"""Input conversion of the psychometric functions: dtypes, bad values and bad arguments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from screening.scoring import (
    ReliabilityAccumulator,
    careless_rates,
    cronbach_alpha,
    item_statistics,
    mcdonald_omega,
    reliability_by,
)
from screening.scoring._frames import PsychometricInputError, item_matrix
from screening.scoring.omega import omega_from_correlation

BASE = pd.DataFrame({"a": [0, 1, 2, 3, 1, 2], "b": [1, 1, 2, 3, 0, 2], "c": [0, 2, 2, 3, 1, 1]})
ALPHA = cronbach_alpha(BASE)["alpha"][0]


@pytest.mark.parametrize(
    "data",
    [
        pl.from_pandas(BASE).cast(pl.UInt8),
        pl.from_pandas(BASE).cast(pl.UInt64),
        BASE.astype("UInt8"),
        BASE.astype("uint16"),
        BASE.to_numpy().astype(np.uint32),
    ],
    ids=["polars UInt8", "polars UInt64", "pandas UInt8", "pandas uint16", "numpy uint32"],
)
def test_unsigned_integer_answers_are_integer_answers(data):
    assert cronbach_alpha(data)["alpha"][0] == pytest.approx(ALPHA, abs=1e-15)


@pytest.mark.parametrize("kind", ["polars UInt8", "numpy uint8", "polars Int64"])
def test_integer_answers_above_127_are_answers_as_in_r(kind):
    """psych takes any number as an answer (SAT scores of sat.act, say): such integers are
    answers, computed as floats, and only a known range makes them out of range."""
    frame = pl.from_pandas(BASE).with_columns(pl.col("b").replace(3, 200))
    data = {
        "polars UInt8": frame.cast(pl.UInt8),
        "numpy uint8": frame.to_numpy().astype(np.uint8),
        "polars Int64": frame,
    }[kind]
    want = cronbach_alpha(frame.cast(pl.Float64))
    assert cronbach_alpha(data).equals(want)
    with pytest.raises(
        PsychometricInputError, match=r"Item '(b|item2)' .*Got 200 in 1 row \(first: row 4\)"
    ):
        cronbach_alpha(data, item_range=(0, 3))
    lenient = item_matrix(data, item_range=(0, 3), on_invalid="missing")
    assert np.isnan(lenient.values[:, 1]).sum() == 1


@pytest.mark.parametrize("kind", ["numpy int64", "numpy int8", "polars Int16", "pandas Int64"])
def test_minus_one_is_an_answer_where_answers_can_be_negative(kind):
    """-1 is the missing code of integer data unless the range starts below 0 or an answer
    is below -1; then every integer is an answer, as in R."""
    x = np.array([[-1, 0, 1], [1, 1, 0], [0, -1, -1], [-1, -1, -1], [-1, -1, 0], [0, 1, 1]])
    convert = {
        "numpy int64": lambda a: a,
        "numpy int8": lambda a: a.astype(np.int8),
        "polars Int16": lambda a: pl.DataFrame(a, schema=["a", "b", "c"]).cast(pl.Int16),
        "pandas Int64": lambda a: pd.DataFrame(a, columns=["a", "b", "c"]).astype("Int64"),
    }[kind]
    as_floats = cronbach_alpha(x.astype(np.float64))
    got = cronbach_alpha(convert(x), item_range=(-1, 1))
    assert got["n"][0] == 6
    assert got["alpha"][0] == pytest.approx(as_floats["alpha"][0], abs=1e-15)
    assert cronbach_alpha(convert(x))["n"][0] < 6  # no range: -1 is the missing code
    with_minus_two = x.copy()
    with_minus_two[0, 0] = -2  # an answer below -1: then -1 is an answer too
    assert cronbach_alpha(convert(with_minus_two))["n"][0] == 6


@pytest.mark.parametrize(
    "data",
    [
        BASE.astype(float).where(BASE != 3, np.inf),
        BASE.to_numpy().astype(float) * np.where(BASE.to_numpy() == 3, np.inf, 1.0),
    ],
    ids=["pandas", "numpy"],
)
def test_an_infinite_answer_is_refused_by_item_row_and_value(data):
    item = "a" if isinstance(data, pd.DataFrame) else "item1"
    with pytest.raises(
        PsychometricInputError,
        match=rf"Item '{item}' must be a finite answer\. Got inf in 1 row \(first: row 4\)",
    ):
        cronbach_alpha(data)


def test_an_infinite_answer_is_missing_when_invalid_answers_are():
    data = BASE.astype(float).assign(school_id="S").where(BASE != 3, -np.inf)
    got = reliability_by(data, items=["a", "b", "c"], item_range=(0, 3), on_invalid="missing")
    assert got.items["n"].to_list() == [5, 5, 5]


def test_an_item_named_twice_is_refused_by_name():
    with pytest.raises(PsychometricInputError, match=r"items= names \['a'\] more than once"):
        cronbach_alpha(BASE, items=["a", "a", "b"])
    twice = pd.DataFrame(BASE.to_numpy(), columns=["a", "a", "b"])
    for call in (
        lambda: cronbach_alpha(twice),
        lambda: reliability_by(twice.assign(school_id="S"), items=["a", "b"]),
        lambda: ReliabilityAccumulator(items=["a", "b"], item_range=(0, 3), by=[]).add(twice),
    ):
        with pytest.raises(PsychometricInputError, match=r"Columns \['a'\] appear more than once"):
            call()


def test_grouped_functions_name_what_they_need_for_an_array():
    with pytest.raises(PsychometricInputError, match=r"polars or pandas DataFrame .*got ndarray"):
        reliability_by(BASE.to_numpy(), items=["a", "b", "c"], by=[])
    with pytest.raises(PsychometricInputError, match=r"polars or pandas DataFrame .*got ndarray"):
        careless_rates(BASE.to_numpy(), items=["a", "b", "c"], by=[])


@pytest.mark.parametrize("nfactors", [2.5, 0, -1, "3", True])
def test_omega_refuses_a_number_of_factors_that_is_not_a_positive_whole_number(nfactors):
    with pytest.raises(
        PsychometricInputError, match=f"nfactors must be a whole number.*got {nfactors!r}"
    ):
        mcdonald_omega(BASE, nfactors=nfactors)
    with pytest.raises(PsychometricInputError, match="nfactors must be a whole number"):
        omega_from_correlation(np.eye(4), nfactors=nfactors)


@pytest.mark.filterwarnings("ignore:An ultra-Heywood case")  # psych::omega warns too
def test_omega_takes_an_integral_float_number_of_factors():
    assert mcdonald_omega(BASE, nfactors=1.0)["nfactors"][0] == 1


def test_a_single_reverse_name_is_one_name():
    frame = BASE.rename(columns={"a": "ab"})
    want = cronbach_alpha(frame, reverse=["ab"])
    assert cronbach_alpha(frame, reverse="ab").equals(want)
    with pytest.raises(
        PsychometricInputError, match=r"\['ab'\].*A string is one item name; give a list"
    ):
        cronbach_alpha(BASE, reverse="ab")


def test_psych_style_keys_reverse_the_items_keyed_minus_one():
    want = item_statistics(BASE, reverse=["b"])
    assert item_statistics(BASE, reverse=[1, -1, 1]).equals(want)
    assert item_statistics(BASE, reverse=np.array([1.0, -1.0, 1.0])).equals(want)
    for numbers in ([0, 1, 0], [0], [1, -1]):
        with pytest.raises(
            PsychometricInputError,
            match=r"neither item names nor one key per item.*reverse=\['a'\].*1 or -1 for each of the 3",
        ):
            cronbach_alpha(BASE, reverse=numbers)


def test_item_range_must_run_from_low_to_high():
    with pytest.raises(
        PsychometricInputError, match=r"low <= high.*got \(3, 0\)\. Give the lowest"
    ):
        cronbach_alpha(BASE, item_range=(3, 0))


def test_masked_answers_are_missing():
    masked = np.ma.masked_equal(BASE.to_numpy(), 3)
    want = cronbach_alpha(BASE.astype(float).where(BASE != 3))
    assert cronbach_alpha(masked).equals(want)


def test_a_column_of_empty_cells_holds_no_answers_not_text():
    got = item_statistics(BASE.assign(d=[None] * 6))
    assert got["n"].to_list() == [6, 6, 6, 0]
