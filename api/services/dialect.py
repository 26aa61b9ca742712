"""Dialect-specific writes: INSERT ... ON CONFLICT on SQLite and PostgreSQL, and bulk inserts.

:func:`bulk_insert` writes many rows in one statement. On PostgreSQL the rows travel as
one JSON parameter and come out of ``json_to_recordset`` (``INSERT ... SELECT FROM
json_to_recordset(...)``): one round trip and a small statement whatever the number of
rows, instead of one parse and bind per row. On SQLite the driver's ``executemany`` is
already a tight loop in C.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, Text, bindparam, cast, column, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, table: Any) -> Any:
    """An ``INSERT`` construct of the session's dialect, which offers ``on_conflict_*``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _json_value(value: Any) -> Any:
    """A value as JSON can carry it (timestamps as naive UTC, the database's form)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _records(table: Table, names: list[str], rows: Sequence[dict[str, Any]]) -> Any:
    """``json_to_recordset(:rows) AS source(col type, ...)`` for the rows."""
    first = rows[0]
    timed = [n for n in names if isinstance(first[n], dt.date)]  # datetimes are dates too
    if timed:
        rows = [row | {n: _json_value(row[n]) for n in timed} for row in rows]
    payload = json.dumps(rows, ensure_ascii=False, default=_json_value)
    columns = [column(name, table.c[name].type) for name in names]
    records = func.json_to_recordset(cast(bindparam("rows", payload, type_=Text()), JSON))
    return records.table_valued(*columns).render_derived(name="source", with_types=True)


def bulk_insert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str] | None = None,
    update: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[Any]:
    """Insert ``rows`` (dicts with the same keys) in one statement.

    Parameters
    ----------
    session
        The unit of work.
    table
        The table (``Model.__table__``).
    rows
        The rows; every dict has the same keys (column names).
    conflict
        None: a row that violates any unique constraint is skipped (``ON CONFLICT DO
        NOTHING``). Columns of a unique constraint: with ``update``, an existing row is
        updated from the new one (``ON CONFLICT (...) DO UPDATE``).
    update
        Columns to overwrite when ``conflict`` names a constraint.
    returning
        Columns to return for each row written (skipped rows return nothing).

    Returns
    -------
    list of Row
        The ``returning`` columns of the rows written (empty list without ``returning``).
    """
    if not rows:
        return []
    names = list(rows[0])
    if session.get_bind().dialect.name == "postgresql":
        source = _records(table, names, rows)
        stmt = postgresql.insert(table).from_select(names, select(*source.c))
        params: Any = None
    else:
        stmt = sqlite.insert(table)
        params = list(rows)
    if conflict is None:
        stmt = stmt.on_conflict_do_nothing()
    else:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(conflict), set_={c: stmt.excluded[c] for c in update}
        )
    if returning:
        stmt = stmt.returning(*(table.c[c] for c in returning))
        result = session.execute(stmt, params) if params is not None else session.execute(stmt)
        return list(result)
    if params is not None:
        session.execute(stmt, params)
    else:
        session.execute(stmt)
    return []
