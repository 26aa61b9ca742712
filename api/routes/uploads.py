"""``/uploads``: a counsellor or district admin uploads a school's response file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile

from screening.api.deps import CurrentUser, NowDep, SessionDep, SettingsDep
from screening.api.routes import errors
from screening.api.schemas import UploadSummary
from screening.api.services import uploads
from screening.api.services.access import UPLOADERS, require_role, target_school
from screening.api.services.errors import ServiceError

router = APIRouter(prefix="/uploads", tags=["uploads"])

SCHOOL = r"^[\w.-]{1,32}$"
WINDOW = r"^[A-Za-z0-9_.-]{1,32}$"
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


class PayloadTooLarge(ServiceError):
    """The uploaded file is larger than the limit (413)."""

    status = 413


@router.post(
    "",
    response_model=UploadSummary,
    status_code=201,
    responses={
        200: {"model": UploadSummary, "description": "The same content was stored before"},
        **errors(400, 401, 403, 404, 413),
    },
)
def upload(
    response: Response,
    session: SessionDep,
    actor: CurrentUser,
    now: NowDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK) or Excel file")],
    window: Annotated[str, Form(pattern=WINDOW, description="Screening window, e.g. 2026-autumn")],
    battery: Annotated[str, Form(max_length=64, description="Bundled battery id")] = "default",
    school_id: Annotated[str | None, Form(pattern=SCHOOL)] = None,
    numbered_from: Annotated[
        int | None,
        Form(
            ge=0,
            le=100,
            description="The number the file gives each item's first option when it is not "
            "the answer code, e.g. 1 for 问卷星's 按选项序号 export (PHQ-9 answered 1-4); "
            "leave out when the file holds the answer codes",
        ),
    ] = None,
) -> UploadSummary:
    """Score a school's response file and queue every student at tier 2 or above.

    Idempotent: the same content for the same school and window stores nothing new and
    answers 200 with ``duplicate: true``.
    """
    require_role(actor, UPLOADERS, "upload response files")
    target_school(actor, school_id)
    data = file.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"The file is larger than {settings.max_upload_mb} MiB.")
    prepared = uploads.prepare_upload(data, file.filename or "upload", battery, numbered_from)
    summary = uploads.store_upload(
        session, actor, prepared, school_id=school_id, window=window, now=now
    )
    if summary.duplicate:
        response.status_code = 200
    return summary


@router.get("", response_model=list[UploadSummary], responses=errors(401, 403, 404))
def list_uploads(
    session: SessionDep,
    actor: CurrentUser,
    now: NowDep,
    school_id: Annotated[str | None, Query(pattern=SCHOOL)] = None,
) -> list[UploadSummary]:
    """The uploads of the caller's school (district admins name the school), newest first."""
    return uploads.list_uploads(session, actor, school_id, now)


@router.get("/{upload_id}", response_model=UploadSummary, responses=errors(401, 403, 404))
def get_upload(
    session: SessionDep, actor: CurrentUser, now: NowDep, upload_id: Id
) -> UploadSummary:
    """The counts of one upload."""
    return uploads.get_upload(session, actor, upload_id, now)
