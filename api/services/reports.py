"""Aggregate reports: counts by tier, grade, sex (and school), with small cells suppressed.

The counts are those the dashboard shows (:func:`counts_frame`), suppressed by the same
functions as the dashboard and the batch report (:func:`screening.reports.tier_line` and
:func:`screening.reports.tier_table`; the rules are in :mod:`screening.suppression`), so a
report, an export and the dashboard of one window hide the same cells: put side by side,
they show nothing that each hides. A district-wide reader, who also sees the district's
by-school table, gets each school's report with the cells that table hides of the school
hidden too (a school with nothing small of its own would otherwise show the counts the
district table hides to protect another school's), and the district's and the schools'
grade and sex tables suppressed together (:func:`screening.reports.nested_tables`): a
district cell is the sum of the schools' cells, and must not give a school's hidden count
away by subtraction.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
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
from screening.api.services.cases import tier_label
from screening.reports import TIERS, nested_tables, school_lines, tier_line, tier_table
from screening.suppression import SuppressedTable, suppress_line, total_shown

LABELS = ("green", "yellow", "orange", "red", "retest")


def counts_frame(session: Session, window: str | None, school: str | None) -> pl.DataFrame:
    """Students per school, grade, sex, tier label and status in one window (column ``n``)."""
    stmt = select(
        Result.school_id, Result.grade, Result.sex, Result.tier, Result.status, func.count()
    ).where(Result.window == window)
    if school is not None:
        stmt = stmt.where(Result.school_id == school)
    stmt = stmt.group_by(Result.school_id, Result.grade, Result.sex, Result.tier, Result.status)
    rows = [
        (s, g, x, tier_label(tier), status, n) for s, g, x, tier, status, n in session.execute(stmt)
    ]
    return pl.DataFrame(
        rows,
        schema={
            "school_id": pl.String,
            "grade": pl.String,
            "sex": pl.String,
            "tier_label": pl.String,
            "status": pl.String,
            "n": pl.Int64,
        },
        orient="row",
    )


def _cells(table: SuppressedTable, groups: list) -> list[Cell]:
    """A suppressed group x tier table as cells in group and label order."""
    cells = []
    for i, group in enumerate(groups):
        for label in LABELS:
            count = table.counts[i][TIERS.index(label)]
            cells.append(
                Cell(
                    group=None if group is None else str(group),
                    tier_label=label,
                    count=count,
                    suppressed=count is None,
                )
            )
    return cells


def _breakdown(
    frame: pl.DataFrame,
    by: str,
    min_cell: int,
    hidden_totals: list[bool],
    school: str | None,
    district: pl.DataFrame | None,
) -> list[Cell]:
    """The ``by`` x tier table of ``frame`` as cells; with ``district`` (the district's
    counts, for a district-wide reader), the district's table or ``school``'s, suppressed
    together with the other schools'."""
    if district is not None:
        whole, schools = nested_tables(district, by, min_cell)
        if school is None:
            return _cells(*whole)
        if school in schools:
            return _cells(*schools[school])
    return _cells(*tier_table(frame, by, min_cell, hidden_totals))


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
    *,
    by_school: bool = False,
    beside_district: bool = False,
) -> Report:
    """The report of a school or the district; ``beside_district``: for a reader who also
    sees the district report, the school's report hides what its row there hides."""
    window = window or _latest_window(session, school_id)
    frame = counts_frame(session, window, school_id)
    total = int(frame.get_column("n").sum())
    values, hidden = tier_line(frame, min_cell)
    whole = total > 0 and not total_shown(values, hidden, min_cell)
    district = None
    if school_id is None:
        district = frame
    elif beside_district:
        district = counts_frame(session, window, None)
        row, row_whole = school_lines(district, min_cell).get(school_id, (hidden, whole))
        hidden = [a or b for a, b in zip(hidden, row, strict=True)]
        whole = whole or row_whole
    line = dict(zip(TIERS, zip(values, hidden, strict=True), strict=True))
    return Report(
        scope=scope,
        school_id=school_id,
        window=window,
        min_cell=min_cell,
        students=None if whole else total,
        by_tier=[
            Cell(group=None, tier_label=label, count=None if h else n, suppressed=h)
            for label, (n, h) in ((label, line[label]) for label in LABELS)
        ],
        by_grade=_breakdown(frame, "grade", min_cell, hidden, school_id, district),
        by_sex=_breakdown(frame, "sex", min_cell, hidden, school_id, district),
        by_school=_cells(*tier_table(frame, "school_id", min_cell, hidden)) if by_school else None,
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
    # a district-wide reader also sees the district's by-school table: hide the same cells
    district_wide = actor.school_id is None
    report = _build(session, "school", school, window, min_cell, beside_district=district_wide)
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


__all__ = ["counts_frame", "district_report", "school_report", "suppress_line"]
