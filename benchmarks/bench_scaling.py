"""How batch scoring scales with cores: whole processes at 1, 2, 4, ... threads.

For each thread count ``n`` (every process limited to ``n`` threads: ``POLARS_MAX_THREADS``,
``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``, and, where ``taskset`` exists, pinned to the
first ``n`` usable cores), in turn:

1. polars ``read_csv`` of the benchmark CSV (the baseline of the CSV target);
2. ``screening score FILE.csv --battery bench.toml --out DIR -q``;
3. polars ``read_parquet`` of the same data as Parquet;
4. ``screening score FILE.parquet ...``.

The input is ``bench_score.py``'s (generated once into ``--data-dir``). Each figure is the
best of ``--repeats`` whole-process runs, the commands of one thread count taken in turn.
Results go to ``benchmarks/results/scaling.json`` (with the machine description); nothing
is asserted and the README is not touched.

Usage::

    python benchmarks/bench_scaling.py                       # 1,000,000 rows, 1..all cores
    python benchmarks/bench_scaling.py --threads 1,2,16 --out /tmp/scaling.json
    python benchmarks/bench_scaling.py --quick               # 2,000 rows: checks that it works
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import code_state, machine, run_child, summarise_runs, write_json  # noqa: E402
from bench_score import BATTERY, _python, _screening_argv, make_data  # noqa: E402

THREAD_VARIABLES = ("POLARS_MAX_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS")


def usable_cores() -> list[int]:
    """The cores this process may run on (all of them where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def default_threads(cores: int) -> list[int]:
    """1, 2, 4, ... up to ``cores``, and ``cores`` itself."""
    counts = [1]
    while counts[-1] * 2 < cores:
        counts.append(counts[-1] * 2)
    return sorted({*counts, cores})


def limited(argv: list[str], threads: int, cores: list[int]) -> tuple[list[str], dict[str, str]]:
    """``argv`` and an environment that keep a process to ``threads`` threads and cores."""
    env = {**os.environ, **{name: str(threads) for name in THREAD_VARIABLES}}
    taskset = shutil.which("taskset")
    if taskset and threads <= len(cores):
        argv = [taskset, "-c", ",".join(map(str, cores[:threads])), *argv]
    return argv, env


def commands(csv_path: Path, parquet_path: Path, out_dir: Path) -> dict[str, list[str]]:
    """The four whole-process commands of one thread count, in the order they run."""
    score = [*_screening_argv(), "score"]
    options = ["--battery", str(BATTERY), "-q"]
    return {
        "polars_read_csv": _python(f"import polars as pl; pl.read_csv({str(csv_path)!r})"),
        "screening_csv": [*score, str(csv_path), "--out", str(out_dir / "csv"), *options],
        "polars_read_parquet": _python(
            f"import polars as pl; pl.read_parquet({str(parquet_path)!r})"
        ),
        "screening_parquet": [
            *score,
            str(parquet_path),
            "--out",
            str(out_dir / "parquet"),
            *options,
        ],
    }


def measure(rows: int, threads: list[int], repeats: int, data_dir: Path) -> dict[str, Any]:
    """Time every command at every thread count; the results record."""
    csv_path, parquet_path = make_data(rows, data_dir)
    cores = usable_cores()
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as scratch:
        todo = commands(csv_path, parquet_path, Path(scratch))
        for n in threads:
            runs: dict[str, list] = {name: [] for name in todo}
            for _ in range(repeats):
                for name, argv in todo.items():
                    child_argv, env = limited(argv, n, cores)
                    runs[name].append(run_child(child_argv, env=env))
            timed = {name: summarise_runs(done) for name, done in runs.items()}
            timed["csv_vs_polars_read_csv"] = round(
                timed["screening_csv"]["seconds"] / timed["polars_read_csv"]["seconds"], 3
            )
            figures[str(n)] = timed
            print(
                f"{n:>3} threads: read_csv {timed['polars_read_csv']['seconds']:.3f} s, "
                f"score CSV {timed['screening_csv']['seconds']:.3f} s "
                f"({timed['csv_vs_polars_read_csv']:.2f} x), "
                f"score Parquet {timed['screening_parquet']['seconds']:.3f} s",
                flush=True,
            )
    first = figures[str(threads[0])]
    for timed in figures.values():
        timed["speedup_vs_fewest_threads"] = {
            name: round(first[name]["seconds"] / timed[name]["seconds"], 3)
            for name in ("screening_csv", "screening_parquet")
        }
    return {
        "benchmark": "scaling",
        "machine": machine(),
        "code": code_state(),
        "sizes": {
            "rows": rows,
            "battery": str(BATTERY.relative_to(HERE.parent)),
            "csv_bytes": csv_path.stat().st_size,
            "parquet_bytes": parquet_path.stat().st_size,
            "repeats": repeats,
            "pinned_with_taskset": shutil.which("taskset") is not None,
        },
        "threads": figures,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point; returns the results record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="students (default 1e6)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 rows, 1 repeat")
    parser.add_argument("--repeats", type=int, default=None, help="runs per figure (default 3)")
    parser.add_argument("--threads", default=None, help="comma-separated thread counts")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    args = parser.parse_args(argv)
    rows = 2_000 if args.quick else args.rows
    repeats = args.repeats or (1 if args.quick else 3)
    cores = len(usable_cores())
    threads = [int(t) for t in args.threads.split(",")] if args.threads else default_threads(cores)
    if any(t < 1 for t in threads):
        parser.error(f"--threads must be positive, got {args.threads}")
    out = args.out or (
        args.data_dir / "scaling-quick.json" if args.quick else HERE / "results" / "scaling.json"
    )
    record = measure(rows, threads, repeats, args.data_dir)
    write_json(out, record)
    print(f"wrote {out}")
    return record


if __name__ == "__main__":
    main()
