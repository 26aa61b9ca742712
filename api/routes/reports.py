"""``/reports``: counts by tier, grade and sex, small cells suppressed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from screening.api.deps import CurrentUser, NowDep, SessionDep, SettingsDep
from screening.api.routes import errors
from screening.api.schemas import Report
from screening.api.services import reports

router = APIRouter(prefix="/reports", tags=["reports"])

School = Annotated[str, Path(pattern=r"^[\w.-]{1,32}$")]
Window = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]


@router.get("/schools/{school_id}", response_model=Report, responses=errors(401, 403, 404))
def school_report(
    school_id: School,
    session: SessionDep,
    actor: CurrentUser,
    now: NowDep,
    settings: SettingsDep,
    window: Window = None,
) -> Report:
    """One school's window (default: its latest upload)."""
    return reports.school_report(
        session, actor, school_id, now, window=window, min_cell=settings.min_cell
    )


@router.get("/district", response_model=Report, responses=errors(401, 403))
def district_report(
    session: SessionDep,
    actor: CurrentUser,
    now: NowDep,
    settings: SettingsDep,
    window: Window = None,
) -> Report:
    """The district, by school, grade and sex (district-wide accounts)."""
    return reports.district_report(session, actor, now, window=window, min_cell=settings.min_cell)
