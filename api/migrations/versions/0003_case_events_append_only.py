"""Case events are append-only: triggers refuse UPDATE and DELETE on SQLite and PostgreSQL
(and TRUNCATE on PostgreSQL), as on the audit table.

A case's timeline is the student's file (一生一档): who claimed, noted, escalated, referred
and closed, and when. The service only ever inserts events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = [
    """CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
    BEGIN SELECT RAISE(ABORT, 'case_events is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
    BEGIN SELECT RAISE(ABORT, 'case_events is append-only: DELETE refused'); END""",
]

POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION case_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'case_events is append-only: % refused', TG_OP;
    END $$""",
    """CREATE TRIGGER case_events_no_change BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_refuse_change()""",
    """CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION case_events_refuse_change()""",
]


def upgrade() -> None:
    """Refuse changes to case events."""
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRESQL_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    """Drop the triggers."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER case_events_no_update")
        op.execute("DROP TRIGGER case_events_no_delete")
    else:
        op.execute("DROP TRIGGER case_events_no_change ON case_events")
        op.execute("DROP TRIGGER case_events_no_truncate ON case_events")
        op.execute("DROP FUNCTION case_events_refuse_change()")
