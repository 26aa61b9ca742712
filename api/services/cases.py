"""The counselling room's queue and the work on a case: claim, notes, follow-up, escalation,
hospital referral and closing. Every change is a case event and an audit row.

A claim is one conditional ``UPDATE ... WHERE claimed_by IS NULL`` checked by its row
count: of any number of concurrent claimers exactly one wins, the others get
:class:`Conflict`. Urgent cases that nobody works on past their due time (unclaimed, or
claimed with no note, follow-up or referral by the claimer since the claim) are escalated
automatically by :func:`escalate_overdue` (run on every queue read and by the service's
background sweep), which first gives back to the queue the cases claimed by accounts
that have since been revoked (:func:`release_revoked_claims`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from screening.api import audit
from screening.api.clock import school_date
from screening.api.models import (
    TIER_LABELS,
    Case,
    CaseEvent,
    CaseStatus,
    Disposition,
    GuardianContactOutcome,
    Result,
    Student,
    User,
)
from screening.api.schemas import (
    CaseBrief,
    CaseEventOut,
    CaseOut,
    CloseIn,
    EscalateIn,
    FollowUpIn,
    GuardianContactIn,
    NoteIn,
    Queue,
    QueueItem,
    ReferIn,
    ResultOut,
)
from screening.api.security import SYSTEM, Actor
from screening.api.services.access import CASEWORKERS, check_school, require_role, target_school
from screening.api.services.errors import Conflict, NotFound, Unprocessable

log = logging.getLogger("screening.api.cases")

AUTO_ESCALATION = "urgent case unclaimed past its due time"
IDLE_ESCALATION = "urgent case claimed but not acted on past its due time"
WORK = ("note", "follow_up", "referred")
"""Events by which the claimer acts on a case (an escalation or a close ends the sweep's
interest in it by itself)."""
REVOKED_CLAIMER = "the account that claimed the case was revoked"
SWEEP_BATCH = 1000
"""Cases escalated per ``UPDATE`` (a bound parameter each)."""


def tier_label(tier: int | None) -> str:
    """``green`` ... ``red``, or ``retest`` for a student without a tier."""
    return "retest" if tier is None else TIER_LABELS[tier]


def release_revoked_claims(
    session: Session, now: dt.datetime, school_id: str | None = None
) -> list[int]:
    """Give back to the queue the open cases claimed by a revoked account.

    Only the claimer may note, refer, release or close a case, and the sweep escalates
    unclaimed cases only: a case whose counsellor has left (``screening users revoke``)
    would otherwise stay claimed by an account nobody can use. Each release is a
    ``released`` event of the service (no actor) and an audit row.

    Parameters
    ----------
    session
        The unit of work (the caller commits).
    now
        The current time.
    school_id
        Limit the release to one school (None: every school).

    Returns
    -------
    list of int
        Ids of the cases released now.
    """
    revoked = select(User.id).where(User.revoked_at.is_not(None)).scalar_subquery()
    stmt = (
        update(Case)
        .where(Case.status == CaseStatus.open.value, Case.claimed_by.in_(revoked))
        .values(claimed_by=None, claimed_at=None)
        .returning(Case.id, Case.school_id)
        .execution_options(synchronize_session=False)
    )
    if school_id is not None:
        stmt = stmt.where(Case.school_id == school_id)
    released = session.execute(stmt).all()
    if not released:
        return []
    _service_acted(session, "released", [(c, s, REVOKED_CLAIMER) for c, s in released], now)
    log.warning("%d cases of revoked accounts released", len(released))
    return [case_id for case_id, _ in released]


AUTO_ACTIONS = {"released": "case.release.auto", "escalated": "case.escalate.auto"}


def _service_acted(
    session: Session, kind: str, cases: list[tuple[int, str, str]], now: dt.datetime
) -> None:
    """Record what the service itself did to ``cases`` ((case id, school, reason) each):
    an event without an actor, marked automatic, and an audit row per case."""
    session.execute(
        CaseEvent.__table__.insert(),
        [
            {
                "case_id": case_id,
                "at": now,
                "actor_id": None,
                "kind": kind,
                "detail": {"reason": reason, "automatic": True},
            }
            for case_id, _, reason in cases
        ],
    )
    for case_id, school, _ in cases:
        audit.record(session, SYSTEM, AUTO_ACTIONS[kind], "case", case_id, school, now)


def _nobody_works_on() -> ColumnElement[bool]:
    """Unclaimed, or claimed with no :data:`WORK` event by the claimer since the claim."""
    worked = (
        select(CaseEvent.id)
        .where(
            CaseEvent.case_id == Case.id,
            CaseEvent.kind.in_(WORK),
            CaseEvent.actor_id == Case.claimed_by,
            CaseEvent.at >= Case.claimed_at,
        )
        .exists()
    )
    return or_(Case.claimed_by.is_(None), ~worked)


def escalate_overdue(session: Session, now: dt.datetime, school_id: str | None = None) -> list[int]:
    """Escalate urgent cases that nobody works on past their due time (each once).

    A case is escalated when it is open, urgent, past its due time, not escalated before
    (by a person or by the service), and either unclaimed or claimed without a note, a
    follow-up or a referral by its claimer since the claim: a claim alone is not work on
    the case, and neither is a colleague's note made before the claim was given back. Work
    recorded late but before the sweep comes counts. Each escalation is an ``escalated``
    event of the service (no actor) whose reason says which of the two it was, and an
    audit row. Cases claimed by a revoked account are released first
    (:func:`release_revoked_claims`): they count as unclaimed.

    The cases are first locked (``FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL), then
    escalated by an ``UPDATE`` that checks the rule again under a fresh snapshot (READ
    COMMITTED). Every action on a case locks its row before writing its event, so a note or
    close that committed before the lock is seen and stops the escalation, one that comes
    after it waits and follows it, and a case held by one in progress is passed over until
    the next sweep; of two sweeps at once, one escalates each case. SQLite runs one write
    transaction at a time.

    Parameters
    ----------
    session
        The unit of work (the caller commits).
    now
        The current time.
    school_id
        Limit the sweep to one school (None: every school).

    Returns
    -------
    list of int
        Ids of the cases escalated now.
    """
    release_revoked_claims(session, now, school_id)
    due = [
        Case.status == CaseStatus.open.value,
        Case.urgent.is_(True),
        Case.escalated_at.is_(None),
        Case.due_at < now,
        _nobody_works_on(),
    ]
    if school_id is not None:
        due.append(Case.school_id == school_id)
    locked = session.scalars(
        select(Case.id)
        .where(*due)
        .order_by(Case.id)
        .with_for_update(skip_locked=True, key_share=True, of=Case)
    ).all()
    escalated = []
    for start in range(0, len(locked), SWEEP_BATCH):
        batch = locked[start : start + SWEEP_BATCH]
        escalated += session.execute(
            update(Case)
            .where(Case.id.in_(batch), *due)
            .values(escalated_at=now)
            .returning(Case.id, Case.school_id, Case.claimed_by)
            .execution_options(synchronize_session=False)
        ).all()
    if not escalated:
        return []
    reasons = [
        (case_id, school, AUTO_ESCALATION if claimer is None else IDLE_ESCALATION)
        for case_id, school, claimer in escalated
    ]
    _service_acted(session, "escalated", reasons, now)
    idle = sum(claimer is not None for _, _, claimer in escalated)
    log.warning(
        "%d overdue urgent cases escalated (%d of them claimed but not acted on)",
        len(escalated),
        idle,
    )
    return [case_id for case_id, _, _ in escalated]


def _claimer() -> Any:
    return aliased(User, name="claimer")


#: The kind of the case event that records a contact with the student's guardian.
GUARDIAN_CONTACTED = "guardian_contacted"


def _guardian_informed() -> Any:
    """Whether a contact that reached the guardian is recorded for the case (SQL)."""
    return exists().where(
        CaseEvent.case_id == Case.id,
        CaseEvent.kind == GUARDIAN_CONTACTED,
        CaseEvent.detail["outcome"].as_string() != GuardianContactOutcome.not_reached.value,
    )


def _queue_select() -> Any:
    """Columns of a queue item (plain columns: no ORM objects to build for a long queue)."""
    claimer = _claimer()
    return (
        select(
            Case.id,
            Case.tier,
            Case.urgent,
            Case.source,
            Case.status,
            Case.opened_at,
            Case.due_at,
            Case.claimed_at,
            Case.follow_up_on,
            Case.escalated_at,
            _guardian_informed().label("guardian_informed"),
            Student.student_id,
            Student.name,
            Result.grade,
            Result.class_id,
            Result.sex,
            Result.reasons,
            claimer.name.label("claimer_name"),
        )
        .join(Student, Student.id == Case.student_pk)
        .outerjoin(Result, Result.id == Case.result_id)
        .outerjoin(claimer, claimer.id == Case.claimed_by)
    )


def _item_fields(row: Any, now: dt.datetime) -> dict[str, Any]:
    (case_id, tier, urgent, source, status, opened_at, due_at, claimed_at, follow_up_on,
     escalated_at, guardian_informed, student_id, name, grade, class_id, sex, reasons,
     claimer) = row  # fmt: skip
    is_open = status == CaseStatus.open.value
    return {
        "case_id": case_id,
        "student_id": student_id,
        "name": name,
        "grade": grade,
        "class_id": class_id,
        "sex": sex,
        "tier": tier,
        "tier_label": tier_label(tier),
        "urgent": urgent,
        "source": source,
        "status": status,
        "opened_at": opened_at,
        "due_at": due_at,
        "overdue": is_open and due_at < now,
        "claimed_by": claimer,
        "claimed_at": claimed_at,
        "follow_up_on": follow_up_on,
        "follow_up_due": is_open and follow_up_on is not None and follow_up_on <= school_date(now),
        "escalated": escalated_at is not None,
        "guardian_informed": bool(guardian_informed),
        "reasons": list(reasons or []),
    }


def list_queue(
    session: Session,
    actor: Actor,
    now: dt.datetime,
    *,
    school_id: str | None = None,
    mine: bool = False,
    follow_up_due: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> Queue:
    """The open cases of the counsellor's school.

    Urgent first, then due time, then tier (highest first), then waiting time; overdue
    cases and due follow-ups (the follow-up date is today or past on the schools'
    calendar) are marked, not moved. Overdue urgent cases are escalated first. ``mine``
    keeps the caller's claimed cases, ``follow_up_due`` those with a due follow-up.
    ``limit`` and ``offset`` page through the queue (None: all of it); the counts cover the
    whole (filtered) queue.
    """
    require_role(actor, CASEWORKERS, "read the queue")
    school = target_school(actor, school_id)
    escalate_overdue(session, now, school)
    where = [Case.school_id == school, Case.status == CaseStatus.open.value]
    if mine:
        where.append(Case.claimed_by == actor.user_id)
    due_follow_up = Case.follow_up_on <= school_date(now)
    if follow_up_due:
        where.append(due_follow_up)
    count, overdue, follow_ups_due = session.execute(
        select(
            func.count(),
            func.count().filter(Case.due_at < now),
            func.count().filter(due_follow_up),
        ).where(*where)
    ).one()
    stmt = (
        _queue_select()
        .where(*where)
        .order_by(Case.urgent.desc(), Case.due_at, Case.tier.desc(), Case.opened_at, Case.id)
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    items = [QueueItem(**_item_fields(row, now)) for row in session.execute(stmt)]
    audit.record(session, actor, "queue.read", "queue", school, school, now)
    return Queue(
        school_id=school,
        as_of=now,
        count=count,
        overdue=overdue,
        follow_ups_due=follow_ups_due,
        offset=offset,
        limit=limit,
        items=items,
    )


def _load(session: Session, actor: Actor, case_id: int, *, for_update: bool = False) -> Case:
    require_role(actor, CASEWORKERS, "work on cases")
    stmt = select(Case).where(Case.id == case_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = session.scalar(stmt)
    if case is None:
        raise NotFound()
    check_school(actor, case.school_id)
    return case


def get_case(session: Session, actor: Actor, case_id: int, now: dt.datetime) -> CaseOut:
    """A case with the student's whole file (events, every screening, other cases)."""
    case = _load(session, actor, case_id)
    escalate_overdue(session, now, case.school_id)
    audit.record(session, actor, "case.read", "case", case.id, case.school_id, now)
    return _case_out(session, case.id, now)


def _case_out(session: Session, case_id: int, now: dt.datetime) -> CaseOut:
    session.flush()
    row = session.execute(_queue_select().where(Case.id == case_id)).one()
    case = session.scalar(
        select(Case).where(Case.id == case_id).execution_options(populate_existing=True)
    )
    actor_user = aliased(User, name="actor")
    events = [
        CaseEventOut(id=e.id, at=e.at, kind=e.kind, actor=name, detail=e.detail or {})
        for e, name in session.execute(
            select(CaseEvent, actor_user.name)
            .outerjoin(actor_user, actor_user.id == CaseEvent.actor_id)
            .where(CaseEvent.case_id == case.id)
            .order_by(CaseEvent.at, CaseEvent.id)
        )
    ]
    results = [
        ResultOut(
            window=r.window,
            battery=r.battery,
            status=r.status,
            tier=r.tier,
            tier_label=tier_label(r.tier),
            grade=r.grade,
            sex=r.sex,
            class_id=r.class_id,
            scores=r.scores or {},
            reasons=list(r.reasons or []),
            screened_at=r.updated_at,
        )
        for r in session.scalars(
            select(Result)
            .where(Result.student_pk == case.student_pk)
            .order_by(Result.created_at, Result.id)
        )
    ]
    others = [
        CaseBrief(
            case_id=c.id,
            status=c.status,
            source=c.source,
            tier=c.tier,
            opened_at=c.opened_at,
            closed_at=c.closed_at,
            disposition=c.disposition,
        )
        for c in session.scalars(
            select(Case)
            .where(Case.student_pk == case.student_pk, Case.id != case.id)
            .order_by(Case.opened_at, Case.id)
        )
    ]
    return CaseOut(
        **_item_fields(row, now),
        referred_at=case.referred_at,
        closed_at=case.closed_at,
        disposition=case.disposition,
        events=events,
        results=results,
        other_cases=others,
    )


def _event(
    session: Session, case: Case, actor: Actor, kind: str, detail: dict[str, Any], now: dt.datetime
) -> None:
    session.add(
        CaseEvent(case_id=case.id, at=now, actor_id=actor.user_id, kind=kind, detail=detail)
    )
    audit.record(session, actor, f"case.{kind}", "case", case.id, case.school_id, now)


def _require_open(case: Case) -> None:
    if case.status != CaseStatus.open.value:
        raise Conflict("The case is closed.")


def _require_claim(case: Case, actor: Actor) -> None:
    _require_open(case)
    if case.claimed_by != actor.user_id:
        raise Conflict(f"Claim the case first (POST /api/v1/cases/{case.id}/claim).")


def claim(session: Session, actor: Actor, case_id: int, now: dt.datetime) -> CaseOut:
    """Claim an open, unclaimed case: exactly one concurrent claimer wins.

    Raises
    ------
    Conflict
        The case is closed or someone (this actor included) has claimed it already.
    """
    case = _load(session, actor, case_id)
    _require_open(case)
    won = session.execute(
        update(Case)
        .where(
            Case.id == case.id,
            Case.claimed_by.is_(None),
            Case.status == CaseStatus.open.value,
        )
        .values(claimed_by=actor.user_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        raise Conflict("The case has already been claimed.")
    _event(session, case, actor, "claimed", {}, now)
    return _case_out(session, case.id, now)


def release(session: Session, actor: Actor, case_id: int, now: dt.datetime) -> CaseOut:
    """Give a claimed case back to the queue (only its claimer can)."""
    case = _load(session, actor, case_id)
    _require_open(case)
    done = session.execute(
        update(Case)
        .where(
            Case.id == case.id,
            Case.claimed_by == actor.user_id,
            Case.status == CaseStatus.open.value,  # a close may have committed since
        )
        .values(claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        if session.scalar(select(Case.status).where(Case.id == case.id)) != CaseStatus.open:
            raise Conflict("The case is closed.")
        raise Conflict("Only the counsellor who claimed the case can release it.")
    _event(session, case, actor, "released", {}, now)
    return _case_out(session, case.id, now)


def add_note(
    session: Session, actor: Actor, case_id: int, body: NoteIn, now: dt.datetime
) -> CaseOut:
    """Record an interview or counselling note."""
    case = _load(session, actor, case_id, for_update=True)
    _require_claim(case, actor)
    _event(session, case, actor, "note", {"text": body.text}, now)
    return _case_out(session, case.id, now)


YEAR = dt.timedelta(days=366)


def _check_date(
    on: dt.date, now: dt.datetime, what: str, *, earliest: dt.date, latest: dt.date | None = None
) -> None:
    """422 for a date before ``earliest`` or after ``latest`` (default: a year after today
    on the schools' calendar; a typo such as 1999 or 2062 would hide a case from every
    follow-up list)."""
    latest = latest or school_date(now) + YEAR
    if not earliest <= on <= latest:
        raise Unprocessable(
            f"{what} {on.isoformat()} is out of range: give a date from "
            f"{earliest.isoformat()} to {latest.isoformat()}."
        )


def set_follow_up(
    session: Session, actor: Actor, case_id: int, body: FollowUpIn, now: dt.datetime
) -> CaseOut:
    """Set the next follow-up date (跟踪回访): from today to a year ahead, on the schools'
    calendar (China Standard Time)."""
    case = _load(session, actor, case_id, for_update=True)
    _require_claim(case, actor)
    _check_date(body.on, now, "The next follow-up date", earliest=school_date(now))
    case.follow_up_on = body.on
    _event(session, case, actor, "follow_up", {"on": body.on.isoformat(), "note": body.note}, now)
    return _case_out(session, case.id, now)


def escalate(
    session: Session, actor: Actor, case_id: int, body: EscalateIn, now: dt.datetime
) -> CaseOut:
    """Hand the case to the level-3 group with a reason (any counsellor of the school)."""
    case = _load(session, actor, case_id, for_update=True)
    _require_open(case)
    if case.escalated_at is None:
        case.escalated_at = now
    _event(session, case, actor, "escalated", {"reason": body.reason, "automatic": False}, now)
    return _case_out(session, case.id, now)


def refer(session: Session, actor: Actor, case_id: int, body: ReferIn, now: dt.datetime) -> CaseOut:
    """Record a hospital referral (green channel) with its target and date (within a year
    of today on the schools' calendar, either way)."""
    case = _load(session, actor, case_id, for_update=True)
    _require_claim(case, actor)
    _check_date(body.on, now, "The referral date", earliest=school_date(now) - YEAR)
    case.referred_at = now
    detail = {"target": body.target, "on": body.on.isoformat(), "note": body.note}
    _event(session, case, actor, "referred", detail, now)
    return _case_out(session, case.id, now)


def contact_guardian(
    session: Session, actor: Actor, case_id: int, body: GuardianContactIn, now: dt.datetime
) -> CaseOut:
    """Record a contact with the student's guardian (家校沟通): its date (today or within the
    year before, on the schools' calendar), the way, and the outcome.

    The policies ask schools to tell guardians promptly of a student's difficulties and to
    remind them to seek medical care for a high-risk student (及时提醒家长送医诊治); the
    queue shows for every case whether a contact reached the guardian.
    """
    case = _load(session, actor, case_id, for_update=True)
    _require_claim(case, actor)
    today = school_date(now)
    _check_date(body.on, now, "The date of the contact", earliest=today - YEAR, latest=today)
    detail = {
        "on": body.on.isoformat(),
        "method": body.method.value,
        "outcome": body.outcome.value,
        "note": body.note,
    }
    _event(session, case, actor, GUARDIAN_CONTACTED, detail, now)
    return _case_out(session, case.id, now)


def _changed_since(session: Session, case: Case, actor: Actor, seen_event: int) -> bool:
    """Whether anyone but ``actor`` (or the service itself) added an event after ``seen_event``."""
    newer = select(CaseEvent.id).where(
        CaseEvent.case_id == case.id,
        CaseEvent.id > seen_event,
        or_(CaseEvent.actor_id.is_(None), CaseEvent.actor_id != actor.user_id),
    )
    return session.scalar(newer.limit(1)) is not None


def _escalated_by_a_person(session: Session, case: Case) -> bool:
    """Whether a counsellor has escalated the case (with a reason), not only the service."""
    manual = select(CaseEvent.id).where(
        CaseEvent.case_id == case.id,
        CaseEvent.kind == "escalated",
        CaseEvent.actor_id.is_not(None),
    )
    return session.scalar(manual.limit(1)) is not None


def close(session: Session, actor: Actor, case_id: int, body: CloseIn, now: dt.datetime) -> CaseOut:
    """Close a case with a disposition.

    A close that says which event its author read last (``seen_event``) is refused when
    someone else has added one since: a referral that joined the case meanwhile is read
    before the case can close. An urgent case closes only after a hospital referral or with
    a note recording why;
    the disposition ``hospital_referral`` needs the referral recorded first, and
    ``handed_to_level3_group`` an escalation by a person, with its reason (POLICY, level 3):
    the service's own escalation of an overdue case says why nobody worked on it, not why
    the student needs the leadership group.
    """
    case = _load(session, actor, case_id, for_update=True)
    _require_claim(case, actor)
    if body.disposition is Disposition.hospital_referral and case.referred_at is None:
        raise Conflict(
            f"Record the referral first (POST /api/v1/cases/{case.id}/refer), then close."
        )
    if body.seen_event is not None and _changed_since(session, case, actor, body.seen_event):
        raise Conflict(
            "The case has changed since you read it (a new referral or screening): "
            "read it again, then close."
        )
    if body.disposition is Disposition.handed_to_level3_group and not _escalated_by_a_person(
        session, case
    ):
        raise Conflict(
            f"Escalate the case with the reason first (POST /api/v1/cases/{case.id}/escalate), "
            "then close: the service's automatic escalation of an overdue case does not say "
            "why the student needs the level-3 group."
        )
    if case.urgent and case.referred_at is None and not body.note:
        raise Conflict(
            "An urgent case closes only after a hospital referral or with a note "
            "recording the disposition: add a note."
        )
    case.status = CaseStatus.closed.value
    case.closed_at = now
    case.disposition = body.disposition.value
    _event(
        session, case, actor, "closed", {"disposition": case.disposition, "note": body.note}, now
    )
    return _case_out(session, case.id, now)
