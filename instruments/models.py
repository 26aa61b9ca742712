"""Pydantic models of instrument and battery files.

An instrument file declares a questionnaire: its response scale, items, scales with their
scoring method and bands, critical items, validity rules and golden test vectors. A battery
file names the instruments given together and the triage rules. Both are data: they are
validated here and never executed.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

LOCALES: tuple[str, ...] = ("zh-CN", "en")
IDENTIFIER = r"^[a-z][a-z0-9_]*$"
BATTERY_ID = r"^[a-z][a-z0-9_-]*$"
ITEM_ID = r"^[A-Za-z0-9_]+$"
COMPARISONS: tuple[str, ...] = (">=", ">", "<=", "<", "==", "!=")
#: Result columns of every instrument (``phq9.answered``): no scale may take these ids.
PER_INSTRUMENT_COLUMNS: tuple[str, ...] = (
    "answered",
    "critical",
    "irv",
    "longstring",
    "straight_line",
)

Localized = dict[str, str]


def _whole_number(value: object) -> object:
    """``1.0`` as ``1``: a whole number written with a point is not a mistake."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _not_blank(value: str) -> str:
    """A text that must say something: empty or only spaces is an error."""
    if not value.strip():
        raise ValueError("must not be empty; write it out")
    return value


#: A text field that may not be left empty (``citation = ""``).
Text = Annotated[str, AfterValidator(_not_blank)]

#: An integer field that also takes a whole number written with a point (files are read
#: strictly otherwise: ``"1"``, ``true`` or ``1.5`` stay errors).
Whole = Annotated[int, BeforeValidator(_whole_number)]
LocalizedList = dict[str, list[str]]


def _require_locales(value: dict, what: str) -> dict:
    missing = [locale for locale in LOCALES if locale not in value]
    if missing:
        raise ValueError(f"{what} needs a text for every locale; add {', '.join(missing)}")
    return value


class Spec(BaseModel):
    """Base of every spec model: unknown fields are errors, instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


class ResponseScale(Spec):
    """The answers an item accepts: consecutive integers with a label each."""

    values: list[Whole] = Field(min_length=2)
    labels: LocalizedList

    @field_validator("values")
    @classmethod
    def _consecutive(cls, values: list[int]) -> list[int]:
        if values != list(range(values[0], values[0] + len(values))):
            raise ValueError(f"values must be consecutive integers in order, got {values}")
        if values[0] < 0 or values[-1] > 100:
            raise ValueError("values must lie in [0, 100]")
        return values

    @model_validator(mode="after")
    def _labels_match(self) -> ResponseScale:
        _require_locales(self.labels, "labels")
        for locale, labels in self.labels.items():
            if len(labels) != len(self.values):
                raise ValueError(
                    f"labels.{locale} has {len(labels)} labels for {len(self.values)} values"
                )
        return self


class Item(Spec):
    """One question. ``label`` is our own short wording; ``text`` may be supplied by a user."""

    id: Annotated[str, Field(pattern=ITEM_ID)]
    label: Localized
    text: Localized | None = None
    reverse: bool = False
    missing_means: Whole | None = Field(
        default=None,
        description="What a missing answer counts as (e.g. a refusal counted as 'yes'); "
        "None keeps it missing.",
    )

    @field_validator("label")
    @classmethod
    def _label_locales(cls, value: Localized) -> Localized:
        return _require_locales(value, "label")


class Bands(Spec):
    """Cut-offs of a scale: band ``k`` holds scores ``cuts[k-1] <= score < cuts[k]``."""

    cuts: list[float] = Field(min_length=1)
    labels: LocalizedList
    risk: Literal["high", "low"] = "high"

    @field_validator("cuts")
    @classmethod
    def _ascending(cls, cuts: list[float]) -> list[float]:
        if not all(math.isfinite(cut) for cut in cuts):
            raise ValueError(f"cuts must be finite numbers, got {cuts}")
        if any(b <= a for a, b in itertools.pairwise(cuts)):
            raise ValueError(f"cuts must be strictly ascending, got {cuts}")
        return cuts

    @model_validator(mode="after")
    def _labels_match(self) -> Bands:
        _require_locales(self.labels, "labels")
        for locale, labels in self.labels.items():
            if len(labels) != len(self.cuts) + 1:
                raise ValueError(
                    f"labels.{locale} needs {len(self.cuts) + 1} labels for "
                    f"{len(self.cuts)} cuts, got {len(labels)}"
                )
        return self


class Scale(Spec):
    """A score computed from items.

    ``sum`` adds the answers; when fewer than all but at least ``min_answered`` items are
    answered and ``prorate`` is true, the score is the mean of the answered items times the
    number of items (not rounded). ``mean`` averages the answered items and ``max`` takes the
    largest answer. The result is multiplied by ``multiplier``.
    """

    id: Annotated[str, Field(pattern=IDENTIFIER)]
    name: Localized
    items: list[str] = Field(min_length=1)
    method: Literal["sum", "mean", "max"] = "sum"
    multiplier: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    min_answered: Whole | None = None
    prorate: bool = False
    bands: Bands | None = None

    @model_validator(mode="after")
    def _answered_rule(self) -> Scale:
        _require_locales(self.name, "name")
        n = len(self.items)
        _unique(self.items, "items", "the items of a scale", key="")
        if self.min_answered is not None and not 1 <= self.min_answered <= n:
            raise ValueError(f"min_answered must lie in [1, {n}], got {self.min_answered}")
        if self.method == "sum" and self.required_answers < n and not self.prorate:
            raise ValueError(
                "a sum over fewer than all items needs prorate = true "
                "(or set min_answered to the number of items)"
            )
        return self

    @property
    def required_answers(self) -> int:
        """How many answered items the scale needs to be scorable."""
        return len(self.items) if self.min_answered is None else self.min_answered


class Critical(Spec):
    """An item whose endorsement is flagged at once, whatever the total."""

    item: str
    threshold: Whole = Field(description="The item is critical when the answer is >= threshold.")
    acuity: Literal["urgent", "high"] = "urgent"


class Validity(Spec):
    """A rule that marks a protocol invalid, e.g. a lie scale over its cut-off."""

    scale: str
    op: Literal[">=", ">", "<=", "<", "==", "!="]
    value: float
    reason: Localized


class Careless(Spec):
    """Careless-responding limits of an instrument (unset limits only report)."""

    max_longstring: Whole | None = Field(default=None, ge=2)


class GoldenVector(Spec):
    """A response pattern with its expected scores, run as a test.

    ``responses`` lists the answers in item order, -1 for a missing answer (TOML has no
    null). ``scores`` maps scale ids to the expected score, or "NA" when not scorable.
    """

    name: str
    responses: list[Whole]
    scores: dict[str, float | Literal["NA"]]
    bands: dict[str, str] = Field(default_factory=dict)
    critical: bool | None = None
    valid: bool | None = None


def _unique(values: list, field: str, what: str, key: str = "id", hint: str = "") -> None:
    """Raise naming the second of two equal values (``items[3].id: '2' is also items[1].id``).

    Parameters
    ----------
    values
        The values in file order.
    field
        The list's field path, e.g. ``items``.
    what
        What must be unique, in words.
    key
        The key inside each entry holding the value; empty when the list holds the values.
    hint
        How to fix it, appended to the message.
    """
    seen: dict[object, int] = {}
    suffix = f".{key}" if key else ""
    for position, value in enumerate(values):
        if value in seen:
            raise ValueError(
                f"{field}[{position}]{suffix}: {value!r} is also {field}[{seen[value]}]{suffix}; "
                f"{what} must be unique{hint}"
            )
        seen[value] = position


def score_range(scale: Scale, low: float, high: float) -> tuple[float, float]:
    """The lowest and highest score a scale can take when its answers run from low to high.

    Parameters
    ----------
    scale
        The scale (its method, items and multiplier).
    low, high
        The smallest and largest answer of its items.

    Returns
    -------
    tuple of float
        ``(lowest, highest)``; a prorated sum stays within the same range.
    """
    n = len(scale.items) if scale.method == "sum" else 1
    return n * low * scale.multiplier, n * high * scale.multiplier


def can_hold(op: str, value: float, lowest: float, highest: float) -> bool:
    """Whether ``x <op> value`` holds for some ``x`` in ``[lowest, highest]``.

    Parameters
    ----------
    op
        One of :data:`COMPARISONS`.
    value
        The number compared with.
    lowest, highest
        The range of the compared score or answer.

    Returns
    -------
    bool
        False when no value of the range satisfies the comparison (a rule that never fires).
    """
    match op:
        case ">=":
            return highest >= value
        case ">":
            return highest > value
        case "<=":
            return lowest <= value
        case "<":
            return lowest < value
        case "==":
            return lowest <= value <= highest
        case _:
            return True


def _cuts_in_range(scale: Scale, position: int, low: int, high: int) -> None:
    """Every band of the scale must be reachable: cuts above its lowest possible score and
    at most its highest."""
    lowest, highest = score_range(scale, low, high)
    cuts = scale.bands.cuts if scale.bands is not None else []
    outside = [cut for cut in cuts if not lowest < cut <= highest]
    if outside:
        raise ValueError(
            f"scales[{position}].bands.cuts: {outside} lie outside the scores the scale can "
            f"take ({lowest:g} to {highest:g}), so a band could never be reached; a cut must "
            f"be above {lowest:g} and at most {highest:g}"
        )


class Instrument(Spec):
    """A questionnaire instrument, validated from its TOML file."""

    id: Annotated[str, Field(pattern=IDENTIFIER)]
    version: Text
    name: Localized
    licence: Text
    citation: Text
    loinc: str | None = None
    notes: str | None = None
    response_scale: ResponseScale
    items: list[Item] = Field(min_length=1)
    scales: list[Scale] = Field(min_length=1)
    critical: list[Critical] = Field(default_factory=list)
    validity: list[Validity] = Field(default_factory=list)
    careless: Careless = Careless()
    golden: list[GoldenVector] = Field(default_factory=list)

    _source: str = PrivateAttr(default="")
    _sha256: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _references_exist(self) -> Instrument:
        """Cross-field checks; each message starts with the field path it is about."""
        _require_locales(self.name, "name")
        item_ids = [item.id for item in self.items]
        _unique(item_ids, "items", "item ids")
        folded: dict[str, int] = {}
        for position, item_id in enumerate(item_ids):
            first = folded.setdefault(item_id.lower(), position)
            if first != position:
                raise ValueError(
                    f"items[{position}].id: {item_id!r} and items[{first}].id "
                    f"{item_ids[first]!r} differ only in letter case, but input headers are "
                    f"matched whatever their case ({self.id}_{item_id} is read as "
                    f"{self.id}_{item_ids[first]}); give one of them another id"
                )
        scale_ids = [scale.id for scale in self.scales]
        _unique(scale_ids, "scales", "scale ids")
        low, high = self.response_scale.values[0], self.response_scale.values[-1]
        for i, item in enumerate(self.items):
            if item.missing_means is not None and not low <= item.missing_means <= high:
                raise ValueError(f"items[{i}].missing_means: must lie in [{low}, {high}]")
        known = set(item_ids)
        for k, scale in enumerate(self.scales):
            if scale.id in PER_INSTRUMENT_COLUMNS:
                raise ValueError(
                    f"scales[{k}].id: {scale.id!r} is reserved for a result column of every "
                    f"instrument ({self.id}.{scale.id}); give the scale another id"
                )
            if scale.id.startswith("item") and scale.id[4:] in known:
                raise ValueError(
                    f"scales[{k}].id: {scale.id!r} reads as item {scale.id[4:]} in triage "
                    f"rules ({self.id}.{scale.id}); give the scale another id"
                )
            for p, item in enumerate(scale.items):
                if item not in known:
                    raise ValueError(f"scales[{k}].items[{p}]: {item!r} is not an item")
            if scale.bands is not None:
                _cuts_in_range(scale, k, low, high)
        _unique([c.item for c in self.critical], "critical", "critical items", "item")
        _unique([g.name for g in self.golden], "golden", "golden vector names", "name")
        for c, critical in enumerate(self.critical):
            if critical.item not in known:
                raise ValueError(f"critical[{c}].item: {critical.item!r} is not an item")
            if not low < critical.threshold <= high:
                raise ValueError(
                    f"critical[{c}].threshold: must lie in [{low + 1}, {high}] (the answers "
                    f"are {low} to {high}), got {critical.threshold}: below, every student is "
                    "critical; above, none"
                )
        for v, rule in enumerate(self.validity):
            if rule.scale not in scale_ids:
                raise ValueError(f"validity[{v}].scale: {rule.scale!r} is not a scale")
            lowest, highest = score_range(self.scale(rule.scale), low, high)
            if not can_hold(rule.op, rule.value, lowest, highest):
                raise ValueError(
                    f"validity[{v}].value: {self.id}.{rule.scale} is {lowest:g} to "
                    f"{highest:g}, so '{rule.scale} {rule.op} {rule.value:g}' never holds and "
                    "would never mark a protocol invalid; correct the value or the op"
                )
        limit = self.careless.max_longstring
        if limit is not None and limit > len(self.items):
            raise ValueError(
                f"careless.max_longstring: {limit} is more than the {len(self.items)} items, "
                "so no run of identical answers could reach it; set it to at most "
                f"{len(self.items)} or leave it out"
            )
        for g, vector in enumerate(self.golden):
            if len(vector.responses) != len(self.items):
                raise ValueError(
                    f"golden[{g}].responses: {len(vector.responses)} answers for "
                    f"{len(self.items)} items"
                )
            bad = [v for v in vector.responses if v != -1 and not low <= v <= high]
            if bad:
                raise ValueError(f"golden[{g}].responses: answers {bad} out of [{low}, {high}]")
            unknown = [
                s for s in dict.fromkeys([*vector.scores, *vector.bands]) if s not in scale_ids
            ]
            if unknown:
                raise ValueError(f"golden[{g}]: names unknown scales {unknown}")
            for scale_id, label in vector.bands.items():
                bands = self.scale(scale_id).bands
                if bands is None:
                    raise ValueError(
                        f"golden[{g}].bands.{scale_id}: {scale_id} has no bands; leave it out "
                        "of bands or give the scale bands"
                    )
                if label not in bands.labels["en"]:
                    raise ValueError(
                        f"golden[{g}].bands.{scale_id}: {label!r} is not a band of {scale_id}; "
                        f"its bands are {', '.join(bands.labels['en'])} (the English labels)"
                    )
        return self

    @property
    def source(self) -> str:
        """The file the instrument was loaded from (bundled files as ``bundled:<id>``)."""
        return self._source

    @property
    def sha256(self) -> str:
        """Content hash of the instrument file."""
        return self._sha256

    def item_columns(self) -> list[str]:
        """Input column names of the items, ``{instrument}_{item}``."""
        return [f"{self.id}_{item.id}" for item in self.items]

    def item_index(self, item_id: str) -> int:
        """Position of an item in the instrument."""
        for position, item in enumerate(self.items):
            if item.id == item_id:
                return position
        raise KeyError(item_id)

    def scale(self, scale_id: str) -> Scale:
        """The scale with this id."""
        for scale in self.scales:
            if scale.id == scale_id:
                return scale
        raise KeyError(scale_id)

    def reverse_mask(self) -> np.ndarray:
        """Boolean array, true for reverse-keyed items."""
        return np.array([item.reverse for item in self.items], dtype=bool)

    def item_min(self) -> np.ndarray:
        """Smallest valid answer per item."""
        return np.full(len(self.items), self.response_scale.values[0], dtype=np.int8)

    def item_max(self) -> np.ndarray:
        """Largest valid answer per item."""
        return np.full(len(self.items), self.response_scale.values[-1], dtype=np.int8)

    def benign_answer(self) -> int:
        """The answer that, given to every item, is a plausible protocol, not straight-lining.

        The no-symptom end of the scale: the lowest answer, or the highest where every
        banded scale counts low scores as risk (WHO-5: "all of the time" throughout is
        plain good well-being). -1 (none) when items are keyed both ways, where any
        identical string contradicts itself.
        """
        if any(item.reverse for item in self.items):
            return -1
        risks = {scale.bands.risk for scale in self.scales if scale.bands is not None}
        values = self.response_scale.values
        return values[-1] if risks == {"low"} else values[0]


class TierRule(Spec):
    """A triage level and the conditions that raise a student to it."""

    level: Whole = Field(ge=1, le=3)
    any: list[str] = Field(default_factory=list)
    all: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_conditions(self) -> TierRule:
        if not self.any and not self.all:
            raise ValueError("a tier needs conditions in `any` or `all`")
        return self


class Queue(Spec):
    """How long the counselling room has for a case of each tier, in hours."""

    due_hours: dict[str, Whole] = Field(default_factory=lambda: {"3": 24, "2": 168})

    @field_validator("due_hours")
    @classmethod
    def _tiers(cls, value: dict[str, int]) -> dict[str, int]:
        for tier, hours in value.items():
            if tier not in {"1", "2", "3"} or hours <= 0:
                raise ValueError(f"due_hours maps tiers 1-3 to positive hours, got {tier}={hours}")
        return value


class Battery(Spec):
    """Instruments given together and the triage rules that turn scores into tiers."""

    id: Annotated[str, Field(pattern=BATTERY_ID)]
    version: str = "1"
    name: Localized = Field(default_factory=lambda: {"zh-CN": "", "en": ""})
    instruments: list[str] = Field(min_length=1)
    critical_tier: Whole | None = Field(
        default=3,
        ge=1,
        le=3,
        description="Tier given to any endorsed critical item of an instrument; "
        "None leaves critical items to the rules.",
    )
    tier: list[TierRule] = Field(default_factory=list)
    queue: Queue = Queue()
    norms: list[str] = Field(
        default_factory=list,
        description="Norm tables (JSON written by `screening norms`), as paths relative to "
        "the battery file; scoring adds T-scores and percentile ranks of their scales.",
    )

    _source: str = PrivateAttr(default="")
    _sha256: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _unique(self) -> Battery:
        _unique(self.instruments, "instruments", "the instruments of a battery", key="")
        _unique(
            [rule.level for rule in self.tier],
            "tier",
            "tier levels",
            key="level",
            hint="; put the conditions of one level in one tier's any or all list",
        )
        return self

    @property
    def source(self) -> str:
        """The file the battery was loaded from."""
        return self._source

    @property
    def sha256(self) -> str:
        """Content hash of the battery file."""
        return self._sha256

    @property
    def queue_due_hours(self) -> dict[int, int]:
        """Hours until a case of each tier is due."""
        return {int(tier): hours for tier, hours in self.queue.due_hours.items()}
