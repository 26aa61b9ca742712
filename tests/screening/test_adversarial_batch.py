"""Adversarial re-test of ``screening score`` on messy inputs and interrupted runs.

Each test pins one defect found by hand; see the report that goes with the commit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl

from screening.batch import score_files

PHQ = [f"phq9_{i}" for i in range(1, 10)]
GAD = [f"gad7_{i}" for i in range(1, 8)]
HEADER = ",".join(["student_id", *PHQ, *GAD])


def _csv(path: Path, ids: list[str], answer: int = 1) -> Path:
    lines = [HEADER] + [",".join([sid, *[str(answer)] * 16]) for sid in ids]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_terminated_run_leaves_no_staging_folder_with_partial_results(tmp_path):
    """SIGTERM (``timeout``, ``kill``, a scheduler or systemd stopping the job) is the usual
    way a long district run is stopped. Python's default SIGTERM handling ends the process
    without running ``finally`` blocks, so ``atomic_directory`` never removes its staging
    folder: a hidden ``.results.staging-*`` folder holding a half-written
    ``scores.parquet`` of students' answers stays beside the outputs for good (the next
    run does not clear it either). Issue 2: "a failed run leaves no partial output"."""
    source = _csv(tmp_path / "a.csv", [f"S{i}" for i in range(2_000)])
    script = textwrap.dedent(
        f"""
        import os, signal
        import screening.batch as batch

        original = batch.school_counts

        def counts_then_terminate(*args, **kwargs):
            result = original(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill <pid>` would, mid-run
            return result

        batch.school_counts = counts_then_terminate
        batch.score_files([{str(source)!r}], {str(tmp_path / "results")!r},
                          battery="default", chunk_rows=500)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode != 0  # it was stopped
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".results"))
    assert leftovers == [], f"partial outputs left behind: {leftovers}"
    assert not (tmp_path / "results").exists()


def test_a_run_removes_staging_folders_left_by_a_killed_run(tmp_path):
    """Even a run killed outright (SIGKILL, out of memory) must not leave students' partial
    results lying around for ever: the next run into the same folder should clear the
    staging folders that earlier runs left there."""
    source = _csv(tmp_path / "a.csv", [f"S{i}" for i in range(3_000)])
    out = tmp_path / "results"
    script = textwrap.dedent(
        f"""
        import os, signal
        import screening.batch as batch

        calls = []
        original = batch.school_counts

        def counts_then_die(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs)

        batch.school_counts = counts_then_die
        batch.score_files([{str(source)!r}], {str(out)!r}, battery="default", chunk_rows=1000)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True)
    assert done.returncode == -signal.SIGKILL
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".results.staging-")]
    score_files([source], out, battery="default")  # the next run succeeds
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".results"))
    assert leftovers == [], f"staging folders of the killed run still there: {leftovers}"


def test_ids_in_scientific_notation_are_warned_about_even_when_they_do_not_collide(tmp_path):
    """Excel saves an 18-digit id typed into a General cell as ``1.10101E+17`` in CSV. Such
    ids no longer name their students (a red-tier student cannot be found), yet a file
    whose rounded ids happen to be distinct is scored without a word; only colliding ids
    get the Excel advice. README: the run warns "about 16- to 18-digit ids that Excel has
    rounded to 15 digits ..., which no longer name their students"."""
    ids = [f"1.1010{i}E+17" for i in range(10)]
    summary = score_files([_csv(tmp_path / "a.csv", ids)], tmp_path / "out", battery="default")
    assert any("student_id" in w and "Excel" in w for w in summary.warnings), summary.warnings


def test_invisible_characters_around_an_id_do_not_hide_a_duplicate(tmp_path):
    """A byte-order mark or a zero-width space stuck to an id (files joined with
    ``copy /b a.csv+b.csv``, ids pasted from web pages) makes ``\\ufeffS1`` and ``S1``
    two students: the same student is scored twice, and any duplicate check is defeated.
    README: "Student ids lose surrounding spaces and are read in NFKC form, so `S1 `,
    full-width `Ｓ１` and `S1` in one file are a duplicate"."""
    path = _csv(tmp_path / "a.csv", ["S1", "\ufeffS2", "S2\u200b", "S2"])
    out = tmp_path / "out"
    try:
        score_files([path], out, battery="default", fmt="csv")
    except Exception as error:  # the duplicate is named: what is wanted
        assert "S2" in str(error)
        return
    ids = pl.read_csv(out / "scores.csv").get_column("student_id").to_list()
    raise AssertionError(f"S2 scored three times as distinct students: {ids!r}")


def test_blank_asq_rows_are_not_said_to_be_incomplete(tmp_path):
    """``--instrument asq``: a row with no answer is a positive screen with status
    ``scored`` (a refusal counts as yes), but the warning tells the user these rows "are
    scored as incomplete"; a counsellor reading run.json then discounts students that are
    in fact flagged."""
    lines = ["student_id,asq_1,asq_2,asq_3,asq_4,asq_5"]
    lines += [f"S{i},0,0,0,0,0" for i in range(5)] + ["S9,,,,,"]
    path = tmp_path / "asq.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = score_files([path], tmp_path / "out", instrument="asq", fmt="csv")
    results = pl.read_csv(tmp_path / "out" / "scores.csv")
    blank = results.filter(pl.col("student_id") == "S9").row(0, named=True)
    assert blank["status"] == "scored" and blank["asq.screen.band"] == "positive"
    said = [w for w in summary.warnings if "answered no item" in w]
    assert said and not any("scored as incomplete" in w for w in said), said
    assert json.loads((tmp_path / "out" / "run.json").read_text("utf-8"))["warnings"]
    assert os.path.exists(tmp_path / "out" / "scores.csv")


def test_students_on_the_other_sheets_of_a_workbook_are_not_dropped_silently(tmp_path):
    """Schools often keep one sheet per class (一班, 二班, 三班) in one workbook. Only the
    first sheet is read, without an error or a warning: the run reports 3 students, all
    green, while the 3 students of 二班 who answered 3 everywhere (PHQ-9 item 9 = 3: red)
    are never scored. Issue 2: "Never drop a row silently"; POLICY: never "lose a flagged
    student"."""
    import xlsxwriter

    from screening.errors import InputFileError

    path = tmp_path / "classes.xlsx"
    workbook = xlsxwriter.Workbook(path)
    for name in ("一班", "二班", "三班"):
        sheet = workbook.add_worksheet(name)
        sheet.write_row(0, 0, ["student_id", "class_id", *PHQ, *GAD])
        for i in range(3):
            answer = 3 if name == "二班" else 0
            sheet.write_row(1 + i, 0, [f"{name}{i}", name, *[answer] * 16])
    workbook.close()
    try:
        summary = score_files([path], tmp_path / "out", battery="default")
    except InputFileError as error:  # refusing the workbook, naming the sheets, is fine
        assert "二班" in str(error)
        return
    warned = any("二班" in w for w in summary.warnings)
    assert summary.rows == 9 or warned, (summary.rows, summary.by_tier, summary.warnings)


def test_an_excel_error_cell_is_an_invalid_answer_not_a_missing_one(tmp_path):
    """A formula that failed (``#VALUE!``, ``#DIV/0!``: a clerk's VLOOKUP/IF recoding of
    the survey tool's answer texts) is stored in the .xlsx as an error cell (``t="e"``).
    The Excel reader reads it as an empty cell: the answer silently counts as missing
    (here PHQ-9 item 9, the critical item; 8 of 9 answered is prorated and ``scored``),
    while the same value in a CSV is reported as an invalid answer. README: a missing
    answer is an empty cell or one of NA, N/A, #N/A, NaN, NULL, None; other values are
    reported as invalid answers."""
    import pytest
    import xlsxwriter

    from screening.errors import ResponseValidationError

    path = tmp_path / "recoded.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["student_id", *PHQ, *GAD])
    sheet.write_row(1, 0, ["S1", *[1] * 16])
    sheet.write_formula(1, 9, '=VLOOKUP("好几天",Z1:AA4,2,FALSE)+"x"', None, "#VALUE!")  # phq9_9
    workbook.close()
    with pytest.raises(ResponseValidationError, match="phq9_9"):
        score_files([path], tmp_path / "out", battery="default")
