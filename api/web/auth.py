"""Sign-in for the web pages: a token or a password, a server-side session, CSRF tokens.

- Passwords are hashed with scrypt (``hashlib.scrypt``, n=2**14, r=8, p=1, 16-byte salt);
  set them with ``screening users passwd NAME``.
- A session is 32 random bytes in an HTTP-only cookie; the database keeps only its SHA-256,
  so a copy of the database lets nobody in. Signing out deletes it; revoking the account
  or changing its password ends all its sessions.
- Each session has its own CSRF token, sent back with every form and compared in
  constant time.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from screening.api.models import Role, User
from screening.api.security import Actor, authenticate, hash_token
from screening.api.web.models import WebPassword, WebSession

SESSION_HOURS = 10
MIN_PASSWORD = 10
MAX_PASSWORD = 200
_N, _R, _P = 2**14, 8, 1
# verified against when the account does not exist, so both answers take as long
_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "="


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """The stored form of a password: ``scrypt$n$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(stored: str, password: str) -> bool:
    """True when ``password`` matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def set_password(session: Session, name: str, password: str, now: dt.datetime) -> None:
    """Set the web password of an active account and end its open sessions.

    Raises
    ------
    ValueError
        When the account does not exist or is revoked, or the password is shorter than
        :data:`MIN_PASSWORD` characters.
    """
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(
            f"Use a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters (got {len(password)})."
        )
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise ValueError(f"No account named {name!r}: add it with `screening users add`.")
    if user.revoked_at is not None:
        raise ValueError(f"The account {name!r} is revoked.")
    record = session.get(WebPassword, user.id)
    if record is None:
        session.add(
            WebPassword(user_id=user.id, password_hash=hash_password(password), updated_at=now)
        )
    else:
        record.password_hash = hash_password(password)
        record.updated_at = now
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, name=user.name, role=Role(user.role), school_id=user.school_id)


def check_password(session: Session, name: str, password: str) -> Actor | None:
    """The actor of an active account whose web password matches, or None."""
    row = session.execute(
        select(User, WebPassword.password_hash)
        .join(WebPassword, WebPassword.user_id == User.id)
        .where(User.name == name, User.revoked_at.is_(None))
    ).first()
    if row is None or len(password) > MAX_PASSWORD:
        verify_password(_DUMMY, password[:MAX_PASSWORD])
        return None
    user, stored = row
    return _actor(user) if verify_password(stored, password) else None


@dataclass(frozen=True)
class SignedIn:
    """A browser session: the cookie value (shown once), its actor and CSRF token."""

    cookie: str
    actor: Actor
    csrf: str
    expires_at: dt.datetime


def start_session(session: Session, actor: Actor, now: dt.datetime) -> SignedIn:
    """Open a session for ``actor``; the cookie value is returned, only its hash stored."""
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(hours=SESSION_HOURS)
    session.add(
        WebSession(
            token_hash=hash_token(cookie),
            user_id=actor.user_id,
            csrf=csrf,
            created_at=now,
            expires_at=expires,
        )
    )
    session.execute(
        delete(WebSession).where(WebSession.user_id == actor.user_id, WebSession.expires_at < now)
    )
    return SignedIn(cookie=cookie, actor=actor, csrf=csrf, expires_at=expires)


def sign_in(
    session: Session,
    now: dt.datetime,
    *,
    token: str | None = None,
    name: str | None = None,
    password: str | None = None,
) -> SignedIn | None:
    """Sign in with an account's bearer token, or its name and web password; None if wrong."""
    if token:
        actor = authenticate(session, token.strip())
    elif name and password:
        actor = check_password(session, name.strip(), password)
    else:
        actor = None
    return None if actor is None else start_session(session, actor, now)


def current(session: Session, cookie: str | None, now: dt.datetime) -> SignedIn | None:
    """The live session of a cookie (account active, not expired), or None."""
    if not cookie or len(cookie) > 100:
        return None
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(
            WebSession.token_hash == hash_token(cookie),
            WebSession.expires_at > now,
            User.revoked_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    web, user = row
    return SignedIn(cookie=cookie, actor=_actor(user), csrf=web.csrf, expires_at=web.expires_at)


def sign_out(session: Session, cookie: str | None) -> None:
    """End the session of a cookie (nothing happens for an unknown one)."""
    if cookie and len(cookie) <= 100:
        session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(cookie)))


def csrf_ok(signed_in: SignedIn, submitted: str | None) -> bool:
    """True when a form's CSRF token is the session's."""
    if not submitted:
        return False
    return hmac.compare_digest(signed_in.csrf.encode(), submitted.encode("utf-8", "replace"))


__all__ = [
    "MIN_PASSWORD",
    "SignedIn",
    "check_password",
    "csrf_ok",
    "current",
    "hash_password",
    "set_password",
    "sign_in",
    "sign_out",
    "start_session",
    "verify_password",
]
