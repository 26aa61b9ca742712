"""The audit trail: one append-only row for every read or change of a student's record,
and for every request that the service layer refuses with 403 or 404 (someone asked for
an object or an action their role or school may not have).

Rows hold surrogate ids only (case, upload, school), never a student id, name or answer.
The table refuses UPDATE and DELETE by trigger (see the initial migration).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.types import Scope

from screening.api.models import AuditEvent
from screening.api.security import SYSTEM, Actor


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | str | None,
    school_id: str | None,
    now: dt.datetime,
) -> None:
    """Add an audit row to the current transaction.

    Parameters
    ----------
    session
        The unit of work that reads or changes the record; the row commits with it.
    actor
        Who acts; :data:`~screening.api.security.SYSTEM` (the service itself, e.g. the
        escalation sweep) is recorded with role ``system`` and no user.
    action
        What was done, e.g. ``case.read``, ``case.claim``, ``queue.read``, ``upload``.
    object_type, object_id
        What was touched (``case`` 17, ``queue`` S001, ``upload`` 3, ``window``
        2026-autumn for reports and exports of one screening window).
    school_id
        The school whose data were touched (None for district-wide reads).
    now
        Time of the action.
    """
    session.add(
        AuditEvent(
            at=now,
            actor_id=actor.user_id,
            actor_role="system" if actor is SYSTEM else actor.role.value,
            school_id=school_id,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            action=action,
        )
    )


def route_template(scope: Scope) -> str:
    """The route template of a request (``/api/v1/cases/{case_id}``), never its values."""
    if scope.get("route") is None:
        return "(unrouted)"
    names = {str(value): name for name, value in (scope.get("path_params") or {}).items()}
    segments = scope.get("path", "").split("/")
    return "/".join(f"{{{names[s]}}}" if s in names else s for s in segments)


def record_denied(
    session: Session, actor: Actor, request: Request, status: int, now: dt.datetime
) -> None:
    """Add an audit row for a request refused with ``status`` (403 or 404).

    The action is ``denied.<status>``; the object is the one the route's first ``*_id``
    path parameter names (``case`` 17, ``school`` S002), else the route itself (``route``,
    ``GET /api/v1/queue``), never a query string or a body. The row carries the actor's own
    school, so another school's trail does not grow with requests it never saw.
    """
    params = request.path_params
    name = next((p for p in params if p.endswith("_id")), None)
    if name is None:
        what, which = "route", f"{request.method} {route_template(request.scope)}"
    else:
        what, which = name.removesuffix("_id"), str(params[name])
    record(session, actor, f"denied.{status}", what, which[:64], actor.school_id, now)
