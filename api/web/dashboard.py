"""Figures of the dashboard, read from the service's stored results.

Counts are aggregated in the database (students per school, grade, sex, tier and status)
and handed to :func:`screening.reports.tier_sections`, the same code that makes the batch
report, so both suppress small cells the same way and show the same figures.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import polars as pl
from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.orm import Session

from screening.api import audit
from screening.api.models import Result, Upload
from screening.api.security import Actor
from screening.api.services.access import REPORT_READERS, require_district, require_role
from screening.api.services.cases import tier_label
from screening.api.services.reports import counts_frame
from screening.reports import TIERS, tier_line

TREND_TIERS = ("red", "orange", "yellow", "retest")


def scope_of(actor: Actor) -> str | None:
    """The school a dashboard shows for ``actor`` (None: the district).

    Raises
    ------
    screening.api.services.errors.Forbidden
        For roles that may not read aggregate reports (teachers).
    """
    require_role(actor, REPORT_READERS, "read reports")
    if actor.school_id is None:
        require_district(actor)
    return actor.school_id


def windows(session: Session, school: str | None) -> list[str]:
    """Screening windows with uploads, newest upload first."""
    stmt = select(Upload.window, func.max(Upload.created_at).label("latest")).group_by(
        Upload.window
    )
    if school is not None:
        stmt = stmt.where(Upload.school_id == school)
    return [w for w, _ in session.execute(stmt.order_by(func.max(Upload.created_at).desc()))]


@lru_cache(maxsize=32)
def _instrument_lengths(battery: str) -> tuple[tuple[str, int], ...]:
    """(instrument id, number of items) of a battery; empty when it cannot be loaded."""
    from screening.errors import ScreeningError
    from screening.instruments.loader import load_battery

    try:
        loaded = load_battery(battery)
    except (ScreeningError, OSError):
        return ()
    return tuple((i.id, len(i.items)) for i in loaded.instruments)


def quality_entries(session: Session, window: str, school: str | None) -> list[dict]:
    """Per school: students and the incomplete, invalid and straight-lining rates.

    Straight-lining (the same answer to every item of an instrument with at least three
    items) is read from the stored ``{instrument}.longstring`` scores.
    """
    batteries = session.scalars(
        select(Result.battery).where(Result.window == window).distinct()
    ).all()
    conditions = []
    for battery in batteries:
        for instrument, items in _instrument_lengths(battery):
            if items >= 3:
                longest = Result.scores[f"{instrument}.longstring"].as_integer()
                conditions.append((Result.battery == battery) & (longest >= items))
    straight = case((or_(*conditions), 1), else_=0) if conditions else literal(0)
    stmt = (
        select(
            Result.school_id,
            func.count(),
            func.sum(case((Result.status == "incomplete", 1), else_=0)),
            func.sum(case((Result.status == "invalid", 1), else_=0)),
            func.sum(straight),
        )
        .where(Result.window == window)
        .group_by(Result.school_id)
        .order_by(Result.school_id)
    )
    if school is not None:
        stmt = stmt.where(Result.school_id == school)
    entries = []
    for school_id, students, incomplete, invalid, straight_n in session.execute(stmt):
        entries.append(
            {
                "school_id": school_id,
                "students": students,
                "incomplete_rate": round((incomplete or 0) / students, 4),
                "invalid_rate": round((invalid or 0) / students, 4),
                "straight_lining_rate": round((straight_n or 0) / students, 4),
            }
        )
    return entries


def trend_points(
    session: Session, school: str | None, min_cell: int
) -> dict[str, list[tuple[str, float | None]]]:
    """Per tier, its share of students in each window (oldest first); None where suppressed.

    A share is left out when the window has fewer than ``min_cell`` students, or when the
    tier table of the window hides its count: the same line, suppressed by the same call
    (:func:`screening.reports.tier_line`) in the same tier order as the table, so that the
    two hide the same tiers, ties included.
    """
    order = list(reversed(windows(session, school)))
    stmt = select(Result.window, Result.tier, func.count()).where(Result.window.in_(order))
    if school is not None:
        stmt = stmt.where(Result.school_id == school)
    counts: dict[str, dict[str, int]] = {w: {} for w in order}
    for window, tier, n in session.execute(stmt.group_by(Result.window, Result.tier)):
        label = tier_label(tier)
        counts[window][label] = counts[window].get(label, 0) + n
    points: dict[str, list[tuple[str, float | None]]] = {k: [] for k in TREND_TIERS}
    for window in order:
        line = pl.DataFrame(
            {"tier_label": list(counts[window]), "n": list(counts[window].values())},
            schema={"tier_label": pl.String, "n": pl.Int64},
        )
        values, flags = tier_line(line, min_cell)  # as the window's tier table: same cells
        total = sum(values)
        hidden = dict(zip(TIERS, flags, strict=True))
        for key in TREND_TIERS:
            n = counts[window].get(key, 0)
            gone = total < min_cell or hidden[key]
            points[key].append((window, None if gone or not total else n / total))
    return points


def record_read(session: Session, actor: Actor, school: str | None, now: dt.datetime) -> None:
    """Audit the dashboard read (aggregates only, but still a read of student records)."""
    if school is None:
        audit.record(session, actor, "dashboard.district", "district", None, None, now)
    else:
        audit.record(session, actor, "dashboard.school", "school", school, school, now)


__all__ = [
    "counts_frame",
    "quality_entries",
    "record_read",
    "scope_of",
    "trend_points",
    "windows",
]
