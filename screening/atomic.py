"""Atomic outputs: a failed run leaves no partial file behind.

Every writer here writes to a temporary file in the destination's own directory, flushes
and fsyncs it, then renames it over the destination with :func:`os.replace` (atomic on
POSIX and Windows within one file system) and fsyncs the directory. Readers therefore see
either the old file or the complete new one, never a half-written one; on any error the
temporary file is removed and the old file, if any, is untouched.

:func:`atomic_directory` extends this to a set of files (``scores.parquet`` and
``run.json``): they are written into a staging directory and moved into place only when
the whole block succeeds, ``run.json`` (or whatever ``last`` names) last, so that its
presence marks a complete run.

Two ways a run can end early without running its ``finally`` blocks are handled here:

- SIGTERM and SIGHUP (``timeout``, ``kill``, a scheduler or systemd stopping the job, a
  closed terminal) end a Python process at once by default. While
  :func:`atomic_directory` stages a run in the main thread, and wherever the command line
  runs (:func:`stop_signals_raise`), they raise :class:`RunStopped` instead, so that the
  staging directory is removed; a handler that the application installed itself (a web
  server's, ``nohup``'s "ignore") is left alone.
- A run killed outright (SIGKILL, the out-of-memory killer, a power cut) cannot clean up.
  Its staging directory is named after its host and process id, and the next run into the
  same destination removes such directories of processes of this host that are gone
  (:func:`remove_stale_staging`); a live run's staging, another host's or another user's,
  and anything whose name does not follow the pattern are left alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import glob
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

import numpy as np
import polars as pl

from screening.errors import OutputFolderError

logger = logging.getLogger(__name__)

#: Signals that end a run early and that, by default, end the process without cleanup.
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class RunStopped(SystemExit):
    """The process was asked to stop (SIGTERM, SIGHUP) during a run.

    Raised by the handler of :func:`stop_signals_raise` so that ``finally`` blocks, and the
    clean-up of :func:`atomic_directory` with them, run. A subclass of :class:`SystemExit`:
    ``except Exception`` does not swallow it, and uncaught it ends the process quietly with
    the shell's status for a signal, 128 + its number (143 for SIGTERM).

    Parameters
    ----------
    signum
        The signal received.
    published
        Whether it arrived while :func:`atomic_directory` was moving a complete run into
        place (it is held until that is done): the outputs are then complete.
    """

    def __init__(self, signum: int, *, published: bool = False) -> None:
        super().__init__(128 + signum)
        self.signum = signum
        self.published = published

    @property
    def signal_name(self) -> str:
        """The signal's name, e.g. ``"SIGTERM"``."""
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"


_held: list[int] | None = None  # while publishing: the stop signals that arrived


def _raise_stopped(signum: int, _frame: FrameType | None) -> None:
    """Signal handler: raise :class:`RunStopped`, or note the signal while publishing."""
    if _held is not None:
        _held.append(signum)
        return
    raise RunStopped(signum)


def install_stop_handlers() -> dict[int, Any]:
    """Make SIGTERM and SIGHUP raise :class:`RunStopped` where they would end the process.

    Only in the main thread (Python runs signal handlers there only), and only for a signal
    whose handler is the default one: a handler the application installed, or an ignored
    signal (``nohup``), is kept.

    Returns
    -------
    dict
        The handlers replaced, by signal number, for :func:`restore_handlers`.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    replaced = {}
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is signal.SIG_DFL:
            replaced[signum] = signal.signal(signum, _raise_stopped)
    return replaced


def restore_handlers(replaced: dict[int, Any]) -> None:
    """Put back the handlers that :func:`install_stop_handlers` replaced.

    Parameters
    ----------
    replaced
        What :func:`install_stop_handlers` returned.
    """
    for signum, handler in replaced.items():
        signal.signal(signum, handler)


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`RunStopped` (see
    :func:`install_stop_handlers`); the previous handlers are restored after it."""
    replaced = install_stop_handlers()
    try:
        yield
    finally:
        restore_handlers(replaced)


@contextlib.contextmanager
def _stops_held() -> Iterator[None]:
    """Hold stop signals that arrive within the block (moving a run into place, which must
    not stop half-way); raise :class:`RunStopped` for the first of them after it."""
    global _held
    outer = _held
    if outer is None:
        _held = []
    try:
        yield
    finally:
        arrived, _held = _held, outer
    if arrived and outer is None:
        raise RunStopped(arrived[0], published=True)


def _host_tag() -> str:
    """Eight hex digits naming this host, for staging names (several hosts may share a
    network file system, and a process id means something on its own host only)."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _staging_prefix(name: str) -> str:
    """The name of a staging directory of ``name`` by this process, up to its random part."""
    return f".{name}.staging-{os.getpid()}-{_host_tag()}-"


def _process_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs on this host (False where it cannot be told)."""
    if os.name != "posix" or pid <= 0:  # on Windows, os.kill(pid, 0) terminates pid
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def _is_stale(entry: Path, pattern: re.Pattern[str]) -> bool:
    """Whether ``entry`` is a staging directory left by a process of this host and user
    that is gone."""
    match = pattern.fullmatch(entry.name)
    if match is None or match["host"] != _host_tag() or entry.is_symlink():
        return False
    pid = int(match["pid"])
    if pid == os.getpid() or not entry.is_dir():
        return False
    if hasattr(os, "getuid") and entry.stat().st_uid != os.getuid():
        return False
    return _process_gone(pid)


def remove_stale_staging(path: str | os.PathLike[str]) -> int:
    """Remove the staging directories of ``path`` that killed runs left behind.

    A run killed outright (SIGKILL, out of memory, a power cut) leaves its staging
    directory, partial results of students included, beside ``path`` or inside it. Removed
    are those whose name follows the staging pattern, made on this host by this user, whose
    process is gone. A running process's staging (a concurrent run into the same ``path``)
    and anything else are left alone. Errors are ignored: clearing up never fails a run.

    Parameters
    ----------
    path
        The destination directory of :func:`atomic_directory`.

    Returns
    -------
    int
        The number of directories removed.
    """
    path = Path(path)
    pattern = re.compile(
        rf"\.{re.escape(path.name)}\.staging-(?P<pid>\d+)-(?P<host>[0-9a-f]{{8}})-[^/\\]+"
    )
    removed = 0
    for directory in (path.parent, path):
        try:
            entries = list(directory.glob(f".{glob.escape(path.name)}.staging-*"))
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                if _is_stale(entry, pattern):
                    shutil.rmtree(entry)
                    removed += 1
    if removed:
        logger.info("removed %d staging folders left by runs that were killed", removed)
    return removed


def _fsync_directory(directory: Path) -> None:
    """Persist a rename (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "wb", **open_kwargs: Any
) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the block ends without error.

    Parameters
    ----------
    path
        The destination. Its directory must exist.
    mode
        ``"wb"`` or ``"w"`` (text; pass ``encoding``/``newline`` in ``open_kwargs``).

    Examples
    --------
    >>> with atomic_write("out.txt", "w", encoding="utf-8") as handle:  # doctest: +SKIP
    ...     handle.write("complete or nothing")
    """
    if mode not in ("w", "wb"):
        raise ValueError("atomic_write opens files for writing only ('w' or 'wb')")
    path = Path(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def write_parquet_atomic(frame: pl.DataFrame, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """Write ``frame`` as Parquet to ``path`` atomically (keyword arguments go to polars)."""
    with atomic_write(path) as handle:
        frame.write_parquet(handle, **kwargs)


def write_csv_atomic(frame: pl.DataFrame, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """Write ``frame`` as UTF-8 CSV to ``path`` atomically (keyword arguments go to polars).

    Pass ``include_bom=True`` for files meant to be opened by Chinese Excel, which reads a
    CSV without a byte-order mark as GBK.
    """
    with atomic_write(path) as handle:
        frame.write_csv(handle, **kwargs)


def _json_default(value: Any) -> Any:
    """JSON form of numpy numbers and arrays, paths, dates, enums and dataclasses."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_json_atomic(obj: Any, path: str | os.PathLike[str], *, indent: int = 2) -> None:
    """Write ``obj`` as UTF-8 JSON (non-ASCII kept readable, trailing newline) atomically.

    numpy numbers and arrays, paths, dates, enums, sets and dataclasses are converted;
    NaN and infinity are refused (they are not JSON) with a ValueError.
    """
    text = json.dumps(
        obj, indent=indent, ensure_ascii=False, allow_nan=False, default=_json_default
    )
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text + "\n")


@contextlib.contextmanager
def atomic_directory(
    path: str | os.PathLike[str], *, last: Sequence[str] = ("run.json",)
) -> Iterator[Path]:
    """Stage the files of one run and publish them together when the block succeeds.

    Yields a staging directory; write every output into it. On success:

    - if ``path`` does not exist, the staging directory is renamed to ``path`` (the whole
      directory appears at once);
    - otherwise every staged entry replaces its namesake in ``path`` by
      :func:`os.replace`, the names in ``last`` after all others, so a reader that waits
      for ``run.json`` never sees a mixture of two runs' files. Other files already in
      ``path`` are left alone. A staged subdirectory may not replace a non-empty one.

    On any error the staging directory is removed and ``path`` is left as it was; so it is
    on SIGTERM or SIGHUP in the main thread, which raise :class:`RunStopped` within the
    block (see :func:`stop_signals_raise`; one that arrives while the files are moved into
    place is held until they all are). Staging directories that killed runs left behind
    are removed first (:func:`remove_stale_staging`).

    Staged files are published with mode 0600, whoever wrote them, and a new directory
    with 0700 (by :mod:`tempfile`): results hold students' sensitive data, so only the
    owner reads them until someone widens the permissions on purpose.

    Examples
    --------
    >>> with atomic_directory("results") as staging:  # doctest: +SKIP
    ...     write_parquet_atomic(scores, staging / "scores.parquet")
    ...     write_json_atomic(run, staging / "run.json")
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a directory")
    with stop_signals_raise():
        remove_stale_staging(path)
        fresh = not path.exists()
        parent = path.parent if fresh else path
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=_staging_prefix(path.name)))
        try:
            yield staging
            with _stops_held():
                _publish(staging, path, fresh=fresh, last=last)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def output_directory(
    path: str | os.PathLike[str], *, last: Sequence[str] = ("run.json",)
) -> Iterator[Path]:
    """:func:`atomic_directory` for a command's ``--out`` folder: where the folder cannot be
    made or written (a file in its place or above it, no permission), an
    :class:`~screening.errors.OutputFolderError` says so and what to do, not a bare OSError.
    """
    with contextlib.ExitStack() as stack:
        try:
            staging = stack.enter_context(atomic_directory(path, last=last))
        except OSError as error:
            raise OutputFolderError(
                path,
                f"cannot write the results in this folder ({error.strerror or error}). Give "
                "an --out folder that you may write in (not a file, nor inside one).",
            ) from None
        yield staging


def _publish(staging: Path, path: Path, *, fresh: bool, last: Sequence[str]) -> None:
    """Move the staged files into ``path`` (see :func:`atomic_directory`).

    Parameters
    ----------
    staging
        The staging directory, complete.
    path
        The destination.
    fresh
        Whether ``path`` did not exist when the run began (then the staging directory
        becomes ``path`` by one rename, unless ``path`` was created meanwhile).
    last
        Names moved after all others.
    """
    for entry in staging.iterdir():
        if entry.is_file():
            entry.chmod(0o600)
    if fresh:
        try:
            os.rename(staging, path)
        except OSError:  # created meanwhile: publish file by file below
            pass
        else:
            _fsync_directory(path.parent)
            return
    order = {name: rank for rank, name in enumerate(last, start=1)}
    for name in sorted(os.listdir(staging), key=lambda name: (order.get(name, 0), name)):
        os.replace(staging / name, path / name)
    _fsync_directory(path)
