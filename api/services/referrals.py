"""Level-1 referrals: a teacher or class psychology committee member noticed something.

A referral opens a case without a screening (or joins the student's open case). Self-harm,
suicidal tendency and aggression are urgent (tier 3, due in 24 hours); other categories
are tier 2, due in 7 days.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from screening.api import audit
from screening.api.models import (
    URGENT_REFERRALS,
    Case,
    CaseEvent,
    CaseSource,
    CaseStatus,
    Role,
    Student,
)
from screening.api.schemas import ReferralIn, ReferralReceipt
from screening.api.security import Actor
from screening.api.services.access import REFERRERS, require_role, target_school
from screening.api.services.dialect import insert_for
from screening.api.services.errors import Conflict

DUE_HOURS = {3: 24, 2: 168}
JOIN_ROUNDS = 3


def _open_or_join(
    session: Session, school: str, student_pk: int, tier: int, now: dt.datetime
) -> tuple[int, bool]:
    """The student's open case, its tier raised to ``tier``, or a new one: (case id, opened).

    The open case is joined with an update guarded by its status, so a case that a
    counsellor closes meanwhile is not joined (the referral would reach no queue): the
    referral then opens a new case.
    """
    due_at = now + dt.timedelta(hours=DUE_HOURS[tier])
    cases = Case.__table__
    for _ in range(JOIN_ROUNDS):
        created = session.execute(
            insert_for(session, cases).on_conflict_do_nothing().returning(cases.c.id),
            {
                "school_id": school,
                "student_pk": student_pk,
                "result_id": None,
                "source": CaseSource.referral.value,
                "tier": tier,
                "urgent": tier >= 3,
                "status": CaseStatus.open.value,
                "opened_at": now,
                "due_at": due_at,
            },
        ).scalar()
        if created is not None:
            return created, True
        raises = Case.tier < tier
        joined = session.execute(
            update(Case)
            .where(Case.student_pk == student_pk, Case.status == CaseStatus.open.value)
            .values(
                tier=case((raises, tier), else_=Case.tier),
                urgent=case((raises, True), else_=Case.urgent),
                due_at=case((raises & (Case.due_at > due_at), due_at), else_=Case.due_at),
            )
            .returning(Case.id)
        ).scalar()
        if joined is not None:
            return joined, False
    raise Conflict("The student's case changed while the referral was stored: send it again.")


def refer_student(
    session: Session, actor: Actor, body: ReferralIn, now: dt.datetime
) -> ReferralReceipt:
    """Open a case for a referred student, or add the referral to their open case.

    Returns
    -------
    ReferralReceipt
        Counsellors learn the case id and whether a case was opened; teachers only that
        the referral was received.
    """
    require_role(actor, REFERRERS, "refer students")
    school = target_school(actor, body.school_id)
    students = insert_for(session, Student).on_conflict_do_nothing(
        index_elements=["school_id", "student_id"]
    )
    session.execute(
        students,
        {"school_id": school, "student_id": body.student_id, "name": body.name, "created_at": now},
    )
    student = session.scalar(
        select(Student).where(Student.school_id == school, Student.student_id == body.student_id)
    )
    if body.name and not student.name:
        student.name = body.name
    tier = 3 if body.category in URGENT_REFERRALS else 2
    case_id, opened = _open_or_join(session, school, student.id, tier, now)
    detail = {
        "category": body.category.value,
        "note": body.note,
        "referred_by_role": actor.role.value,
    }
    kind = "opened" if opened else "referral"
    if opened:
        detail["source"] = "referral"
    session.add(
        CaseEvent(case_id=case_id, at=now, actor_id=actor.user_id, kind=kind, detail=detail)
    )
    audit.record(session, actor, "referral", "case", case_id, school, now)
    session.flush()
    if actor.role is Role.counsellor:
        return ReferralReceipt(case_id=case_id, opened=opened)
    return ReferralReceipt()
