"""``/cases/{id}``: one student's file and the work on it; every change is an event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from screening.api.deps import CurrentUser, NowDep, SessionDep
from screening.api.routes import errors
from screening.api.schemas import (
    CaseOut,
    CloseIn,
    EscalateIn,
    FollowUpIn,
    GuardianContactIn,
    NoteIn,
    ReferIn,
)
from screening.api.services import cases

router = APIRouter(prefix="/cases", tags=["cases"])

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
READ = errors(401, 403, 404)
CHANGE = errors(400, 401, 403, 404, 409)


@router.get("/{case_id}", response_model=CaseOut, responses=READ)
def get_case(case_id: Id, session: SessionDep, actor: CurrentUser, now: NowDep) -> CaseOut:
    """The case with the student's whole file: events, every screening, other cases."""
    return cases.get_case(session, actor, case_id, now)


@router.post("/{case_id}/claim", response_model=CaseOut, responses=CHANGE)
def claim(case_id: Id, session: SessionDep, actor: CurrentUser, now: NowDep) -> CaseOut:
    """Take the case; of concurrent claimers exactly one wins, the others get 409."""
    return cases.claim(session, actor, case_id, now)


@router.post("/{case_id}/release", response_model=CaseOut, responses=CHANGE)
def release(case_id: Id, session: SessionDep, actor: CurrentUser, now: NowDep) -> CaseOut:
    """Give the case back to the queue (its claimer only)."""
    return cases.release(session, actor, case_id, now)


@router.post("/{case_id}/notes", response_model=CaseOut, responses=CHANGE)
def add_note(
    case_id: Id, body: NoteIn, session: SessionDep, actor: CurrentUser, now: NowDep
) -> CaseOut:
    """Record an interview or counselling note (claimer only)."""
    return cases.add_note(session, actor, case_id, body, now)


@router.post("/{case_id}/follow-up", response_model=CaseOut, responses=CHANGE)
def follow_up(
    case_id: Id, body: FollowUpIn, session: SessionDep, actor: CurrentUser, now: NowDep
) -> CaseOut:
    """Set the next follow-up date (claimer only)."""
    return cases.set_follow_up(session, actor, case_id, body, now)


@router.post("/{case_id}/escalate", response_model=CaseOut, responses=CHANGE)
def escalate(
    case_id: Id, body: EscalateIn, session: SessionDep, actor: CurrentUser, now: NowDep
) -> CaseOut:
    """Hand the case to the level-3 group; a reason is required."""
    return cases.escalate(session, actor, case_id, body, now)


@router.post("/{case_id}/refer", response_model=CaseOut, responses=CHANGE)
def refer(
    case_id: Id, body: ReferIn, session: SessionDep, actor: CurrentUser, now: NowDep
) -> CaseOut:
    """Record a hospital referral with its target and date (claimer only)."""
    return cases.refer(session, actor, case_id, body, now)


@router.post("/{case_id}/guardian-contact", response_model=CaseOut, responses=CHANGE)
def guardian_contact(
    case_id: Id, body: GuardianContactIn, session: SessionDep, actor: CurrentUser, now: NowDep
) -> CaseOut:
    """Record a contact with the student's guardian: date, way and outcome (claimer only)."""
    return cases.contact_guardian(session, actor, case_id, body, now)


@router.post("/{case_id}/close", response_model=CaseOut, responses=CHANGE)
def close(
    case_id: Id, body: CloseIn, session: SessionDep, actor: CurrentUser, now: NowDep
) -> CaseOut:
    """Close with a disposition; an urgent case needs a referral or a note."""
    return cases.close(session, actor, case_id, body, now)
