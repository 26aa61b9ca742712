"""Claims: of 32 concurrent claimers of a case exactly one wins, on both databases."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from screening.api.db import session_scope
from screening.api.models import Case, CaseEvent, Role, User
from screening.api.security import Actor
from screening.api.services import cases
from screening.api.services.errors import Conflict
from screening.api.services.uploads import prepare_frame, store_upload

CLAIMERS = 32
CASES = 50


def _seed(sessions, frame, school: str, n_cases: int, clock) -> tuple[list[int], list[Actor]]:
    students = [(f"C{i:03d}", 2 if i % 2 else 3) for i in range(n_cases)]
    prepared = prepare_frame(frame(students), "default")
    with session_scope(sessions) as session:
        actors = []
        for k in range(CLAIMERS):
            user = User(
                name=f"{school}-counsellor-{k}",
                role="counsellor",
                school_id=school,
                token_hash=f"{school}-{k}".ljust(64, "x"),
                created_at=clock(),
            )
            session.add(user)
            session.flush()
            actors.append(Actor(user.id, user.name, Role.counsellor, school))
        store_upload(session, actors[0], prepared, school_id=school, window="w", now=clock())
    with sessions() as session:
        ids = session.scalars(select(Case.id).where(Case.school_id == school)).all()
    assert len(ids) == n_cases
    return sorted(ids), actors


def test_claim_race_exactly_one_winner(db, sessions, frame, school, clock):
    case_ids, actors = _seed(sessions, frame, school, CASES, clock)
    winners: dict[int, list[int]] = {}
    losers: Counter[int] = Counter()
    errors: list[str] = []
    lock = threading.Lock()

    def attempt(case_id: int, actor: Actor, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            with session_scope(sessions) as session:
                cases.claim(session, actor, case_id, clock())
        except Conflict:
            with lock:
                losers[case_id] += 1
        except Exception as error:  # any other outcome fails the test below
            with lock:
                errors.append(f"{type(error).__name__}: {error}")
        else:
            with lock:
                winners.setdefault(case_id, []).append(actor.user_id)

    with ThreadPoolExecutor(CLAIMERS) as pool:
        for case_id in case_ids:
            barrier = threading.Barrier(CLAIMERS)
            futures = [pool.submit(attempt, case_id, a, barrier) for a in actors]
            for future in futures:
                future.result()

    assert errors == []
    assert {c: len(w) for c, w in winners.items()} == dict.fromkeys(case_ids, 1)
    assert losers == Counter(dict.fromkeys(case_ids, CLAIMERS - 1))
    with sessions() as session:
        stored = dict(
            session.execute(select(Case.id, Case.claimed_by).where(Case.id.in_(case_ids))).all()
        )
        events = dict(
            session.execute(
                select(CaseEvent.case_id, func.count())
                .where(CaseEvent.case_id.in_(case_ids), CaseEvent.kind == "claimed")
                .group_by(CaseEvent.case_id)
            ).all()
        )
    assert stored == {c: w[0] for c, w in winners.items()}
    assert events == dict.fromkeys(case_ids, 1)


def test_claim_race_over_http(app, client, sessions, frame, school, clock, token, headers):
    case_ids, _ = _seed(sessions, frame, school, 5, clock)
    bearers = [headers(token("counsellor", school)) for _ in range(CLAIMERS)]

    def attempt(case_id: int, bearer: dict[str, str], barrier: threading.Barrier) -> int:
        barrier.wait()
        return client.post(f"/api/v1/cases/{case_id}/claim", headers=bearer).status_code

    with ThreadPoolExecutor(CLAIMERS) as pool:
        for case_id in case_ids:
            barrier = threading.Barrier(CLAIMERS)
            codes = list(pool.map(lambda b, c=case_id, r=barrier: attempt(c, b, r), bearers))
            assert Counter(codes) == {200: 1, 409: CLAIMERS - 1}
