"""The triage rule grammar: parsing, canonical text, clear errors, resolution."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from screening.errors import RuleSyntaxError
from screening.instruments import load_battery
from screening.instruments.compiler import compile_battery
from screening.rules import ITEM, SCALE, Condition, parse_condition, resolve


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("phq9.total >= 20", Condition("phq9", "total", ">=", 20.0)),
        ("phq9.item9>=1", Condition("phq9", "item9", ">=", 1.0)),
        ("  gad7.total   <  10.5 ", Condition("gad7", "total", "<", 10.5)),
        ("who5.raw <= 7", Condition("who5", "raw", "<=", 7.0)),
        ("scared.panic == 0", Condition("scared", "panic", "==", 0.0)),
        ("dass21.stress != -1e1", Condition("dass21", "stress", "!=", -10.0)),
        ("default-x.total > .5", Condition("default-x", "total", ">", 0.5)),
    ],
)
def test_parse(rule: str, expected: Condition) -> None:
    assert parse_condition(rule) == expected


@pytest.mark.parametrize(
    ("rule", "position", "fragment"),
    [
        ("", 0, "instrument id"),
        ("phq9 >= 1", 4, "expected '.'"),
        ("phq9. >= 1", 5, "scale or item"),
        ("phq9.total => 1", 11, "comparison"),
        ("phq9.total >= ", 14, "a number"),
        ("phq9.total >= ten", 14, "a number"),
        ("phq9.total >= 1 or gad7.total >= 1", 16, "unexpected text"),
        ("PHQ9.total >= 1", 0, "instrument id"),
        ("__import__('os').system('x')", 0, "instrument id"),
    ],
)
def test_parse_errors_point_at_the_problem(rule: str, position: int, fragment: str) -> None:
    with pytest.raises(RuleSyntaxError) as raised:
        parse_condition(rule)
    assert raised.value.position == position
    assert fragment in str(raised.value)
    assert "^" in str(raised.value)


names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
members = st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True)
ops = st.sampled_from([">=", ">", "<=", "<", "==", "!="])
numbers = st.integers(-1000, 1000) | st.floats(-1e3, 1e3, allow_nan=False).map(
    lambda x: round(x, 3)
)


@given(names, members, ops, numbers, st.sampled_from(["", " ", "  "]))
def test_canonical_text_round_trips(instrument, member, op, value, space) -> None:
    rule = f"{instrument}.{member}{space}{op}{space}{value}"
    parsed = parse_condition(rule)
    assert parsed == Condition(instrument, member, op, float(value))
    assert parse_condition(parsed.text) == parsed


@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_raises_rule_error(text: str) -> None:
    try:
        parse_condition(text)
    except RuleSyntaxError:
        pass


def test_resolve_scales_and_items() -> None:
    compiled = compile_battery(load_battery("default"))
    scale = resolve(parse_condition("gad7.total >= 15"), compiled)
    assert scale.kind == SCALE and compiled.scale_names[scale.index] == "gad7.total"
    item = resolve(parse_condition("phq9.item9 >= 1"), compiled)
    assert item.kind == ITEM and compiled.columns[item.index] == "phq9_9"


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("cesd.total >= 16", "unknown instrument 'cesd'"),
        ("phq9.sum >= 1", "has no scale or item 'sum'"),
        ("phq9.item10 >= 1", "has no scale or item 'item10'"),
    ],
)
def test_resolve_errors(rule: str, fragment: str) -> None:
    compiled = compile_battery(load_battery("default"))
    with pytest.raises(RuleSyntaxError, match=fragment):
        resolve(parse_condition(rule), compiled)
