"""Bearer tokens and the acting user.

A token is 32 random bytes (URL-safe base64 with a ``scr_`` prefix); only its SHA-256 is
stored, so a copy of the database does not let anyone in. Tokens carry enough entropy
that a fast hash is the right one (no password stretching needed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from screening.api.models import Role, User

TOKEN_PREFIX = "scr_"


@dataclass(frozen=True, slots=True)
class Actor:
    """The user a request acts for.

    Attributes
    ----------
    user_id, name
        The account (staff, never a student).
    role
        One of :class:`screening.api.models.Role`.
    school_id
        The school the account is scoped to; None for district-wide accounts.
    """

    user_id: int | None
    name: str
    role: Role
    school_id: str | None


SYSTEM = Actor(user_id=None, name="system", role=Role.district_admin, school_id=None)


def new_token() -> str:
    """A fresh bearer token, shown once and never stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of ``token`` (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def authenticate(session: Session, token: str) -> Actor | None:
    """The actor of a bearer token, or None when it is unknown or revoked."""
    if not token or len(token) > 200:
        return None
    user = session.scalar(
        select(User).where(User.token_hash == hash_token(token), User.revoked_at.is_(None))
    )
    if user is None:
        return None
    return Actor(user_id=user.id, name=user.name, role=Role(user.role), school_id=user.school_id)


def create_user(
    session: Session, name: str, role: Role | str, school_id: str | None, now: dt.datetime
) -> tuple[User, str]:
    """Add an account and return it with its one-time token.

    Raises
    ------
    ValueError
        When the role needs a school and none is given, or a district admin is given one.
    """
    role = Role(role)
    if role in (Role.counsellor, Role.teacher) and not school_id:
        raise ValueError(f"A {role} account needs a school: add --school SCHOOL_ID.")
    if role is Role.district_admin and school_id:
        raise ValueError("A district_admin account is district-wide: leave out --school.")
    token = new_token()
    user = User(
        name=name,
        role=role.value,
        school_id=school_id or None,
        token_hash=hash_token(token),
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user, token
