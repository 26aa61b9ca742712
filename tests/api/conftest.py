"""Fixtures of the service tests: one migrated database per backend and test session.

``backend`` runs a test on SQLite and on PostgreSQL (127.0.0.1:5432, database ``test``,
or ``SCREENING_TEST_PG_URL``). Each test session works in a fresh PostgreSQL schema with a
random name, dropped at the end, so concurrent runs never collide. Without PostgreSQL those
tests skip with the reason, unless ``SCREENING_REQUIRE_PG=1``: then they fail.

Tests do not share rows: each takes fresh school ids (``school`` / ``new_school``) and
fresh accounts (``token``), which is also how the service keeps schools apart.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from screening.api.db import make_engine, make_sessionmaker, migrate, session_scope
from screening.api.main import create_app
from screening.api.security import create_user
from screening.config import Settings

PG_URL = os.environ.get(
    "SCREENING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("SCREENING_REQUIRE_PG") == "1"
START = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)

# PHQ-9 and GAD-7 answers that land in each tier of the default battery.
PHQ9 = {
    0: [0] * 9,
    1: [2, 2, 2, 2, 1, 1, 0, 0, 0],  # total 10: yellow
    2: [2, 2, 2, 2, 2, 2, 2, 1, 0],  # total 15, item 9 = 0: orange
    3: [0, 0, 0, 0, 0, 0, 0, 0, 1],  # item 9 endorsed: red
    None: [None] * 9,  # nothing answered: incomplete, re-test
}
GAD7 = {0: [0] * 7, 1: [0] * 7, 2: [0] * 7, 3: [0] * 7, None: [None] * 7}


class FakeClock:
    """A clock that stands still until moved."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def _pg_admin() -> Engine | None:
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        engine.dispose()
        reason = f"PostgreSQL not reachable at {PG_URL} ({type(error).__name__})"
        if REQUIRE_PG:
            pytest.fail(f"{reason}; SCREENING_REQUIRE_PG=1 requires it.")
        pytest.skip(f"{reason}; set SCREENING_REQUIRE_PG=1 to make this a failure.")
    return engine


@dataclass
class Database:
    """A migrated database of one backend: its URL and engine."""

    backend: str
    url: str
    engine: Engine


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'service.db'}"
    engine = make_engine(url)
    migrate(engine)
    yield Database("sqlite", url, engine)
    engine.dispose()


@pytest.fixture(scope="session")
def pg_db() -> Iterator[Database]:
    admin = _pg_admin()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options={quote(f'-csearch_path={schema}')}"
    engine = make_engine(url, pool_size=20, max_overflow=40)
    try:
        migrate(engine)
        yield Database("postgresql", url, engine)
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Database:
    """The database of each backend in turn."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings() -> Settings:
    return Settings(
        environment="test",
        secret_key="test-secret-" + "s" * 32,
        pseudonym_key="test-pseudonym-key-" + "k" * 32,
        escalation_interval_s=0,
        max_upload_mb=2,
    )


@pytest.fixture
def app(db: Database, settings: Settings, clock: FakeClock):
    return create_app(settings, engine=db.engine, clock=clock)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def sessions(db: Database):
    return make_sessionmaker(db.engine)


_schools = itertools.count(1)


@pytest.fixture
def new_school() -> Callable[[], str]:
    """A factory of school ids never used before in this test session."""
    run = uuid.uuid4().hex[:6]
    return lambda: f"S{run}{next(_schools):04d}"


@pytest.fixture
def school(new_school: Callable[[], str]) -> str:
    return new_school()


@pytest.fixture
def token(sessions, clock: FakeClock) -> Callable[..., str]:
    """``token(role, school=None)``: a fresh account's bearer token."""

    def make(role: str, school: str | None = None) -> str:
        with session_scope(sessions) as session:
            _, bearer = create_user(
                session, f"{role}-{uuid.uuid4().hex[:10]}", role, school, clock()
            )
        return bearer

    return make


def auth(bearer: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {bearer}"}


@pytest.fixture
def headers() -> Callable[[str], dict[str, str]]:
    return auth


def responses_frame(
    students: list[tuple[str, int | None]],
    *,
    school_id: str | None = None,
    names: dict[str, str] | None = None,
    grade: str | Callable[[int], str] = "7",
    sex: str | Callable[[int], str] = "F",
) -> pl.DataFrame:
    """A response frame of the default battery where each student lands in the given tier."""
    rows = []
    for i, (student, tier) in enumerate(students):
        row: dict[str, object] = {"student_id": student}
        if school_id is not None:
            row["school_id"] = school_id
        if names is not None:
            row["name"] = names.get(student)
        row["grade"] = grade(i) if callable(grade) else grade
        row["sex"] = sex(i) if callable(sex) else sex
        row["class_id"] = f"{row['grade']}-1"
        row.update({f"phq9_{k + 1}": v for k, v in enumerate(PHQ9[tier])})
        row.update({f"gad7_{k + 1}": v for k, v in enumerate(GAD7[tier])})
        rows.append(row)
    items = {f"phq9_{k}": pl.Int64 for k in range(1, 10)} | {
        f"gad7_{k}": pl.Int64 for k in range(1, 8)
    }
    return pl.DataFrame(rows, schema_overrides=items)


@pytest.fixture(scope="session")
def frame() -> Callable[..., pl.DataFrame]:
    """``frame(students, ...)``: see :func:`responses_frame`."""
    return responses_frame
