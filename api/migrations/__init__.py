"""Alembic migrations of the service database (applied by ``screening serve``)."""
