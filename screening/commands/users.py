"""``screening users``: add, list and revoke service accounts.

``add`` prints the account's bearer token once; only its SHA-256 is stored.
"""

from __future__ import annotations

import re
from typing import Any

import click

ROLES = ["district_admin", "analyst", "counsellor", "teacher", "researcher"]


def _sessions() -> Any:
    """The session factory of the configured database, migrated (imported lazily)."""
    from screening.api.db import make_engine, make_sessionmaker, migrate
    from screening.config import get_settings

    engine = make_engine(get_settings().database_url)
    migrate(engine)
    return make_sessionmaker(engine)


@click.group()
def command() -> None:
    """Manage the accounts of the service (SCREENING_DATABASE_URL picks the database)."""


@command.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="Role of the account.")
@click.option("--school", default=None, help="School id (required for counsellor and teacher).")
def add(name: str, role: str, school: str | None) -> None:
    """Add an account and print its one-time bearer token (store it now: it is not kept)."""
    from sqlalchemy import select

    from screening.api.clock import system_clock
    from screening.api.db import session_scope
    from screening.api.models import User
    from screening.api.security import create_user

    if school is not None and not re.fullmatch(r"[\w.-]{1,32}", school):
        raise click.BadParameter("use 1-32 letters, digits, '.', '_' or '-'", param_hint="--school")
    if not 1 <= len(name) <= 100:
        raise click.BadParameter("use 1-100 characters", param_hint="NAME")
    with session_scope(_sessions()) as session:
        if session.scalar(select(User).where(User.name == name)) is not None:
            raise click.ClickException(f"An account named {name!r} exists already.")
        try:
            _, token = create_user(session, name, role, school, system_clock())
        except ValueError as error:
            raise click.ClickException(str(error)) from error
    click.echo(token)


@command.command("list")
def list_() -> None:
    """List accounts: name, role, school, created, revoked."""
    from sqlalchemy import select

    from screening.api.db import session_scope
    from screening.api.models import User

    with session_scope(_sessions()) as session:
        users = session.scalars(select(User).order_by(User.name)).all()
        for user in users:
            revoked = user.revoked_at.isoformat(timespec="seconds") if user.revoked_at else "-"
            click.echo(
                f"{user.name}\t{user.role}\t{user.school_id or '-'}\t"
                f"{user.created_at.isoformat(timespec='seconds')}\trevoked: {revoked}"
            )


@command.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke an account's token at once (the account's history stays)."""
    from sqlalchemy import select

    from screening.api.clock import system_clock
    from screening.api.db import session_scope
    from screening.api.models import User

    with session_scope(_sessions()) as session:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise click.ClickException(f"No account named {name!r}.")
        if user.revoked_at is None:
            user.revoked_at = system_clock()
    click.echo(f"revoked {name}")


@command.command("passwd")
@click.argument("name")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (scripts)."
)
def passwd(name: str, password_stdin: bool) -> None:
    """Set the web sign-in password of an account (its token keeps working)."""
    from screening.api.clock import system_clock
    from screening.api.db import session_scope
    from screening.api.web.auth import MIN_PASSWORD, set_password

    if password_stdin:
        password = click.get_text_stream("stdin").readline().rstrip("\r\n")
    else:
        password = click.prompt(
            f"New password ({MIN_PASSWORD}+ characters)", hide_input=True, confirmation_prompt=True
        )
    with session_scope(_sessions()) as session:
        try:
            set_password(session, name, password, system_clock())
        except ValueError as error:
            raise click.ClickException(str(error)) from error
    click.echo(f"password set for {name}")
