"""Isolation: every endpoint x every school-scoped role x another school's ids: never 2xx.

District admins (and analysts or researchers without a school) are district-wide by
definition; what they may not do (work on cases, read the queue) is checked too.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from screening.api.models import AuditEvent, Case, CaseEvent, Upload

SCOPED_ROLES = ["counsellor", "teacher", "analyst", "researcher"]
CSV_NAME = "r.csv"


@pytest.fixture
def other_school(client, token, headers, new_school, frame):
    """School B with an upload and open cases (one claimed)."""
    school = new_school()
    counsellor = headers(token("counsellor", school))
    data = frame([("B1", 3), ("B2", 2), ("B3", 0)], school_id=school)
    answer = client.post(
        "/api/v1/uploads",
        headers=counsellor,
        files={"file": (CSV_NAME, data.write_csv().encode(), "text/csv")},
        data={"window": "2026-autumn"},
    )
    assert answer.status_code == 201
    items = client.get("/api/v1/queue", headers=counsellor).json()["items"]
    claimed = items[1]["case_id"]
    assert client.post(f"/api/v1/cases/{claimed}/claim", headers=counsellor).status_code == 200
    return {
        "school": school,
        "upload": answer.json()["upload_id"],
        "case": items[0]["case_id"],
        "claimed": claimed,
        "csv": data.write_csv().encode(),
    }


def requests_against(b: dict) -> list[tuple[str, str, str, dict]]:
    """(route template, method, url, request kwargs) aimed at school B's objects."""
    school, case, claimed = b["school"], b["case"], b["claimed"]
    upload_form = {
        "files": {"file": (CSV_NAME, b["csv"], "text/csv")},
        "data": {"window": "2027-spring", "school_id": school},
    }
    cases = "/api/v1/cases/{case_id}"
    out = [
        (cases, "GET", f"/api/v1/cases/{case}", {}),
        (cases + "/claim", "POST", f"/api/v1/cases/{case}/claim", {}),
        (cases + "/release", "POST", f"/api/v1/cases/{claimed}/release", {}),
        (cases + "/notes", "POST", f"/api/v1/cases/{claimed}/notes", {"json": {"text": "n"}}),
        (
            cases + "/follow-up",
            "POST",
            f"/api/v1/cases/{claimed}/follow-up",
            {"json": {"on": "2026-10-01"}},
        ),
        (
            cases + "/guardian-contact",
            "POST",
            f"/api/v1/cases/{claimed}/guardian-contact",
            {"json": {"on": "2026-09-01", "method": "phone", "outcome": "informed"}},
        ),
        (cases + "/escalate", "POST", f"/api/v1/cases/{case}/escalate", {"json": {"reason": "r"}}),
        (
            cases + "/refer",
            "POST",
            f"/api/v1/cases/{claimed}/refer",
            {"json": {"target": "h", "on": "2026-10-01"}},
        ),
        (
            cases + "/close",
            "POST",
            f"/api/v1/cases/{claimed}/close",
            {"json": {"disposition": "other", "note": "n"}},
        ),
        ("/api/v1/uploads/{upload_id}", "GET", f"/api/v1/uploads/{b['upload']}", {}),
        ("/api/v1/uploads", "GET", "/api/v1/uploads", {"params": {"school_id": school}}),
        ("/api/v1/uploads", "POST", "/api/v1/uploads", upload_form),
        (
            "/api/v1/referrals",
            "POST",
            "/api/v1/referrals",
            {"json": {"student_id": "B1", "school_id": school, "category": "other", "note": "n"}},
        ),
        ("/api/v1/reports/schools/{school_id}", "GET", f"/api/v1/reports/schools/{school}", {}),
        (
            "/api/v1/exports/schools/{school_id}/results",
            "GET",
            f"/api/v1/exports/schools/{school}/results",
            {},
        ),
        (
            "/api/v1/exports/schools/{school_id}/report",
            "GET",
            f"/api/v1/exports/schools/{school}/report",
            {"params": {"format": "xlsx"}},
        ),
    ]
    return out


# Routes without an id of a school or object: checked by content below, not by status.
UNADDRESSED = {
    ("GET", "/healthz"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/queue"),
    ("GET", "/api/v1/exports/queue"),
    ("GET", "/api/v1/reports/district"),
}


def test_matrix_covers_every_route(app, other_school):
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(("/api/", "/healthz"))
        for method in operations
    }
    covered = {(method, template) for template, method, _, _ in requests_against(other_school)}
    assert routes - UNADDRESSED == covered


def snapshot(sessions, school: str) -> tuple:
    with sessions() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Upload).where(Upload.school_id == school)
            ),
            session.execute(
                select(Case.id, Case.status, Case.claimed_by, Case.escalated_at, Case.follow_up_on)
                .where(Case.school_id == school)
                .order_by(Case.id)
            ).all(),
            session.scalar(
                select(func.count())
                .select_from(CaseEvent)
                .join(Case, Case.id == CaseEvent.case_id)
                .where(Case.school_id == school)
            ),
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.school_id == school)
            ),
        )


@pytest.mark.parametrize("role", SCOPED_ROLES)
def test_other_school_is_never_2xx(role, client, token, headers, school, other_school, sessions):
    me = headers(token(role, school))
    before = snapshot(sessions, other_school["school"])
    answers = {
        (method, url): client.request(method, url, headers=me, **kwargs)
        for _, method, url, kwargs in requests_against(other_school)
    }
    leaked = {k: (r.status_code, r.text[:120]) for k, r in answers.items() if r.status_code < 300}
    assert leaked == {}
    assert all(r.status_code in (403, 404) for r in answers.values()), {
        k: r.status_code for k, r in answers.items()
    }
    # Another school's object answers exactly like one that does not exist.
    if role == "counsellor":
        missing = client.get("/api/v1/cases/2147483647", headers=me)
        other = answers[("GET", f"/api/v1/cases/{other_school['case']}")]
        assert (other.status_code, other.json()) == (missing.status_code, missing.json())
        queue = client.get("/api/v1/queue", headers=me).json()
        assert queue["school_id"] == school and queue["items"] == []
        exported = client.get("/api/v1/exports/queue", headers=me)
        assert exported.status_code == 200 and b"B1" not in exported.content
    assert snapshot(sessions, other_school["school"]) == before


@pytest.mark.parametrize("role", ["district_admin", "analyst", "researcher"])
def test_district_wide_roles_never_work_on_cases(role, client, token, headers, other_school):
    me = headers(token(role))
    for template, method, url, kwargs in requests_against(other_school):
        if template.startswith("/api/v1/cases"):
            assert client.request(method, url, headers=me, **kwargs).status_code == 403
    assert client.get("/api/v1/queue", headers=me).status_code == 403


def test_scoped_accounts_cannot_read_the_district(client, token, headers, school):
    for role in ("analyst", "researcher"):
        assert (
            client.get("/api/v1/reports/district", headers=headers(token(role, school))).status_code
            == 403
        )


def test_refused_requests_leave_an_audit_row(
    client, token, headers, school, other_school, sessions
):
    me = headers(token("counsellor", school))
    asked = requests_against(other_school)
    statuses = [
        client.request(method, url, headers=me, **kw).status_code for _, method, url, kw in asked
    ]
    assert client.get("/api/v1/queue").status_code == 401  # no actor: nothing to record
    with sessions() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id)
            .where(AuditEvent.school_id == school, AuditEvent.action.like("denied.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert [action for action, _, _ in rows] == [f"denied.{status}" for status in statuses]
    objects = {(method, url): row[1:] for (_, method, url, _), row in zip(asked, rows, strict=True)}
    assert objects[("GET", f"/api/v1/cases/{other_school['case']}")] == (
        "case",
        str(other_school["case"]),
    )
    assert objects[("GET", f"/api/v1/uploads/{other_school['upload']}")] == (
        "upload",
        str(other_school["upload"]),
    )
    assert objects[("POST", "/api/v1/referrals")] == ("route", "POST /api/v1/referrals")
