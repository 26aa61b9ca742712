"""Who may do what: roles per action and the school an actor may touch.

School-scoped accounts (counsellor, teacher, and analysts or researchers given a school)
only ever see their own school; asking for another school's object answers 404, the same
as for an object that does not exist.
"""

from __future__ import annotations

from screening.api.models import Role
from screening.api.security import Actor
from screening.api.services.errors import Forbidden, NotFound, Unprocessable

UPLOADERS = frozenset({Role.counsellor, Role.district_admin})
REFERRERS = frozenset({Role.counsellor, Role.teacher})
CASEWORKERS = frozenset({Role.counsellor})
REPORT_READERS = frozenset({Role.district_admin, Role.analyst, Role.counsellor, Role.researcher})
DISTRICT_READERS = frozenset({Role.district_admin, Role.analyst, Role.researcher})
EXPORTERS = REPORT_READERS


def require_role(actor: Actor, allowed: frozenset[Role], action: str) -> None:
    """Raise :class:`Forbidden` unless the actor's role may do ``action``."""
    if actor.role not in allowed:
        roles = ", ".join(sorted(r.value for r in allowed))
        raise Forbidden(f"Role {actor.role.value} may not {action} (allowed: {roles}).")


def target_school(actor: Actor, school_id: str | None) -> str:
    """The school an actor acts on.

    School-scoped accounts act on their own school (naming another answers 404);
    district-wide accounts must name one.
    """
    if actor.school_id is not None:
        if school_id is not None and school_id != actor.school_id:
            raise NotFound("No such school.")
        return actor.school_id
    if not school_id:
        raise Unprocessable("A district-wide account must name the school (school_id).")
    return school_id


def check_school(actor: Actor, school_id: str) -> None:
    """Raise :class:`NotFound` when a school-scoped actor touches another school's object."""
    if actor.school_id is not None and actor.school_id != school_id:
        raise NotFound()


def require_district(actor: Actor) -> None:
    """District-wide reads need an account without a school."""
    require_role(actor, DISTRICT_READERS, "read district reports")
    if actor.school_id is not None:
        raise Forbidden("District reports need a district-wide account (one without a school).")
