"""Tables of the web pages: a password per account and the signed-in sessions.

Passwords are optional (an account can always sign in with its token); only a scrypt hash
is stored. A session is a random token in an HTTP-only cookie; the table keeps its SHA-256,
the CSRF token of its forms and when it ends, so signing out ends it on the server.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from screening.api.models import Base, UTCDateTime


class WebPassword(Base):
    """The password hash of an account (``screening users passwd``)."""

    __tablename__ = "web_passwords"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A signed-in browser session."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


__all__ = ["WebPassword", "WebSession"]
