"""The scoring kernel against the plain-Python reference, on generated data with missing values."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive_scoring import close, score_instrument_row

from screening.instruments import bundled_instruments, load_instrument
from screening.instruments.loader import parse_model, single_instrument_battery
from screening.instruments.models import Instrument
from screening.pipeline import Scorer, score_frame

MIXED = """
id = "mixed"
version = "1"
licence = "test"
citation = "test"
name = { "zh-CN" = "混合", en = "Mixed" }
careless = { max_longstring = 5 }
[response_scale]
values = [1, 2, 3, 4, 5]
labels = { "zh-CN" = ["1", "2", "3", "4", "5"], en = ["1", "2", "3", "4", "5"] }
[[items]]
id = "1"
label = { "zh-CN" = "一", en = "one" }
[[items]]
id = "2"
label = { "zh-CN" = "二", en = "two" }
reverse = true
[[items]]
id = "3"
label = { "zh-CN" = "三", en = "three" }
missing_means = 5
[[items]]
id = "4"
label = { "zh-CN" = "四", en = "four" }
[[items]]
id = "5"
label = { "zh-CN" = "五", en = "five" }
reverse = true
[[items]]
id = "lie"
label = { "zh-CN" = "测谎", en = "lie" }
[[scales]]
id = "mean"
name = { "zh-CN" = "均分", en = "Mean" }
items = ["1", "2", "3", "4", "5"]
method = "mean"
min_answered = 3
bands = { cuts = [2.5, 3.5], risk = "high", labels = { "zh-CN" = ["低", "中", "高"], en = ["low", "mid", "high"] } }
[[scales]]
id = "peak"
name = { "zh-CN" = "最高", en = "Peak" }
items = ["1", "3", "4"]
method = "max"
min_answered = 1
[[scales]]
id = "sum"
name = { "zh-CN" = "总分", en = "Sum" }
items = ["1", "2", "4", "5"]
multiplier = 2.5
min_answered = 2
prorate = true
[[scales]]
id = "lie"
name = { "zh-CN" = "测谎", en = "Lie" }
items = ["lie"]
[[validity]]
scale = "lie"
op = ">="
value = 4
reason = { "zh-CN" = "测谎分高", en = "lie scale high" }
[[critical]]
item = "4"
threshold = 5
"""


def mixed_instrument() -> Instrument:
    return parse_model(Instrument, "test:mixed", MIXED.encode())


INSTRUMENTS = [*bundled_instruments(), "mixed"]


def _instrument(name: str) -> Instrument:
    return mixed_instrument() if name == "mixed" else load_instrument(name)


def _check(instrument: Instrument, rows: list[list[int | None]]) -> None:
    columns = instrument.item_columns()
    frame = pl.DataFrame(
        {c: [row[j] for row in rows] for j, c in enumerate(columns)},
        schema={c: pl.Int64 for c in columns},
    )
    scorer = Scorer.for_battery(single_instrument_battery(instrument))
    results = score_frame(frame, scorer).results
    assert results.height == len(rows)
    for got, answers in zip(results.iter_rows(named=True), rows, strict=True):
        expected = score_instrument_row(instrument, answers)
        for scale, value in expected["scores"].items():
            assert close(got[f"{instrument.id}.{scale}"], value), (scale, answers)
        for scale, label in expected["bands"].items():
            assert got[f"{instrument.id}.{scale}.band"] == label, (scale, answers)
        assert got[f"{instrument.id}.answered"] == expected["answered"]
        assert got[f"{instrument.id}.longstring"] == expected["longstring"]
        assert got[f"{instrument.id}.straight_line"] == expected["straight_line"], answers
        assert close(got[f"{instrument.id}.irv"], expected["irv"])
        if instrument.critical:
            assert got[f"{instrument.id}.critical"] == expected["critical"]
        incomplete = any(v is None for v in expected["scores"].values())
        status = "invalid" if expected["invalid"] else ("incomplete" if incomplete else "scored")
        assert got["status"] == status, answers


@st.composite
def response_rows(draw, instrument: Instrument) -> list[list[int | None]]:
    low, high = instrument.response_scale.values[0], instrument.response_scale.values[-1]
    answer = st.one_of(st.none(), st.integers(low, high))
    row = st.lists(answer, min_size=len(instrument.items), max_size=len(instrument.items))
    return draw(st.lists(row, min_size=1, max_size=30))


@pytest.mark.parametrize("name", INSTRUMENTS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_kernel_matches_reference(name: str, data: st.DataObject) -> None:
    instrument = _instrument(name)
    _check(instrument, data.draw(response_rows(instrument)))


@pytest.mark.parametrize("name", INSTRUMENTS)
def test_kernel_matches_reference_on_random_block(name: str) -> None:
    instrument = _instrument(name)
    rng = np.random.default_rng(7)
    low, high = instrument.response_scale.values[0], instrument.response_scale.values[-1]
    block = rng.integers(low, high + 1, size=(400, len(instrument.items)))
    missing = rng.random(block.shape) < 0.15
    rows = [
        [None if m else int(v) for v, m in zip(r, mr, strict=True)]
        for r, mr in zip(block, missing, strict=True)
    ]
    _check(instrument, rows)


def test_mixed_instrument_edge_cases() -> None:
    instrument = mixed_instrument()
    rows = [
        [5, 5, 5, 5, 5, 1],  # longstring 5: invalid; critical item 4 endorsed
        [1, None, None, None, None, 4],  # lie scale >= 4: invalid; item 3 missing counts as 5
        [None, None, None, None, None, None],  # nothing answered
        [2, 4, None, 3, 1, 1],
        [1, 1, 1, 1, 1, 1],  # all lowest, but items 2 and 5 are reverse-keyed: straight-lined
        [3, 3, 3, 3, 3, 3],
    ]
    _check(instrument, rows)
    frame = pl.DataFrame({c: [r[j] for r in rows] for j, c in enumerate(instrument.item_columns())})
    results = score_frame(frame, Scorer.for_battery(single_instrument_battery(instrument))).results
    assert results["mixed.peak"].to_list() == [5.0, 5.0, 5.0, 5.0, 1.0, 3.0]
    assert results["status"].to_list() == [
        "invalid",
        "invalid",
        "incomplete",
        "scored",
        "invalid",
        "invalid",
    ]
    assert results["mixed.critical"].to_list() == [True, False, False, False, False, False]
    assert results["mixed.straight_line"].to_list() == [False, False, False, False, True, True]
