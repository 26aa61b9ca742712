"""The ``screening`` command line: one click group, one module per command.

Each module of ``screening.commands`` defines a click command (or group) named ``command``;
they are imported lazily so that ``screening --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator

import click

import screening
from screening.atomic import RunStopped, stop_signals_raise
from screening.errors import ScreeningError

COMMANDS: dict[str, str] = {
    "score": "screening.commands.score",
    "demo": "screening.commands.demo",
    "instruments": "screening.commands.instruments",
    "reliability": "screening.commands.reliability",
    "norms": "screening.commands.norms",
    "report": "screening.commands.report",
    "serve": "screening.commands.serve",
    "users": "screening.commands.users",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, module in COMMANDS.items() if _available(module))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None or not _available(module):
            return None
        return importlib.import_module(module).command


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"screening, version {screening.__version__}")
        ctx.exit()


@click.group(cls=LazyGroup)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """Annual psychological screening and triage of school students."""


def _stopped_message(stop: RunStopped) -> str:
    """What to tell the user when the process was asked to stop during a command.

    Parameters
    ----------
    stop
        The exception the signal raised.

    Returns
    -------
    str
        One line naming the signal and saying what was written.
    """
    if stop.published:
        return (
            f"stopped by {stop.signal_name} after the results were written in full; "
            "the steps after that did not run."
        )
    return (
        f"stopped by {stop.signal_name}: the run did not finish and nothing was written "
        "(its partial outputs were removed; earlier outputs are as they were)."
    )


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show the toolkit's own warnings (an item left out of alpha, an improper omega fit)
    as ``warning: ...`` lines on stderr, like the commands' other warnings, instead of
    Python's ``file:line: Category: ...``; other libraries' warnings as usual."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if category.__module__.startswith("screening."):
            click.echo(f"warning: {message}", err=True)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def main(argv: list[str] | None = None) -> int:
    """Run the command line; a ScreeningError prints its message and exits with status 2.

    SIGTERM and SIGHUP raise :class:`~screening.atomic.RunStopped` while a command runs (in
    the main thread, where their handler is the default one), so that partial outputs are
    removed; the command then says so and exits with status 128 + the signal's number (143
    for SIGTERM), as a process ended by that signal would report in a shell.
    """
    try:
        with stop_signals_raise(), _warnings_as_lines():
            returned = cli.main(args=argv, prog_name="screening", standalone_mode=False)
    except RunStopped as stop:
        click.echo(_stopped_message(stop), err=True)
        return int(stop.code)
    except ScreeningError as error:
        click.echo(f"error: {error}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Exit as done:
        return done.exit_code
    return returned if isinstance(returned, int) else 0


def run() -> None:
    """Entry point of the ``screening`` command: :func:`main`, then a quick exit.

    After a scoring run, tearing the interpreter down (numba's and polars' objects, module
    by module) takes half a second or more, and by then every output has been written,
    flushed and renamed into place. So, as mypy does, the command flushes its logs and
    standard streams and ends the process with ``os._exit``. An unexpected exception
    propagates as usual (traceback, status 1). A run stopped by SIGTERM or SIGHUP has
    removed its partial outputs inside :func:`main`, before ``os._exit``; after
    :func:`main` the default handlers are back, so a signal then ends the process at once,
    as it would any program (every output is complete by then).
    """
    status = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to deliver
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
