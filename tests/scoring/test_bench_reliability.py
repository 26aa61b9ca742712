"""The reliability benchmark runs at a tiny size (a smoke test: timings are not asserted)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_reliability.py"


@pytest.mark.slow
def test_quick_benchmark_writes_its_record(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("bench_reliability", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "reliability.json"
    bench.main(["--quick", "--out", str(out)])
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["ours"]["groups"] == record["config"]["schools"]
    assert record["pingouin_loop"]["max_abs_alpha_difference"] < 1e-10
    assert "cpu" in record["machine"] and record["ratios"]["pingouin_loop_over_ours"] > 0
    if "skipped" not in record["psych_loop"]:
        assert record["psych_loop"]["max_abs_alpha_difference"] < 1e-10
