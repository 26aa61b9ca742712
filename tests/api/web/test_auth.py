"""Web sign-in: password hashes, sessions, revocation, CSRF tokens."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from screening.api.db import session_scope
from screening.api.models import User
from screening.api.web import auth
from screening.api.web.models import WebPassword, WebSession


def test_password_hash_round_trip_and_salt():
    a, b = auth.hash_password("correct horse battery"), auth.hash_password("correct horse battery")
    assert a != b  # salted
    assert a.startswith("scrypt$16384$8$1$")
    assert auth.verify_password(a, "correct horse battery")
    assert not auth.verify_password(a, "correct horse batterx")
    assert not auth.verify_password("garbage", "x")
    assert not auth.verify_password("md5$1$1$1$AA==$AA==", "x")


def test_set_password_and_sign_in(web_sessions, account, clock):
    name, token = account("counsellor", "S-auth-1")
    with session_scope(web_sessions) as session:
        auth.set_password(session, name, "a long enough password", clock())
        stored = session.scalar(select(WebPassword.password_hash))
        assert "a long enough password" not in stored
    with session_scope(web_sessions) as session:
        signed = auth.sign_in(session, clock(), name=name, password="a long enough password")
        assert signed is not None and signed.actor.name == name
        assert signed.actor.school_id == "S-auth-1"
        # only the hash of the cookie is stored
        hashes = session.scalars(select(WebSession.token_hash)).all()
        assert signed.cookie not in hashes
        assert auth.current(session, signed.cookie, clock()).actor.name == name
        assert auth.sign_in(session, clock(), name=name, password="wrong password!!") is None
        assert auth.sign_in(session, clock(), name="nobody", password="whatever 123") is None
        assert auth.sign_in(session, clock(), token=token).actor.name == name
        assert auth.sign_in(session, clock(), token="scr_wrong") is None
        assert auth.sign_in(session, clock()) is None


def test_short_password_and_unknown_account_are_refused(web_sessions, account, clock):
    name, _ = account("teacher", "S-auth-2")
    with session_scope(web_sessions) as session:
        with pytest.raises(ValueError, match="10 to 200 characters"):
            auth.set_password(session, name, "short", clock())
        with pytest.raises(ValueError, match="No account named"):
            auth.set_password(session, "nobody-at-all", "long enough pass", clock())


def test_sessions_end_on_sign_out_expiry_revocation_and_new_password(web_sessions, account, clock):
    name, token = account("counsellor", "S-auth-3")
    now = clock()
    with session_scope(web_sessions) as session:
        first = auth.sign_in(session, now, token=token)
        second = auth.sign_in(session, now, token=token)
    with session_scope(web_sessions) as session:
        auth.sign_out(session, first.cookie)
    with session_scope(web_sessions) as session:
        assert auth.current(session, first.cookie, now) is None
        assert auth.current(session, second.cookie, now) is not None
        later = now + dt.timedelta(hours=auth.SESSION_HOURS, seconds=1)
        assert auth.current(session, second.cookie, later) is None
        auth.set_password(session, name, "another long password", now)
    with session_scope(web_sessions) as session:
        assert auth.current(session, second.cookie, now) is None  # password change ends it
        third = auth.sign_in(session, now, token=token)
    with session_scope(web_sessions) as session:
        session.scalar(select(User).where(User.name == name)).revoked_at = now
    with session_scope(web_sessions) as session:
        assert auth.current(session, third.cookie, now) is None
        assert auth.sign_in(session, now, name=name, password="another long password") is None


def test_csrf_token_comparison(web_sessions, account, clock):
    _, token = account("counsellor", "S-auth-4")
    with session_scope(web_sessions) as session:
        signed = auth.sign_in(session, clock(), token=token)
    assert auth.csrf_ok(signed, signed.csrf)
    assert not auth.csrf_ok(signed, None)
    assert not auth.csrf_ok(signed, "")
    assert not auth.csrf_ok(signed, signed.csrf[:-1] + "x")
    assert not auth.csrf_ok(signed, "非ascii")
