"""``POST /referrals``: level-1 referral of a student by a teacher or counsellor."""

from __future__ import annotations

from fastapi import APIRouter

from screening.api.deps import CurrentUser, NowDep, SessionDep
from screening.api.routes import errors
from screening.api.schemas import ReferralIn, ReferralReceipt
from screening.api.services.referrals import refer_student

router = APIRouter(prefix="/referrals", tags=["referrals"])


@router.post(
    "", response_model=ReferralReceipt, status_code=201, responses=errors(400, 401, 403, 404)
)
def refer(
    body: ReferralIn, session: SessionDep, actor: CurrentUser, now: NowDep
) -> ReferralReceipt:
    """Open a case for the student (or add the referral to their open case)."""
    return refer_student(session, actor, body, now)
