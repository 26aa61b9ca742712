"""``/exports``: CSV or Excel files, formula cells neutralised."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from screening.api.deps import CurrentUser, NowDep, SessionDep, SettingsDep
from screening.api.routes import errors
from screening.api.services import exports

router = APIRouter(prefix="/exports", tags=["exports"])

School = Annotated[str, Path(pattern=r"^[\w.-]{1,32}$")]
Window = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
Format = Annotated[Literal["csv", "xlsx"], Query(alias="format")]
FILE = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            exports.MEDIA["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The file",
    }
}


def _send(export: exports.Export) -> Response:
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", export.filename)
    return Response(
        export.content,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/schools/{school_id}/results",
    response_class=Response,
    responses={**FILE, **errors(401, 403, 404)},
)
def results(
    school_id: School,
    session: SessionDep,
    actor: CurrentUser,
    now: NowDep,
    settings: SettingsDep,
    window: Window = None,
    fmt: Format = "csv",
) -> Response:
    """One row per student: counsellors see ids and names, analysts pseudonyms,
    researchers neither (and no grade and sex shared by fewer than min_cell students)."""
    key = settings.pseudonym_key.get_secret_value()
    export = exports.export_results(
        session,
        actor,
        school_id,
        now,
        window=window,
        fmt=fmt,
        pseudonym_key=key,
        min_cell=settings.min_cell,
    )
    return _send(export)


@router.get(
    "/schools/{school_id}/report",
    response_class=Response,
    responses={**FILE, **errors(401, 403, 404)},
)
def report(
    school_id: School,
    session: SessionDep,
    actor: CurrentUser,
    now: NowDep,
    settings: SettingsDep,
    window: Window = None,
    fmt: Format = "csv",
) -> Response:
    """The school report's cells (suppressed cells empty)."""
    export = exports.export_report(
        session, actor, school_id, now, window=window, fmt=fmt, min_cell=settings.min_cell
    )
    return _send(export)


@router.get("/queue", response_class=Response, responses={**FILE, **errors(401, 403)})
def queue(session: SessionDep, actor: CurrentUser, now: NowDep, fmt: Format = "csv") -> Response:
    """The counsellor's queue."""
    return _send(exports.export_queue(session, actor, now, fmt=fmt))
