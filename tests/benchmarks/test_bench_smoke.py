"""Smoke test of the scoring benchmark at a tiny size: it runs and records every figure.

Timings are never asserted; only that each measurement ran and was written.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from screening.golden import golden_results
from screening.instruments.loader import load_battery, load_instrument

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    """A benchmark script of benchmarks/ as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_instrument_golden_vectors_pass():
    instrument = load_instrument(ROOT / "benchmarks" / "instruments" / "bench100.toml")
    assert len(instrument.items) == 100
    outcomes = golden_results(instrument)
    assert outcomes, "the benchmark instrument has golden vectors"
    assert [o.mismatches for o in outcomes if not o.passed] == []


def test_benchmark_battery_loads_with_relative_instrument():
    loaded = load_battery(ROOT / "benchmarks" / "batteries" / "bench.toml")
    assert [i.id for i in loaded.instruments] == ["phq9", "gad7", "bench100"]
    assert len(loaded.item_columns()) == 116


@pytest.mark.slow
def test_quick_benchmark_writes_every_figure(tmp_path):
    bench = _load("bench_score")
    readme = tmp_path / "README.md"
    readme.write_text("# project\n\nintro\n", "utf-8")
    out = tmp_path / "score.json"
    record = bench.main(
        [
            "--rows",
            "2000",
            "--repeats",
            "1",
            "--data-dir",
            str(tmp_path / "data"),
            "--out",
            str(out),
            "--readme",
            str(readme),
        ]
    )
    written = json.loads(out.read_text("utf-8"))
    assert written == json.loads(json.dumps(record))
    assert written["sizes"]["rows"] == 2000
    assert written["sizes"]["items"] == 116
    for key in ("cpu", "cores", "memory_gib", "python", "versions", "date"):
        assert key in written["machine"]
    for package in ("numpy", "polars", "numba", "pandas"):
        assert written["machine"]["versions"][package]
    timings = written["timings"]
    for key in (
        "polars_read_csv_process",
        "screening_csv_process",
        "screening_parquet_process",
        "score_files_csv_inprocess_s",
        "score_files_csv_alone_s",
        "score_files_parquet_inprocess_s",
        "startup_kernel_load_s",
        "pandas_s",
    ):
        assert key in timings
    assert timings["screening_csv_process"]["max_rss_bytes"] > 0
    assert set(timings["score_files_csv_stages_s"]) >= {"read", "validate", "kernel", "total"}
    assert written["pandas_counts_equal"] is True
    assert sum(written["counts"]["tier"].values()) == 2000
    assert written["kernel"]["bytes_read"] == 2000 * 116
    assert written["bandwidth_probe"]["bytes_per_s"] > 0
    assert set(written["ratios"]) == {
        "csv_vs_polars_read_csv",
        "pandas_vs_csv",
        "kernel_bandwidth_fraction",
        "parquet_end_to_end_s",
        "peak_memory_gib",
    }
    for ratio in written["ratios"].values():
        assert set(ratio) == {"value", "target", "met"}
        assert isinstance(ratio["met"], bool)
    secondary, profile = written["secondary"], written["profile_s"]
    floor = timings["polars_read_parquet_process"]["seconds"] + profile["write_parquet"]
    assert secondary["parquet_io_floor_s"] == pytest.approx(floor, abs=1e-4)
    assert secondary["parquet_end_to_end_vs_io_floor"] == pytest.approx(
        timings["screening_parquet_process"]["seconds"] / floor, rel=1e-3
    )
    startup = timings["startup_kernel_load_s"]["seconds"] + profile["write_parquet"]
    assert secondary["parquet_startup_write_floor_s"] == pytest.approx(startup, abs=1e-4)
    assert secondary["pandas_target_s"] == pytest.approx(timings["pandas_s"] / 20, abs=1e-4)
    assert written["ratios"]["pandas_vs_csv"]["value"] == pytest.approx(
        timings["pandas_s"] / timings["score_files_csv_alone_s"], rel=1e-3
    )
    text = readme.read_text("utf-8")
    assert "| polars alone: read the Parquet input" in text
    assert "| Python + imports + numba loading the kernel" in text
    assert "| time that 20 × pandas asks for (in-process) |" in text
    assert text.startswith("# project\n\nintro\n")
    assert text.count("<!-- perf:start -->") == 1 and text.count("<!-- perf:end -->") == 1
    assert "| `screening score` from CSV |" in text
    # a second run replaces the section instead of adding another
    bench.replace_readme_section(readme, bench.performance_section(written))
    assert readme.read_text("utf-8").count("<!-- perf:start -->") == 1


def test_scaling_thread_counts_double_up_to_the_cores():
    scaling = _load("bench_scaling")
    assert scaling.default_threads(1) == [1]
    assert scaling.default_threads(2) == [1, 2]
    assert scaling.default_threads(6) == [1, 2, 4, 6]
    assert scaling.default_threads(16) == [1, 2, 4, 8, 16]


def test_scaling_limits_threads_in_the_environment():
    scaling = _load("bench_scaling")
    argv, env = scaling.limited(["python", "-c", "pass"], 1, [3, 5])
    assert argv[-3:] == ["python", "-c", "pass"]
    for name in scaling.THREAD_VARIABLES:
        assert env[name] == "1"
    if len(argv) > 3:  # taskset pins the process to the first usable core
        assert argv[1:3] == ["-c", "3"]


@pytest.mark.slow
def test_quick_scaling_benchmark_records_every_thread_count(tmp_path):
    scaling = _load("bench_scaling")
    out = tmp_path / "scaling.json"
    record = scaling.main(
        ["--quick", "--threads", "1,2", "--data-dir", str(tmp_path / "data"), "--out", str(out)]
    )
    written = json.loads(out.read_text("utf-8"))
    assert written == json.loads(json.dumps(record))
    assert list(written["threads"]) == ["1", "2"]
    for figures in written["threads"].values():
        for name in ("polars_read_csv", "screening_csv", "polars_read_parquet"):
            assert figures[name]["seconds"] > 0
        assert figures["screening_parquet"]["max_rss_bytes"] > 0
        ratio = figures["screening_csv"]["seconds"] / figures["polars_read_csv"]["seconds"]
        assert figures["csv_vs_polars_read_csv"] == pytest.approx(ratio, abs=1e-3)
    assert written["threads"]["1"]["speedup_vs_fewest_threads"]["screening_csv"] == 1.0
