"""``GET /me``: the account a token belongs to."""

from __future__ import annotations

from fastapi import APIRouter

from screening.api.deps import CurrentUser
from screening.api.routes import errors
from screening.api.schemas import Me

router = APIRouter(tags=["users"])


@router.get("/me", response_model=Me, responses=errors(401))
def me(actor: CurrentUser) -> Me:
    """Name, role and school of the caller."""
    return Me(name=actor.name, role=actor.role, school_id=actor.school_id)
