"""The audit trail: one append-only row for every read or change of a student's record.

Rows hold surrogate ids only (case, upload, school), never a student id, name or answer.
The table refuses UPDATE and DELETE by trigger (see the initial migration).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

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
