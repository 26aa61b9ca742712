"""Route modules of the service, one ``APIRouter`` per resource."""

from __future__ import annotations

from typing import Any

from screening.api.schemas import ErrorOut

DESCRIPTIONS = {
    400: "The request body cannot be parsed",
    401: "Missing, unknown or revoked bearer token",
    403: "The role may not do this",
    404: "No such object, or it belongs to another school",
    409: "The object is not in a state that allows this",
    413: "Request body larger than SCREENING_MAX_UPLOAD_MB",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can answer."""
    return {code: {"model": ErrorOut, "description": DESCRIPTIONS[code]} for code in codes}
