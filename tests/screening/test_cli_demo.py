"""``screening demo``: a small synthetic city is written, scored and summarised."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from screening.cli import main


def test_demo_scores_a_synthetic_city(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--students", "3000", "--seed", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3,000 students scored" in printed
    assert "results" in printed and "run.json" in printed and "report.html" in printed
    assert (out / "report.html").read_text("utf-8").count("<svg") >= 3
    results = pl.read_parquet(out / "results" / "scores.parquet")
    responses = pl.read_csv(out / "responses.csv")
    assert results.height == responses.height == 3000
    record = json.loads((out / "results" / "run.json").read_text("utf-8"))
    assert sum(record["counts"]["tier"].values()) == 3000
    tiers = results["tier_label"].value_counts()
    assert set(tiers["tier_label"].drop_nulls()) == {"green", "yellow", "orange", "red"}
    assert results["status"].to_list().count("incomplete") > 0  # some missing answers
    assert 0.5 < results["tier"].eq(0).mean() < 0.95  # most students are green


def test_demo_is_reproducible(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert main(["demo", "-n", "500", "--seed", "9", "--out", str(tmp_path / name), "-q"]) == 0
    a, b = (pl.read_parquet(tmp_path / n / "results" / "scores.parquet") for n in "ab")
    assert a.equals(b)


def test_demo_with_a_battery_of_its_own_instrument_file(tmp_path: Path, capsys) -> None:
    data = Path(__file__).resolve().parents[2] / "instruments" / "data"
    text = (data / "gad7.toml").read_text("utf-8").replace('id = "gad7"', 'id = "local"', 1)
    (tmp_path / "local.toml").write_text(text, encoding="utf-8")
    battery = tmp_path / "b.toml"
    battery.write_text('id = "b"\ninstruments = ["phq9", "local.toml"]\n', encoding="utf-8")
    out = tmp_path / "demo"
    assert main(["demo", "-n", "200", "--battery", str(battery), "--out", str(out), "-q"]) == 0
    assert "local_7" in pl.read_csv(out / "responses.csv").columns
    assert main(["demo", "--seed", "-1", "--out", str(out)]) != 0
    assert "-1 is not in the range" in capsys.readouterr().err
