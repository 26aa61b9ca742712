"""The triage rule grammar: ``instrument.scale|item  op  number``, parsed once, no eval.

A condition names a scale (``phq9.total``) or an item (``phq9.item9``), a comparison
(``>= > <= < == !=``) and a number. Conditions are parsed into :class:`Condition` records
and resolved against the compiled battery into array indexes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from screening.errors import RuleSyntaxError
from screening.instruments.compiler import METHODS, OPERATORS, CompiledBattery
from screening.instruments.models import can_hold

_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_MEMBER = re.compile(r"[A-Za-z0-9_]+")
_OPERATOR = re.compile(r">=|<=|==|!=|>|<")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")

SCALE, ITEM = 0, 1


@dataclass(frozen=True)
class Condition:
    """One parsed condition, e.g. ``phq9.total >= 15``."""

    instrument: str
    member: str
    op: str
    value: float

    @property
    def text(self) -> str:
        """The condition in canonical form (as written in ``reasons``)."""
        value = int(self.value) if self.value.is_integer() else self.value
        return f"{self.instrument}.{self.member} {self.op} {value}"


def parse_condition(rule: str) -> Condition:
    """Parse one condition.

    Raises
    ------
    RuleSyntaxError
        With the position of the first character that does not fit the grammar.
    """
    position = 0

    def skip_spaces() -> None:
        nonlocal position
        while position < len(rule) and rule[position] in " \t":
            position += 1

    def expect(pattern: re.Pattern[str], what: str) -> str:
        nonlocal position
        match = pattern.match(rule, position)
        if match is None:
            found = repr(rule[position]) if position < len(rule) else "the end of the rule"
            raise RuleSyntaxError(rule, position, f"expected {what}, found {found}")
        position = match.end()
        return match.group(0)

    skip_spaces()
    instrument = expect(_NAME, "an instrument id such as 'phq9'")
    if position >= len(rule) or rule[position] != ".":
        raise RuleSyntaxError(
            rule, position, "expected '.' and a scale or item, as in 'phq9.total' or 'phq9.item9'"
        )
    position += 1
    member = expect(_MEMBER, "a scale or item name such as 'total' or 'item9'")
    skip_spaces()
    op = expect(_OPERATOR, "a comparison: >=, >, <=, <, == or !=")
    skip_spaces()
    start = position
    number = expect(_NUMBER, "a number")
    skip_spaces()
    if position != len(rule):
        raise RuleSyntaxError(rule, position, "unexpected text after the number")
    value = float(number)
    if not math.isfinite(value):
        raise RuleSyntaxError(
            rule, start, f"{number} is not a finite number; write a score such as 15"
        )
    return Condition(instrument, member, op, value)


@dataclass(frozen=True)
class ResolvedCondition:
    """A condition bound to the compiled battery: what to read and how to compare."""

    condition: Condition
    kind: int  # SCALE or ITEM
    index: int  # scale position or matrix column
    op_code: int


def resolve(condition: Condition, compiled: CompiledBattery, rule: str = "") -> ResolvedCondition:
    """Bind a condition to the scales and columns of a compiled battery."""
    rule = rule or condition.text
    op_code = OPERATORS[condition.op]
    if condition.instrument not in compiled.instrument_ids:
        raise RuleSyntaxError(
            rule,
            0,
            f"unknown instrument {condition.instrument!r}; the battery has "
            f"{', '.join(compiled.instrument_ids)}",
        )
    name = f"{condition.instrument}.{condition.member}"
    if name in compiled.scale_names:
        resolved = ResolvedCondition(condition, SCALE, compiled.scale_index(name), op_code)
        return _possible(resolved, compiled, rule)
    if condition.member.startswith("item"):
        column = f"{condition.instrument}_{condition.member[4:]}"
        if column in compiled.columns:
            resolved = ResolvedCondition(condition, ITEM, compiled.columns.index(column), op_code)
            return _possible(resolved, compiled, rule)
    scales = [
        s.split(".", 1)[1] for s in compiled.scale_names if s.startswith(name.split(".")[0] + ".")
    ]
    raise RuleSyntaxError(
        rule,
        len(condition.instrument) + 1,
        f"{condition.instrument!r} has no scale or item {condition.member!r}; scales: "
        f"{', '.join(scales)}; items are written item<id>, e.g. item1",
    )


def value_range(kind: int, index: int, compiled: CompiledBattery) -> tuple[float, float]:
    """The lowest and highest value a condition can compare: a scale's scores or an item's
    answers.

    Parameters
    ----------
    kind
        ``SCALE`` or ``ITEM``.
    index
        The scale position or matrix column.
    compiled
        The compiled battery.

    Returns
    -------
    tuple of float
        ``(lowest, highest)``.
    """
    if kind == ITEM:
        return float(compiled.item_min[index]), float(compiled.item_max[index])
    columns = compiled.scale_idx[compiled.scale_ptr[index] : compiled.scale_ptr[index + 1]]
    low = compiled.item_min[columns].astype(float)
    high = compiled.item_max[columns].astype(float)
    multiplier = float(compiled.scale_multiplier[index])
    if compiled.scale_method[index] == METHODS["sum"]:
        return float(low.sum()) * multiplier, float(high.sum()) * multiplier
    return float(low.min()) * multiplier, float(high.max()) * multiplier


def _possible(
    resolved: ResolvedCondition, compiled: CompiledBattery, rule: str
) -> ResolvedCondition:
    """The condition, or a RuleSyntaxError when no score or answer could make it hold (a
    tier that would never be given, such as ``phq9.total >= 270`` for 27)."""
    condition = resolved.condition
    lowest, highest = value_range(resolved.kind, resolved.index, compiled)
    if can_hold(condition.op, condition.value, lowest, highest):
        return resolved
    operator = _OPERATOR.search(rule)
    position = operator.end() if operator else 0
    while position < len(rule) and rule[position] in " \t":
        position += 1
    raise RuleSyntaxError(
        rule,
        position,
        f"{condition.instrument}.{condition.member} is {lowest:g} to {highest:g}, so the "
        "condition never holds and would never give its tier; correct the number or the "
        "comparison",
    )
