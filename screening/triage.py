"""Triage: battery rules and critical items turn scores into tiers.

The tier is the highest level whose rule fires: positive evidence always counts, so a
critical answer makes a student red even when the protocol is incomplete or invalid. When
no rule fires the tier is 0 (green) only if every instrument was scorable and valid;
otherwise it is null and ``status`` says why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

from screening.errors import RuleSyntaxError
from screening.instruments.compiler import CompiledBattery
from screening.instruments.loader import LoadedBattery
from screening.rules import ITEM, ResolvedCondition, parse_condition, resolve

TIER_LABELS: tuple[str, ...] = ("green", "yellow", "orange", "red")
STATUSES: tuple[str, ...] = ("scored", "incomplete", "invalid")


@dataclass(frozen=True)
class TierPlan:
    """One tier rule bound to condition positions."""

    level: int
    any: tuple[int, ...]
    all: tuple[int, ...]


@dataclass(frozen=True)
class TriagePlan:
    """The battery's rules parsed once: unique conditions and the tiers that use them."""

    conditions: tuple[ResolvedCondition, ...]
    tiers: tuple[TierPlan, ...]

    @property
    def texts(self) -> list[str]:
        """The canonical text of each condition, as written in ``reasons``."""
        return [c.condition.text for c in self.conditions]


def plan_triage(loaded: LoadedBattery, compiled: CompiledBattery) -> TriagePlan:
    """Parse and resolve every rule of the battery, adding critical items at ``critical_tier``.

    Raises
    ------
    RuleSyntaxError
        For a rule that does not parse or names an unknown instrument, scale or item.
    """
    conditions: list[ResolvedCondition] = []
    positions: dict[str, int] = {}

    def add(rule: str, where: str) -> int:
        try:
            resolved = resolve(parse_condition(rule), compiled, rule)
        except RuleSyntaxError as error:
            raise error.at(f"{loaded.battery.source}: {where}") from None
        text = resolved.condition.text
        if text not in positions:
            positions[text] = len(conditions)
            conditions.append(resolved)
        return positions[text]

    tiers = [
        TierPlan(
            rule.level,
            tuple(add(text, f"tier[{t}].any[{j}]") for j, text in enumerate(rule.any)),
            tuple(add(text, f"tier[{t}].all[{j}]") for j, text in enumerate(rule.all)),
        )
        for t, rule in enumerate(loaded.battery.tier)
    ]
    critical_level = loaded.battery.critical_tier
    if critical_level is not None and compiled.crit_names:
        critical = tuple(add(text, "critical_tier") for text in compiled.crit_names)
        tiers.append(TierPlan(critical_level, critical, ()))
    tiers.sort(key=lambda tier: -tier.level)
    return TriagePlan(tuple(conditions), tuple(tiers))


def _compare(values: np.ndarray, op: str, threshold: float) -> np.ndarray:
    match op:
        case ">=":
            return values >= threshold
        case ">":
            return values > threshold
        case "<=":
            return values <= threshold
        case "<":
            return values < threshold
        case "==":
            return values == threshold
        case _:
            return values != threshold


def evaluate_conditions(
    plan: TriagePlan, compiled: CompiledBattery, scores: np.ndarray, responses: np.ndarray
) -> np.ndarray:
    """Boolean matrix (rows × conditions, column-major): which conditions hold.

    A condition on a score that could not be computed, or on an item that is missing or out
    of range, is false.
    """
    fired = np.zeros((scores.shape[0], len(plan.conditions)), dtype=bool, order="F")
    for k, resolved in enumerate(plan.conditions):
        condition = resolved.condition
        if resolved.kind == ITEM:
            j = resolved.index
            answers = responses[:, j]
            known = (answers >= compiled.item_min[j]) & (answers <= compiled.item_max[j])
            fired[:, k] = known & _compare(answers, condition.op, condition.value)
        else:
            values = scores[:, resolved.index]
            fired[:, k] = ~np.isnan(values) & _compare(values, condition.op, condition.value)
    return fired


def row_status(
    compiled: CompiledBattery,
    scores: np.ndarray,
    invalid: np.ndarray,
    out_of_range: np.ndarray,
    row_invalid: np.ndarray | None = None,
) -> np.ndarray:
    """Status code per row: 0 scored, 1 incomplete (a scale not scorable), 2 invalid."""
    n = scores.shape[0]
    incomplete = _any_of((np.isnan(scores[:, s]) for s in range(scores.shape[1])), n)
    bad = (out_of_range > 0) | _any_of((invalid[:, m] for m in range(invalid.shape[1])), n)
    if row_invalid is not None:
        bad |= row_invalid
    status = incomplete.astype(np.int8)
    status[bad] = 2
    return status


def _any_of(columns: Iterable[np.ndarray], n: int) -> np.ndarray:
    """Row-wise OR of boolean columns of length ``n`` (all False when there are none)."""
    result = np.zeros(n, dtype=bool)
    for column in columns:
        result |= column
    return result


def assign_tiers(
    plan: TriagePlan, fired: np.ndarray, status: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Tier per row (-1 for null) and the matrix of conditions that count as reasons."""
    n = fired.shape[0]
    tier = np.full(n, -1, dtype=np.int8)
    reasons = np.zeros_like(fired)  # column-major like ``fired``: every step reads columns
    for rule in plan.tiers:
        hits = _any_of((fired[:, k] for k in rule.any), n) if rule.any else np.ones(n, bool)
        for k in rule.all:
            hits &= fired[:, k]
        for k in rule.any + rule.all:
            reasons[:, k] |= fired[:, k] & hits
        tier[hits & (tier < rule.level)] = rule.level
    tier[(tier < 0) & (status == 0)] = 0
    return tier, reasons


def enum_from_codes(codes: np.ndarray, labels: tuple[str, ...], name: str) -> pl.Series:
    """Enum series from integer codes (negative codes become null), by one gather.

    The gather takes polars' native unsigned index without nulls (the gather alone is three
    times faster than with nullable signed indexes); the nulls are set afterwards.
    """
    dictionary = pl.Series(name, labels, dtype=pl.Enum(labels))
    missing = codes < 0
    values = dictionary.gather(pl.Series(np.where(missing, 0, codes).astype(np.uint32)))
    return values.set(pl.Series(missing), None) if missing.any() else values


def triage_columns(
    plan: TriagePlan, tier: np.ndarray, status: np.ndarray, reasons: np.ndarray
) -> pl.DataFrame:
    """The ``tier``, ``tier_label``, ``status`` and ``reasons`` columns of the results.

    Reasons are built per distinct combination of fired conditions (a bit mask per row),
    then gathered: a million rows share a few dozen combinations.
    """
    tier_series = pl.Series("tier", tier, dtype=pl.Int8)
    if (tier < 0).any():
        tier_series = tier_series.set(tier_series < 0, None)
    order = _reason_order(plan)
    texts = plan.texts
    if len(order) > 62:
        raise ValueError("a battery may use at most 62 distinct conditions")
    mask = np.zeros(tier.shape[0], dtype=np.int64)
    for bit, k in enumerate(order):
        mask |= reasons[:, k].astype(np.int64) << bit
    combinations, index = _distinct(mask, len(order))
    lists = pl.Series(
        "reasons",
        [[texts[k] for bit, k in enumerate(order) if combo >> bit & 1] for combo in combinations],
        dtype=pl.List(pl.String),
    )
    return pl.DataFrame(
        [
            tier_series,
            enum_from_codes(tier, TIER_LABELS, "tier_label"),
            enum_from_codes(status, STATUSES, "status"),
            lists.gather(index),
        ]
    )


def _distinct(mask: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``mask`` and each row's position among them (like np.unique).

    With few bits a dense lookup table does it in linear time instead of a sort.
    """
    if bits > 20:
        combinations, index = np.unique(mask, return_inverse=True)
        return combinations, index.astype(np.uint32)
    seen = np.zeros(1 << bits, dtype=np.uint32)
    seen[mask] = 1
    combinations = np.flatnonzero(seen)
    position = np.cumsum(seen, dtype=np.uint32) - 1
    return combinations, position[mask]


def _reason_order(plan: TriagePlan) -> list[int]:
    """Conditions ordered by the highest tier that uses them, then as written."""
    order: list[int] = []
    for rule in plan.tiers:
        for k in (*rule.any, *rule.all):
            if k not in order:
                order.append(k)
    return order
