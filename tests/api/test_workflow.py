"""A school's upload taken to a worked, closed caseload through the API alone."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import func, select

from screening.api.models import AuditEvent, Case, Result

WINDOW = "2026-autumn"


def upload(client, bearer, frame, *, window=WINDOW, school_id=None, encoding="utf-8", name="f.csv"):
    data = frame.write_csv().encode(encoding)
    form = {"window": window, "battery": "default"}
    if school_id is not None:
        form["school_id"] = school_id
    return client.post(
        "/api/v1/uploads",
        headers={"Authorization": f"Bearer {bearer}"},
        files={"file": (name, data, "text/csv")},
        data=form,
    )


def test_upload_to_closed_caseload(client, token, headers, school, frame, clock, sessions):
    counsellor = headers(token("counsellor", school))
    tiers = [0, 1, 2, 3, None, 2, 3, 0]
    students = [(f"A{i:03d}", t) for i, t in enumerate(tiers)]
    answer = upload(client, token_of(counsellor), frame(students, school_id=school))
    assert answer.status_code == 201, answer.text
    summary = answer.json()
    assert summary["rows"] == 8 and summary["accepted"] == 8 and summary["rejected"] == 0
    assert summary["by_tier"] == {"green": 2, "yellow": 1, "orange": 2, "red": 2, "retest": 1}
    assert summary["by_status"] == {"scored": 7, "incomplete": 1, "invalid": 0}
    assert summary["cases_opened"] == 4 and summary["duplicate"] is False

    # A teacher refers a student who was screened green: a referral case, tier 2.
    teacher = headers(token("teacher", school))
    referral = client.post(
        "/api/v1/referrals",
        headers=teacher,
        json={"student_id": "A000", "category": "study_pressure", "note": "cries in class"},
    )
    assert referral.status_code == 201
    assert referral.json() == {"received": True, "case_id": None, "opened": None}

    queue = client.get("/api/v1/queue", headers=counsellor).json()
    assert queue["count"] == 5 and queue["overdue"] == 0
    order = [(item["student_id"], item["urgent"], item["tier"]) for item in queue["items"]]
    # urgent first (both due in 24 h, opened together: by id), then 7-day cases.
    assert order[:2] == [("A003", True, 3), ("A006", True, 3)]
    assert {o[0] for o in order[2:]} == {"A002", "A005", "A000"}
    assert all(not o[1] for o in order[2:])
    red = queue["items"][0]
    assert red["due_at"] == (clock.now + dt.timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    assert red["reasons"] and red["name"] is None

    # Work the urgent case to the end.
    case_id = red["case_id"]
    base = f"/api/v1/cases/{case_id}"
    assert client.post(f"{base}/notes", headers=counsellor, json={"text": "x"}).status_code == 409
    assert client.post(f"{base}/claim", headers=counsellor).status_code == 200
    assert client.post(f"{base}/claim", headers=counsellor).status_code == 409
    assert (
        client.post(f"{base}/notes", headers=counsellor, json={"text": "talked"}).status_code == 200
    )
    follow = client.post(f"{base}/follow-up", headers=counsellor, json={"on": "2026-09-08"})
    assert follow.json()["follow_up_on"] == "2026-09-08"
    # An urgent case does not close without a referral or a note.
    closing = {"disposition": "counselled_resolved"}
    assert client.post(f"{base}/close", headers=counsellor, json=closing).status_code == 409
    hospital = {"disposition": "hospital_referral"}
    assert client.post(f"{base}/close", headers=counsellor, json=hospital).status_code == 409
    refer = {"target": "市精神卫生中心", "on": "2026-09-02", "note": "green channel"}
    assert client.post(f"{base}/refer", headers=counsellor, json=refer).status_code == 200
    closed = client.post(f"{base}/close", headers=counsellor, json=hospital)
    assert closed.status_code == 200
    body = closed.json()
    assert body["status"] == "closed" and body["disposition"] == "hospital_referral"
    kinds = [event["kind"] for event in body["events"]]
    assert kinds == ["opened", "claimed", "note", "follow_up", "referred", "closed"]
    assert len(body["results"]) == 1 and body["results"][0]["tier"] == 3
    assert client.post(f"{base}/notes", headers=counsellor, json={"text": "x"}).status_code == 409

    # Every other case: claim, note, close with a recorded disposition.
    for item in client.get("/api/v1/queue", headers=counsellor).json()["items"]:
        base = f"/api/v1/cases/{item['case_id']}"
        assert client.post(f"{base}/claim", headers=counsellor).status_code == 200
        note = {"disposition": "no_concern_after_interview", "note": "interviewed"}
        assert client.post(f"{base}/close", headers=counsellor, json=note).status_code == 200
    assert client.get("/api/v1/queue", headers=counsellor).json()["count"] == 0

    with sessions() as session:
        open_cases = session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.school_id == school, Case.status == "open")
        )
        actions = set(
            session.scalars(select(AuditEvent.action).where(AuditEvent.school_id == school))
        )
    assert open_cases == 0
    assert {"upload", "referral", "queue.read", "case.claimed", "case.closed"} <= actions


def token_of(header: dict[str, str]) -> str:
    return header["Authorization"].removeprefix("Bearer ")


def test_overdue_urgent_case_escalates_once(client, token, headers, school, frame, clock, sessions):
    counsellor = headers(token("counsellor", school))
    upload(client, token_of(counsellor), frame([("B1", 3), ("B2", 3), ("B3", 2)]))
    items = client.get("/api/v1/queue", headers=counsellor).json()["items"]
    claimed = items[1]["case_id"]
    client.post(f"/api/v1/cases/{claimed}/claim", headers=counsellor)
    note = {"text": "talked with her"}
    assert client.post(f"/api/v1/cases/{claimed}/notes", headers=counsellor, json=note).is_success
    clock.advance(hours=23, minutes=59)
    queue = client.get("/api/v1/queue", headers=counsellor).json()
    assert not any(item["escalated"] for item in queue["items"]) and queue["overdue"] == 0
    clock.advance(minutes=2)
    queue = client.get("/api/v1/queue", headers=counsellor).json()
    escalated = {item["case_id"] for item in queue["items"] if item["escalated"]}
    assert escalated == {items[0]["case_id"]}  # the claimed, worked urgent case is not
    assert queue["overdue"] == 2  # both urgent cases are past due
    clock.advance(hours=5)
    client.get("/api/v1/queue", headers=counsellor)
    events = client.get(f"/api/v1/cases/{items[0]['case_id']}", headers=counsellor).json()["events"]
    auto = [e for e in events if e["kind"] == "escalated"]
    assert len(auto) == 1 and auto[0]["detail"]["automatic"] is True and auto[0]["actor"] is None
    with sessions() as session:
        rows = session.execute(
            select(AuditEvent.actor_id, AuditEvent.actor_role).where(
                AuditEvent.action == "case.escalate.auto",
                AuditEvent.object_id == str(items[0]["case_id"]),
            )
        ).all()
    assert rows == [(None, "system")]  # the service itself, not a district admin


def test_background_sweep_escalates_without_a_reader(
    app, client, token, headers, school, frame, clock
):
    from screening.api.main import sweep_once

    counsellor = headers(token("counsellor", school))
    upload(client, token_of(counsellor), frame([("C1", 3)]))
    clock.advance(hours=25)
    assert sweep_once(app) >= 1
    case = client.get("/api/v1/queue", headers=counsellor).json()["items"][0]
    assert case["escalated"] is True


def test_a_claimed_urgent_case_nobody_works_on_escalates_once(
    client, token, headers, school, frame, clock, sessions
):
    """A counsellor who claims a red student's case and records nothing leaves the student
    as stuck as an unclaimed case: past its due time it is escalated, once, by the service.
    A note, a follow-up or a referral by the claimer since the claim is work on the case
    (even late, before the sweep comes); a claim alone, or a colleague's earlier note on a
    claim given back, is not."""
    one = headers(token("counsellor", school))
    two = headers(token("counsellor", school))
    students = [("W1", 3), ("W2", 3), ("W3", 3), ("W4", 3), ("W5", 3), ("W6", 3), ("W7", 2)]
    upload(client, token_of(one), frame(students))
    ids = {
        i["student_id"]: i["case_id"]
        for i in client.get("/api/v1/queue", headers=one).json()["items"]
    }

    def post(who, student, action, body=None):
        answer = client.post(f"/api/v1/cases/{ids[student]}/{action}", headers=who, json=body)
        assert answer.status_code == 200, (student, action, answer.text)

    for student in ("W1", "W2", "W3", "W4", "W5", "W7"):
        post(one, student, "claim")
    post(one, "W2", "notes", {"text": "talked"})
    post(one, "W3", "follow-up", {"on": "2026-09-03"})
    post(one, "W4", "refer", {"target": "市精神卫生中心", "on": "2026-09-01"})
    post(two, "W6", "claim")  # worked by one counsellor, then handed to another
    post(two, "W6", "notes", {"text": "first talk"})
    post(two, "W6", "release")
    post(one, "W6", "claim")
    clock.advance(hours=25)
    post(one, "W5", "notes", {"text": "late, but before anyone looked"})

    queue = client.get("/api/v1/queue", headers=two).json()["items"]
    escalated = {i["student_id"] for i in queue if i["escalated"]}
    assert escalated == {"W1", "W6"}  # W7 is orange: not urgent
    clock.advance(hours=5)
    client.get("/api/v1/queue", headers=two)
    for student in ("W1", "W6"):
        events = client.get(f"/api/v1/cases/{ids[student]}", headers=one).json()["events"]
        auto = [e for e in events if e["kind"] == "escalated"]
        assert len(auto) == 1, [e["kind"] for e in events]
        assert auto[0]["actor"] is None
        assert auto[0]["detail"] == {
            "reason": "urgent case claimed but not acted on past its due time",
            "automatic": True,
        }
    with sessions() as session:
        rows = session.execute(
            select(AuditEvent.object_id, AuditEvent.actor_id, AuditEvent.actor_role).where(
                AuditEvent.action == "case.escalate.auto", AuditEvent.school_id == school
            )
        ).all()
    assert sorted(rows) == sorted((str(ids[s]), None, "system") for s in ("W1", "W6"))


def test_background_sweep_escalates_a_claimed_case_nobody_works_on(
    app, client, token, headers, school, frame, clock
):
    from screening.api.main import sweep_once

    counsellor = headers(token("counsellor", school))
    upload(client, token_of(counsellor), frame([("C2", 3)]))
    case_id = client.get("/api/v1/queue", headers=counsellor).json()["items"][0]["case_id"]
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=counsellor).is_success
    clock.advance(hours=25)
    assert sweep_once(app) >= 1
    sweep_once(app)
    case = client.get(f"/api/v1/cases/{case_id}", headers=counsellor).json()
    assert case["escalated"] is True and case["claimed_by"] is not None
    assert [e["kind"] for e in case["events"]] == ["opened", "claimed", "escalated"]


def test_rescreen_raises_tier_of_open_case_and_keeps_one_case(
    client, token, headers, school, frame, sessions
):
    counsellor = headers(token("counsellor", school))
    upload(client, token_of(counsellor), frame([("D1", 2), ("D2", 0)]))
    second = upload(
        client, token_of(counsellor), frame([("D1", 3), ("D2", 2)]), window="2027-spring"
    )
    assert second.status_code == 201
    assert second.json()["cases_opened"] == 1 and second.json()["cases_updated"] == 1
    queue = client.get("/api/v1/queue", headers=counsellor).json()["items"]
    assert [(i["student_id"], i["tier"], i["urgent"]) for i in queue] == [
        ("D1", 3, True),
        ("D2", 2, False),
    ]
    detail = client.get(f"/api/v1/cases/{queue[0]['case_id']}", headers=counsellor).json()
    assert [r["window"] for r in detail["results"]] == [WINDOW, "2027-spring"]
    assert [e["kind"] for e in detail["events"]] == ["opened", "rescreened"]
    with sessions() as session:
        per_student = session.execute(
            select(Case.student_pk, func.count())
            .where(Case.school_id == school)
            .group_by(Case.student_pk)
        ).all()
        results = session.scalar(
            select(func.count()).select_from(Result).where(Result.school_id == school)
        )
    assert sorted(n for _, n in per_student) == [1, 1] and results == 4


def test_a_screening_that_flags_an_open_case_no_more_is_noted_on_it(
    client, token, headers, school, frame
):
    """A corrected file that lowers a student's tier, or a later window in which the
    student is green, leaves the case open at its tier but puts the new screening in its
    timeline: whoever works the case must not act on the old result unawares."""
    counsellor = headers(token("counsellor", school))
    bearer = token_of(counsellor)
    upload(client, bearer, frame([("L1", 3), ("L2", 2), ("L3", 0)]))
    corrected = upload(client, bearer, frame([("L1", 0), ("L2", 2), ("L3", 0)]))
    assert corrected.json()["cases_opened"] == 0 and corrected.json()["cases_updated"] == 2
    queue = {
        i["student_id"]: i for i in client.get("/api/v1/queue", headers=counsellor).json()["items"]
    }
    assert sorted(queue) == ["L1", "L2"] and queue["L1"]["tier"] == 3  # the case keeps its tier
    events = client.get(f"/api/v1/cases/{queue['L1']['case_id']}", headers=counsellor).json()[
        "events"
    ]
    assert [e["kind"] for e in events] == ["opened", "rescreened"]
    assert events[1]["detail"] | {"upload_id": None} == {
        "window": WINDOW,
        "tier": 0,
        "raised": False,
        "upload_id": None,
    }
    # a close with the event read before the new screening is refused
    base = f"/api/v1/cases/{queue['L1']['case_id']}"
    assert client.post(f"{base}/claim", headers=counsellor).status_code == 200
    stale = {
        "disposition": "no_concern_after_interview",
        "note": "n",
        "seen_event": events[0]["id"],
    }
    assert client.post(f"{base}/close", headers=counsellor, json=stale).status_code == 409


def test_corrected_file_does_not_reopen_a_case_closed_in_the_same_window(
    client, token, headers, school, frame, clock
):
    """The window's result reached the queue once; a corrected file for the same window
    opens a case only for a student who now scores higher than the closed case had."""
    counsellor = headers(token("counsellor", school))
    bearer = token_of(counsellor)
    assert upload(client, bearer, frame([("C1", 2), ("C2", 2)])).json()["cases_opened"] == 2
    for item in client.get("/api/v1/queue", headers=counsellor).json()["items"]:
        base = f"/api/v1/cases/{item['case_id']}"
        assert client.post(f"{base}/claim", headers=counsellor).status_code == 200
        closing = {"disposition": "no_concern_after_interview", "note": "interviewed"}
        assert client.post(f"{base}/close", headers=counsellor, json=closing).status_code == 200
    clock.advance(hours=1)
    corrected = upload(client, bearer, frame([("C1", 2), ("C2", 3), ("C3", 2)]))
    assert corrected.json()["cases_opened"] == 2  # C2 (now red) and C3 (new), not C1
    queue = client.get("/api/v1/queue", headers=counsellor).json()["items"]
    assert sorted(i["student_id"] for i in queue) == ["C2", "C3"]
    # the next window is a new screening: an orange student is queued again
    clock.advance(days=100)
    later = upload(client, bearer, frame([("C1", 2)]), window="2027-spring")
    assert later.json()["cases_opened"] == 1


def _close_all(client, counsellor):
    for item in client.get("/api/v1/queue", headers=counsellor).json()["items"]:
        base = f"/api/v1/cases/{item['case_id']}"
        assert client.post(f"{base}/claim", headers=counsellor).status_code == 200
        if item["urgent"]:
            refer = {"target": "市精神卫生中心", "on": "2026-09-02", "note": "seen"}
            assert client.post(f"{base}/refer", headers=counsellor, json=refer).status_code == 200
            closing = {"disposition": "hospital_referral"}
        else:
            closing = {"disposition": "no_concern_after_interview", "note": "interviewed"}
        assert client.post(f"{base}/close", headers=counsellor, json=closing).status_code == 200


def test_a_case_of_other_evidence_does_not_cover_a_corrected_screening(
    client, token, headers, school, frame, clock
):
    """Closed cases from an earlier window, or from a referral, were not about this
    window's screening: a corrected file that makes a student red queues them."""
    counsellor = headers(token("counsellor", school))
    bearer = token_of(counsellor)
    # an earlier window's red case, still open when the next window was screened green
    # (noted on it, as E3's orange screening is on its case)
    upload(client, bearer, frame([("E1", 3), ("E2", 0), ("E3", 2)]))
    clock.advance(days=30)
    assert (
        upload(client, bearer, frame([("E1", 0), ("E2", 0), ("E3", 2)]), window="w2").json()[
            "cases_updated"
        ]
        == 2
    )
    # a referral of E2 opens a case, worked and closed before the correction
    teacher = headers(token("teacher", school))
    referral = {"student_id": "E2", "category": "self_harm", "note": "talked about it"}
    assert client.post("/api/v1/referrals", headers=teacher, json=referral).status_code == 201
    clock.advance(days=1)
    _close_all(client, counsellor)
    clock.advance(days=1)
    # the correction: E1 and E2 red in w2, E3 orange again (its open case took w2 in)
    corrected = upload(client, bearer, frame([("E1", 3), ("E2", 3), ("E3", 2)]), window="w2")
    assert corrected.json()["cases_opened"] == 2
    queue = client.get("/api/v1/queue", headers=counsellor).json()["items"]
    assert sorted((i["student_id"], i["tier"]) for i in queue) == [("E1", 3), ("E2", 3)]


def test_counsellor_referral_joins_open_case_and_urgent_category(
    client, token, headers, school, frame
):
    counsellor = headers(token("counsellor", school))
    first = client.post(
        "/api/v1/referrals",
        headers=counsellor,
        json={"student_id": "E1", "name": "学生甲", "category": "other", "note": "withdrawn"},
    ).json()
    assert first["opened"] is True
    second = client.post(  # typed in a Chinese input method's full-width mode: still E1
        "/api/v1/referrals",
        headers=counsellor,
        json={"student_id": "\uff25\uff11", "category": "self_harm", "note": "marks on arms"},
    ).json()
    assert second == {"received": True, "case_id": first["case_id"], "opened": False}
    case = client.get(f"/api/v1/cases/{first['case_id']}", headers=counsellor).json()
    assert case["tier"] == 3 and case["urgent"] is True and case["name"] == "学生甲"
    assert [e["kind"] for e in case["events"]] == ["opened", "referral"]


def test_release_only_by_claimer_and_escalate_needs_reason(client, token, headers, school, frame):
    one = headers(token("counsellor", school))
    two = headers(token("counsellor", school))
    upload(client, token_of(one), frame([("F1", 2)]))
    case_id = client.get("/api/v1/queue", headers=one).json()["items"][0]["case_id"]
    base = f"/api/v1/cases/{case_id}"
    assert client.post(f"{base}/claim", headers=one).status_code == 200
    assert client.post(f"{base}/release", headers=two).status_code == 409
    assert client.post(f"{base}/release", headers=one).json()["claimed_by"] is None
    assert client.post(f"{base}/claim", headers=two).status_code == 200
    assert client.post(f"{base}/escalate", headers=one, json={"reason": ""}).status_code == 422
    escalated = client.post(f"{base}/escalate", headers=one, json={"reason": "family crisis"})
    assert escalated.status_code == 200 and escalated.json()["escalated"] is True
    mine = client.get("/api/v1/queue", params={"mine": "true"}, headers=two).json()
    assert [i["case_id"] for i in mine["items"]] == [case_id]
    assert client.get("/api/v1/queue", params={"mine": "true"}, headers=one).json()["count"] == 0


def test_healthz_and_auth(client, token, headers, school):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    assert client.get("/api/v1/queue").status_code == 401
    assert client.get("/api/v1/queue", headers=headers("scr_not-a-token")).status_code == 401
    me = client.get("/api/v1/me", headers=headers(token("teacher", school))).json()
    assert me["role"] == "teacher" and me["school_id"] == school


def test_results_frame_passthrough_is_stored(client, token, headers, school, frame, sessions):
    counsellor = headers(token("counsellor", school))
    data = frame([("G1", 2)], school_id=school).with_columns(pl.lit("9").alias("grade"))
    upload(client, token_of(counsellor), data)
    with sessions() as session:
        result = session.scalar(select(Result).where(Result.school_id == school))
    assert (result.grade, result.sex, result.class_id, result.tier) == ("9", "F", "7-1", 2)
    assert result.scores["phq9.total"] == 15.0 and result.scores["phq9.total.band"]


def test_queue_pages_and_counts_the_whole_queue(client, token, headers, school, frame, clock):
    counsellor = headers(token("counsellor", school))
    upload(client, token_of(counsellor), frame([("P1", 2), ("P2", 3), ("P3", 2), ("P4", 3)]))
    clock.advance(hours=25)  # both urgent cases are overdue
    whole = client.get("/api/v1/queue", headers=counsellor).json()
    page = client.get("/api/v1/queue", params={"limit": 2, "offset": 1}, headers=counsellor).json()
    assert (page["count"], page["overdue"], page["limit"], page["offset"]) == (4, 2, 2, 1)
    assert [i["case_id"] for i in page["items"]] == [i["case_id"] for i in whole["items"][1:3]]
    assert client.get("/api/v1/queue", params={"limit": 0}, headers=counsellor).status_code == 422


def test_queue_marks_follow_ups_due_on_chinas_calendar(
    client, token, headers, school, frame, clock
):
    """A follow-up date (跟踪回访) is due from the start of that day in China (00:00 UTC+8,
    16:00 UTC the day before) and stays due after it; the queue marks and counts due ones,
    ``follow_up_due=true`` keeps only them, and the order stays urgent first, then due time."""
    one = headers(token("counsellor", school))
    two = headers(token("counsellor", school))
    upload(client, token_of(one), frame([("F1", 2), ("F2", 2), ("F3", 2), ("F4", 3)]))
    ids = {
        i["student_id"]: i["case_id"]
        for i in client.get("/api/v1/queue", headers=one).json()["items"]
    }
    follow_ups = [(one, "F1", "2026-09-02"), (one, "F2", "2026-09-03"), (two, "F3", "2026-09-02")]
    for who, student, on in follow_ups:
        base = f"/api/v1/cases/{ids[student]}"
        assert client.post(f"{base}/claim", headers=who).is_success
        answer = client.post(f"{base}/follow-up", headers=who, json={"on": on})
        assert answer.json()["follow_up_due"] is False

    def queue(**params):
        answer = client.get("/api/v1/queue", headers=one, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def due(body):
        return {i["student_id"] for i in body["items"] if i["follow_up_due"]}

    order = [i["case_id"] for i in queue()["items"]]
    clock.now = dt.datetime(2026, 9, 1, 15, 59, 59, tzinfo=dt.UTC)  # 23:59:59 on 1 September
    before = queue()
    assert due(before) == set() and before["follow_ups_due"] == 0
    assert {i["student_id"]: i["follow_up_on"] for i in before["items"]}["F1"] == "2026-09-02"
    assert queue(follow_up_due=True)["items"] == [] and queue(follow_up_due=True)["count"] == 0

    clock.now = dt.datetime(2026, 9, 1, 16, 0, tzinfo=dt.UTC)  # 00:00 on 2 September in China
    today = queue()
    assert due(today) == {"F1", "F3"} and today["follow_ups_due"] == 2
    assert [i["case_id"] for i in today["items"]] == order  # the order does not change
    only = queue(follow_up_due=True)
    assert [i["student_id"] for i in only["items"]] == [
        i["student_id"] for i in today["items"] if i["follow_up_due"]
    ]
    assert (only["count"], only["follow_ups_due"]) == (2, 2)
    mine = queue(follow_up_due=True, mine=True)
    assert [i["student_id"] for i in mine["items"]] == ["F1"]
    case = client.get(f"/api/v1/cases/{ids['F1']}", headers=one).json()
    assert case["follow_up_due"] is True

    clock.now = dt.datetime(2026, 9, 3, 16, 0, tzinfo=dt.UTC)  # 4 September: both are past
    past = queue()
    assert due(past) == {"F1", "F2", "F3"} and past["follow_ups_due"] == 3
    assert [i["case_id"] for i in past["items"]] == order
    closing = {"disposition": "no_concern_after_interview", "note": "seen again"}
    closed = client.post(f"/api/v1/cases/{ids['F1']}/close", headers=one, json=closing).json()
    assert closed["status"] == "closed" and closed["follow_up_due"] is False
    assert due(queue(follow_up_due=True)) == {"F2", "F3"}
    refused = client.get("/api/v1/queue", headers=one, params={"follow_up_due": "x"})
    assert refused.status_code == 422


def test_guardian_contacts_are_recorded_and_shown_in_the_queue(
    client, token, headers, school, frame, sessions
):
    """A contact with the guardian (家校沟通) needs the claim, a date from a year back to
    today in China, a known way and outcome; an attempt that did not reach the guardian is
    recorded but does not mark the case as informed."""
    one = headers(token("counsellor", school))
    two = headers(token("counsellor", school))
    upload(client, token_of(one), frame([("G1", 3), ("G2", 3)]))
    ids = {
        i["student_id"]: i["case_id"]
        for i in client.get("/api/v1/queue", headers=one).json()["items"]
    }
    base = f"/api/v1/cases/{ids['G1']}"
    contact = {"on": "2026-09-01", "method": "phone", "outcome": "not_reached"}
    assert client.post(f"{base}/guardian-contact", headers=one, json=contact).status_code == 409
    assert client.post(f"{base}/claim", headers=one).is_success
    assert client.post(f"{base}/guardian-contact", headers=two, json=contact).status_code == 409
    for bad in (
        {**contact, "on": "2026-09-02"},  # tomorrow in China
        {**contact, "on": "2025-08-01"},  # more than a year back
        {**contact, "method": "pigeon"},
        {**contact, "outcome": "maybe"},
        {"on": "2026-09-01", "method": "phone"},
    ):
        answer = client.post(f"{base}/guardian-contact", headers=one, json=bad)
        assert answer.status_code == 422, bad
    tried = client.post(f"{base}/guardian-contact", headers=one, json=contact)
    assert tried.status_code == 200 and tried.json()["guardian_informed"] is False
    advised = {"on": "2026-09-01", "method": "in_person", "outcome": "advised_medical_care",
               "note": "mother will take her to the clinic"}  # fmt: skip
    case = client.post(f"{base}/guardian-contact", headers=one, json=advised).json()
    assert case["guardian_informed"] is True
    events = [e for e in case["events"] if e["kind"] == "guardian_contacted"]
    assert [e["detail"]["outcome"] for e in events] == ["not_reached", "advised_medical_care"]
    assert events[1]["detail"] == {**advised}
    informed = {
        i["student_id"]: i["guardian_informed"]
        for i in client.get("/api/v1/queue", headers=two).json()["items"]
    }
    assert informed == {"G1": True, "G2": False}
    with sessions() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_id == str(ids["G1"]))
        ).all()
    assert actions.count("case.guardian_contacted") == 2
