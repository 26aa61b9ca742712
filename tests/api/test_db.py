"""Migrations and the append-only audit table, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from screening.api.db import alembic_config, all_metadata, make_engine, migrate


def test_migrations_match_the_models(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, all_metadata()) == []


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"]
)
def test_audit_table_refuses_update_and_delete(db, statement):
    now = dt.datetime(2026, 1, 1)
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_events (at, object_type, action) VALUES (:at, 'test', 'insert')"
            ),
            {"at": now},
        )
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.execute(text(statement))
    with db.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM audit_events WHERE action = 'x'")) == 0


def test_audit_table_refuses_truncate_on_postgresql(pg_db):
    with pytest.raises(DBAPIError, match="append-only"), pg_db.engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_events"))


def test_downgrade_and_upgrade_again(tmp_path):
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    command.downgrade(alembic_config(engine), "base")
    with engine.connect() as connection:
        tables = connection.scalars(text("SELECT name FROM sqlite_master WHERE type='table'")).all()
    assert set(tables) <= {"alembic_version"}
    migrate(engine)
    with engine.connect() as connection:
        triggers = connection.scalars(
            text("SELECT name FROM sqlite_master WHERE type='trigger'")
        ).all()
    assert set(triggers) == {
        "audit_events_no_update",
        "audit_events_no_delete",
        "case_events_no_update",
        "case_events_no_delete",
    }


def test_sqlite_runs_in_wal_with_full_sync(sqlite_db):
    with sqlite_db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_in_memory_sqlite_is_refused():
    with pytest.raises(ValueError, match="SQLite file"):
        make_engine("sqlite://")


def test_sqlite_writers_take_turns(tmp_path, caplog):
    import threading

    from screening.api.db import make_sessionmaker, session_scope
    from screening.api.models import AuditEvent

    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    migrate(engine)
    sessions = make_sessionmaker(engine)
    errors = []

    def write(k: int) -> None:
        try:
            for i in range(20):
                with session_scope(sessions) as session:
                    session.add(
                        AuditEvent(
                            at=dt.datetime.now(dt.UTC),
                            object_type="t",
                            object_id=f"{k}-{i}",
                            action="w",
                        )
                    )
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as connection:
        assert (
            connection.scalar(text("SELECT count(*) FROM audit_events WHERE action = 'w'")) == 320
        )
    assert "no writer turn" not in caplog.text


@pytest.mark.parametrize("ending", ["close", "rollback", "commit", "pool"])
def test_writer_turn_is_released_however_a_transaction_ends(tmp_path, caplog, monkeypatch, ending):
    import screening.api.db as db

    monkeypatch.setattr(db, "WRITER_WAIT_S", 0.05)
    engine = make_engine(f"sqlite:///{tmp_path / 'release.db'}")
    migrate(engine)
    connection = engine.connect()
    connection.execute(text("SELECT count(*) FROM users"))  # begins: takes the turn
    if ending == "pool":  # the DBAPI connection goes back without SQLAlchemy's rollback
        connection.connection._checkin()
    else:
        getattr(connection, ending)()
    with engine.begin() as other:
        other.execute(text("SELECT count(*) FROM users"))
    assert "no writer turn" not in caplog.text


def test_a_new_sqlite_file_is_readable_by_its_owner_only(tmp_path):
    """Children's screening results: not readable by other accounts of the machine, in
    the database file and in the -wal and -shm files SQLite makes beside it."""
    import stat

    path = tmp_path / "service.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
        made = [p for p in tmp_path.iterdir() if p.name.startswith("service.db")]
        assert {p.name for p in made} >= {"service.db", "service.db-wal"}
        for p in made:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
    engine.dispose()
    # an existing file keeps the mode its owner gave it
    shared = tmp_path / "shared.db"
    shared.touch(mode=0o640)
    shared.chmod(0o640)
    make_engine(f"sqlite:///{shared}").dispose()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640
