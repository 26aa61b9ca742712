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
    assert set(triggers) == {"audit_events_no_update", "audit_events_no_delete"}


def test_sqlite_runs_in_wal_with_full_sync(sqlite_db):
    with sqlite_db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_in_memory_sqlite_is_refused():
    with pytest.raises(ValueError, match="SQLite file"):
        make_engine("sqlite://")
