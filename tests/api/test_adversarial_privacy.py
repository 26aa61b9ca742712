"""What each role can take away: caching, free text and quasi-identifiers in exports."""

from __future__ import annotations

import io
from collections import Counter

import openpyxl
import polars as pl
import pytest

from tests.api.test_reports import read_csv, upload

FREE_TEXT = "王小明说想死"
NUMERIC_ID = "20260417"  # a student id typed (or shifted) into an answer column


def _export(client, school, bearer, fmt="csv"):
    answer = client.get(
        f"/api/v1/exports/schools/{school}/results", params={"format": fmt}, headers=bearer
    )
    assert answer.status_code == 200, answer.text
    if fmt == "csv":
        return answer.content.decode("utf-8-sig")
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    return " ".join(str(c.value) for s in book for row in s.iter_rows() for c in row)


def test_api_answers_with_student_data_are_never_cached(client, token, headers, school, frame):
    """A shared browser or a proxy must keep no copy of a queue, a case or an export."""
    counsellor = headers(token("counsellor", school))
    upload(client, counsellor, frame([("C1", 3), ("C2", 0)], names={"C1": "李雷"}))
    queue = client.get("/api/v1/queue", headers=counsellor)
    case_id = queue.json()["items"][0]["case_id"]
    analyst = headers(token("analyst"))
    answers = {
        "queue": queue,
        "case": client.get(f"/api/v1/cases/{case_id}", headers=counsellor),
        "results.csv": client.get(f"/api/v1/exports/schools/{school}/results", headers=counsellor),
        "results.xlsx": client.get(
            f"/api/v1/exports/schools/{school}/results",
            params={"format": "xlsx"},
            headers=counsellor,
        ),
        "queue.csv": client.get("/api/v1/exports/queue", headers=counsellor),
        "report.csv": client.get(f"/api/v1/exports/schools/{school}/report", headers=analyst),
        "report": client.get(f"/api/v1/reports/schools/{school}", headers=analyst),
        "uploads": client.get("/api/v1/uploads", headers=counsellor),
    }
    for what, answer in answers.items():
        assert answer.status_code == 200, (what, answer.text)
        assert "no-store" in answer.headers.get("cache-control", ""), what


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_free_text_of_an_answer_cell_reaches_no_de_identified_export(
    client, token, headers, school, frame, fmt
):
    """An invalid answer's reason quotes the cell; the cell may hold a name, a note or a
    student id: only the counsellor, who sees identities, may get it back."""
    students = frame([(f"F{i}", 0) for i in range(12)])
    values = [FREE_TEXT, NUMERIC_ID] + ["0"] * 10
    students = students.with_columns(pl.Series("phq9_3", values, dtype=pl.String))
    upload(client, headers(token("counsellor", school)), students)
    for role in ("analyst", "district_admin", "researcher"):
        text = _export(client, school, headers(token(role)), fmt)
        assert FREE_TEXT not in text and NUMERIC_ID not in text, role
        assert "invalid answer phq9_3" in text, role  # the reason stays, without the value
    own = _export(client, school, headers(token("counsellor", school)), fmt)
    assert FREE_TEXT in own and NUMERIC_ID in own


def test_researcher_export_singles_no_student_out(client, token, headers, school, frame, settings):
    """The only boy of grade 9 of a school is known to everyone in it: a de-identified row
    with his school, grade and sex is his row. Every combination of the quasi-identifiers
    in a researcher's file is shared by at least ``min_cell`` rows."""
    plan = [("7", "F")] * 12 + [("7", "M")] * 11 + [("9", "M")] + [("8", "F")] * 3
    students = frame(
        [(f"Q{i}", i % 4) for i in range(len(plan))],
        grade=lambda i: plan[i][0],
        sex=lambda i: plan[i][1],
    )
    upload(client, headers(token("counsellor", school)), students)
    rows = read_csv(
        client.get(
            f"/api/v1/exports/schools/{school}/results", headers=headers(token("researcher"))
        ).content
    )
    groups = Counter((r["school_id"], r["grade"], r["sex"]) for r in rows)
    assert groups and min(groups.values()) >= settings.min_cell, groups
    assert groups[(school, "7", "F")] == 12 and groups[(school, "7", "M")] == 11
