"""Helpers shared by the benchmark scripts: machine description, timing, results, README.

Timings are the best (minimum) of several runs: on a shared machine the minimum is the run
least disturbed by other work. Whole-process figures come from ``os.wait4``, which gives the
wall time and the peak resident set size of exactly the child that was waited for.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

PERF_START = "<!-- perf:start -->"
PERF_END = "<!-- perf:end -->"


def machine() -> dict[str, Any]:
    """Describe the machine and the library versions the figures were taken with."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    versions = {}
    for package in ("numpy", "polars", "numba", "pandas", "pyarrow", "screening"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "load_average_at_start": load,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def code_state(root: Path | None = None) -> dict[str, Any]:
    """The commit measured, and whether the scoring code differs from it (uncommitted)."""
    root = root or Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.rstrip("\n") if done.returncode == 0 else None

    changed = git("status", "--porcelain", "--", "screening", "scoring", "instruments")
    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_changes": None
        if changed is None
        else sorted(line[3:] for line in changed.splitlines() if line.endswith(".py")),
    }


def best_of(repeats: int, work: Callable[[], object]) -> tuple[float, object]:
    """Run ``work`` ``repeats`` times; the smallest wall time and the result of that run."""
    best, kept = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        if seconds < best:
            best, kept = seconds, result
    return best, kept


@dataclass(frozen=True)
class ChildRun:
    """One finished child process: wall and CPU (user + system) seconds, peak memory."""

    seconds: float
    cpu_seconds: float
    max_rss_bytes: int


def run_child(argv: Sequence[str], *, env: dict[str, str] | None = None) -> ChildRun:
    """Run a command to completion and measure it with ``os.wait4``.

    Raises
    ------
    RuntimeError
        When the command exits non-zero (with the end of its standard error).
    """
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            tail = errors.read()[-2000:].decode("utf-8", "replace")
            raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}:\n{tail}")
    # ru_maxrss is in KiB on Linux and in bytes on macOS
    scale = 1 if sys.platform == "darwin" else 1024
    return ChildRun(seconds, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss) * scale)


def summarise_runs(runs: Sequence[ChildRun]) -> dict[str, Any]:
    """Best wall and CPU times and the largest peak memory of several runs of a command.

    CPU time (user + system) is less disturbed than wall time when other work shares the
    machine; both are recorded.
    """
    return {
        "seconds": min(r.seconds for r in runs),
        "seconds_all": [round(r.seconds, 4) for r in runs],
        "cpu_seconds": min(r.cpu_seconds for r in runs),
        "max_rss_bytes": max(r.max_rss_bytes for r in runs),
    }


def interleaved_children(
    repeats: int, commands: dict[str, Sequence[str]]
) -> dict[str, dict[str, Any]]:
    """Run several commands in turn (A B C A B C ...) and summarise each.

    Interleaving puts a baseline and the command compared with it under the same
    conditions, so their ratio holds when the machine's load drifts.
    """
    runs: dict[str, list[ChildRun]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            runs[name].append(run_child(argv))
    return {name: summarise_runs(done) for name, done in runs.items()}


def interleaved_calls(
    repeats: int, calls: dict[str, Callable[[], object]]
) -> dict[str, tuple[float, object]]:
    """In-process counterpart of :func:`interleaved_children`: best wall time and result."""
    best: dict[str, tuple[float, object]] = {name: (float("inf"), None) for name in calls}
    for _ in range(repeats):
        for name, work in calls.items():
            started = time.perf_counter()
            result = work()
            seconds = time.perf_counter() - started
            if seconds < best[name][0]:
                best[name] = (seconds, result)
    return best


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}.partial")
    staged.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    os.replace(staged, path)


def replace_readme_section(readme: Path, section: str) -> None:
    """Put ``section`` between the perf markers of ``readme`` (markers added at the end)."""
    text = readme.read_text("utf-8") if readme.exists() else ""
    block = f"{PERF_START}\n{section.rstrip()}\n{PERF_END}"
    start, end = text.find(PERF_START), text.find(PERF_END)
    if start != -1 and end > start:
        text = text[:start] + block + text[end + len(PERF_END) :]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    staged = readme.with_name(f".{readme.name}.{os.getpid()}.partial")
    staged.write_text(text, "utf-8")
    os.replace(staged, readme)
