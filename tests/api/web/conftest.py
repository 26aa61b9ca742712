"""Fixtures of the web-page tests: a client of the app on the session's SQLite database,
fresh accounts, and signing in through the form as a browser does."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from screening.api.db import session_scope
from screening.api.main import create_app
from screening.api.security import create_user

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def web_app(sqlite_db, settings, clock):
    return create_app(settings, engine=sqlite_db.engine, clock=clock)


@pytest.fixture
def browser_client(web_app) -> Callable[[], TestClient]:
    """``browser_client()``: a new client with its own cookies (one per person)."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        client = TestClient(web_app, base_url="http://testserver")
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def web_sessions(sqlite_db):
    from screening.api.db import make_sessionmaker

    return make_sessionmaker(sqlite_db.engine)


@pytest.fixture
def account(web_sessions, clock) -> Callable[..., tuple[str, str]]:
    """``account(role, school=None)``: a fresh account's (name, token)."""

    def make(role: str, school: str | None = None) -> tuple[str, str]:
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        with session_scope(web_sessions) as session:
            _, token = create_user(session, name, role, school, clock())
        return name, token

    return make


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    match = CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, token: str) -> str:
    """Sign in with a token through the form; the CSRF token of the landing page."""
    form = client.get("/sign-in")
    landed = client.post("/sign-in", data={"csrf": csrf_of(form.text), "token": token})
    assert landed.status_code == 200, landed.text[:300]
    return csrf_of(landed.text)


def upload_csv(client: TestClient, csrf: str, frame, window: str = "2026-autumn", **fields):
    """Upload a response frame as CSV through the upload form (more form ``fields``)."""
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return client.post(
        "/upload",
        data={"csrf": csrf, "window": window, "battery": "default"} | fields,
        files={"file": ("responses.csv", buffer.getvalue(), "text/csv")},
    )


@pytest.fixture
def helpers():
    """The helper functions, for tests that take them as a fixture."""

    class Helpers:
        csrf = staticmethod(csrf_of)
        sign_in = staticmethod(sign_in)
        upload = staticmethod(upload_csv)

    return Helpers


@pytest.fixture
def counsellor_client(browser_client, account, school) -> Iterator[tuple[TestClient, str, str]]:
    """A signed-in counsellor of a fresh school: (client, csrf, school)."""
    _, token = account("counsellor", school)
    client = browser_client()
    yield client, sign_in(client, token), school
