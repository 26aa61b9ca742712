"""Adversarial checks of the counselling-room service (failing tests for bugs found)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from screening.api import audit as audit_module
from screening.api.models import Case, CaseStatus, Student
from screening.api.schemas import CloseIn
from screening.api.security import authenticate
from screening.api.services import cases as case_service

WINDOW = "2026-autumn"


def post_upload(client, headers, data: bytes, *, window=WINDOW, filename="r.csv", **form):
    return client.post(
        "/api/v1/uploads",
        headers=headers,
        files={"file": (filename, data, "text/csv")},
        data={"window": window, **form},
    )


def open_cases_of(sessions, school: str, student_id: str) -> list[tuple[int, int, bool]]:
    with sessions() as session:
        return session.execute(
            select(Case.id, Case.tier, Case.urgent)
            .join(Student, Student.id == Case.student_pk)
            .where(
                Case.school_id == school,
                Student.student_id == student_id,
                Case.status == CaseStatus.open.value,
            )
        ).all()


def close_in_another_transaction(sessions, bearer: str, case_id: int, now) -> None:
    """What a counsellor's ``POST /cases/{id}/close`` does, committed by another request."""
    with sessions() as session:
        actor = authenticate(session, bearer)
        case_service.close(
            session, actor, case_id, CloseIn(disposition="counselled_resolved", note="done"), now
        )
        session.commit()


def close_before_the_next_case_update(monkeypatch, module, close) -> list[bool]:
    """Have ``close()`` run (once) just before ``module`` builds its next ``update(Case)``;
    the list it returns gains an item when it has."""
    real_update = module.update
    raced: list[bool] = []

    def update_after_a_concurrent_close(entity, *args, **kwargs):
        if entity is Case and not raced:
            raced.append(True)
            close()
        return real_update(entity, *args, **kwargs)

    monkeypatch.setattr(module, "update", update_after_a_concurrent_close)
    return raced


# ---------------------------------------------------------------- PostgreSQL NUL bytes
def test_referral_name_with_a_nul_byte_is_not_a_server_error(client, token, headers, school):
    """A name pasted with a NUL byte (ReferralIn.name has no NUL check, unlike student_id and
    school_id) crashes PostgreSQL's text column: 500 and the referral is lost. The same
    request on SQLite is accepted, so the two databases disagree."""
    teacher = headers(token("teacher", school))
    answer = client.post(
        "/api/v1/referrals",
        headers=teacher,
        json={"student_id": "NUL1", "name": "王\x00小明", "category": "self_harm", "note": "n"},
    )
    assert answer.status_code < 500, answer.text
    assert answer.status_code in (201, 422)


# ---------------------------------------------------------------- joining a closed case
def test_rescreen_racing_a_close_still_reaches_an_open_case(
    db, client, token, headers, school, frame, sessions, clock, monkeypatch
):
    """PostgreSQL (READ COMMITTED): an upload reads the student's open case, a counsellor
    closes it, then the upload raises that (now closed) case to tier 3 and records the red
    screening on it. The red student ends in no queue, and later uploads of the window count
    the closed case as worked. POLICY: "Lose a flagged student: every student at the top
    tier reaches a queue, exactly once" must never happen."""
    if db.backend == "sqlite":
        pytest.skip("SQLite serialises whole write transactions: no interleaving possible")
    bearer = token("counsellor", school)
    counsellor = headers(bearer)
    first = post_upload(client, counsellor, frame([("RACE1", 2)]).write_csv().encode())
    assert first.status_code == 201
    ((case_id, tier, _),) = open_cases_of(sessions, school, "RACE1")
    assert tier == 2
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=counsellor).status_code == 200

    from screening.api.services import uploads

    raced = close_before_the_next_case_update(
        monkeypatch,
        uploads,
        lambda: close_in_another_transaction(sessions, bearer, case_id, clock()),
    )
    second = post_upload(
        client, counsellor, frame([("RACE1", 3)]).write_csv().encode(), window="2027-spring"
    )
    assert second.status_code == 201, second.text
    assert raced, "the interleaving was not exercised"
    # the red screening must be in an open case (a new one, as the old one was closed)
    assert [(t, u) for _, t, u in open_cases_of(sessions, school, "RACE1")] == [(3, True)]


def test_self_harm_referral_racing_a_close_still_reaches_an_open_case(
    db, client, token, headers, school, frame, sessions, clock, monkeypatch
):
    """PostgreSQL: a teacher's self-harm referral finds the student's open case, and the
    counsellor closes that case before the referral joins it. The referral must not join
    the closed case (the teacher would be told "received" and the student be in no queue):
    it opens a new one."""
    if db.backend == "sqlite":
        pytest.skip("SQLite serialises whole write transactions: no interleaving possible")
    bearer = token("counsellor", school)
    counsellor = headers(bearer)
    teacher = headers(token("teacher", school))
    assert (
        post_upload(client, counsellor, frame([("RACE2", 2)]).write_csv().encode()).status_code
        == 201
    )
    ((case_id, _, _),) = open_cases_of(sessions, school, "RACE2")
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=counsellor).status_code == 200

    from screening.api.services import referrals

    raced = close_before_the_next_case_update(
        monkeypatch,
        referrals,
        lambda: close_in_another_transaction(sessions, bearer, case_id, clock()),
    )
    answer = client.post(
        "/api/v1/referrals",
        headers=teacher,
        json={"student_id": "RACE2", "category": "self_harm", "note": "cut marks on her arm"},
    )
    assert raced, "the interleaving was not exercised"
    assert answer.status_code == 201, answer.text
    assert [(t, u) for _, t, u in open_cases_of(sessions, school, "RACE2")] == [(3, True)]


def test_a_close_waiting_on_a_referral_that_joined_the_case_is_refused(
    db, client, token, headers, school, frame, sessions, clock, monkeypatch
):
    """PostgreSQL, the other order: the referral has joined (and locked) the case when the
    counsellor's close arrives. The close waits for the referral's commit; it then must not
    close a case whose urgent referral its author never read (``seen_event``): 409."""
    if db.backend == "sqlite":
        pytest.skip("SQLite serialises whole write transactions: no interleaving possible")
    import threading

    bearer = token("counsellor", school)
    counsellor = headers(bearer)
    assert (
        post_upload(client, counsellor, frame([("RACE3", 2)]).write_csv().encode()).status_code
        == 201
    )
    ((case_id, _, _),) = open_cases_of(sessions, school, "RACE3")
    read = client.post(f"/api/v1/cases/{case_id}/claim", headers=counsellor).json()
    seen = max(e["id"] for e in read["events"])

    from screening.api.services import referrals

    real_record = audit_module.record
    outcome: list[object] = []

    def close_while_the_referral_holds_the_case() -> None:
        with sessions() as session:
            actor = authenticate(session, bearer)
            body = CloseIn(disposition="counselled_resolved", note="done", seen_event=seen)
            try:
                case_service.close(session, actor, case_id, body, clock())
                session.commit()
                outcome.append("closed")
            except case_service.Conflict as error:
                outcome.append(error)

    closing = threading.Thread(target=close_while_the_referral_holds_the_case)

    class RacingAudit:
        @staticmethod
        def record(session, actor, action, *args, **kwargs):
            if action == "referral" and not closing.is_alive() and not outcome:
                closing.start()
                closing.join(0.5)  # it waits for the referral's lock on the case
                assert closing.is_alive(), outcome
            return real_record(session, actor, action, *args, **kwargs)

    monkeypatch.setattr(referrals, "audit", RacingAudit)
    answer = client.post(
        "/api/v1/referrals",
        headers=headers(token("teacher", school)),
        json={"student_id": "RACE3", "category": "self_harm", "note": "said she wants to die"},
    )
    closing.join(10)
    assert answer.status_code == 201, answer.text
    assert len(outcome) == 1 and "changed since you read it" in str(outcome[0]), outcome
    assert [(t, u) for _, t, u in open_cases_of(sessions, school, "RACE3")] == [(3, True)]


def test_a_close_after_another_event_is_refused_until_read(client, token, headers, school, frame):
    counsellor = headers(token("counsellor", school))
    assert (
        post_upload(client, counsellor, frame([("SEEN1", 2)]).write_csv().encode()).status_code
        == 201
    )
    case_id = client.get("/api/v1/queue", headers=counsellor).json()["items"][0]["case_id"]
    read = client.post(f"/api/v1/cases/{case_id}/claim", headers=counsellor).json()
    seen = max(e["id"] for e in read["events"])
    referral = {"student_id": "SEEN1", "category": "other", "note": "crying in class"}
    teacher = headers(token("teacher", school))
    assert client.post("/api/v1/referrals", headers=teacher, json=referral).status_code == 201
    close = {"disposition": "counselled_resolved", "note": "n", "seen_event": seen}
    refused = client.post(f"/api/v1/cases/{case_id}/close", headers=counsellor, json=close)
    assert refused.status_code == 409 and "changed since you read it" in refused.text
    # read again, the close goes through; the closer's own later events do not count
    again = client.get(f"/api/v1/cases/{case_id}", headers=counsellor).json()
    close["seen_event"] = max(e["id"] for e in again["events"])
    note = {"text": "talked with her teacher"}
    assert client.post(f"/api/v1/cases/{case_id}/notes", headers=counsellor, json=note).is_success
    closed = client.post(f"/api/v1/cases/{case_id}/close", headers=counsellor, json=close)
    assert closed.status_code == 200, closed.text


# ---------------------------------------------------------------- lone surrogates
LONE_SURROGATE_BODIES = {
    # valid JSON (RFC 8259 allows any \uXXXX escape); a JavaScript client that cuts a note
    # at N UTF-16 units through an emoji sends exactly this
    "note": '{"student_id": "SUR1", "category": "self_harm", "note": "\\u81ea\\u4f24 \\ud83d"}',
    "name": '{"student_id": "SUR2", "category": "other", "note": "n", "name": "\\ud83d"}',
    "student_id": '{"student_id": "SUR3\\udc00", "category": "other", "note": "n"}',
}


@pytest.mark.parametrize("field", sorted(LONE_SURROGATE_BODIES))
def test_referral_with_a_lone_surrogate_is_not_a_server_error(
    client, token, headers, school, field
):
    """A lone UTF-16 surrogate in any text field cannot be encoded as UTF-8 by either
    database driver: 500 "Internal error" on SQLite and PostgreSQL, and a self-harm referral
    is not recorded. It should be refused as 422 (or stored with the character replaced).
    Issue 4: "Schemathesis against the OpenAPI schema ...: no 5xx"."""
    answer = client.post(
        "/api/v1/referrals",
        headers={**headers(token("teacher", school)), "Content-Type": "application/json"},
        content=LONE_SURROGATE_BODIES[field],
    )
    assert answer.status_code < 500, answer.text
    assert answer.status_code in (201, 422)


def test_case_note_with_a_lone_surrogate_is_not_a_server_error(
    client, token, headers, school, frame
):
    counsellor = headers(token("counsellor", school))
    assert (
        post_upload(client, counsellor, frame([("SUR4", 3)]).write_csv().encode()).status_code
        == 201
    )
    case_id = client.get("/api/v1/queue", headers=counsellor).json()["items"][0]["case_id"]
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=counsellor).status_code == 200
    answer = client.post(
        f"/api/v1/cases/{case_id}/notes",
        headers={**counsellor, "Content-Type": "application/json"},
        content='{"text": "\\u5979\\u8bf4\\u60f3\\u4f24\\u5bb3\\u81ea\\u5df1 \\ud83d"}',
    )
    assert answer.status_code < 500, answer.text


# ---------------------------------------------------------------- level-3 hand-over
def test_closing_as_handed_to_level3_needs_the_escalation_and_its_reason(
    client, token, headers, school, frame
):
    """POLICY (level 3): "escalation from the queue, with the reason recorded"; issue 4:
    "/escalate (to the level-3 group, reason required)". Closing a case with disposition
    ``handed_to_level3_group`` skips /escalate: the case leaves the queue as handed over
    with no escalation event and no reason anywhere. The parallel rule for
    ``hospital_referral`` (record the referral first) is enforced; this one is not."""
    counsellor = headers(token("counsellor", school))
    assert (
        post_upload(client, counsellor, frame([("L3A", 2)]).write_csv().encode()).status_code == 201
    )
    case_id = client.get("/api/v1/queue", headers=counsellor).json()["items"][0]["case_id"]
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=counsellor).status_code == 200
    closed = client.post(
        f"/api/v1/cases/{case_id}/close",
        headers=counsellor,
        json={"disposition": "handed_to_level3_group"},
    )
    assert closed.status_code in (409, 422), closed.json().get("events")


# ---------------------------------------------------------------- Excel student ids
def test_zero_padded_student_id_in_excel_is_the_same_student_as_in_csv(
    client, token, headers, school, frame, sessions
):
    """学号 typed as numbers and shown zero-padded (cell format "00000") are read from an
    .xlsx as 123, while the same sheet saved as CSV says 00123. The child becomes two
    students with two open cases and two pseudonyms (POLICY: "a stable, pseudonymous
    student key"; "every student at the top tier reaches a queue, exactly once")."""
    import io

    import openpyxl

    counsellor = headers(token("counsellor", school))
    data = frame([("00123", 2)], school_id=school)
    assert post_upload(client, counsellor, data.write_csv().encode()).status_code == 201

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(data.columns)
    for row in frame([("00123", 3)], school_id=school).iter_rows():
        sheet.append([int(row[0]), *row[1:]])
    sheet["A2"].number_format = "00000"  # Excel shows 00123
    buffer = io.BytesIO()
    book.save(buffer)
    again = post_upload(
        client, counsellor, buffer.getvalue(), filename="r.xlsx", window="2027-spring"
    )
    assert again.status_code == 201, again.text
    queue = client.get("/api/v1/queue", headers=counsellor).json()["items"]
    assert [(i["student_id"], i["tier"]) for i in queue] == [("00123", 3)]


# ---------------------------------------------------------------- error messages
def test_missing_column_message_gives_a_fix_the_upload_can_use(
    client, token, headers, school, frame
):
    """A school clerk uploading through the API (or the web page) is told to "map your
    headers with --map mapping.toml", a flag of the batch command: the upload has no
    mapping field, so the fix cannot be followed (DESIGN.md, "Errors": messages say how to
    fix it)."""
    counsellor = headers(token("counsellor", school))
    data = frame([("M1", 2)]).rename({"phq9_3": "PHQ第3题"}).write_csv().encode()
    answer = post_upload(client, counsellor, data)
    assert answer.status_code == 422
    message = answer.json()["detail"][0]["msg"]
    assert "phq9_3" in message
    assert "--map" not in message, message


def test_a_referral_id_with_a_zero_width_space_is_the_uploaded_student():
    from screening.api.schemas import ReferralIn

    body = ReferralIn(student_id="\u200bS1\ufeff", category="other", note="n")
    assert body.student_id == "S1"


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("follow-up", {"on": "1999-01-01"}),
        ("follow-up", {"on": "2062-01-01"}),
        ("refer", {"target": "市精神卫生中心", "on": "1900-01-01"}),
    ],
)
def test_dates_far_from_today_are_refused(client, token, headers, school, frame, action, body):
    counsellor = headers(token("counsellor", school))
    assert post_upload(client, counsellor, frame([("D1", 2)]).write_csv().encode()).is_success
    case_id = client.get("/api/v1/queue", headers=counsellor).json()["items"][0]["case_id"]
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=counsellor).is_success
    answer = client.post(f"/api/v1/cases/{case_id}/{action}", headers=counsellor, json=body)
    assert answer.status_code == 422 and "is out of range" in answer.text, answer.text
