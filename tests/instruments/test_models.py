"""The spec models: what a valid instrument or battery is, and what each mistake says."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from screening.instruments.models import Bands, Battery, Instrument, ResponseScale, Scale

LABELS = {"zh-CN": "标签", "en": "label"}


def instrument_data() -> dict[str, Any]:
    """A small valid instrument: three items 0-2, one reverse-keyed, a prorated total."""
    return {
        "id": "demo",
        "version": "1",
        "name": {"zh-CN": "示例", "en": "Demo"},
        "licence": "Free to use.",
        "citation": "Nobody. A demo scale. 2024.",
        "response_scale": {
            "values": [0, 1, 2],
            "labels": {"zh-CN": ["否", "有时", "是"], "en": ["no", "sometimes", "yes"]},
        },
        "items": [
            {"id": "1", "label": LABELS},
            {"id": "2", "label": LABELS, "reverse": True},
            {"id": "3", "label": LABELS, "missing_means": 2},
        ],
        "scales": [
            {
                "id": "total",
                "name": {"zh-CN": "总分", "en": "Total"},
                "items": ["1", "2", "3"],
                "min_answered": 2,
                "prorate": True,
                "bands": {
                    "cuts": [3],
                    "labels": {"zh-CN": ["低", "高"], "en": ["low", "high"]},
                },
            }
        ],
        "critical": [{"item": "3", "threshold": 2}],
        "golden": [{"name": "zeros", "responses": [0, 0, 0], "scores": {"total": 2}}],
    }


def messages(error: pytest.ExceptionInfo[ValidationError]) -> str:
    return " | ".join(f"{e['loc']}: {e['msg']}" for e in error.value.errors())


def test_valid_instrument_and_its_helpers() -> None:
    inst = Instrument.model_validate(instrument_data())
    assert inst.item_columns() == ["demo_1", "demo_2", "demo_3"]
    assert inst.item_index("3") == 2
    assert inst.scale("total").required_answers == 2
    np.testing.assert_array_equal(inst.reverse_mask(), [False, True, False])
    np.testing.assert_array_equal(inst.item_min(), [0, 0, 0])
    np.testing.assert_array_equal(inst.item_max(), [2, 2, 2])
    assert inst.items[2].missing_means == 2
    assert inst.items[0].missing_means is None
    with pytest.raises(KeyError):
        inst.item_index("9")
    with pytest.raises(KeyError):
        inst.scale("nope")


def test_models_are_frozen() -> None:
    inst = Instrument.model_validate(instrument_data())
    with pytest.raises(ValidationError):
        inst.id = "other"


def test_whole_numbers_written_with_a_point_are_integers() -> None:
    data = copy.deepcopy(instrument_data())
    data["critical"][0]["threshold"] = 2.0
    data["scales"][0]["min_answered"] = 2.0
    data["golden"][0]["responses"] = [0.0, 0, 0]
    inst = Instrument.model_validate(data)
    assert inst.critical[0].threshold == 2 and isinstance(inst.critical[0].threshold, int)
    assert inst.golden[0].responses == [0, 0, 0]
    data["critical"][0]["threshold"] = 1.5
    with pytest.raises(ValidationError, match="valid integer"):
        Instrument.model_validate(data)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(colour="red"), "Extra inputs are not permitted"),
        (lambda d: d["items"][0].update(wording="x"), "Extra inputs are not permitted"),
        (lambda d: d.update(id="Demo"), "should match pattern"),
        (lambda d: d["name"].pop("zh-CN"), "add zh-CN"),
        (lambda d: d["items"][1].update(id="1"), "items[1].id: '1' is also items[0].id"),
        (lambda d: d["items"][0]["label"].pop("en") and None, "add en"),
        (lambda d: d["scales"][0]["items"].append("7"), "scales[0].items[3]: '7' is not an item"),
        (lambda d: d["scales"][0]["items"].append("1"), "items[3]: '1' is also items[0]"),
        (lambda d: d["scales"][0].update(min_answered=4), "must lie in [1, 3]"),
        (lambda d: d["scales"][0].update(prorate=False), "needs prorate = true"),
        (lambda d: d["scales"][0].update(method="median"), "'sum', 'mean' or 'max'"),
        (lambda d: d["items"][2].update(missing_means=5), "items[2].missing_means: must lie in"),
        (lambda d: d["critical"][0].update(item="8"), "critical[0].item: '8' is not an item"),
        (
            lambda d: d["critical"][0].update(threshold=0),
            "critical[0].threshold: must lie in [1, 2]",
        ),
        (lambda d: d["critical"][0].update(threshold=3), "every student is critical; above, none"),
        (lambda d: d["scales"][0].update(id="answered"), "scales[0].id: 'answered' is reserved"),
        (lambda d: d["scales"][0].update(id="item2"), "'item2' reads as item 2 in triage rules"),
        (lambda d: d["scales"][0].update(multiplier=0), "greater than 0"),
        (lambda d: d["scales"][0].update(multiplier=float("nan")), "finite number"),
        (lambda d: d["scales"][0]["bands"].update(cuts=[float("inf")]), "cuts must be finite"),
        (lambda d: d["scales"][0]["bands"].update(cuts=[0]), "[0.0] lie outside the scores"),
        (lambda d: d["scales"][0]["bands"].update(cuts=[6.5]), "(0 to 6)"),
        (lambda d: d["critical"].append({"item": "3", "threshold": 1}), "critical[1].item: '3'"),
        (lambda d: d["golden"].append(d["golden"][0]), "golden[1].name: 'zeros' is also"),
        # no lax coercion: a typo of type is an error, not a guess
        (lambda d: d["items"][1].update(reverse="yes"), "valid boolean"),
        (lambda d: d["items"][1].update(reverse=1), "valid boolean"),
        (lambda d: d["scales"][0].update(min_answered="2"), "valid integer"),
        (lambda d: d["scales"][0]["bands"].update(cuts=["3"]), "valid number"),
        (lambda d: d["golden"][0].update(critical="no"), "valid boolean"),
        (lambda d: d["golden"][0].update(responses=[0, 0]), "golden[0].responses: 2 answers for 3"),
        (lambda d: d["golden"][0].update(responses=[0, 0, 3]), "answers [3] out of [0, 2]"),
        (lambda d: d["golden"][0].update(scores={"sum": 1}), "unknown scales ['sum']"),
        (
            lambda d: d["golden"][0].update(scores={"total": "none"}),
            "Input should be 'NA'",
        ),
        (
            lambda d: d.update(validity=[{"scale": "lie", "op": ">=", "value": 1, "reason": {}}]),
            "validity[0].scale: 'lie' is not a scale",
        ),
    ],
)
def test_invalid_instruments_say_what_is_wrong(change, expected: str) -> None:
    data = copy.deepcopy(instrument_data())
    change(data)
    with pytest.raises(ValidationError) as error:
        Instrument.model_validate(data)
    assert expected in messages(error)


def test_response_scale_rules() -> None:
    labels = {"zh-CN": ["a", "b", "c"], "en": ["a", "b", "c"]}
    assert ResponseScale(values=[1, 2, 3], labels=labels).values == [1, 2, 3]
    with pytest.raises(ValidationError, match="consecutive"):
        ResponseScale(values=[0, 2, 3], labels=labels)
    with pytest.raises(ValidationError, match=r"lie in \[0, 100\]"):
        ResponseScale(values=[-1, 0, 1], labels=labels)
    with pytest.raises(ValidationError, match=r"labels\.en has 2 labels for 3 values"):
        ResponseScale(values=[0, 1, 2], labels={"zh-CN": ["a", "b", "c"], "en": ["a", "b"]})


def test_bands_rules() -> None:
    labels = {"zh-CN": ["a", "b", "c"], "en": ["a", "b", "c"]}
    bands = Bands(cuts=[5, 10], labels=labels)
    assert bands.risk == "high"
    assert Bands(cuts=[8, 13], labels=labels, risk="low").risk == "low"
    with pytest.raises(ValidationError, match="strictly ascending"):
        Bands(cuts=[10, 5], labels=labels)
    with pytest.raises(ValidationError, match="strictly ascending"):
        Bands(cuts=[5, 5], labels=labels)
    with pytest.raises(ValidationError, match="needs 3 labels for 2 cuts, got 2"):
        Bands(cuts=[5, 10], labels={"zh-CN": ["a", "b", "c"], "en": ["a", "b"]})
    with pytest.raises(ValidationError):
        Bands(cuts=[5], labels={"zh-CN": ["a", "b"], "en": ["a", "b"]}, risk="middle")


def test_scale_methods_and_answered_rule() -> None:
    name = {"zh-CN": "量表", "en": "Scale"}
    items = ["1", "2", "3", "4"]
    assert Scale(id="s", name=name, items=items).required_answers == 4
    assert Scale(id="s", name=name, items=items, method="max", min_answered=1).required_answers == 1
    mean = Scale(id="s", name=name, items=items, method="mean", min_answered=2)
    assert (mean.required_answers, mean.prorate) == (2, False)
    doubled = Scale(id="s", name=name, items=items, multiplier=2)
    assert doubled.multiplier == 2.0
    with pytest.raises(ValidationError, match="needs prorate = true"):
        Scale(id="s", name=name, items=items, min_answered=3)
    with pytest.raises(ValidationError, match=r"must lie in \[1, 4\]"):
        Scale(id="s", name=name, items=items, method="max", min_answered=0)


def battery_data() -> dict[str, Any]:
    return {
        "id": "default-asq",
        "instruments": ["phq9", "asq"],
        "tier": [
            {"level": 3, "any": ["asq.item5 >= 1"]},
            {"level": 2, "any": ["asq.screen >= 1"]},
        ],
    }


@pytest.mark.parametrize("battery_id", ["default", "default-asq", "city_2024", "a-b_c9"])
def test_battery_ids_may_hold_hyphens(battery_id: str) -> None:
    data = battery_data() | {"id": battery_id}
    assert Battery.model_validate(data).id == battery_id


@pytest.mark.parametrize("battery_id", ["Default", "-asq", "9city", "default asq", "a.b", ""])
def test_bad_battery_ids(battery_id: str) -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        Battery.model_validate(battery_data() | {"id": battery_id})


def test_battery_defaults() -> None:
    battery = Battery.model_validate(battery_data())
    assert battery.critical_tier == 3
    assert battery.queue_due_hours == {3: 24, 2: 168}
    assert battery.version == "1"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(instruments=["phq9", "phq9"]), "instruments[1]: 'phq9' is also"),
        (lambda d: d.update(instruments=[]), "at least 1 item"),
        (lambda d: d["tier"][1].update(level=3), "tier[1].level: 3 is also tier[0].level"),
        (lambda d: d["tier"][1].update(level=4), "less than or equal to 3"),
        (lambda d: d["tier"][1].update(any=[]), "needs conditions"),
        (lambda d: d.update(queue={"due_hours": {"5": 24}}), "due_hours maps tiers 1-3"),
        (lambda d: d.update(queue={"due_hours": {"3": 0}}), "positive hours"),
        (lambda d: d.update(critical_tier=0), "greater than or equal to 1"),
        (lambda d: d.update(rules=[]), "Extra inputs are not permitted"),
    ],
)
def test_invalid_batteries_say_what_is_wrong(change, expected: str) -> None:
    data = copy.deepcopy(battery_data())
    change(data)
    with pytest.raises(ValidationError) as error:
        Battery.model_validate(data)
    assert expected in messages(error)


def test_critical_tier_may_be_left_to_the_rules() -> None:
    battery = Battery.model_validate(battery_data() | {"critical_tier": None})
    assert battery.critical_tier is None
