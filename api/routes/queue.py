"""``GET /queue``: the counselling room's open cases."""

from __future__ import annotations

from fastapi import APIRouter

from screening.api.deps import CurrentUser, NowDep, SessionDep
from screening.api.routes import errors
from screening.api.schemas import Queue
from screening.api.services.cases import list_queue

router = APIRouter(tags=["queue"])


@router.get("/queue", response_model=Queue, responses=errors(401, 403))
def queue(session: SessionDep, actor: CurrentUser, now: NowDep, mine: bool = False) -> Queue:
    """Open cases of the counsellor's school: urgent first, then due time, tier, waiting time.

    ``mine=true`` keeps only the cases the caller has claimed.
    """
    return list_queue(session, actor, now, mine=mine)
