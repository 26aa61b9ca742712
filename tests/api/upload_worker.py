"""Child process of the atomicity test: stores one upload after another until killed.

Usage: ``python upload_worker.py DATABASE_URL SCHOOL ROWS``. Prints ``begin i`` before
the transaction of window ``w{i}`` and ``commit i`` after it committed.
"""

from __future__ import annotations

import datetime as dt
import sys

import numpy as np
import polars as pl

from screening.api.db import make_engine, make_sessionmaker, session_scope
from screening.api.models import Role, User
from screening.api.security import Actor
from screening.api.services.uploads import prepare_frame, store_upload


def main(url: str, school: str, rows: int) -> None:
    rng = np.random.default_rng(7)
    columns = {f"phq9_{k}": rng.integers(0, 4, rows) for k in range(1, 10)}
    columns |= {f"gad7_{k}": rng.integers(0, 4, rows) for k in range(1, 8)}
    frame = pl.DataFrame({"student_id": [f"K{i:05d}" for i in range(rows)], **columns})
    prepared = prepare_frame(frame, "default")
    sessions = make_sessionmaker(make_engine(url))
    now = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    with session_scope(sessions) as session:
        user = User(
            name=f"worker-{school}",
            role="counsellor",
            school_id=school,
            token_hash=f"worker-{school}".ljust(64, "0")[:64],
            created_at=now,
        )
        session.add(user)
        session.flush()
        actor = Actor(user.id, user.name, Role.counsellor, school)
    i = 0
    while True:
        i += 1
        print(f"begin {i}", flush=True)
        with session_scope(sessions) as session:
            store_upload(session, actor, prepared, school_id=school, window=f"w{i}", now=now)
        print(f"commit {i}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
