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


def test_straight_lining_spares_the_no_symptom_end_of_each_instrument() -> None:
    """All "not at all" on the PHQ-9 is plausible; on the WHO-5, where low scores are the
    risk, all "all of the time" (5) is, and all 0 (the worst well-being) is straight-lining."""
    uniform = [0, 1, 5]
    who5 = pl.DataFrame({f"who5_{i}": uniform for i in range(1, 6)})
    results = score_frame(who5, Scorer.for_instrument("who5")).results
    assert results["who5.straight_line"].to_list() == [True, True, False]
    phq9 = pl.DataFrame({f"phq9_{i}": [0, 1, 3] for i in range(1, 10)})
    results = score_frame(phq9, Scorer.for_instrument("phq9")).results
    assert results["phq9.straight_line"].to_list() == [False, True, True]


def synthetic_instrument(
    name: str, n_items: int, high: int, *, keyed: bool = True, max_items: int = 0
) -> Instrument:
    """An instrument of ``n_items`` items answered 0..``high``.

    With ``keyed``, every third item is reverse-keyed and every seventh counts as ``high //
    2`` when missing. Scales: ``a``, ``b``, ``c`` (items 1, 4, 7, ...; 2, 5, 8, ...; 3, 6,
    9, ...) partition ``total`` (every item, prorated, with bands); ``half`` (mean of the
    first half), ``peak`` (max of the first ``max_items`` or four items) and ``one``.
    """
    values = list(range(high + 1))
    labels = [str(v) for v in values]
    lines = [
        f'id = "{name}"',
        'version = "1"',
        'licence = "test"',
        'citation = "test"',
        f'name = {{ "zh-CN" = "{name}", en = "{name}" }}',
        f"careless = {{ max_longstring = {max(n_items - 1, 2)} }}",
        "[response_scale]",
        f"values = {values}",
        f'labels = {{ "zh-CN" = {labels}, en = {labels} }}'.replace("'", '"'),
    ]
    for i in range(1, n_items + 1):
        lines += ["[[items]]", f'id = "{i}"', f'label = {{ "zh-CN" = "{i}", en = "{i}" }}']
        if keyed and i % 3 == 0:
            lines.append("reverse = true")
        if keyed and i % 7 == 0:
            lines.append(f"missing_means = {high // 2}")

    def scale(sid: str, items: list[int], extra: str) -> list[str]:
        ids = [str(i) for i in items]
        return [
            "[[scales]]",
            f'id = "{sid}"',
            f'name = {{ "zh-CN" = "{sid}", en = "{sid}" }}',
            f"items = {ids}".replace("'", '"'),
            *extra.split("\n"),
        ]

    every = list(range(1, n_items + 1))
    n = n_items
    lines += scale(
        "a", every[0::3], f"min_answered = {max(len(every[0::3]) - 1, 1)}\nprorate = true"
    )
    lines += scale("b", every[1::3], "min_answered = 1\nprorate = true\nmultiplier = 0.5")
    lines += scale("c", every[2::3], f"min_answered = {len(every[2::3])}")
    cuts = [n * high // 3, n * high // 2]
    lines += scale(
        "total",
        every,
        f"min_answered = {max(n - 2, 1)}\nprorate = true\n"
        f'bands = {{ cuts = {cuts}, risk = "high", labels = {{ "zh-CN" = ["l", "m", "h"], '
        'en = ["low", "mid", "high"] } }',
    )
    lines += scale("half", every[: max(n // 2, 1)], 'method = "mean"\nmin_answered = 1')
    lines += scale("peak", every[: max_items or 4], 'method = "max"\nmin_answered = 1')
    lines += scale("one", every[-1:], "min_answered = 1")
    lines += [
        "[[validity]]",
        'scale = "half"',
        'op = ">"',
        f"value = {high * 0.8}",
        'reason = { "zh-CN" = "half", en = "half" }',
        "[[critical]]",
        'item = "1"',
        f"threshold = {high}",
    ]
    return parse_model(Instrument, f"test:{name}", "\n".join(lines).encode())


SYNTHETIC = {
    # int16 accumulators; a, b, c partition total (reverse-keyed and missing_means items)
    "small": lambda: synthetic_instrument("small", 12, 4),
    # every item plain: total takes the instrument's count and sum
    "plain": lambda: synthetic_instrument("plain", 5, 3, keyed=False),
    # answers up to 100: the sum of squares of 3 items fits int16 (30000), of 4 it does not
    "fits16": lambda: synthetic_instrument("fits16", 3, 100),
    "wide": lambda: synthetic_instrument("wide", 4, 100),
    # 340 items up to 100: total needs int32 (34000), its parts a, b, c do not
    "widest": lambda: synthetic_instrument("widest", 340, 100, max_items=340),
}


@pytest.mark.parametrize("name", list(SYNTHETIC))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_kernel_matches_reference_on_wide_ranges(name: str, data: st.DataObject) -> None:
    instrument = SYNTHETIC[name]()
    _check(instrument, data.draw(response_rows(instrument)))


@pytest.mark.parametrize("name", list(SYNTHETIC))
def test_kernel_matches_reference_on_extremes(name: str) -> None:
    """All highest (the int16 bounds reached), all lowest, all missing, and random blocks."""
    instrument = SYNTHETIC[name]()
    n = len(instrument.items)
    high = instrument.response_scale.values[-1]
    rng = np.random.default_rng(11)
    block = rng.integers(0, high + 1, size=(300, n))
    block[:100] = rng.integers(high - 1, high + 1, size=(100, n))  # near the top
    missing = rng.random(block.shape) < 0.1
    rows = [
        [None if m else int(v) for v, m in zip(r, mr, strict=True)]
        for r, mr in zip(block, missing, strict=True)
    ]
    rows += [[high] * n, [0] * n, [None] * n, [high, *[None] * (n - 1)]]
    _check(instrument, rows)


@pytest.mark.parametrize("rows", [0, 1])
def test_tiny_matrices_score_like_any_other_without_another_compile(rows: int) -> None:
    """0 and 1 rows are padded to 2: numba would type them C-ordered and compile again."""
    from screening.pipeline import run_kernel, warm_up

    scorer = Scorer.for_battery("default")
    warm_up(scorer)
    rng = np.random.default_rng(rows)
    matrix = np.asfortranarray(rng.integers(-1, 4, (6, scorer.compiled.n_items), dtype=np.int8))
    whole = run_kernel(scorer, matrix)
    compiled = compiled_signatures()
    tiny = run_kernel(scorer, np.asfortranarray(matrix[:rows]))
    assert compiled_signatures() == compiled
    for name, values in whole.items():
        assert tiny[name].shape == (rows, *values.shape[1:])
        np.testing.assert_array_equal(tiny[name], values[:rows])


@pytest.mark.parametrize("rows", [1, 6])
def test_kernel_writes_into_given_outputs_exactly_what_it_allocates(rows: int) -> None:
    """``out=`` arrays (reused, with stale values) end up equal to fresh outputs."""
    from screening.pipeline import kernel_outputs, run_kernel

    scorer = Scorer.for_battery("default-asq")
    rng = np.random.default_rng(rows)
    matrix = np.asfortranarray(rng.integers(-1, 4, (rows, scorer.compiled.n_items), dtype=np.int8))
    fresh = run_kernel(scorer, matrix)
    given = kernel_outputs(scorer, rows)
    for values in given.values():
        values.fill(7)  # stale values the kernel must overwrite everywhere
    result = run_kernel(scorer, matrix, given)
    assert result is given
    for name, values in fresh.items():
        np.testing.assert_array_equal(given[name], values, err_msg=name)


def compiled_signatures() -> list[str]:
    """The layouts the scoring kernel has been compiled for (none with the JIT off)."""
    from screening.scoring._kernels import score_rows

    return [str(signature) for signature in getattr(score_rows, "signatures", [])]
