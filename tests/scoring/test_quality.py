"""Quality flags per school on a synthetic city with planted problems."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from screening.demo import generate_city
from screening.pipeline import score_frame
from screening.scoring.quality import QualityThresholds, quality_by_school, quality_tables
from screening.scoring.reliability import cronbach_alpha


@pytest.fixture(scope="module")
def city():
    frame = generate_city(12000, n_schools=24, seed=7, careless_share=0.0)
    schools = sorted(frame["school_id"].unique().to_list())
    bad_key, straight, noise = schools[0], schools[1], schools[2]
    # a school whose export reversed PHQ-9 item 2; one where many straight-line at 2;
    # one whose PHQ-9 answers are random
    rng = np.random.default_rng(1)
    item2 = pl.col("phq9_2")
    n = frame.height
    liner = pl.Series(rng.random(n) < 0.4)
    frame = frame.with_columns(
        pl.when(pl.col("school_id") == bad_key).then(3 - item2).otherwise(item2).alias("phq9_2")
    )
    frame = frame.with_columns(
        *[
            pl.when((pl.col("school_id") == straight) & liner)
            .then(pl.lit(2, dtype=pl.Int8))
            .otherwise(pl.col(f"phq9_{j}"))
            .alias(f"phq9_{j}")
            for j in range(1, 10)
        ],
    )
    frame = frame.with_columns(
        pl.when(pl.col("school_id") == noise)
        .then(pl.Series(rng.integers(0, 4, n), dtype=pl.Int8))
        .otherwise(pl.col(f"phq9_{j}"))
        .alias(f"phq9_{j}")
        for j in range(1, 10)
    )
    return frame, bad_key, straight, noise


def test_planted_problems_are_flagged(city):
    frame, bad_key, straight, noise = city
    results = score_frame(frame, "default", on_invalid="flag").results
    tables = quality_tables(frame, "default", ["school_id"], results=results)
    q = {row["school_id"]: row for row in tables.quality.iter_rows(named=True)}
    assert "reverse key" in q[bad_key]["flags"]
    assert q[bad_key]["negative_items"] == ["phq9_2"]
    assert "straight-lining" in q[straight]["flags"]
    assert "low alpha" in q[noise]["flags"]
    clean = [s for s in q if s not in (bad_key, straight, noise)]
    assert sum("reverse key" in q[s]["flags"] or "low alpha" in q[s]["flags"] for s in clean) == 0
    # the school's figures are those of a separate call on its rows
    rows = frame.filter(pl.col("school_id") == noise)
    want = min(cronbach_alpha(rows, instrument=i)["alpha"][0] for i in ("phq9", "gad7"))
    assert q[noise]["alpha_min"] == pytest.approx(want, abs=1e-12)
    assert set(tables.reliability["instrument"].unique()) == {"phq9", "gad7"}
    # D² flags random answering only when asked (it also rises with real distress)
    assert "careless" not in q[noise]["flags"]
    strict = quality_tables(
        frame, "default", ["school_id"], thresholds=QualityThresholds(use_mahalanobis=True)
    )
    flags = dict(zip(strict.quality["school_id"], strict.quality["flags"], strict=True))
    assert "careless" in flags[noise]


def test_implausible_share_of_flagged_students():
    frame = generate_city(8000, n_schools=8, seed=2, careless_share=0.0)
    results = score_frame(frame, "default").results
    school = frame["school_id"].unique().sort()[0]
    tier = (
        pl.when(pl.Series(frame["school_id"] == school)).then(pl.lit(0)).otherwise(results["tier"])
    )
    results = results.with_columns(tier.alias("tier"))
    q = quality_by_school(frame, "default", results=results)
    row = q.filter(pl.col("school_id") == school).row(0, named=True)
    assert row["flagged"] == 0
    assert "few flagged" in row["flags"]
    assert row["needs_review"]


def test_without_school_column_one_row():
    frame = generate_city(2000, n_schools=3, seed=5).drop("school_id")
    q = quality_by_school(frame, "phq9")
    assert q.height == 1
    assert q["rows"][0] == 2000
    assert q["flagged"][0] is None


def test_invalid_answers_count_as_missing_after_scoring():
    frame = generate_city(3000, n_schools=3, seed=9)
    # an out-of-range answer and a text answer, as `screening score --on-invalid flag` keeps
    bad = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 5)
        .then(pl.lit("7"))
        .when(pl.int_range(pl.len()) == 6)
        .then(pl.lit("often"))
        .otherwise(pl.col("phq9_3").cast(pl.String))
        .alias("phq9_3")
    )
    q = quality_by_school(bad, "phq9")
    dropped = frame.with_columns(
        pl.when(pl.int_range(pl.len()).is_in([5, 6]))
        .then(None)
        .otherwise(pl.col("phq9_3"))
        .alias("phq9_3")
    )
    assert q.equals(quality_by_school(dropped, "phq9"))
    with pytest.raises(ValueError, match="phq9_3"):
        quality_by_school(bad, "phq9", on_invalid="raise")
