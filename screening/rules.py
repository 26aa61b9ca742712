"""The triage rule grammar: ``instrument.scale|item  op  number``, parsed once, no eval.

A condition names a scale (``phq9.total``) or an item (``phq9.item9``), a comparison
(``>= > <= < == !=``) and a number. Conditions are parsed into :class:`Condition` records
and resolved against the compiled battery into array indexes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from screening.errors import RuleSyntaxError
from screening.instruments.compiler import OPERATORS, CompiledBattery

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
    number = expect(_NUMBER, "a number")
    skip_spaces()
    if position != len(rule):
        raise RuleSyntaxError(rule, position, "unexpected text after the number")
    return Condition(instrument, member, op, float(number))


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
        return ResolvedCondition(condition, SCALE, compiled.scale_index(name), op_code)
    if condition.member.startswith("item"):
        column = f"{condition.instrument}_{condition.member[4:]}"
        if column in compiled.columns:
            return ResolvedCondition(condition, ITEM, compiled.columns.index(column), op_code)
    scales = [
        s.split(".", 1)[1] for s in compiled.scale_names if s.startswith(name.split(".")[0] + ".")
    ]
    raise RuleSyntaxError(
        rule,
        len(condition.instrument) + 1,
        f"{condition.instrument!r} has no scale or item {condition.member!r}; scales: "
        f"{', '.join(scales)}; items are written item<id>, e.g. item1",
    )
