"""Adversarial checks of the tier-two workflow: queue, cases, events, escalation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from screening.api.db import session_scope
from screening.api.models import AuditEvent, Case, CaseEvent, User
from screening.api.schemas import CloseIn
from screening.api.security import authenticate
from screening.api.services import cases as case_service

WINDOW = "2026-autumn"


def post_upload(client, headers, data: bytes, *, window=WINDOW):
    return client.post(
        "/api/v1/uploads",
        headers=headers,
        files={"file": ("r.csv", data, "text/csv")},
        data={"window": window},
    )


def red_case(client, counsellor, frame, student: str) -> int:
    """Upload one red student; the id of their case."""
    answer = post_upload(client, counsellor, frame([(student, 3)]).write_csv().encode())
    assert answer.status_code == 201, answer.text
    items = client.get("/api/v1/queue", headers=counsellor).json()["items"]
    return next(i["case_id"] for i in items if i["student_id"] == student)


def revoke(sessions, bearer: str, now: dt.datetime) -> None:
    """What ``screening users revoke NAME`` does to the account of ``bearer``."""
    with session_scope(sessions) as session:
        actor = authenticate(session, bearer)
        session.execute(update(User).where(User.id == actor.user_id).values(revoked_at=now))


# ---------------------------------------------------------------- a counsellor who leaves
def test_a_case_claimed_by_a_revoked_account_goes_back_to_the_queue(
    client, token, headers, school, frame, clock, sessions
):
    """A counsellor claims a red student's case and leaves the school (their account is
    revoked). Only the claimer may release, note, refer or close a case, and the sweep
    escalates unclaimed cases only: the red student stayed in the queue as "claimed by" an
    account nobody can use, out of every counsellor's reach, never escalated. A claim held
    by a revoked account must go back to the queue, as an event."""
    leaving = token("counsellor", school)
    staying = headers(token("counsellor", school))
    case_id = red_case(client, headers(leaving), frame, "LEAVE1")
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=headers(leaving)).is_success
    revoke(sessions, leaving, clock())

    clock.advance(hours=25)  # past the red case's due time
    item = client.get("/api/v1/queue", headers=staying).json()["items"][0]
    assert item["case_id"] == case_id
    assert item["claimed_by"] is None
    assert item["escalated"] is True  # unclaimed past its due time
    claimed = client.post(f"/api/v1/cases/{case_id}/claim", headers=staying)
    assert claimed.status_code == 200, claimed.text
    kinds = [(e["kind"], e["actor"]) for e in claimed.json()["events"]]
    assert [k for k, _ in kinds] == ["opened", "claimed", "released", "escalated", "claimed"]
    released = claimed.json()["events"][2]
    assert released["actor"] is None and released["detail"]["automatic"] is True
    with sessions() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.object_type == "case", AuditEvent.object_id == str(case_id)
            )
        ).all()
    assert "case.release.auto" in actions


# ---------------------------------------------------------------- history is append-only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE case_events SET kind = 'note' WHERE id = :id",
        "DELETE FROM case_events WHERE id = :id",
    ],
)
def test_case_history_cannot_be_rewritten(db, client, token, headers, school, frame, statement):
    """The timeline of a case is the student's file (一生一档): like the audit trail, the
    database refuses to change or delete an event."""
    counsellor = headers(token("counsellor", school))
    case_id = red_case(client, counsellor, frame, "HIST1")
    with db.engine.connect() as connection:
        event_id = connection.scalar(
            select(CaseEvent.id).where(CaseEvent.case_id == case_id).limit(1)
        )
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.execute(text(statement), {"id": event_id})


def test_case_history_cannot_be_truncated_on_postgresql(pg_db):
    with pytest.raises(DBAPIError, match="append-only"), pg_db.engine.begin() as connection:
        connection.execute(text("TRUNCATE case_events CASCADE"))


# ---------------------------------------------------------------- China's calendar
@pytest.mark.parametrize(
    ("utc", "on", "accepted"),
    [
        # 07:30 in Beijing on 2 September: 1 September is yesterday, 31 August two days ago
        (dt.datetime(2026, 9, 1, 23, 30, tzinfo=dt.UTC), "2026-08-31", False),
        (dt.datetime(2026, 9, 1, 23, 30, tzinfo=dt.UTC), "2026-09-01", False),
        (dt.datetime(2026, 9, 1, 23, 30, tzinfo=dt.UTC), "2026-09-02", True),
        # 00:30 in Beijing on 2 September
        (dt.datetime(2026, 9, 1, 16, 30, tzinfo=dt.UTC), "2026-09-01", False),
        (dt.datetime(2026, 9, 1, 16, 30, tzinfo=dt.UTC), "2026-09-02", True),
        # 23:30 in Beijing on 1 September (15:30 UTC)
        (dt.datetime(2026, 9, 1, 15, 30, tzinfo=dt.UTC), "2026-09-01", True),
        (dt.datetime(2026, 9, 1, 15, 30, tzinfo=dt.UTC), "2026-08-31", False),
    ],
)
def test_a_follow_up_is_from_todays_date_in_china(
    client, token, headers, school, frame, clock, utc, on, accepted
):
    """A follow-up date (跟踪回访) lies ahead: today or later on the school's calendar. The
    service compared it with the UTC date less a day, so at 07:30 in Beijing a follow-up two
    days back was taken: the case showed a next visit that was already missed."""
    counsellor = headers(token("counsellor", school))
    clock.now = utc
    case_id = red_case(client, counsellor, frame, "TZ1")
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=counsellor).is_success
    answer = client.post(f"/api/v1/cases/{case_id}/follow-up", headers=counsellor, json={"on": on})
    assert answer.is_success is accepted, answer.text


def test_a_referral_a_year_back_counts_on_chinas_calendar(
    client, token, headers, school, frame, clock
):
    counsellor = headers(token("counsellor", school))
    clock.now = dt.datetime(2026, 9, 1, 23, 30, tzinfo=dt.UTC)  # 2 September in Beijing
    case_id = red_case(client, counsellor, frame, "TZ2")
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=counsellor).is_success
    far = client.post(
        f"/api/v1/cases/{case_id}/refer",
        headers=counsellor,
        json={"target": "市精神卫生中心", "on": "2027-09-04"},  # 367 days on
    )
    assert far.status_code == 422
    near = client.post(
        f"/api/v1/cases/{case_id}/refer",
        headers=counsellor,
        json={"target": "市精神卫生中心", "on": "2026-09-02"},
    )
    assert near.status_code == 200, near.text


# ---------------------------------------------------------------- two tabs, one counsellor
def test_a_release_racing_a_close_adds_nothing_to_the_closed_case(
    db, client, token, headers, school, frame, clock, sessions, monkeypatch
):
    """PostgreSQL: the counsellor closes the case in one tab while releasing it in another.
    The release read the case open, the close commits, then the release's update (which did
    not check the status) cleared the claim of the closed case and put a "released" event
    after "closed" in its history."""
    if db.backend == "sqlite":
        pytest.skip("SQLite serialises whole write transactions: no interleaving possible")
    bearer = token("counsellor", school)
    counsellor = headers(bearer)
    case_id = red_case(client, counsellor, frame, "TABS1")
    assert client.post(f"/api/v1/cases/{case_id}/claim", headers=counsellor).is_success

    real_update = case_service.update
    raced: list[bool] = []

    def close_first(entity, *args, **kwargs):
        if entity is Case and not raced:
            raced.append(True)
            with sessions() as session:
                actor = authenticate(session, bearer)
                body = CloseIn(disposition="counselled_resolved", note="seen, safe")
                case_service.close(session, actor, case_id, body, clock())
                session.commit()
        return real_update(entity, *args, **kwargs)

    monkeypatch.setattr(case_service, "update", close_first)
    answer = client.post(f"/api/v1/cases/{case_id}/release", headers=counsellor)
    assert raced, "the interleaving was not exercised"
    assert answer.status_code == 409, answer.text
    case = client.get(f"/api/v1/cases/{case_id}", headers=counsellor).json()
    assert case["status"] == "closed" and case["events"][-1]["kind"] == "closed"


# ---------------------------------------------------------------- checks that held
def test_every_read_and_change_of_a_case_is_audited_and_an_event(
    client, token, headers, school, frame, clock, sessions
):
    counsellor = headers(token("counsellor", school))
    case_id = red_case(client, counsellor, frame, "AUD1")
    base = f"/api/v1/cases/{case_id}"
    steps = [
        ("claim", None),
        ("release", None),
        ("claim", None),
        ("notes", {"text": "talked"}),
        ("follow-up", {"on": "2026-09-05"}),
        ("escalate", {"reason": "plan"}),
        ("refer", {"target": "医院", "on": "2026-09-02"}),
        ("close", {"disposition": "hospital_referral"}),
    ]
    for action, body in steps:
        answer = client.post(f"{base}/{action}", headers=counsellor, json=body)
        assert answer.status_code == 200, (action, answer.text)
    assert client.get(base, headers=counsellor).is_success
    kinds = [e["kind"] for e in client.get(base, headers=counsellor).json()["events"]]
    assert kinds == [
        "opened", "claimed", "released", "claimed", "note", "follow_up", "escalated",
        "referred", "closed",
    ]  # fmt: skip
    with sessions() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.object_type == "case", AuditEvent.object_id == str(case_id)
            )
        ).all()
    for action in (
        "case.claimed", "case.released", "case.note", "case.follow_up", "case.escalated",
        "case.referred", "case.closed", "case.read",
    ):  # fmt: skip
        assert action in actions, action


def test_a_teacher_cannot_refer_another_schools_student(
    client, token, headers, school, new_school, sessions
):
    teacher = headers(token("teacher", school))
    other = new_school()
    answer = client.post(
        "/api/v1/referrals",
        headers=teacher,
        json={"student_id": "X1", "school_id": other, "category": "self_harm", "note": "n"},
    )
    assert answer.status_code == 404
    with sessions() as session:
        assert session.scalar(select(Case.id).where(Case.school_id == other)) is None


def test_a_referral_without_a_screening_is_a_whole_case(client, token, headers, school):
    counsellor = headers(token("counsellor", school))
    answer = client.post(
        "/api/v1/referrals",
        headers=counsellor,
        json={"student_id": "ＮＯ１ ", "category": "suicidal_tendency", "note": "said so"},
    )
    assert answer.status_code == 201, answer.text
    case = client.get(f"/api/v1/cases/{answer.json()['case_id']}", headers=counsellor).json()
    assert case["student_id"] == "NO1" and case["results"] == [] and case["urgent"]
    again = client.post(
        "/api/v1/referrals",
        headers=counsellor,
        json={"student_id": "\u200bNO1", "category": "aggression", "note": "again"},
    )
    assert again.json() == {"received": True, "case_id": case["case_id"], "opened": False}


def test_two_counsellors_acting_on_one_case_at_once_leave_no_event_after_the_close(
    db, client, token, headers, school, frame, clock, sessions
):
    """Threads: the claimer closes while a colleague escalates and the claimer notes; on
    every case the close is the last event and nothing fails otherwise than with 409."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from screening.api.schemas import EscalateIn, NoteIn

    claimer_token, other_token = token("counsellor", school), token("counsellor", school)
    students = [(f"PAR{i}", 3) for i in range(12)]
    answer = post_upload(client, headers(claimer_token), frame(students).write_csv().encode())
    assert answer.status_code == 201
    ids = [
        i["case_id"]
        for i in client.get("/api/v1/queue", headers=headers(other_token)).json()["items"]
    ]
    for case_id in ids:
        assert client.post(
            f"/api/v1/cases/{case_id}/claim", headers=headers(claimer_token)
        ).is_success
    with sessions() as session:
        claimer, other = authenticate(session, claimer_token), authenticate(session, other_token)
    errors: list[BaseException] = []
    act = _racer(sessions, errors)

    with ThreadPoolExecutor(max_workers=3) as pool:
        for case_id in ids:
            barrier = threading.Barrier(3)
            body = CloseIn(disposition="counselled_resolved", note="seen")
            futures = [
                pool.submit(
                    act,
                    lambda s, c=case_id, b=body: case_service.close(s, claimer, c, b, clock()),
                    barrier,
                ),
                pool.submit(
                    act,
                    lambda s, c=case_id: case_service.escalate(
                        s, other, c, EscalateIn(reason="r"), clock()
                    ),
                    barrier,
                ),
                pool.submit(
                    act,
                    lambda s, c=case_id: case_service.add_note(
                        s, claimer, c, NoteIn(text="n"), clock()
                    ),
                    barrier,
                ),
            ]
            for future in futures:
                future.result()
    assert not errors, errors
    for case_id in ids:
        events = client.get(f"/api/v1/cases/{case_id}", headers=headers(other_token)).json()[
            "events"
        ]
        assert events[-1]["kind"] == "closed", [e["kind"] for e in events]


# ---------------------------------------------------------------- level-3 hand-over
def test_handing_a_case_to_level3_needs_a_persons_escalation_not_the_services(
    client, token, headers, school, frame, clock
):
    """The service escalates an overdue urgent case by itself, with its reason "unclaimed
    past its due time": a fact about the queue, not about the student. A close as
    ``handed_to_level3_group`` took that for the escalation, so a counsellor handed the
    student to the leadership group without anyone saying why (POLICY, level 3: escalation
    from the queue, with the reason recorded)."""
    counsellor = headers(token("counsellor", school))
    case_id = red_case(client, counsellor, frame, "HAND1")
    base = f"/api/v1/cases/{case_id}"
    clock.advance(hours=25)
    assert client.get("/api/v1/queue", headers=counsellor).json()["items"][0]["escalated"]
    assert client.post(f"{base}/claim", headers=counsellor).is_success
    handed = {"disposition": "handed_to_level3_group", "note": "the group takes it on"}
    refused = client.post(f"{base}/close", headers=counsellor, json=handed)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"].startswith("Escalate the case with the reason first")
    reason = {"reason": "plan of self-harm; parents unreachable"}
    assert client.post(f"{base}/escalate", headers=counsellor, json=reason).is_success
    closed = client.post(f"{base}/close", headers=counsellor, json=handed)
    assert closed.status_code == 200, closed.text
    escalations = [e for e in closed.json()["events"] if e["kind"] == "escalated"]
    assert [e["detail"]["automatic"] for e in escalations] == [True, False]


# ---------------------------------------------------------------- the sweep and the claimer
def _claimed_red_cases(client, token, headers, school, frame, n: int, prefix: str):
    """``n`` red cases claimed by one counsellor: (their ids, the claimer's token)."""
    bearer = token("counsellor", school)
    students = [(f"{prefix}{i}", 3) for i in range(n)]
    answer = post_upload(client, headers(bearer), frame(students).write_csv().encode())
    assert answer.status_code == 201, answer.text
    ids = [
        i["case_id"] for i in client.get("/api/v1/queue", headers=headers(bearer)).json()["items"]
    ]
    for case_id in ids:
        assert client.post(f"/api/v1/cases/{case_id}/claim", headers=headers(bearer)).is_success
    return ids, bearer


def test_the_sweep_passes_over_a_case_whose_note_is_being_written(
    db, client, token, headers, school, frame, clock, sessions, monkeypatch
):
    """PostgreSQL: the claimer's note holds the case (its row lock) when the sweep comes, a
    minute past the due time. The sweep must not escalate it from a snapshot that misses
    the note about to commit, nor wait for the counsellor: it passes over the case, and the
    next sweep finds the note. (SQLite runs one write transaction at a time.)"""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from screening.api.schemas import NoteIn

    if db.backend == "sqlite":
        pytest.skip("SQLite serialises whole write transactions: no interleaving possible")
    (case_id,), bearer = _claimed_red_cases(client, token, headers, school, frame, 1, "HOLD")
    clock.advance(hours=24, minutes=1)
    holding, go = threading.Event(), threading.Event()
    real_case_out = case_service._case_out

    def hold(session, held_id, now):
        session.flush()  # the note is written; the transaction holds the case
        holding.set()
        go.wait()
        return real_case_out(session, held_id, now)

    def write_note():
        with session_scope(sessions) as session:
            actor = authenticate(session, bearer)
            case_service.add_note(session, actor, case_id, NoteIn(text="talking now"), clock())

    monkeypatch.setattr(case_service, "_case_out", hold)
    with ThreadPoolExecutor(max_workers=1) as pool:
        note = pool.submit(write_note)
        try:
            holding.wait()
            with session_scope(sessions) as session:
                # a guard against a hang, not a timing check: a sweep that waited for the
                # row lock would fail here instead of waiting for ever
                session.execute(text("SET LOCAL lock_timeout = '20s'"))
                first = case_service.escalate_overdue(session, clock(), school)
        finally:
            go.set()
        note.result()
    assert case_id not in first
    with session_scope(sessions) as session:
        assert case_id not in case_service.escalate_overdue(session, clock(), school)
    with sessions() as session:
        kinds = session.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        ).all()
    assert kinds == ["opened", "claimed", "note"]


def test_sweeps_racing_each_other_and_the_claimer_escalate_once_and_never_after_work(
    db, client, token, headers, school, frame, clock, sessions
):
    """Threads: on each claimed, overdue red case two sweeps run at once with the claimer's
    note or close. A case is escalated at most once, and only if nothing of the claimer's
    came before the escalation: a note or close that commits first stops it; one that
    comes after it follows it in the timeline. Nothing fails otherwise than with 409."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from screening.api.schemas import NoteIn

    ids, bearer = _claimed_red_cases(client, token, headers, school, frame, 12, "RACE")
    with sessions() as session:
        claimer = authenticate(session, bearer)
    clock.advance(hours=25)
    errors: list[BaseException] = []
    act = _racer(sessions, errors)

    def sweep(session):
        case_service.escalate_overdue(session, clock(), school)

    with ThreadPoolExecutor(max_workers=3) as pool:
        for k, case_id in enumerate(ids):
            if k % 2:
                body = CloseIn(disposition="counselled_resolved", note="seen, safe")

                def work(s, c=case_id, b=body):
                    case_service.close(s, claimer, c, b, clock())
            else:

                def work(s, c=case_id):
                    case_service.add_note(s, claimer, c, NoteIn(text="talked"), clock())

            barrier = threading.Barrier(3)
            futures = [pool.submit(act, fn, barrier) for fn in (sweep, sweep, work)]
            for future in futures:
                future.result()
    assert not errors, errors
    with session_scope(sessions) as session:
        sweep(session)  # whatever a sweep passed over is settled now
    with sessions() as session:
        for case_id in ids:
            kinds = session.scalars(
                select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            ).all()
            work = "closed" if ids.index(case_id) % 2 else "note"
            assert kinds in (
                ["opened", "claimed", "escalated", work],  # the sweep came first
                ["opened", "claimed", work],  # the claimer did
            ), kinds


def _racer(sessions, errors: list[BaseException]):
    """A thread body: wait at the barrier, run ``fn`` in a unit of work of its own; a
    Conflict is an expected loss of the race, anything else goes to ``errors``."""

    from screening.api.services.errors import Conflict

    def act(fn, barrier):
        barrier.wait()
        try:
            with session_scope(sessions) as session:
                fn(session)
        except Conflict:
            pass
        except BaseException as error:  # reported by the test
            errors.append(error)

    return act
