"""The bundled instrument and battery files: complete, cited, free to use, well covered.

Also: a broken instrument file gives an error that names the file and the field.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import polars as pl
import pytest

from screening.errors import InstrumentDefinitionError
from screening.instruments.compiler import compile_battery
from screening.instruments.loader import (
    bundled_batteries,
    bundled_instruments,
    load_battery,
    load_instrument,
)
from screening.instruments.models import Instrument, Scale
from screening.rules import parse_condition, resolve

INSTRUMENTS = bundled_instruments()
DATA = resources.files("screening.instruments.data")


@pytest.fixture(params=INSTRUMENTS)
def instrument(request: pytest.FixtureRequest) -> Instrument:
    return load_instrument(request.param)


def test_every_expected_instrument_is_bundled() -> None:
    assert set(INSTRUMENTS) >= {"phq9", "gad7", "cesd", "who5", "scared", "dass21", "asq"}


def test_metadata(instrument: Instrument) -> None:
    assert instrument.version
    for locale in ("zh-CN", "en"):
        assert instrument.name[locale].strip()
        assert all(label.strip() for label in instrument.response_scale.labels[locale])
        for scale in instrument.scales:
            assert scale.name[locale].strip()
    assert re.search(r"free to use|public domain", instrument.licence, re.IGNORECASE)
    if instrument.loinc is not None:
        assert re.fullmatch(r"\d{4,6}-\d", instrument.loinc)


def test_citation_is_a_full_reference(instrument: Instrument) -> None:
    assert re.search(r"\b(19|20)\d\d\b", instrument.citation)
    assert re.search(r"doi:10\.\d{4,}/\S+", instrument.citation)
    assert len(instrument.citation) > 60


def test_item_labels_are_our_own_short_words(instrument: Instrument) -> None:
    for item in instrument.items:
        assert item.text is None, "bundled files carry no item text, only our short labels"
        assert 1 <= len(item.label["en"].split()) <= 6, item.label["en"]
        assert 1 <= len(item.label["zh-CN"]) <= 14, item.label["zh-CN"]
    english = [item.label["en"] for item in instrument.items]
    assert len(set(english)) == len(english), "two items share a label"


def test_every_item_is_scored_or_critical(instrument: Instrument) -> None:
    used = {item for scale in instrument.scales for item in scale.items}
    used |= {rule.item for rule in instrument.critical}
    assert used == {item.id for item in instrument.items}


def test_enough_golden_vectors(instrument: Instrument) -> None:
    assert len(instrument.golden) >= 5
    names = [vector.name for vector in instrument.golden]
    assert len(set(names)) == len(names)


def _score_range(instrument: Instrument, scale: Scale) -> tuple[float, float]:
    low, high = instrument.response_scale.values[0], instrument.response_scale.values[-1]
    n = 1 if scale.method in ("mean", "max") else len(scale.items)
    return n * low * scale.multiplier, n * high * scale.multiplier


def test_golden_vectors_reach_the_ends_of_every_scale(instrument: Instrument) -> None:
    for scale in instrument.scales:
        expected = [v.scores[scale.id] for v in instrument.golden if scale.id in v.scores]
        low, high = _score_range(instrument, scale)
        assert low in expected and high in expected, (scale.id, low, high)


def test_golden_vectors_cover_every_band(instrument: Instrument) -> None:
    for scale in instrument.scales:
        if scale.bands is None:
            continue
        seen = {v.bands[scale.id] for v in instrument.golden if scale.id in v.bands}
        assert seen == set(scale.bands.labels["en"]), scale.id


def test_golden_vectors_cover_missing_answers(instrument: Instrument) -> None:
    """Each instrument shows how missing answers are scored, and when a scale is not scorable."""
    with_missing = [v for v in instrument.golden if -1 in v.responses]
    assert with_missing
    can_fail = any(
        instrument.items[instrument.item_index(i)].missing_means is None
        for scale in instrument.scales
        for i in scale.items
    )
    # ASQ: a missing answer to items 1-4 counts as yes, so its screen is always scorable
    assert can_fail == any("NA" in v.scores.values() for v in with_missing)


def test_prorating_instruments_have_a_prorated_vector(instrument: Instrument) -> None:
    for scale in instrument.scales:
        if not scale.prorate:
            continue
        prorated = [
            v
            for v in instrument.golden
            if v.scores.get(scale.id, "NA") != "NA"
            and any(v.responses[instrument.item_index(i)] == -1 for i in scale.items)
        ]
        assert prorated, scale.id


# --- the facts of each instrument, as published --------------------------------------------


def test_reverse_keys_and_cut_offs() -> None:
    cesd = load_instrument("cesd")
    assert [item.id for item in cesd.items if item.reverse] == ["4", "8", "12", "16"]
    assert cesd.scale("total").bands.cuts == [16]
    assert load_instrument("gad7").scale("total").bands.cuts == [5, 10, 15]
    who5 = load_instrument("who5")
    assert who5.scale("raw").bands.cuts == [8, 13]
    assert who5.scale("raw").bands.risk == "low"
    assert who5.scale("percentage").multiplier == 4
    dass = load_instrument("dass21")
    assert {s.id: s.bands.cuts for s in dass.scales} == {
        "depression": [10, 14, 21, 28],
        "anxiety": [8, 10, 15, 20],
        "stress": [15, 19, 26, 34],
    }
    assert {s.multiplier for s in dass.scales} == {2}


def test_subscale_membership() -> None:
    scared = load_instrument("scared")
    members = {s.id: [int(i) for i in s.items] for s in scared.scales}
    assert members["panic_somatic"] == [1, 6, 9, 12, 15, 18, 19, 22, 24, 27, 30, 34, 38]
    assert members["generalized"] == [5, 7, 14, 21, 23, 28, 33, 35, 37]
    assert members["separation"] == [4, 8, 13, 16, 20, 25, 29, 31]
    assert members["social"] == [3, 10, 26, 32, 39, 40, 41]
    assert members["school_avoidance"] == [2, 11, 17, 36]
    subscales = sorted(i for k, v in members.items() if k != "total" for i in v)
    assert subscales == members["total"] == list(range(1, 42))
    cuts = {s.id: s.bands.cuts for s in scared.scales}
    assert cuts == {
        "total": [25],
        "panic_somatic": [7],
        "generalized": [9],
        "separation": [5],
        "social": [8],
        "school_avoidance": [3],
    }
    dass = {s.id: [int(i) for i in s.items] for s in load_instrument("dass21").scales}
    assert dass["depression"] == [3, 5, 10, 13, 16, 17, 21]
    assert dass["anxiety"] == [2, 4, 7, 9, 15, 19, 20]
    assert dass["stress"] == [1, 6, 8, 11, 12, 14, 18]


def test_asq_refusal_counts_as_yes_and_item5_is_the_only_critical_item() -> None:
    asq = load_instrument("asq")
    assert [item.missing_means for item in asq.items] == [1, 1, 1, 1, None]
    screen = asq.scale("screen")
    assert (screen.items, screen.method, screen.required_answers) == (
        ["1", "2", "3", "4"],
        "max",
        1,
    )
    assert [(c.item, c.threshold, c.acuity) for c in asq.critical] == [("5", 1, "urgent")]


# --- batteries -------------------------------------------------------------------------------


@pytest.mark.parametrize("battery_id", bundled_batteries())
def test_battery_rules_parse_and_resolve(battery_id: str) -> None:
    loaded = load_battery(battery_id)
    compiled = compile_battery(loaded)
    assert loaded.battery.critical_tier == 3
    assert {rule.level for rule in loaded.battery.tier} == {1, 2, 3}
    for rule in loaded.battery.tier:
        for text in [*rule.any, *rule.all]:
            resolve(parse_condition(text), compiled, text)


def test_default_asq_adds_asq_to_default() -> None:
    default = {r.level: set(r.any) for r in load_battery("default").battery.tier}
    extended = {r.level: set(r.any) for r in load_battery("default-asq").battery.tier}
    assert extended[3] - default[3] == {"asq.item5 >= 1"}
    assert extended[2] - default[2] == {"asq.screen >= 1"}
    assert extended[1] == default[1]
    assert all(default[level] <= extended[level] for level in default)


def test_default_asq_triage() -> None:
    """Acute ASQ is red, a positive or refused ASQ orange, an unasked item 5 is not missing."""
    from screening.pipeline import score_frame

    zeros = {f"phq9_{k}": 0 for k in range(1, 10)} | {f"gad7_{k}": 0 for k in range(1, 8)}
    rows = [
        zeros | {"asq_1": 0, "asq_2": 0, "asq_3": 0, "asq_4": 0, "asq_5": None},
        zeros | {"asq_1": 0, "asq_2": 0, "asq_3": None, "asq_4": 0, "asq_5": 0},
        zeros | {"asq_1": 1, "asq_2": 0, "asq_3": 0, "asq_4": 0, "asq_5": 0},
        zeros | {"asq_1": 1, "asq_2": 1, "asq_3": 1, "asq_4": 0, "asq_5": 1},
    ]
    frame = pl.DataFrame(rows, schema={column: pl.Int8 for column in rows[0]})
    results = score_frame(frame, "default-asq").results
    assert results["asq.screen"].to_list() == [0, 1, 1, 1]
    assert results["asq.screen.band"].to_list() == ["negative", "positive", "positive", "positive"]
    assert results["tier"].to_list() == [0, 2, 2, 3]
    assert results["status"].to_list() == ["scored"] * 4
    assert "asq.screen >= 1" in results["reasons"][1].to_list()
    assert "asq.item5 >= 1" in results["reasons"][3].to_list()


# --- broken files name the file and the field ---------------------------------------------------


def _broken(tmp_path: Path, name: str, old: str, new: str, source: str = "gad7.toml") -> Path:
    text = (DATA / source).read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not found in {source}"
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        ('version = "1.0"', 'version = "1.0"\nauthor = "me"', "author", "unknown key 'author'"),
        (
            'id = "4"\n',
            'id = "4"\nreversed = true\n',
            "items[3].reversed",
            "did you mean 'reverse'?",
        ),
        ("cuts = [5, 10, 15]", "cuts = [5, 15, 10]", "scales[0].bands.cuts", "strictly ascending"),
        (
            'labels.en = ["minimal", "mild", "moderate", "severe"]',
            'labels.en = ["minimal", "mild", "severe"]',
            "scales[0].bands",
            "labels.en needs 4 labels for 3 cuts, got 3",
        ),
        ('"5", "6", "7"]', '"5", "6", "8"]', "scales[0].items[6]", "'8' is not an item"),
        (
            "responses = [3, 3, 3, 2, 2, 2, -1]",
            "responses = [3, 3, 3, 2, 2, 2]",
            "golden[8].responses",
            "6 answers for 7 items",
        ),
        (
            'en = ["Not at all", "Several days", "More than half the days", "Nearly every day"]',
            'en = ["Not at all", "Several days", "Nearly every day"]',
            "response_scale",
            "labels.en has 3 labels for 4 values",
        ),
        ("min_answered = 6", "min_answered = 9", "scales[0]", "min_answered must lie in [1, 7]"),
        ("prorate = true", "prorate = false", "scales[0]", "needs prorate = true"),
    ],
    ids=[
        "unknown field",
        "misspelt field",
        "cuts not ascending",
        "band labels count",
        "unknown item in a scale",
        "golden vector length",
        "response labels count",
        "min_answered too large",
        "sum without prorating",
    ],
)
def test_broken_instrument_names_file_and_field(
    tmp_path: Path, old: str, new: str, field: str, problem: str
) -> None:
    path = _broken(tmp_path, "broken.toml", old, new)
    with pytest.raises(InstrumentDefinitionError) as error:
        load_instrument(path)
    assert error.value.path == str(path)
    assert error.value.field == field
    assert problem in error.value.problem
    where = f"{path}: {field}: " if field else f"{path}: "
    assert str(error.value).startswith(where)


def test_bad_toml_syntax_names_the_file_and_line(tmp_path: Path) -> None:
    path = _broken(tmp_path, "syntax.toml", "cuts = [5, 10, 15]", "cuts = [5, 10, 15")
    with pytest.raises(InstrumentDefinitionError) as error:
        load_instrument(path)
    assert error.value.path == str(path)
    assert "not valid TOML" in str(error.value)
    assert re.search(r"line \d+", str(error.value))


def test_broken_battery_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "battery.toml"
    text = (DATA / "batteries" / "default-asq.toml").read_text(encoding="utf-8")
    path.write_text(text.replace("level = 1 ", "level = 5 ", 1), encoding="utf-8")
    with pytest.raises(InstrumentDefinitionError) as error:
        load_battery(path)
    assert error.value.path == str(path)
    assert error.value.field == "tier[2].level"
