"""``GET /queue``: the counselling room's open cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from screening.api.deps import CurrentUser, NowDep, SessionDep
from screening.api.routes import errors
from screening.api.schemas import Queue
from screening.api.services.cases import list_queue

router = APIRouter(tags=["queue"])


@router.get("/queue", response_model=Queue, responses=errors(401, 403))
def queue(
    session: SessionDep,
    actor: CurrentUser,
    now: NowDep,
    mine: bool = False,
    follow_up_due: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Queue:
    """Open cases of the counsellor's school: urgent first, then due time, tier, waiting time.

    ``mine=true`` keeps only the cases the caller has claimed, ``follow_up_due=true`` only
    those whose follow-up date is today or past (China Standard Time); each item says
    ``follow_up_due``. ``count``, ``overdue`` and ``follow_ups_due`` cover the whole queue;
    ``items`` holds at most ``limit`` cases from ``offset``.
    """
    return list_queue(
        session,
        actor,
        now,
        mine=mine,
        follow_up_due=follow_up_due,
        limit=limit,
        offset=offset,
    )
