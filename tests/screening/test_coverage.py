"""Warnings about what a file leaves empty: instruments nobody answered, rows without ids."""

from __future__ import annotations

import json

import polars as pl
import pytest

from screening.batch import score_files
from screening.coverage import CoverageCheck
from screening.pipeline import Scorer, score_frame

PHQ = [f"phq9_{i}" for i in range(1, 10)]
GAD = [f"gad7_{i}" for i in range(1, 8)]
ASQ = [f"asq_{i}" for i in range(1, 6)]


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.for_battery("default-asq")


def school(ids: list[str | None], *, asq: bool = True, gad: bool = True) -> pl.DataFrame:
    """Students answering 0 everywhere, with the ASQ or GAD-7 left blank on request."""
    n = len(ids)
    data: dict[str, list] = {"student_id": pl.Series(ids, dtype=pl.String)}
    data |= {c: [0] * n for c in PHQ}
    data |= {c: [0 if gad else None] * n for c in GAD}
    data |= {c: [0 if asq else None] * n for c in ASQ}
    return pl.DataFrame(data, schema_overrides={c: pl.Int8 for c in PHQ + GAD + ASQ})


def test_an_instrument_answered_in_a_later_batch_is_answered(scorer):
    check = CoverageCheck(scorer.compiled)
    check.add(score_frame(school(["a"], asq=False), scorer).results)
    check.add(score_frame(school(["b"]), scorer).results)
    assert check.warnings() == []


def test_unanswered_instruments_and_rows_without_ids(scorer):
    result = score_frame(school(["a", None, "c", None], asq=False, gad=False), scorer)
    gad, asq = result.warnings  # rows without ids: the service refuses them itself
    assert gad.startswith("gad7: none of the 4 students answered any of its items, so nobody")
    assert asq.startswith("asq: none of the 4 students answered any of its items, and it counts")
    assert "leaves it out" in asq
    check = CoverageCheck(scorer.compiled)
    check.add(result.results)
    assert check.warnings()[-1].startswith("rows without a student_id: 2 of 4.")
    # what the warnings are about: every ASQ is positive, no GAD-7 score
    assert result.results["tier_label"].to_list() == ["orange"] * 4
    assert result.results["gad7.total"].null_count() == 4


def test_a_complete_file_has_no_warning(scorer):
    assert score_frame(school(["a", "b"]), scorer).warnings == []


@pytest.mark.parametrize("chunk_rows", [None, 1])
def test_batch_run_warns_per_file(tmp_path, scorer, chunk_rows):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    school(["a1", "a2"], asq=False).write_csv(first)
    pl.concat([school([None]), school(["b2"], asq=False)]).write_csv(second)
    summary = score_files(
        [first, second], tmp_path / "out", battery="default-asq", chunk_rows=chunk_rows
    )
    assert [w.split(": ")[:2] for w in summary.warnings] == [
        [str(first), "asq"],
        [str(second), "rows without a student_id"],
    ]
    assert json.loads(summary.run_path.read_text())["warnings"] == summary.warnings


def _ids_check(scorer, ids: list[str]) -> list[str]:
    check = CoverageCheck(scorer.compiled)
    check.add(score_frame(school(ids), scorer).results)
    return [w for w in check.warnings() if w.startswith("student_id: ")]


def test_ids_that_excel_rounded(scorer):
    real = [f"1101012008010{n:05d}" for n in range(11234, 11339, 7)]  # 15 ids of 18 digits
    assert _ids_check(scorer, real) == []
    # 16- and 17-digit ids below 2**53 read back as floats exactly: no sign of rounding
    assert _ids_check(scorer, [f"20240101000000{n:02d}" for n in range(1, 21)]) == []
    assert _ids_check(scorer, [f"120240101000000{n:02d}" for n in range(1, 21)]) == []
    # typed into number cells, Excel keeps 15 digits
    typed = [f"110101200801{n:03d}000" for n in range(6)]
    (warning,) = _ids_check(scorer, typed)
    assert "6 ids of 16 or more digits look like numbers that Excel has rounded" in warning
    assert f"(e.g. {typed[0]!r})" in warning and "Format the id column as text" in warning
    # a few rounded-looking ids among many real ones: chance, no warning
    assert _ids_check(scorer, real + typed[:5]) == []


def test_ids_that_excel_rounded_read_from_the_workbook(scorer, tmp_path):
    """An .xlsx stores the rounded double itself; the reader writes its exact digits
    (1.10101200812091E+17 is read as 110101200812091008, not ...091000)."""
    import xlsxwriter

    real = [110101200812091234 + 7919 * n for n in range(8)]
    path = tmp_path / "ids.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["student_id", *PHQ, *GAD])
    for r, student in enumerate(real, start=1):
        sheet.write_number(r, 0, float(f"{student:.15g}"))  # what Excel keeps of a number
        sheet.write_row(r, 1, [0] * (len(PHQ) + len(GAD)))
    workbook.close()
    summary = score_files([path], tmp_path / "out", battery="default")
    (warning,) = [w for w in summary.warnings if "student_id: " in w]
    assert "8 ids of 16 or more digits look like numbers that Excel has rounded" in warning
    # the same ids typed as text are real ids: no warning
    assert _ids_check(scorer, [str(s) for s in real]) == []


def test_rows_that_answered_nothing(scorer):
    """A totals row (合计) below the data answers no item: scored incomplete, and named."""
    frame = school(["S1", "S2", "合计:2人"])
    frame = frame.with_columns(
        pl.when(pl.col("student_id") == "合计:2人").then(None).otherwise(pl.col(c)).alias(c)
        for c in [*PHQ, *GAD, *ASQ]
    )
    check = CoverageCheck(scorer.compiled)
    results = score_frame(frame, scorer).results
    check.add(results)
    (warning,) = [w for w in check.warnings() if w.startswith("rows that answered")]
    assert warning.startswith("rows that answered no item at all: 1 of 3 (e.g. '合计:2人').")
    assert results["status"].to_list()[-1] == "incomplete"
    from screening.api.web.messages import translate

    assert translate(warning, "zh-CN").startswith(
        "3 行中有 1 行没有回答任何题目（例如 '合计:2人'）"
    )
    # nobody answered anything: the per-instrument warnings say it, not this one
    nothing = school(["S1", "S2"]).with_columns(pl.lit(None).alias(c) for c in PHQ + GAD + ASQ)
    empty = CoverageCheck(scorer.compiled)
    empty.add(score_frame(nothing, scorer).results)
    warnings = empty.warnings()
    assert len([w for w in warnings if "none of the 2 students answered" in w]) == 3
    assert not [w for w in warnings if w.startswith("rows that answered")]


def test_a_totals_row_of_sums_kept_as_invalid_is_not_a_blank_row():
    """A 合计 row holding column sums answered every item, invalidly: kept with
    ``--on-invalid flag`` it is ``invalid`` and listed among the failures, not a row that
    "answered no item at all" and is "scored as incomplete"."""
    scorer = Scorer.for_battery("default")
    frame = school(["S1", "S2", "合计"], asq=False).drop(ASQ)
    frame = frame.with_columns(
        pl.when(pl.col("student_id") == "合计").then(2).otherwise(pl.col(c)).alias(c)
        for c in PHQ + GAD
    ).with_columns(
        pl.when(pl.col("student_id") == "合计").then(7).otherwise(pl.col("phq9_1")).alias("phq9_1")
    )
    results = score_frame(frame, scorer, on_invalid="flag").results
    assert results["status"].to_list() == ["scored", "scored", "invalid"]
    check = CoverageCheck(scorer.compiled)
    check.add(results)
    assert not [w for w in check.warnings() if w.startswith("rows that answered")]
    # a row with nothing in it but an invalid answer answered an item too
    frame = frame.with_columns(
        pl.when(pl.col("student_id") == "合计").then(None).otherwise(pl.col(c)).alias(c)
        for c in PHQ[1:] + GAD
    )
    check = CoverageCheck(scorer.compiled)
    check.add(score_frame(frame, scorer, on_invalid="flag").results)
    assert not [w for w in check.warnings() if w.startswith("rows that answered")]


def test_blank_rows_say_what_the_asq_made_of_them(scorer):
    """The ASQ counts a refusal as "yes": a blank row screens positive (orange in the
    battery), so the warning names that outcome and does not say "scored as incomplete"."""
    frame = school(["S1", "S2", "S3"]).with_columns(
        pl.when(pl.col("student_id") == "S3").then(None).otherwise(pl.col(c)).alias(c)
        for c in [*PHQ, *GAD, *ASQ]
    )
    check = CoverageCheck(scorer.compiled)
    check.add(score_frame(frame, scorer).results)
    (warning,) = [w for w in check.warnings() if w.startswith("rows that answered")]
    assert "scored as incomplete" not in warning
    assert "asq counts a missing answer as an answer" in warning
    assert "status incomplete: 1, tier orange: 1, asq.screen positive: 1." in warning
    from screening.api.web.messages import translate

    zh = translate(warning, "zh-CN")
    assert zh.startswith("3 行中有 1 行没有回答任何题目（例如 'S3'）。asq 把缺失的回答计为作答")
    assert "tier orange: 1" in zh and "不完整" not in zh

    alone = Scorer.for_instrument("asq")
    rows = pl.DataFrame(
        {"student_id": ["S1", "S2"]} | {c: pl.Series([0, None], dtype=pl.Int8) for c in ASQ}
    )
    check = CoverageCheck(alone.compiled)
    check.add(score_frame(rows, alone).results)
    (warning,) = [w for w in check.warnings() if w.startswith("rows that answered")]
    assert "status scored: 1, asq.screen positive: 1." in warning


def test_group_columns_left_empty_below_a_value(scorer, tmp_path):
    """Merged 年级 cells in Excel keep the grade in the top row only: the rows below would
    drop out of every report by grade. Counted over the batches of one file."""
    frame = school([f"S{i}" for i in range(6)]).with_columns(
        grade=pl.Series(["7", None, None, "8", None, "8"]),
        sex=pl.Series([None] * 6, dtype=pl.String),  # not given at all: nothing to say
    )
    path = tmp_path / "merged.csv"
    frame.write_csv(path)
    for chunk in (None, 2):
        summary = score_files(
            [path], tmp_path / f"o{chunk}", battery="default-asq", chunk_rows=chunk
        )
        (warning,) = [w for w in summary.warnings if "is empty in" in w]
        assert warning.endswith(
            "grade is empty in 3 of 6 rows (first: row 2) though other rows have one: reports "
            "by grade leave those rows out. If the sheet has merged cells, unmerge them and fill "
            "every row; else fill in the missing values."
        )
    from screening.api.web.messages import translate

    assert translate(warning.split(": ", 1)[1], "zh-CN").startswith("grade 在 6 行中有 3 行为空")
