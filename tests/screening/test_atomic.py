"""Atomic outputs: complete or absent, never half-written."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import screening.atomic
from screening.atomic import (
    atomic_directory,
    atomic_write,
    write_csv_atomic,
    write_json_atomic,
    write_parquet_atomic,
)

FRAME = pl.DataFrame(
    {"student_id": ["S1", "S2"], "phq9.total": [3.0, None], "学校": ["一中", "二中"]}
)


class Boom(RuntimeError):
    pass


def _listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_writers_round_trip(tmp_path):
    write_parquet_atomic(FRAME, tmp_path / "s.parquet")
    write_csv_atomic(FRAME, tmp_path / "s.csv", include_bom=True)
    write_json_atomic(
        {"n": np.int64(2), "当": [np.float32(0.5)], "d": dt.date(2024, 9, 1)}, tmp_path / "r.json"
    )
    assert pl.read_parquet(tmp_path / "s.parquet").equals(FRAME)
    assert (tmp_path / "s.csv").read_bytes().startswith(b"\xef\xbb\xbfstudent_id,")
    assert pl.read_csv(tmp_path / "s.csv")["学校"].to_list() == ["一中", "二中"]
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert json.loads(text) == {"n": 2, "当": [0.5], "d": "2024-09-01"}
    assert "当" in text and text.endswith("\n")
    assert _listing(tmp_path) == ["r.json", "s.csv", "s.parquet"]  # no temporary files left


def test_failure_mid_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(Boom), atomic_write(target) as handle:
        handle.write(b"half of the")
        raise Boom
    assert _listing(tmp_path) == []


def test_failure_mid_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_text("old, complete\n")
    with pytest.raises(Boom), atomic_write(target, "w", encoding="utf-8") as handle:
        handle.write("new, incomp")
        raise Boom
    assert target.read_text() == "old, complete\n"
    assert _listing(tmp_path) == ["scores.csv"]


def test_failing_writer_leaves_nothing(tmp_path, monkeypatch):
    def broken(self, file, **kwargs):
        file.write(b"PAR1 partial")
        raise Boom("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", broken)
    with pytest.raises(Boom):
        write_parquet_atomic(FRAME, tmp_path / "scores.parquet")
    assert _listing(tmp_path) == []


def test_failing_rename_leaves_nothing(tmp_path, monkeypatch):
    def broken(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(screening.atomic.os, "replace", broken)
    with pytest.raises(OSError, match="rename failed"):
        write_csv_atomic(FRAME, tmp_path / "scores.csv")
    assert _listing(tmp_path) == []


def test_json_refuses_nan_and_unknown_objects(tmp_path):
    with pytest.raises(ValueError):
        write_json_atomic({"x": float("nan")}, tmp_path / "r.json")
    with pytest.raises(TypeError, match="object"):
        write_json_atomic({"x": object()}, tmp_path / "r.json")
    assert _listing(tmp_path) == []


def test_atomic_directory_creates_the_directory_at_once(tmp_path):
    out = tmp_path / "results"
    with atomic_directory(out) as staging:
        write_parquet_atomic(FRAME, staging / "scores.parquet")
        assert not out.exists()  # nothing visible before the block ends
        write_json_atomic({"ok": True}, staging / "run.json")
    assert _listing(out) == ["run.json", "scores.parquet"]
    assert _listing(tmp_path) == ["results"]


def test_atomic_directory_failure_leaves_no_directory(tmp_path):
    out = tmp_path / "results"
    with pytest.raises(Boom), atomic_directory(out) as staging:
        write_parquet_atomic(FRAME, staging / "scores.parquet")
        raise Boom
    assert _listing(tmp_path) == []


def test_atomic_directory_failure_keeps_the_previous_run(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "scores.parquet").write_bytes(b"old scores")
    (out / "run.json").write_text("old run")
    with pytest.raises(Boom), atomic_directory(out) as staging:
        write_parquet_atomic(FRAME, staging / "scores.parquet")
        raise Boom
    assert (out / "scores.parquet").read_bytes() == b"old scores"
    assert (out / "run.json").read_text() == "old run"
    assert _listing(out) == ["run.json", "scores.parquet"]


def test_atomic_directory_replaces_into_an_existing_directory_run_json_last(tmp_path, monkeypatch):
    out = tmp_path / "results"
    out.mkdir()
    (out / "scores.parquet").write_bytes(b"old scores")
    (out / "notes.txt").write_text("kept")
    moved = []
    real_replace = os.replace

    def recording(src, dst):
        moved.append(Path(dst).name)
        real_replace(src, dst)

    with atomic_directory(out) as staging:
        write_json_atomic({"run": 2}, staging / "run.json")
        write_parquet_atomic(FRAME, staging / "scores.parquet")
        write_csv_atomic(FRAME, staging / "a.csv")
        monkeypatch.setattr(screening.atomic.os, "replace", recording)
    assert moved == ["a.csv", "scores.parquet", "run.json"]
    assert pl.read_parquet(out / "scores.parquet").equals(FRAME)
    assert _listing(out) == ["a.csv", "notes.txt", "run.json", "scores.parquet"]


def test_atomic_directory_refuses_a_file(tmp_path):
    path = tmp_path / "results"
    path.write_text("x")
    with pytest.raises(NotADirectoryError), atomic_directory(path):
        pass


@pytest.mark.parametrize("existing", [False, True])
def test_atomic_directory_publishes_files_for_the_owner_only(tmp_path, existing):
    out = tmp_path / "results"
    if existing:
        out.mkdir(mode=0o755)
    with atomic_directory(out) as staging:
        FRAME.write_parquet(staging / "scores.parquet")  # not through a temporary file
        write_json_atomic({"ok": True}, staging / "run.json")
    assert {(out / name).stat().st_mode & 0o777 for name in _listing(out)} == {0o600}


# ------------------------------------------------------------ stop signals and stale staging

needs_posix_signals = pytest.mark.skipif(
    not hasattr(signal, "SIGHUP") or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL,
    reason="needs POSIX signals with SIGTERM at its default handler",
)


def _stale_name(out: Path, pid: int, host: str | None = None) -> str:
    return f".{out.name}.staging-{pid}-{host or screening.atomic._host_tag()}-abc123"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@needs_posix_signals
@pytest.mark.parametrize("existing", [False, True])
def test_sigterm_in_the_block_removes_the_staging_and_keeps_the_previous_run(tmp_path, existing):
    out = tmp_path / "results"
    if existing:
        out.mkdir()
        (out / "run.json").write_text("old")
    with pytest.raises(screening.atomic.RunStopped) as stop, atomic_directory(out) as staging:
        write_parquet_atomic(FRAME, staging / "scores.parquet")
        os.kill(os.getpid(), signal.SIGTERM)
    assert stop.value.code == 128 + signal.SIGTERM and not stop.value.published
    assert stop.value.signal_name == "SIGTERM"
    assert _listing(tmp_path) == (["results"] if existing else [])
    assert _listing(out) == ["run.json"] if existing else not out.exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the block


@needs_posix_signals
def test_a_handler_of_the_application_is_kept(tmp_path):
    """A server that handles SIGTERM itself (a graceful shutdown) keeps its handler."""
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with atomic_directory(tmp_path / "results") as staging:
            os.kill(os.getpid(), signal.SIGTERM)
            write_json_atomic({"ok": True}, staging / "run.json")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == [signal.SIGTERM]
    assert _listing(tmp_path / "results") == ["run.json"]


@needs_posix_signals
def test_a_stop_while_publishing_is_held_until_every_file_is_in_place(tmp_path, monkeypatch):
    out = tmp_path / "results"
    out.mkdir()
    replace = os.replace

    def replace_then_stop(source, target):
        replace(source, target)
        if Path(target) == out / "a.csv":  # the first file moved into place
            os.kill(os.getpid(), signal.SIGHUP)

    monkeypatch.setattr(screening.atomic.os, "replace", replace_then_stop)
    with pytest.raises(screening.atomic.RunStopped) as stop, atomic_directory(out) as staging:
        write_csv_atomic(FRAME, staging / "a.csv")
        write_json_atomic({"run": 2}, staging / "run.json")
    assert stop.value.published and stop.value.signum == signal.SIGHUP
    assert _listing(out) == ["a.csv", "run.json"]


def test_the_next_run_removes_only_staging_of_dead_processes(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    dead, alive = _dead_pid(), os.getppid()
    kept = [
        _stale_name(out, alive),  # a concurrent run into the same folder
        _stale_name(out, os.getpid()),  # this process's own
        _stale_name(out, dead, host="0123abcd"),  # another host's (network file system)
        f".{out.name}.staging-k2j4l5m6",  # not provably ours (an older name)
        f".other.staging-{dead}-{screening.atomic._host_tag()}-abc123",  # another output's
    ]
    gone = [tmp_path / _stale_name(out, dead), out / _stale_name(out, dead)]
    for directory in [*(tmp_path / name for name in kept), *gone]:
        directory.mkdir()
        (directory / "scores.parquet").write_bytes(b"partial")
    with atomic_directory(out) as staging:
        write_json_atomic({"ok": True}, staging / "run.json")
    assert not any(directory.exists() for directory in gone)
    assert all((tmp_path / name).is_dir() for name in kept)
    assert _listing(out) == ["run.json"]


def test_staging_names_carry_host_and_process(tmp_path):
    with atomic_directory(tmp_path / "results") as staging:
        host = screening.atomic._host_tag()
        assert staging.name.startswith(f".results.staging-{os.getpid()}-{host}-")
