"""Adversarial checks of ``screening report``: what a reader can work out, and bad input."""

from __future__ import annotations

import json
import re
import shutil

import polars as pl
import pytest

from screening.batch import score_files
from screening.cli import main
from screening.i18n import t
from screening.reports import (
    load_run,
    quality_rows,
    render_report,
    report_context,
    tier_sections,
)

# The crafted answers are identical within tiers: --quality's careless check warns that
# Mahalanobis D2 cannot be computed, which these tests do not check.
pytestmark = pytest.mark.filterwarnings("ignore::screening.scoring.careless.CarelessWarning")

GREEN = [1, 0, 0, 0, 0, 0, 0, 0, 0]
YELLOW = [2, 2, 2, 2, 2, 1, 0, 0, 0]
ORANGE = [2, 2, 2, 2, 2, 2, 2, 2, 0]
RED = [0, 0, 0, 0, 0, 0, 0, 1, 1]
INCOMPLETE = [1, None, None, None, 0, 0, 0, 0, 0]
GAD = [0, 1, 0, 0, 0, 0, 0]


def _score(folder, plan, *, quality: bool = True):
    rows = []
    for school, phq, n in plan:
        for _ in range(n):
            rows.append(
                {
                    "student_id": f"S{len(rows):04d}",
                    "school_id": school,
                    **{f"phq9_{i + 1}": v for i, v in enumerate(phq)},
                    **{f"gad7_{i + 1}": v for i, v in enumerate(GAD)},
                }
            )
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows).write_csv(folder / "in.csv")
    score_files([folder / "in.csv"], folder / "out", battery="default", quality=quality)
    return folder / "out"


@pytest.fixture(scope="module")
def one_per_tier(tmp_path_factory):
    plan = [("A", RED, 1), ("A", ORANGE, 1), ("A", YELLOW, 1), ("A", GREEN, 1)]
    return _score(tmp_path_factory.mktemp("tiers"), plan)


def _shown_sum(rows) -> int | None:
    """The line's total where every count of it is shown, else None."""
    counts = [r["count"] for r in rows]
    return None if any(c is None for c in counts) else sum(counts)


def test_a_hidden_total_is_not_given_by_the_status_line():
    # 1 red, 1 orange, 1 yellow, 1 green with min_cell 2: the tier counts are hidden and so
    # is the total, or each would be 1; the status line showed "4 scored, 0, 0" (100 %)
    frame = pl.DataFrame(
        {"tier_label": ["red", "orange", "yellow", "green"], "status": ["scored"] * 4}
    )
    sections = tier_sections(frame, locale="en", min_cell=2)
    assert sections["students"] is None
    assert [r["count"] for r in sections["overall"]["rows"]][:4] == [None] * 4
    assert _shown_sum(sections["status_rows"]) is None
    assert all(r["share"] is None for r in sections["status_rows"] if r["count"])


def test_a_hidden_total_is_not_given_by_a_band_line_or_the_quality_rows(one_per_tier):
    context = report_context(load_run(one_per_tier), locale="en", min_cell=2)
    assert context["students"] is None
    for section in context["bands"]:  # GAD-7 showed "minimal 4 (100 %)"
        assert _shown_sum(section["rows"]) is None, section["title"]
        assert all(r["share"] is None for r in section["rows"] if r["count"])
    assert all(q["students"] is None for q in context["quality"])


def test_quality_rates_do_not_give_away_a_hidden_status_count():
    # the status line shows 25 incomplete; B's 40 % of 50 is 20, so A's hidden one was 5
    entries = [
        {"school_id": s, "students": 50, "incomplete_rate": r, "invalid_rate": 0.0}
        for s, r in (("A", 0.1), ("B", 0.4))
    ]
    rows = {q["label"]: q["rates"]["incomplete_rate"] for q in quality_rows(entries, 10, "en")}
    assert rows["A"] is None
    assert rows["B"] is None


def test_quality_rows_hide_a_school_that_the_tier_table_hides(tmp_path):
    # all 15 green: A's 12 and B's 3. The by-school table hides both groups (B's green
    # would follow from the column), but the quality rows showed A's 12 students: B is 3
    out = _score(tmp_path, [("A", GREEN, 12), ("B", GREEN, 3)])
    context = report_context(load_run(out), locale="en", min_cell=10)
    (schools,) = [b for b in context["breakdowns"] if b["id"] == "school"]
    hidden = {r["label"] for r in schools["rows"] if r["total"] is None}
    assert hidden == {"A", "B"}
    assert all(q["students"] is None for q in context["quality"] if q["label"] in hidden)


def _bad_copy(tmp_path, source, edit):
    folder = tmp_path / "bad"
    shutil.copytree(source, folder)
    edit(folder)
    out = tmp_path / "r.html"
    return main(["report", str(folder), "--out", str(out)]), out


def _record(folder, change):
    path = folder / "run.json"
    path.write_text(json.dumps(change(json.loads(path.read_text("utf-8")))), "utf-8")


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (
            lambda f: _record(
                f, lambda r: {**r, "toolkit": {"name": "screening", "version": "9.0"}}
            ),
            "9.0",
        ),
        (
            lambda f: _record(f, lambda r: {k: v for k, v in r.items() if k != "toolkit"}),
            "run.json",
        ),
        (lambda f: _record(f, lambda r: [1, 2]), "run.json"),
        (
            lambda f: (
                pl.read_parquet(f / "scores.parquet").head(0).write_parquet(f / "scores.parquet")
            ),
            "no results",
        ),
        (lambda f: (f / "scores.parquet").write_bytes(b"garbage"), "scores.parquet"),
    ],
    ids=["other-version", "no-toolkit", "not-an-object", "empty", "corrupt"],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, one_per_tier, capsys, edit, words):
    code, out = _bad_copy(tmp_path, one_per_tier, edit)
    assert code == 2
    assert words in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_report_renders_offline_without_errors(tmp_path, one_per_tier, lang):
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("no /usr/bin/chromium")
    out = tmp_path / "report.html"
    assert main(["report", str(one_per_tier), "--out", str(out), "--lang", lang]) == 0
    errors, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=["--headless", "--no-sandbox"]
        )
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(out.as_uri())
        text = page.inner_text("body")
        browser.close()
    assert errors == []
    assert requests == [out.as_uri()]  # the file itself, nothing fetched
    assert not re.search(r"\b(?:report|tier|sex|tier_meaning)\.[a-z_]+\b", text)


def test_a_group_hidden_to_protect_another_is_not_called_small(tmp_path):
    # A has 12 students and is hidden whole only to protect B's 3: "fewer than 10" beside
    # A was false, and beside B a bound a reader could use
    out = _score(tmp_path, [("A", GREEN, 12), ("B", GREEN, 3)])
    html = render_report(report_context(load_run(out), locale="en", min_cell=10))
    assert html.count(t("report.group_hidden", "en", min_cell=10)) == 4  # tiers and quality
    assert "fewer than 10" not in html.replace("Groups of fewer than 10 students", "")
