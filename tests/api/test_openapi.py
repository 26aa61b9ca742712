"""Schemathesis against the OpenAPI schema with real tokens: no 5xx, responses match it.

Runs on SQLite with a small number of examples per operation so that it stays quick; the
seeded school has an upload and open cases so that some generated ids exist.
"""

from __future__ import annotations

import datetime as dt

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from screening.api.main import create_app

MAX_EXAMPLES = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def seeded(sqlite_db, frame):
    """An app on SQLite with one school's upload and accounts of every role."""
    import uuid

    from fastapi.testclient import TestClient

    from screening.api.db import make_sessionmaker, session_scope
    from screening.api.security import create_user
    from screening.config import Settings

    school = f"SX{uuid.uuid4().hex[:6]}"
    settings_ = Settings(
        environment="test", secret_key="s" * 32, pseudonym_key="p" * 32, escalation_interval_s=0
    )
    start = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    app = create_app(settings_, engine=sqlite_db.engine, clock=lambda: start)
    tokens = {}
    with session_scope(make_sessionmaker(sqlite_db.engine)) as session:
        for role in ("counsellor", "district_admin", "analyst", "teacher", "researcher"):
            scope = None if role == "district_admin" else school
            tokens[role] = create_user(session, f"{role}-{school}", role, scope, start)[1]
    data = frame([(f"O{i}", i % 4) for i in range(12)], school_id=school)
    with TestClient(app) as client:
        answer = client.post(
            "/api/v1/uploads",
            headers={"Authorization": f"Bearer {tokens['counsellor']}"},
            files={"file": ("r.csv", data.write_csv().encode(), "text/csv")},
            data={"window": "2026-autumn"},
        )
        assert answer.status_code == 201
    return app, tokens


@pytest.fixture(scope="module")
def api_schema(seeded):
    app, _ = seeded
    config = schemathesis.Config.from_dict(
        {
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
            "generation": {"max-examples": MAX_EXAMPLES},
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case, seeded):
    _, tokens = seeded
    for role in ("counsellor", "district_admin", "teacher"):
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        case.call_and_validate(headers=headers, checks=CHECKS)
