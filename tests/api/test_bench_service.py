"""Smoke test of the service benchmark at a tiny size: it runs and records every figure.

Timings are never asserted; only that each measurement ran and was written.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_service.py"


@pytest.mark.slow
def test_quick_service_benchmark_writes_every_figure(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_service", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "service.json"
    bench.main(["--quick", "--backends", "sqlite", "--out", str(out)])
    record = json.loads(out.read_text("utf-8"))
    result = record["backends"]["sqlite"]
    assert result["upload"]["upload_s"]["n"] == 2
    assert result["upload"]["cases_opened_per_file"]["min"] > 0
    for figure in ("one_client_ms", "closed_loop_ms", "paced_ms", "list_queue_in_process_ms"):
        assert result["queue"][figure]["p95"] > 0
    assert result["queue"]["closed_loop_ms"]["n"] == 3 * 3
    assert set(result["targets_met"]) == {
        "upload_p95_s",
        "queue_p95_ms_paced",
        "queue_p95_ms_closed_loop",
    }
    assert record["machine"]["cores"] >= 1
