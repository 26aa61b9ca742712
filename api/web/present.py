"""How the pages show the service's objects: masked names, local times, scores, events."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from screening.api.clock import SCHOOL_TZ
from screening.api.schemas import CaseEventOut, ResultOut
from screening.api.services.cases import tier_label
from screening.errors import RuleSyntaxError
from screening.i18n import normalize_locale, translator
from screening.instruments.loader import bundled_instruments
from screening.rules import parse_condition

DISPLAY_TZ: dt.tzinfo = SCHOOL_TZ

SCORE_FLAGS = (".answered", ".critical", ".longstring", ".straight_line", ".irv", ".band")

#: How a rule's comparison is written for people.
SIGNS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "=", "!=": "≠"}
#: An invalid answer's reason, as the scoring pipeline writes it.
INVALID_ANSWER = re.compile(r"invalid answer (?P<column>\S+) = '(?P<value>.*)'", re.DOTALL)
#: The short name an instrument's name ends with, e.g. ``（PHQ-9）``.
SHORT_NAME = re.compile(r"[（(](?P<short>[A-Za-z][A-Za-z0-9-]*)[）)]\s*$")


def mask_name(name: str | None) -> str:
    """The family name and one star (``张三`` gives ``张*``); a dash when there is no name.

    Examples
    --------
    >>> mask_name("欧阳娜娜"), mask_name("Li Lei"), mask_name(None)
    ('欧*', 'L*', '—')
    """
    name = (name or "").strip()
    return f"{name[0]}*" if name else "—"


def local_time(value: dt.datetime | None) -> str:
    """``2026-09-01 16:00`` in Beijing time."""
    if value is None:
        return ""
    return value.astimezone(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M")


@lru_cache(maxsize=64)
def _instrument(instrument_id: str):
    from screening.errors import ScreeningError
    from screening.instruments.loader import load_instrument

    try:
        return load_instrument(instrument_id)
    except (ScreeningError, OSError):
        return None


def score_rows(result: ResultOut, locale: str) -> list[dict[str, Any]]:
    """The scale scores of a result with their bands, labelled in ``locale``."""
    rows = []
    for key, value in result.scores.items():
        if key.endswith(SCORE_FLAGS) or "." not in key:
            continue
        instrument_id, _, scale_id = key.partition(".")
        spec = _instrument(instrument_id)
        scale = next((s for s in spec.scales if s.id == scale_id), None) if spec else None
        name = (
            f"{spec.name.get(locale, instrument_id)} · {scale.name.get(locale, scale_id)}"
            if (spec and scale)
            else key
        )
        band = result.scores.get(f"{key}.band")
        if band is not None and scale is not None and scale.bands is not None:
            english = list(scale.bands.labels["en"])
            if band in english:
                band = scale.bands.labels.get(locale, english)[english.index(band)]
        rows.append(
            {
                "name": name,
                "value": "—"
                if value is None
                else f"{value:g}"
                if isinstance(value, float)
                else value,
                "band": band,
                "critical": bool(result.scores.get(f"{instrument_id}.critical")),
            }
        )
    return rows


def reason_text(reason: str, locale: str) -> str:
    """A triage reason in words of ``locale``, from the bundled instrument's names and labels.

    ``phq9.item9 >= 1`` gives ``PHQ-9 第 9 题（自伤或轻生念头）≥ 1`` and
    ``invalid answer phq9_3 = '7'`` gives ``PHQ-9 第 3 题（睡眠问题）的答案无效：'7'``. A reason
    that is not a rule or an invalid answer, or names an instrument, item or scale that is not
    bundled, is given as it is.
    """
    locale = normalize_locale(locale)
    _ = translator(locale)
    invalid = INVALID_ANSWER.fullmatch(reason)
    if invalid is not None:
        column = invalid["column"]
        for instrument in bundled_instruments():
            if column.startswith(f"{instrument}_"):
                what = _member(instrument, f"item{column[len(instrument) + 1 :]}", locale)
                if what is not None:
                    return _("web.reason.invalid", what=what, value=invalid["value"])
        return reason
    try:
        condition = parse_condition(reason)
    except RuleSyntaxError:
        return reason
    what = _member(condition.instrument, condition.member, locale)
    if what is None:
        return reason
    value = condition.text.rpartition(" ")[2]
    text = f"{what} {SIGNS[condition.op]} {value}"
    return text.replace("） ", "）")  # a full-width bracket holds its own space


def _member(instrument_id: str, member: str, locale: str) -> str | None:
    """``PHQ-9 抑郁总分`` or ``PHQ-9 第 9 题（自伤或轻生念头）``; None when not bundled."""
    spec = _instrument(instrument_id) if instrument_id in bundled_instruments() else None
    if spec is None:
        return None
    _ = translator(locale)
    names = [spec.name.get(locale, ""), *spec.name.values()]
    short = next((m["short"] for m in map(SHORT_NAME.search, names) if m), None)
    instrument = short or spec.name.get(locale) or instrument_id
    scale = next((s for s in spec.scales if s.id == member), None)  # scales first, as rules.py
    if scale is not None:
        return f"{instrument} {scale.name.get(locale, scale.id)}"
    item = next((i for i in spec.items if f"item{i.id}" == member), None)
    if item is not None:
        label = item.label.get(locale, "")
        return _("web.reason.item", instrument=instrument, item=item.id, label=label)
    return None


def event_rows(events: list[CaseEventOut], locale: str) -> list[dict[str, Any]]:
    """Timeline entries: time, what happened, who, and the event's details, translated.

    Empty details are left out, except a tier of None: a screening that gave no tier (a
    ``rescreened`` event whose answers were incomplete or invalid) shows as "re-test".
    """
    _ = translator(locale)
    rows = []
    for event in events:
        details = []
        for key, value in event.detail.items():
            if (value is None and key != "tier") or value == "" or key == "upload_id":
                continue
            details.append((_label(_, f"web.detail.{key}", key), _value(_, key, value)))
        rows.append(
            {
                "at": local_time(event.at),
                "kind": event.kind,
                "label": _label(_, f"web.event.{event.kind}", event.kind),
                "actor": event.actor or _("web.event.system"),
                "details": details,
            }
        )
    return rows


def _label(_, key: str, fallback: str) -> str:
    try:
        return _(key)
    except KeyError:
        return fallback


def _value(_, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return _("web.yes") if value else _("web.no")
    if key == "tier" and (value is None or isinstance(value, int)):
        return _label(_, f"tier.{tier_label(value)}", str(value))
    prefixes = {
        "category": "web.category",
        "disposition": "web.disposition",
        "source": "web.source",
        "referred_by_role": "web.roles",
        "method": "web.guardian_method",
        "outcome": "web.guardian_outcome",
    }
    if key in prefixes:
        return _label(_, f"{prefixes[key]}.{value}", str(value))
    return str(value)


__all__ = ["DISPLAY_TZ", "event_rows", "local_time", "mask_name", "reason_text", "score_rows"]
