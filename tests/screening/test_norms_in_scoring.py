"""A battery that names a norm table: scoring adds T-scores and percentile ranks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from screening.demo import generate_city
from screening.errors import InstrumentDefinitionError
from screening.pipeline import Scorer, score_frame
from screening.scoring.norms import norms


def battery_with(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "normed.toml"
    path.write_text(
        'id = "normed"\ninstruments = ["phq9", "gad7"]\n'
        f'norms = ["{table}"]\n[[tier]]\nlevel = 2\nany = ["phq9.total >= 15"]\n',
        encoding="utf-8",
    )
    return path


def test_scoring_adds_t_scores_from_the_battery_norms(tmp_path: Path) -> None:
    reference = generate_city(4000, seed=2)
    table = norms(reference, "phq9", by=["grade", "sex"], version="2026")
    table.write(tmp_path / "phq9-norms.json")
    scorer = Scorer.for_battery(battery_with(tmp_path, "phq9-norms.json"))
    results = score_frame(reference, scorer, on_invalid="flag").results
    assert {"phq9.total.t", "phq9.total.percentile"} <= set(results.columns)
    scored = results.filter(pl.col("phq9.total").is_not_null())
    by_group = scored.group_by("grade", "sex").agg(pl.col("phq9.total.t").mean().alias("t"))
    # T-scores of the norm sample itself have mean 50 in every group
    assert by_group["t"].to_list() == pytest.approx([50.0] * by_group.height, abs=1e-6)
    low, high = scored["phq9.total.percentile"].min(), scored["phq9.total.percentile"].max()
    assert 0 <= low < high <= 100
    assert results.filter(pl.col("phq9.total").is_null())["phq9.total.t"].null_count() == (
        results["phq9.total"].null_count()
    )


def test_norms_of_another_instrument_version_are_refused(tmp_path: Path) -> None:
    table = norms(generate_city(500, seed=3), "phq9", by=["sex"], version="x")
    replace(table, instrument_sha256="0" * 64).write(tmp_path / "old.json")
    with pytest.raises(InstrumentDefinitionError, match="another version"):
        Scorer.for_battery(battery_with(tmp_path, "old.json"))


def test_missing_norm_file_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(InstrumentDefinitionError, match=r"norms\[0\]"):
        Scorer.for_battery(battery_with(tmp_path, "nowhere.json"))


def test_scoring_warns_about_rows_whose_group_has_no_norms(tmp_path: Path) -> None:
    reference = generate_city(2000, seed=4)
    norms(reference, "phq9", by=["grade"], version="2026").write(tmp_path / "phq9-norms.json")
    scorer = Scorer.for_battery(battery_with(tmp_path, "phq9-norms.json"))
    assert not any("norms" in w for w in score_frame(reference, scorer, on_invalid="flag").warnings)
    other = reference.with_columns(grade=pl.lit("13"))
    result = score_frame(other, scorer, on_invalid="flag")
    assert result.results["phq9.total.t"].null_count() == other.height
    assert any("found no phq9 norms" in w and "grade='13'" in w for w in result.warnings)


@pytest.mark.parametrize("chunk_rows", [None, 700])
def test_score_files_warn_once_per_file_about_rows_without_norms(tmp_path: Path, chunk_rows):
    """``screening score`` (whole files or batches of rows) warns as score_frame does."""
    from screening.batch import score_files
    from screening.demo import write_city

    reference = generate_city(2000, seed=4)
    norms(reference, "phq9", by=["grade", "sex"], version="2026").write(tmp_path / "n.json")
    battery = battery_with(tmp_path, "n.json")
    write_city(reference, tmp_path / "same.csv")
    # the norm sample wrote sex as M/F; this file writes it in Chinese
    chinese = reference.with_columns(
        pl.col("sex").replace({"M": "男"}), student_id="C" + pl.col("student_id")
    )
    write_city(chinese, tmp_path / "cn.csv")
    same = score_files([tmp_path / "same.csv"], tmp_path / "a", battery=battery)
    assert not any("norms" in w for w in same.warnings)
    run = score_files(
        [tmp_path / "same.csv", tmp_path / "cn.csv"],
        tmp_path / "b",
        battery=battery,
        on_invalid="flag",
        chunk_rows=chunk_rows,
    )
    boys = reference.filter(pl.col("sex") == "M")
    scored_boys = score_frame(boys, Scorer.for_battery(battery), on_invalid="flag").results
    lost = scored_boys["phq9.total"].is_not_null().sum()
    found = [w for w in run.warnings if "found no phq9 norms" in w]
    assert len(found) == 1, run.warnings
    assert found[0].startswith(f"{tmp_path / 'cn.csv'}: {lost:,} scored rows found no phq9 norms")
    assert "sex='男'" in found[0]
    assert found[0] in json.loads((tmp_path / "b" / "run.json").read_text("utf-8"))["warnings"]


@pytest.mark.parametrize("chunk_rows", [None, 300])
def test_a_file_without_a_group_column_of_the_norms_is_named(tmp_path: Path, chunk_rows):
    from screening.batch import score_files
    from screening.demo import write_city
    from screening.errors import InputFileError

    reference = generate_city(1000, seed=5)
    norms(reference, "phq9", by=["grade", "sex"], version="2026").write(tmp_path / "n.json")
    battery = battery_with(tmp_path, "n.json")
    write_city(reference.head(500), tmp_path / "a.csv")
    write_city(reference.slice(500).drop("sex"), tmp_path / "b.csv")
    out = tmp_path / "out"
    with pytest.raises(InputFileError) as error:
        score_files(
            [tmp_path / "a.csv", tmp_path / "b.csv"], out, battery=battery, chunk_rows=chunk_rows
        )
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'b.csv'}: ")
    assert f"{tmp_path / 'n.json'} groups rows by grade, sex" in message
    assert "no column 'sex'" in message and "--map" in message
    assert message.count("no column 'sex'") == 1
    assert not out.exists()
