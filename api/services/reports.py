"""Aggregate reports: counts by tier, grade, sex (and school), with small cells suppressed.

Suppression: a count of 1 to ``min_cell - 1`` students is hidden (primary). A published
total could give a single hidden cell away by subtraction, so (secondary suppression):

- the tier counts add up to the number of students: when exactly one is hidden, the
  smallest other non-zero tier count is hidden too;
- the grade (sex, school) cells of one tier add up to that tier's count: when the tier
  count is shown, a column never has exactly one hidden cell; when the tier count is
  hidden, its column keeps at least one hidden cell, so the hidden count cannot be
  recovered by adding up the column.

Zero counts are shown. Row totals (all tiers of one grade) are not published.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Hashable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from screening.api import audit
from screening.api.models import Result, Upload
from screening.api.schemas import Cell, Report
from screening.api.security import Actor
from screening.api.services.access import (
    REPORT_READERS,
    require_district,
    require_role,
    target_school,
)
from screening.suppression import suppress_line

LABELS = ("green", "yellow", "orange", "red", "retest")


def hide_in_column(counts: list[int], min_cell: int, total_hidden: bool) -> list[bool]:
    """Which cells of one column to hide, given whether the column's total is hidden.

    Examples
    --------
    >>> hide_in_column([12, 11], 10, total_hidden=True)
    [False, True]
    >>> hide_in_column([12, 11], 10, total_hidden=False)
    [False, False]
    """
    if not total_hidden:
        return suppress_line(counts, min_cell)
    hidden = [0 < c < min_cell for c in counts]
    if not any(hidden):
        candidates = [(c, i) for i, c in enumerate(counts) if c > 0]
        if candidates:
            hidden[min(candidates)[1]] = True
    return hidden


def _table(
    counts: dict[tuple[Hashable, str], int],
    groups: list[Hashable],
    min_cell: int,
    tier_hidden: dict[str, bool],
) -> list[Cell]:
    """Cells of a group x tier table, suppressed per tier column (see the module doc)."""
    hidden: dict[tuple[Hashable, str], bool] = {}
    for label in LABELS:
        column = [counts.get((g, label), 0) for g in groups]
        flags = hide_in_column(column, min_cell, tier_hidden[label])
        for g, h in zip(groups, flags, strict=True):
            hidden[(g, label)] = h
    cells = []
    for g in groups:
        for label in LABELS:
            n = counts.get((g, label), 0)
            h = hidden[(g, label)]
            cells.append(
                Cell(
                    group=None if g is None else str(g),
                    tier_label=label,
                    count=None if h else n,
                    suppressed=h,
                )
            )
    return cells


def _latest_window(session: Session, school_id: str | None) -> str | None:
    stmt = select(Upload.window).order_by(Upload.created_at.desc(), Upload.id.desc()).limit(1)
    if school_id is not None:
        stmt = stmt.where(Upload.school_id == school_id)
    return session.scalar(stmt)


def _build(
    session: Session,
    scope: str,
    school_id: str | None,
    window: str | None,
    min_cell: int,
    by_school: bool,
) -> Report:
    window = window or _latest_window(session, school_id)
    stmt = select(Result.school_id, Result.grade, Result.sex, Result.tier, func.count()).where(
        Result.window == window
    )
    if school_id is not None:
        stmt = stmt.where(Result.school_id == school_id)
    stmt = stmt.group_by(Result.school_id, Result.grade, Result.sex, Result.tier)
    tiers: dict[tuple[None, str], int] = defaultdict(int)
    grades: dict[tuple[str | None, str], int] = defaultdict(int)
    sexes: dict[tuple[str | None, str], int] = defaultdict(int)
    schools: dict[tuple[str, str], int] = defaultdict(int)
    for school, grade, sex, tier, n in session.execute(stmt):
        label = LABELS[tier] if tier is not None else "retest"
        tiers[(None, label)] += n
        grades[(grade, label)] += n
        sexes[(sex, label)] += n
        schools[(school, label)] += n
    total = sum(tiers.values())
    line = [tiers.get((None, label), 0) for label in LABELS]
    hidden = hide_in_column(line, min_cell, total_hidden=0 < total < min_cell)
    tier_hidden = dict(zip(LABELS, hidden, strict=True))
    by_tier = [
        Cell(group=None, tier_label=label, count=None if h else n, suppressed=h)
        for label, n, h in zip(LABELS, line, hidden, strict=True)
    ]

    def order(keys: set) -> list:
        return sorted(keys, key=lambda k: (k is None, str(k)))

    return Report(
        scope=scope,
        school_id=school_id,
        window=window,
        min_cell=min_cell,
        students=None if 0 < total < min_cell else total,
        by_tier=by_tier,
        by_grade=_table(grades, order({g for g, _ in grades}), min_cell, tier_hidden),
        by_sex=_table(sexes, order({s for s, _ in sexes}), min_cell, tier_hidden),
        by_school=(
            _table(schools, order({s for s, _ in schools}), min_cell, tier_hidden)
            if by_school
            else None
        ),
    )


def school_report(
    session: Session,
    actor: Actor,
    school_id: str,
    now: dt.datetime,
    *,
    window: str | None = None,
    min_cell: int = 10,
) -> Report:
    """Counts by tier, grade and sex of one school's window (default: its latest upload)."""
    require_role(actor, REPORT_READERS, "read reports")
    school = target_school(actor, school_id)
    report = _build(session, "school", school, window, min_cell, by_school=False)
    audit.record(session, actor, "report.school", "window", report.window, school, now)
    return report


def district_report(
    session: Session,
    actor: Actor,
    now: dt.datetime,
    *,
    window: str | None = None,
    min_cell: int = 10,
) -> Report:
    """Counts by tier, school, grade and sex over the district (district-wide accounts)."""
    require_district(actor)
    report = _build(session, "district", None, window, min_cell, by_school=True)
    audit.record(session, actor, "report.district", "window", report.window, None, now)
    return report


__all__ = ["district_report", "hide_in_column", "school_report", "suppress_line"]
