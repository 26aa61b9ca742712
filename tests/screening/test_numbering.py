"""Option numbering: files that number options from 1, read as codes or warned about."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import polars as pl
import pytest

from screening.batch import score_files
from screening.cli import main
from screening.errors import ResponseValidationError
from screening.numbering import MIN_STUDENTS, LowestCodeCheck, renumbered
from screening.pipeline import Scorer, response_matrix, score_frame

PHQ9 = [f"phq9_{k}" for k in range(1, 10)]
GAD7 = [f"gad7_{k}" for k in range(1, 8)]


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.for_battery("default")


def codes_frame(n: int, seed: int = 7, top: int = 3) -> pl.DataFrame:
    """PHQ-9 and GAD-7 answers 0..top-1 (so the last option is never chosen when top=3)."""
    rng = np.random.default_rng(seed)
    columns = {"student_id": [f"S{i:04d}" for i in range(n)]}
    for column in PHQ9 + GAD7:
        columns[column] = rng.integers(0, top, n).tolist()
    return pl.DataFrame(columns)


def numbered(frame: pl.DataFrame) -> pl.DataFrame:
    """The same answers numbered from 1."""
    return frame.with_columns(pl.col(PHQ9 + GAD7) + 1)


def test_renumbered_shifts_numbers_and_keeps_other_text():
    assert renumbered(pl.Series([1, 4, None]), 1).to_list() == [0, 3, None]
    assert renumbered(pl.Series([1.0, 2.5, None]), 1).to_list() == [0.0, 1.5, None]
    assert renumbered(pl.Series([True, False]), 1).to_list() == [0, -1]
    assert renumbered(pl.Series(["2", "x"], dtype=pl.Categorical), 1).to_list() == ["1", "x"]
    text = pl.Series("q", [" 2 ", "4", "2.5", "abc", "", None, "1e1"])
    assert renumbered(text, 1).to_list() == ["1", "3", "1.5", "abc", None, None, "9"]
    assert renumbered(text, 1).name == "q"
    empty = pl.Series([None, None])
    assert renumbered(empty, 1).dtype == pl.Null
    same = pl.Series(["x", "1"])
    assert renumbered(same, 0) is same


def test_renumbered_int8_does_not_overflow():
    assert renumbered(pl.Series([-128, 127], dtype=pl.Int8), -1).to_list() == [-127, 128]


def test_numbered_from_gives_the_codes_matrix(scorer):
    codes = codes_frame(50)
    expected, cases = response_matrix(codes, scorer)
    assert cases.height == 0
    for frame in (numbered(codes), numbered(codes).with_columns(pl.col("phq9_1").cast(pl.String))):
        matrix, cases = response_matrix(frame, scorer, numbered_from=1)
        assert cases.height == 0
        np.testing.assert_array_equal(matrix, expected)
        assert matrix.flags.f_contiguous


def test_failure_cases_give_the_files_values_and_range(scorer):
    frame = numbered(codes_frame(3)).with_columns(
        pl.Series("phq9_2", [0, 2, 5]), pl.Series("gad7_1", ["x", "1", "0"])
    )
    matrix, cases = response_matrix(frame, scorer, numbered_from=1)
    assert cases.select("row", "column", "value").rows() == [
        (1, "phq9_2", "0"),
        (1, "gad7_1", "x"),
        (3, "phq9_2", "5"),
        (3, "gad7_1", "0"),
    ]
    assert set(cases["reason"]) == {
        "Item 'phq9_2' of instrument 'phq9' must be an integer in [1, 4] (options numbered from 1)",
        "Item 'gad7_1' of instrument 'gad7' must be an integer in [1, 4] (options numbered from 1)",
    }
    assert matrix[1, PHQ9.index("phq9_2")] == 1  # the valid "2" is code 1


def test_score_frame_warns_about_a_file_numbered_from_1(scorer):
    codes = codes_frame(40)
    silent = score_frame(numbered(codes), scorer)  # no 4 anywhere: nothing fails
    assert [w.split(":")[0] for w in silent.warnings] == ["phq9", "gad7"]
    assert "none of the 40 students" in silent.warnings[0]
    assert "numbered_from = 1" in silent.warnings[0]
    read_right = score_frame(numbered(codes), scorer, numbered_from=1)
    assert read_right.warnings == []
    assert score_frame(codes, scorer).warnings == []
    assert read_right.results.equals(score_frame(codes, scorer).results)
    # the silent misreading is one point per item: PHQ-9 totals 9 higher
    difference = silent.results["phq9.total"] - read_right.results["phq9.total"]
    assert difference.to_list() == [9.0] * 40


def test_a_file_numbered_from_1_with_the_last_option_fails(scorer):
    frame = numbered(codes_frame(20, top=4))
    with pytest.raises(ResponseValidationError, match="numbered_from = 1"):
        score_frame(frame, scorer)


def test_no_warning_below_the_minimum_of_students(scorer):
    few = numbered(codes_frame(MIN_STUDENTS - 1))
    assert score_frame(few, scorer).warnings == []
    assert len(score_frame(numbered(codes_frame(MIN_STUDENTS)), scorer).warnings) == 2


def test_only_students_with_a_valid_answer_count(scorer):
    check = LowestCodeCheck(scorer.compiled)
    matrix = np.full((30, len(PHQ9) + len(GAD7)), -1, dtype=np.int8, order="F")
    matrix[:12, :9] = 2  # 12 students answered PHQ-9, none GAD-7
    matrix[12:20, :9] = 127  # invalid answers only
    check.add(matrix)
    assert len(check.warnings()) == 1
    assert check.warnings()[0].startswith("phq9: none of the 12 students")


def test_batches_add_up_and_a_lowest_code_anywhere_counts(scorer):
    compiled = scorer.compiled
    width = len(PHQ9) + len(GAD7)
    check = LowestCodeCheck(compiled)
    for _ in range(2):  # 6 + 6 students: together over the minimum
        check.add(np.full((6, width), 1, dtype=np.int8, order="F"))
    assert [w.split(":")[0] for w in check.warnings()] == ["phq9", "gad7"]
    late = np.full((50_000, width), 1, dtype=np.int8, order="F")
    late[-1, len(PHQ9)] = 0  # one GAD-7 answer 0, in the last row of a later batch
    check.add(late)
    assert [w.split(":")[0] for w in check.warnings()] == ["phq9"]


def test_instruments_with_codes_from_1_are_not_checked(scorer):
    # numbering the options of a 1-5 scale from 1 gives its codes: nothing to warn about
    compiled = scorer.compiled
    gad = slice(compiled.inst_ptr[1], compiled.inst_ptr[2])
    item_min, item_max = compiled.item_min.copy(), compiled.item_max.copy()
    item_min[gad] += 1
    item_max[gad] += 1
    check = LowestCodeCheck(dataclasses.replace(compiled, item_min=item_min, item_max=item_max))
    check.add(np.full((40, len(PHQ9) + len(GAD7)), 2, dtype=np.int8, order="F"))
    assert [w.split(":")[0] for w in check.warnings()] == ["phq9"]
    assert "nothing needs to change" in check.warnings()[0]


def _csv(tmp_path, frame, name):
    path = tmp_path / name
    frame.write_csv(path)
    return path


def test_cli_warns_on_stderr_and_in_run_json(tmp_path, capsys):
    path = _csv(tmp_path, numbered(codes_frame(30)), "问卷星.csv")
    assert main(["score", str(path), "--out", str(tmp_path / "a"), "-q"]) == 0
    stderr = capsys.readouterr().err
    assert stderr.count("warning: ") == 2 and "phq9: none of the 30" in stderr
    record = json.loads((tmp_path / "a" / "run.json").read_text(encoding="utf-8"))
    assert [w.split(": ")[1] for w in record["warnings"]] == ["phq9", "gad7"]
    assert all(w.startswith(str(path)) for w in record["warnings"])


def test_cli_mapping_reads_option_numbers_as_codes(tmp_path, capsys):
    codes = codes_frame(30)
    mapping = tmp_path / "map.toml"
    mapping.write_text("[options]\nnumbered_from = 1\n", encoding="utf-8")
    runs = {
        "codes": [str(_csv(tmp_path, codes, "codes.csv"))],
        "numbered": [str(_csv(tmp_path, numbered(codes), "n.csv")), "--map", str(mapping)],
    }
    for out, args in runs.items():
        assert main(["score", *args, "--out", str(tmp_path / out), "-q"]) == 0
        assert capsys.readouterr().err == ""
        record = json.loads((tmp_path / out / "run.json").read_text(encoding="utf-8"))
        assert record["warnings"] == []
    a = pl.read_parquet(tmp_path / "codes" / "scores.parquet")
    assert a.equals(pl.read_parquet(tmp_path / "numbered" / "scores.parquet"))


def test_the_check_covers_whole_files_read_in_batches(tmp_path):
    frame = numbered(codes_frame(2_000))
    last_row = pl.int_range(pl.len()) == 1_999
    frame = frame.with_columns(
        pl.when(last_row).then(0).otherwise(pl.col("phq9_1")).alias("phq9_1")
    )
    path = _csv(tmp_path, frame, "late.csv")
    summary = score_files([path], tmp_path / "o", battery="default", chunk_rows=500)
    assert summary.record["outputs"]["chunk_rows"] == 500
    # PHQ-9's one 0 is in the last batch; nobody answered GAD-7 with 0 in any batch
    assert len(summary.warnings) == 1
    assert summary.warnings[0].startswith(f"{path}: gad7: none of the 2,000 students")


def test_a_file_numbered_from_1_is_refused_when_flagging(scorer, tmp_path):
    """Kept row by row (--on-invalid flag), every answer would count one point too high,
    the last option (4) not at all, and most students would be red: the file is refused."""
    frame = numbered(codes_frame(30, top=4))
    with pytest.raises(ResponseValidationError, match="look like option numbers") as raised:
        score_frame(frame, scorer, on_invalid="flag")
    assert "phq9: " in str(raised.value) and "gad7: " in str(raised.value)
    assert raised.value.failure_cases.height > 0
    read_right = score_frame(frame, scorer, on_invalid="flag", numbered_from=1)
    assert read_right.failure_cases.height == 0
    path = tmp_path / "numbered.csv"
    frame.write_csv(path)
    with pytest.raises(ResponseValidationError, match=r"numbered\.csv: phq9: the answers look"):
        score_files([path], tmp_path / "out", battery="default", on_invalid="flag")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("zeros", "other_invalid", "refused"),
    [(False, 0, True), (True, 0, False), (False, 40, False), (False, 5, True)],
)
def test_what_makes_a_file_look_numbered_from_1(scorer, zeros, other_invalid, refused):
    """Both signs are needed: nobody chose 0, and nine in ten invalid answers are one above
    the top code (typed 9s, say, are something else)."""
    frame = numbered(codes_frame(40, top=4))
    if zeros:
        frame = frame.with_columns(pl.Series("phq9_1", [0] * 40), pl.Series("gad7_1", [0] * 40))
    if other_invalid:
        nines = [9] * other_invalid + [1] * (40 - other_invalid)
        frame = frame.with_columns(pl.Series("phq9_2", nines), pl.Series("gad7_2", nines))
    check = LowestCodeCheck(scorer.compiled)
    matrix, cases = response_matrix(frame, scorer)
    check.add(matrix)
    check.add_cases(cases)
    assert bool(check.misnumbered()) is refused
