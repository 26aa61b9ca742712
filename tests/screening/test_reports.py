"""The HTML report of a batch run: content, suppression, privacy, languages, self-containment."""

from __future__ import annotations

import re

import polars as pl
import pytest

from screening.batch import score_files
from screening.cli import main
from screening.i18n import t
from screening.reports import (
    TIERS,
    load_run,
    render_report,
    report_context,
    tier_sections,
    write_report,
)

GREEN = [1, 0, 0, 0, 0, 0, 0, 0, 0]  # PHQ-9 total 1
YELLOW = [2, 2, 2, 2, 2, 1, 0, 0, 0]  # 11
ORANGE = [2, 2, 2, 2, 2, 2, 2, 2, 0]  # 16
RED = [0, 0, 0, 0, 0, 0, 0, 1, 1]  # item 9 endorsed
INCOMPLETE = [1, None, None, None, 0, 0, 0, 0, 0]  # 6 of 9 answered: not scorable
GAD = [0, 1, 0, 0, 0, 0, 0]

# school, grade, sex, PHQ-9 answers, how many
PLAN = [
    ("A", "7", "F", RED, 8),
    ("A", "7", "M", ORANGE, 12),
    ("A", "8", "F", GREEN, 20),
    ("A", "8", "M", GREEN, 17),
    ("A", "8", "M", INCOMPLETE, 3),
    ("B", "7", "F", YELLOW, 15),
    ("B", "8", "M", GREEN, 25),
    ("C", "9", "F", RED, 5),
]
# exact counts per school and tier (red, orange, yellow, green, retest)
EXPECTED = {"A": [8, 12, 0, 37, 3], "B": [0, 0, 15, 25, 0], "C": [5, 0, 0, 0, 0]}


def _responses() -> pl.DataFrame:
    rows = []
    for school, grade, sex, phq, n in PLAN:
        for _ in range(n):
            k = len(rows)
            rows.append(
                {
                    "student_id": f"ZQX{k:04d}",
                    "姓名": f"张三{k:03d}",
                    "school_id": school,
                    "class_id": f"CLS{k:04d}",
                    "grade": grade,
                    "sex": sex,
                    **{f"phq9_{i + 1}": v for i, v in enumerate(phq)},
                    **{f"gad7_{i + 1}": v for i, v in enumerate(GAD)},
                }
            )
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def responses() -> pl.DataFrame:
    return _responses()


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory, responses):
    folder = tmp_path_factory.mktemp("run")
    responses.write_csv(folder / "responses.csv")
    score_files([folder / "responses.csv"], folder / "out", battery="default")
    return folder / "out"


@pytest.fixture(scope="module")
def html_zh(results_dir) -> str:
    return render_report(report_context(load_run(results_dir), locale="zh-CN", min_cell=10))


@pytest.fixture(scope="module")
def html_en(results_dir) -> str:
    return render_report(report_context(load_run(results_dir), locale="en", min_cell=10))


def _school_rows(context) -> dict[str, dict]:
    (schools,) = [b for b in context["breakdowns"] if b["id"] == "school"]
    return {r["label"]: r for r in schools["rows"]}


def test_counts_are_exact_without_suppression(results_dir):
    context = report_context(load_run(results_dir), min_cell=1)
    rows = _school_rows(context)
    for school, counts in EXPECTED.items():
        assert [c["count"] for c in rows[school]["cells"]] == counts
        assert rows[school]["total"] == sum(counts)
    overall = [r["count"] for r in context["overall"]["rows"]]
    assert overall == [sum(c[j] for c in EXPECTED.values()) for j in range(len(TIERS))]
    assert context["students"] == 105
    statuses = {r["label"]: r["count"] for r in context["status_rows"]}
    assert statuses == {"已评分": 102, "不完整": 3, "无效": 0}


def test_small_cells_and_groups_are_suppressed(results_dir):
    context = report_context(load_run(results_dir), min_cell=10)
    rows = _school_rows(context)
    assert rows["C"]["total"] is None  # 5 students: the whole school is hidden
    assert all(c["count"] is None for c in rows["C"]["cells"])
    # A's 8 red and 3 re-test are under 10; B shows its 15 yellow and 25 green
    assert rows["A"]["cells"][0]["count"] is None
    assert rows["A"]["cells"][4]["count"] is None
    assert [c["count"] for c in rows["B"]["cells"]][2:4] == [15, 25]
    for breakdown in context["breakdowns"]:
        for row in breakdown["rows"]:
            for c in row["cells"]:
                assert c["count"] is None or c["count"] == 0 or c["count"] >= 10
            hidden = [c for c in row["cells"] if c["count"] is None]
            assert row["total"] is None or len(hidden) != 1
    for row in context["overall"]["rows"]:
        assert row["count"] is None or row["count"] == 0 or row["count"] >= 10
    for section in context["bands"]:
        for row in section["rows"]:
            assert row["count"] is None or row["count"] == 0 or row["count"] >= 10
    quality = {q["label"]: q for q in context["quality"]}
    assert quality["C"]["students"] is None and quality["C"]["rates"]["incomplete_rate"] is None
    # 3 of A's 60 are incomplete: the rate would give the hidden count away
    assert quality["A"]["rates"]["incomplete_rate"] is None
    assert quality["A"]["rates"]["invalid_rate"] == 0  # a zero count is shown
    assert report_context(load_run(results_dir), min_cell=3)["quality"][0]["rates"][
        "incomplete_rate"
    ] == pytest.approx(3 / 60, abs=1e-4)


def test_min_cell_is_configurable(results_dir):
    run = load_run(results_dir)
    assert _school_rows(report_context(run, min_cell=3))["A"]["cells"][1]["count"] == 12
    # at 10, the overall line hides its 3 re-tests and, beside them, its 12 orange; A's 12
    # is the only orange count, so it is hidden too, or the column would add up to it
    overall = report_context(run, min_cell=10)["overall"]["rows"]
    assert [r["count"] for r in overall] == [13, None, 15, 62, None]
    assert _school_rows(report_context(run, min_cell=10))["A"]["cells"][1]["count"] is None
    strict = _school_rows(report_context(run, min_cell=13))
    assert strict["A"]["cells"][1]["count"] is None  # 12 orange: now under the limit
    assert [c["count"] for c in strict["A"]["cells"]][3] == 37
    assert [c["count"] for c in strict["B"]["cells"]] == [0, 0, 15, 25, 0]
    assert all(
        c["count"] in (None, 0) or c["count"] >= 13 for r in strict.values() for c in r["cells"]
    )


def test_no_student_ids_names_or_classes(html_zh, html_en, responses):
    for html in (html_zh, html_en):
        for column in ("student_id", "姓名", "class_id"):
            leaked = [v for v in responses.get_column(column).to_list() if v in html]
            assert leaked == [], f"{column} values in the report: {leaked[:3]}"
        assert "ZQX" not in html and "张三" not in html and "CLS" not in html


def test_the_small_school_is_marked_hidden(html_zh, html_en):
    assert t("report.group_hidden", "zh-CN", min_cell=10) in html_zh
    assert t("report.group_hidden", "en", min_cell=10) in html_en


def test_self_contained(html_zh):
    assert "<script" not in html_zh.lower()
    assert "<link" not in html_zh.lower()
    assert "@import" not in html_zh
    assert "@font-face" not in html_zh
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html_zh))
    assert urls <= {"http://www.w3.org/2000/svg"}
    assert set(re.findall(r"url\(([^)]*)\)", html_zh)) <= {
        f"#{h}" for h in re.findall(r'<pattern id="([^"]+)"', html_zh)
    }
    assert html_zh.count("<svg") >= 5  # overview, school, grade, sex, two instruments


def test_chinese_by_default_and_english_on_request(html_zh, html_en):
    assert '<html lang="zh-CN">' in html_zh and '<html lang="en">' in html_en
    for key in ("report.not_diagnosis_title", "report.by_school", "report.quality", "tier.red"):
        assert t(key, "zh-CN") in html_zh and t(key, "zh-CN") not in html_en
        assert t(key, "en") in html_en and t(key, "en") not in html_zh
    assert "无或极轻" in html_zh and "minimal" in html_en  # PHQ-9 band labels
    assert "7年级" in html_zh and "Grade 7" in html_en
    assert "女" in html_zh and "Female" in html_en


def test_tier_meaning_and_rules(html_en):
    assert "Due within 24 hours" in html_en and "Due within 168 hours" in html_en
    assert "phq9.item9 &gt;= 1" in html_en
    assert "never treat them as green" in html_en


def test_csv_results_give_the_same_report(tmp_path, results_dir, responses):
    responses.write_csv(tmp_path / "r.csv")
    score_files([tmp_path / "r.csv"], tmp_path / "out", battery="default", fmt="csv")
    a = report_context(load_run(results_dir), min_cell=1)
    b = report_context(load_run(tmp_path / "out"), min_cell=1)
    assert a["overall"]["rows"] == b["overall"]["rows"]
    assert _school_rows(a)["A"]["cells"] == _school_rows(b)["A"]["cells"]
    assert [s["rows"] for s in a["bands"]] == [s["rows"] for s in b["bands"]]


def test_command_writes_the_file(tmp_path, results_dir):
    out = tmp_path / "sub" / "report.html"
    assert (
        main(["report", str(results_dir), "--out", str(out), "--lang", "en", "--min-cell", "5"])
        == 0
    )
    html = out.read_text("utf-8")
    assert "Screening results report" in html
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temporary left


def test_command_takes_min_cell_from_the_environment(tmp_path, results_dir, monkeypatch):
    # SCREENING_MIN_CELL, the service's setting, is the command's default too
    monkeypatch.setenv("SCREENING_MIN_CELL", "13")
    out = tmp_path / "env.html"
    assert main(["report", str(results_dir), "--out", str(out), "--lang", "en"]) == 0
    html = out.read_text("utf-8")
    assert t("report.group_hidden", "en", min_cell=13) in html
    given = tmp_path / "given.html"  # the option still wins
    assert (
        main(["report", str(results_dir), "-o", str(given), "--lang", "en", "--min-cell", "5"]) == 0
    )
    assert t("report.group_hidden", "en", min_cell=5) in given.read_text("utf-8")


def test_missing_run_record_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "run.json" in err and "screening score" in err
    assert not (tmp_path / "r.html").exists()


def test_write_report_returns_the_path(tmp_path, results_dir):
    path = write_report(results_dir, tmp_path / "r.html")
    assert path.read_text("utf-8").startswith("<!DOCTYPE html>")


def test_pre_aggregated_counts_give_the_same_sections(results_dir):

    frame = load_run(results_dir).frame
    keys = ["school_id", "grade", "sex", "tier_label", "status"]
    aggregated = frame.group_by(keys).len("n")
    assert aggregated.height < frame.height
    a = tier_sections(frame, locale="en", min_cell=10)
    b = tier_sections(aggregated, locale="en", min_cell=10)
    assert a["students"] == b["students"] == 105
    assert a["overall"]["rows"] == b["overall"]["rows"]
    assert a["status_rows"] == b["status_rows"]
    assert [x["rows"] for x in a["breakdowns"]] == [x["rows"] for x in b["breakdowns"]]


def test_students_are_not_shown_where_the_total_would_pin_hidden_tiers():
    # two students, one red and one green, with min_cell 2: both tier counts are hidden,
    # and "2 students" beside them would make each exactly 1
    frame = pl.DataFrame({"tier_label": ["red", "green"], "status": ["scored", "scored"]})
    sections = tier_sections(frame, locale="en", min_cell=2)
    assert sections["students"] is None
    assert [r["count"] for r in sections["overall"]["rows"]] == [None, 0, 0, None, 0]
    shown = tier_sections(frame.vstack(frame), locale="en", min_cell=2)
    assert shown["students"] == 4  # 2 red and 2 green are shown
