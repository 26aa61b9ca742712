"""``GET /healthz``: liveness and database reachability (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from screening.api.schemas import ErrorOut, Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": ErrorOut}})
def healthz(request: Request) -> Health | JSONResponse:
    """Answer 200 when the service and its database are up, 503 otherwise."""
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"detail": "database unreachable"}, status_code=503)
    return Health(status="ok", database="ok")
