"""Triage: highest firing level wins, critical beats validity, no green without a full protocol."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from screening.errors import InstrumentDefinitionError, RuleSyntaxError
from screening.pipeline import Scorer, score_frame

PHQ = [f"phq9_{i}" for i in range(1, 10)]
GAD = [f"gad7_{i}" for i in range(1, 8)]


def frame(rows: list[tuple[list, list]]) -> pl.DataFrame:
    data = {"student_id": [f"S{k}" for k in range(len(rows))]}
    for j, column in enumerate(PHQ):
        data[column] = [phq[j] for phq, _ in rows]
    for j, column in enumerate(GAD):
        data[column] = [gad[j] for _, gad in rows]
    return pl.DataFrame(data, schema_overrides={c: pl.Int8 for c in PHQ + GAD})


def triage(rows, battery="default") -> pl.DataFrame:
    return score_frame(frame(rows), battery).results.select(
        "tier", "tier_label", "status", "reasons"
    )


def test_tiers_of_the_default_battery() -> None:
    zero7 = [0] * 7
    rows = [
        ([0] * 9, zero7),  # green
        ([2, 2, 2, 2, 2, 0, 0, 0, 0], zero7),  # phq 10: yellow
        ([2, 2, 2, 2, 2, 2, 2, 1, 0], zero7),  # phq 15: orange
        ([3, 3, 3, 3, 3, 3, 2, 0, 0], zero7),  # phq 20: red
        ([0] * 8 + [1], zero7),  # item 9: red whatever the total
        ([0] * 9, [3, 3, 3, 3, 3, 0, 0]),  # gad 15: orange
    ]
    out = triage(rows)
    assert out["tier"].to_list() == [0, 1, 2, 3, 3, 2]
    assert out["tier_label"].to_list() == ["green", "yellow", "orange", "red", "red", "orange"]
    assert out["status"].to_list() == ["scored"] * 6
    assert out["reasons"].to_list()[3] == [
        "phq9.total >= 20",
        "phq9.total >= 15",
        "phq9.total >= 10",
    ]
    assert out["reasons"].to_list()[4] == ["phq9.item9 >= 1"]
    assert out["reasons"].to_list()[0] == []


def test_incomplete_is_never_green_but_critical_is_red() -> None:
    rows = [
        ([0, 0, 0, None, None, None, 0, 0, 0], [0] * 7),  # 6 of 9: not scorable
        ([None] * 8 + [2], [0] * 7),  # almost blank but endorses item 9
        ([0] * 9, [3, 3, 3, 3, 3, None, None]),  # gad prorated? 5 of 7 is too few
        ([3, 3, 3, 3, 3, 3, 3, None, None], [0] * 7),  # phq prorated 27: red
    ]
    out = triage(rows)
    assert out["tier"].to_list() == [None, 3, None, 3]
    assert out["tier_label"].to_list() == [None, "red", None, "red"]
    assert out["status"].to_list() == ["incomplete", "incomplete", "incomplete", "scored"]


def test_invalid_answers_flagged_keep_positive_evidence() -> None:
    data = frame([([0] * 8 + [1], [0] * 7), ([0] * 9, [0] * 7)])
    data = data.with_columns(data["phq9_1"].cast(pl.String).scatter([0, 1], ["7", "x"]))
    out = score_frame(data, "default", on_invalid="flag").results
    assert out["status"].to_list() == ["invalid", "invalid"]
    assert out["tier"].to_list() == [3, None]
    assert out["reasons"].to_list()[1] == ["invalid answer phq9_1 = 'x'"]


def write_battery(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "b.toml"
    path.write_text(f'id = "b"\ninstruments = ["phq9", "gad7"]\n{body}', encoding="utf-8")
    return path


def test_all_and_any_together_require_both(tmp_path: Path) -> None:
    path = write_battery(
        tmp_path,
        'critical_tier = 2\n[[tier]]\nlevel = 1\nany = ["phq9.total >= 5"]\n'
        'all = ["gad7.total >= 5", "gad7.item1 >= 2"]\n',
    )
    rows = [
        ([1] * 5 + [0] * 4, [2, 1, 1, 1, 0, 0, 0]),  # all hold
        ([1] * 5 + [0] * 4, [1, 1, 1, 1, 1, 0, 0]),  # gad7.item1 < 2
        ([0] * 8 + [1], [0] * 7),  # critical at tier 2 by critical_tier
    ]
    out = triage(rows, path)
    assert out["tier"].to_list() == [1, 0, 2]
    assert out["reasons"].to_list()[0] == ["phq9.total >= 5", "gad7.total >= 5", "gad7.item1 >= 2"]


def test_bad_rule_in_battery_names_the_rule(tmp_path: Path) -> None:
    path = write_battery(tmp_path, '[[tier]]\nlevel = 3\nany = ["phq9.totl >= 20"]\n')
    with pytest.raises(RuleSyntaxError, match="no scale or item 'totl'") as error:
        Scorer.for_battery(path)
    assert str(error.value).startswith(f"{path}: tier[0].any[0]: Rule 'phq9.totl >= 20'")


def test_battery_file_errors_name_the_field(tmp_path: Path) -> None:
    path = write_battery(tmp_path, "[[tier]]\nlevel = 4\nany = []\n")
    with pytest.raises(InstrumentDefinitionError, match=r"tier\[0\]\.level"):
        Scorer.for_battery(path)


def test_distinct_matches_numpy_unique() -> None:
    import numpy as np

    from screening.triage import _distinct

    rng = np.random.default_rng(5)
    for bits in (1, 5, 20, 30):
        mask = rng.integers(0, 1 << bits, 5000) & rng.integers(0, 1 << bits, 5000)
        combos, index = _distinct(mask, bits)
        expected, inverse = np.unique(mask, return_inverse=True)
        assert np.array_equal(combos, expected)
        assert np.array_equal(index, inverse)
