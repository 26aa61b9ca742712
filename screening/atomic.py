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
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl


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

    On any error the staging directory is removed and ``path`` is left as it was.

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
    fresh = not path.exists()
    parent = path.parent if fresh else path
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{path.name}.staging-"))
    try:
        yield staging
        for entry in staging.iterdir():
            if entry.is_file():
                entry.chmod(0o600)
        if fresh:
            try:
                os.rename(staging, path)
            except OSError:  # created meanwhile: publish file by file below
                pass
            else:
                _fsync_directory(parent)
                return
        order = {name: rank for rank, name in enumerate(last, start=1)}
        for name in sorted(os.listdir(staging), key=lambda name: (order.get(name, 0), name)):
            os.replace(staging / name, path / name)
        _fsync_directory(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
