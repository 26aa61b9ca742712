"""Alembic environment: runs the bundled migrations on the engine handed over by
:func:`screening.api.db.migrate`, or on ``SCREENING_DATABASE_URL`` when run by ``alembic``."""

from __future__ import annotations

from alembic import context

from screening.api.db import all_metadata


def _engine():
    engine = context.config.attributes.get("engine")
    if engine is not None:
        return engine
    from screening.api.db import make_engine
    from screening.config import get_settings

    return make_engine(get_settings().database_url)


def run_migrations_online() -> None:
    """Run the migrations in one transaction on the configured engine."""
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=all_metadata(),
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run them on a database.")
run_migrations_online()
