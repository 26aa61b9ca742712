"""Database engine, sessions and migrations of the service.

SQLite files run in WAL mode with ``synchronous=FULL`` and foreign keys on; every
transaction starts with ``BEGIN IMMEDIATE`` so that writers queue on the busy timeout
instead of failing when a read snapshot goes stale. PostgreSQL runs at READ COMMITTED with
a connection pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
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


def _configure_sqlite(engine: Engine) -> None:
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
        connection.exec_driver_sql("BEGIN IMMEDIATE")


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
