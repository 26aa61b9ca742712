"""Database engine, sessions and migrations of the service.

SQLite files run in WAL mode with ``synchronous=FULL`` and foreign keys on. Every
transaction starts with ``BEGIN IMMEDIATE`` (it holds the write lock from its first
statement, so it never fails on a stale read snapshot), and the writers of one process
take turns on a lock of the engine instead of polling SQLite's busy handler, whose
growing sleeps starve some threads under load; other processes still wait on the busy
timeout. A connection opened with the execution option ``READ_ONLY`` (used for the token
look-up) begins a plain deferred transaction and takes no lock. PostgreSQL runs at READ
COMMITTED with a connection pool.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("screening.api.db")

MIGRATIONS = Path(__file__).parent / "migrations"
#: Execution option: this connection only reads (SQLite: deferred BEGIN, no writer lock).
READ_ONLY = "screening_read_only"
WRITER_WAIT_S = 60
#: Modules that declare tables on :class:`screening.api.models.Base` (migrations cover all).
MODEL_MODULES = ("screening.api.models", "screening.api.web.models")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine for ``url`` with the settings the service relies on.

    Parameters
    ----------
    url
        SQLAlchemy URL, ``sqlite:///file.db`` or ``postgresql+psycopg://...``.
    **kwargs
        Passed on to :func:`sqlalchemy.create_engine` (e.g. ``pool_size``).

    Returns
    -------
    sqlalchemy.Engine
        Statement parameters are hidden from error messages so that student data never
        reach a log through an exception.
    """
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("The service needs a SQLite file, not an in-memory database.")
        _private_file(Path(parsed.database))
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", 60)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 30)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600) when it does not exist.

    It holds children's screening results; a file made with the usual umask (0644) could be
    read by every account of the machine. SQLite gives its -wal and -shm files the mode of
    the database file. An existing file keeps its mode: whoever made it chose it.
    """
    if path.exists() or not path.parent.is_dir():  # SQLite names a missing folder itself
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:  # made meanwhile by another process
        pass


def _configure_sqlite(engine: Engine) -> None:
    writer = threading.Lock()
    holders: set[int] = set()  # ids of the DBAPI connections holding the writer lock

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN instead of the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        key = id(connection.connection.dbapi_connection)
        # A timeout keeps a lost release from blocking forever: SQLite's own lock still
        # guards the data, the turn-taking only keeps waiting fair.
        if writer.acquire(timeout=WRITER_WAIT_S):
            holders.add(key)
        else:
            log.warning("no writer turn after %d s: waiting on SQLite's lock", WRITER_WAIT_S)
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    def _release_dbapi(dbapi_connection: Any) -> None:
        key = id(dbapi_connection)
        if key in holders:
            holders.discard(key)
            writer.release()

    def _release(connection: Any) -> None:
        _release_dbapi(connection.connection.dbapi_connection)

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
        # A connection given back without commit or rollback through SQLAlchemy (the pool
        # rolls it back itself) must not keep the turn.
        if dbapi_connection is not None:
            _release_dbapi(dbapi_connection)

    @event.listens_for(engine, "commit")
    def _on_commit(connection: Any) -> None:
        # The event fires before the driver commits: commit here so that the next writer
        # gets its turn only once this transaction is durable (the driver's commit that
        # follows finds no open transaction and does nothing).
        try:
            connection.connection.dbapi_connection.commit()
        finally:
            _release(connection)

    event.listen(engine, "rollback", _release)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Session factory of the service (objects stay readable after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def all_metadata() -> Any:
    """The metadata of every table of the service (imports each module of MODEL_MODULES)."""
    import importlib
    import importlib.util

    for module in MODEL_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    from screening.api.models import Base

    return Base.metadata


def alembic_config(engine: Engine | None = None) -> Any:
    """The Alembic configuration of the bundled migrations (no ini file needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database of ``engine`` up to ``revision`` (default: the newest)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
