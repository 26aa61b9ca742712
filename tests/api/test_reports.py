"""Reports with small-cell suppression; exports per role with formulas neutralised."""

from __future__ import annotations

import csv
import io
import uuid

import openpyxl
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from screening.api.pseudonyms import pseudonym
from screening.api.services.exports import neutralise
from screening.api.services.reports import suppress_line

WINDOW = "2026-autumn"


def upload(client, bearer_headers, data: pl.DataFrame, window: str = WINDOW) -> dict:
    answer = client.post(
        "/api/v1/uploads",
        headers=bearer_headers,
        files={"file": ("r.csv", data.write_csv().encode(), "text/csv")},
        data={"window": window},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_suppress_line_examples():
    assert suppress_line([40, 3, 0, 12], 10) == [False, True, False, True]
    assert suppress_line([40, 30], 10) == [False, False]
    assert suppress_line([5, 4], 10) == [True, True]
    assert suppress_line([0, 0, 0], 10) == [False, False, False]
    assert suppress_line([9, 50, 60], 10) == [True, True, False]
    assert suppress_line([3, 0, 0], 10) == [True, False, False]


@given(st.lists(st.integers(0, 40), min_size=1, max_size=8), st.integers(1, 15))
def test_suppression_hides_small_cells_and_never_one_alone(counts, min_cell):
    hidden = suppress_line(counts, min_cell)
    assert all(h for c, h in zip(counts, hidden, strict=True) if 0 < c < min_cell)
    assert not any(h for c, h in zip(counts, hidden, strict=True) if c == 0)
    if sum(hidden) == 1:
        # A lone hidden cell is only possible when it is the only non-zero one: then the
        # published total is itself small and hidden upstream (students < min_cell).
        assert sum(c > 0 for c in counts) == 1


def test_school_report_suppresses_small_cells(client, token, headers, school, frame):
    counsellor = headers(token("counsellor", school))
    grades = ["7"] * 40 + ["8"] * 31
    tiers = [0] * 25 + [2] * 12 + [3] * 3 + [0] * 20 + [2] * 11
    students = [(f"M{i:03d}", t) for i, t in enumerate(tiers)]
    upload(
        client, counsellor, frame(students, grade=lambda i: grades[i], sex=lambda i: "FM"[i % 2])
    )
    report = client.get(f"/api/v1/reports/schools/{school}", headers=counsellor).json()
    assert report["window"] == WINDOW and report["students"] == 71 and report["min_cell"] == 10
    by_tier = {c["tier_label"]: c["count"] for c in report["by_tier"]}
    # red = 3 is hidden; so is orange (the smallest other non-zero), else 71 - 45 - 23 = 3.
    assert by_tier == {"green": 45, "yellow": 0, "orange": None, "red": None, "retest": 0}
    for table in ("by_tier", "by_grade", "by_sex"):
        for cell in report[table]:
            assert cell["count"] is None or not 0 < cell["count"] < 10, (table, cell)
            assert cell["suppressed"] == (cell["count"] is None)
    grade = {(c["group"], c["tier_label"]): c["count"] for c in report["by_grade"]}
    assert grade[("7", "green")] == 25 and grade[("8", "green")] == 20
    assert grade[("7", "red")] is None and grade[("8", "red")] == 0
    # Grade 7 hides its 12 orange beside its 3 red (its total is published); orange is
    # hidden in by_tier, and its grade column keeps that hidden cell, so it adds up to
    # nothing.
    assert grade[("7", "orange")] is None and grade[("8", "orange")] == 11
    assert_no_single_hidden_cell(report)


def assert_no_single_hidden_cell(report: dict) -> None:
    """No hidden count can be recovered by subtraction from a published total."""
    tiers = {c["tier_label"]: c["count"] for c in report["by_tier"]}
    hidden_tiers = [label for label, n in tiers.items() if n is None]
    if report["students"] is not None:
        assert len(hidden_tiers) != 1
    for table in ("by_grade", "by_sex", "by_school"):
        for label, total in tiers.items():
            column = [c["count"] for c in report[table] or [] if c["tier_label"] == label]
            if not column:
                continue
            if total is None:
                assert None in column or sum(column) == 0, (table, label)
            else:
                assert column.count(None) != 1, (table, label)


def test_district_report_by_school(client, token, headers, new_school, frame):
    schools = [new_school(), new_school(), new_school()]
    window = f"district-{uuid.uuid4().hex[:8]}"  # only these schools screened in it
    for n, school in zip((15, 4, 20), schools, strict=True):
        students = frame([(f"N{i}", 0) for i in range(n)])
        upload(client, headers(token("counsellor", school)), students, window)
    analyst = headers(token("analyst"))
    report = client.get("/api/v1/reports/district", params={"window": window}, headers=analyst)
    assert report.status_code == 200
    cells = {(c["group"], c["tier_label"]): c["count"] for c in report.json()["by_school"]}
    assert {group for group, _ in cells} == set(schools)
    # 4 is hidden; 15 is hidden too, else 4 = green total - 15 - 20.
    assert [cells[(s, "green")] for s in schools] == [None, None, 20]
    assert_no_single_hidden_cell(report.json())
    small = client.get(f"/api/v1/reports/schools/{schools[1]}", headers=analyst).json()
    assert small["students"] is None


@pytest.fixture
def seeded_school(client, token, headers, school, frame):
    counsellor = headers(token("counsellor", school))
    names = {"X1": '=HYPERLINK("http://evil","x")', "X2": "+SUM(1)", "X3": "@cmd", "X4": "李雷"}
    data = frame([("X1", 3), ("X2", 2), ("X3", 0), ("X4", 1)], names=names)
    data = data.with_columns(pl.Series("class_id", ["-1+1", "\tA", "\rB", "7-2"]))
    upload(client, counsellor, data)
    return school, counsellor, names


def read_csv(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_counsellor_export_neutralises_formulas(client, seeded_school):
    school, counsellor, names = seeded_school
    answer = client.get(f"/api/v1/exports/schools/{school}/results", headers=counsellor)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = {r["student_id"]: r for r in read_csv(answer.content)}
    assert rows["X1"]["name"] == "'" + names["X1"]
    assert rows["X2"]["name"] == "'+SUM(1)" and rows["X3"]["name"] == "'@cmd"
    assert rows["X4"]["name"] == "李雷"
    assert [rows[s]["class_id"] for s in ("X1", "X2", "X3", "X4")] == [
        "'-1+1",
        "'\tA",
        "'\rB",
        "7-2",
    ]
    assert rows["X1"]["tier_label"] == "red" and float(rows["X2"]["phq9.total"]) == 15.0

    xlsx = client.get(
        f"/api/v1/exports/schools/{school}/results", params={"format": "xlsx"}, headers=counsellor
    )
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    header = [c.value for c in sheet[1]]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert not any(c.data_type == "f" for c in cells)
    by_id = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert by_id["X1"][header.index("name")].value == "'" + names["X1"]
    assert by_id["X1"][header.index("tier")].value == 3  # numbers stay numbers


def test_analyst_sees_pseudonyms_and_researcher_neither(
    client, token, headers, seeded_school, settings
):
    school, _, _ = seeded_school
    key = settings.pseudonym_key.get_secret_value()
    analyst = client.get(
        f"/api/v1/exports/schools/{school}/results", headers=headers(token("analyst"))
    )
    rows = read_csv(analyst.content)
    assert "student_id" not in rows[0] and "name" not in rows[0]
    assert {r["pseudonym"] for r in rows} == {
        pseudonym(school, s, key) for s in ("X1", "X2", "X3", "X4")
    }
    text = analyst.content.decode("utf-8-sig")
    assert not any(s in text for s in ("X1", "X2", "X3", "X4", "李雷", "HYPERLINK"))

    researcher = headers(token("researcher", school))
    path = f"/api/v1/exports/schools/{school}/results"
    # four students of one grade and sex: fewer than min_cell (10), so left out ...
    assert read_csv(client.get(path, headers=researcher).content) == []
    # ... and shown where min_cell is 4
    settings = client.app.state.settings
    client.app.state.settings = settings.model_copy(update={"min_cell": 4})
    rows = read_csv(client.get(path, headers=researcher).content)
    client.app.state.settings = settings
    assert not {"student_id", "name", "pseudonym", "class_id"} & set(rows[0])
    assert sorted(r["tier_label"] for r in rows) == ["green", "orange", "red", "yellow"]


def test_same_local_id_in_two_schools_is_two_pseudonyms(
    client, token, headers, school, new_school, frame, settings, sessions
):
    """A 学号 is a school's own number: two schools' student 0001 are two children."""
    from sqlalchemy import select

    from screening.api.models import AuditEvent

    other = new_school()
    for s in (school, other):
        upload(client, headers(token("counsellor", s)), frame([("0001", 0)], school_id=s))
    analyst = headers(token("analyst"))
    key = settings.pseudonym_key.get_secret_value()
    seen = {}
    for s in (school, other):
        answer = client.get(f"/api/v1/exports/schools/{s}/results", headers=analyst)
        seen[s] = read_csv(answer.content)[0]["pseudonym"]
        assert seen[s] == pseudonym(s, "0001", key)
    assert seen[school] != seen[other]
    with sessions() as session:  # the audit row says which window's records were exported
        rows = session.execute(
            select(AuditEvent.object_type, AuditEvent.object_id).where(
                AuditEvent.action == "export.results.csv", AuditEvent.school_id == school
            )
        ).all()
    assert rows == [("window", WINDOW)]
    client.get(f"/api/v1/exports/schools/{school}/report", headers=analyst)
    with sessions() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.school_id == school, AuditEvent.action.like("%report%")
            )
        ).all()
    assert sorted(actions) == ["export.report.csv", "report.school"]


def test_report_and_queue_exports(client, token, headers, seeded_school):
    school, counsellor, _ = seeded_school
    report = client.get(f"/api/v1/exports/schools/{school}/report", headers=counsellor)
    rows = read_csv(report.content)
    assert {r["table"] for r in rows} == {"tier", "grade", "sex"}
    assert all(r["count"] == "" for r in rows if r["suppressed"] == "True")
    queue = client.get("/api/v1/exports/queue", params={"format": "xlsx"}, headers=counsellor)
    sheet = openpyxl.load_workbook(io.BytesIO(queue.content)).active
    assert [c.value for c in sheet[1]][:2] == ["case_id", "student_id"]
    assert sorted(r[1].value for r in sheet.iter_rows(min_row=2)) == ["X1", "X2"]
    assert "attachment" in queue.headers["content-disposition"]


def test_neutralise():
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("\uff1d1") == "'\uff1d1"  # full-width equals sign
    assert neutralise("a=1") == "a=1" and neutralise(-1.5) == -1.5 and neutralise(None) is None


def test_a_schools_report_hides_what_the_district_table_hides_of_it(
    client, token, headers, new_school, frame
):
    """SB's 3 orange is hidden in the district's by-school table, with SA's orange and
    yellow hidden beside it; SA's own report (nothing small in it) must not show them to
    a district reader, or 15 - 12 = 3 gives SB's count away."""
    sa, sb = new_school(), new_school()
    window = f"pair-{uuid.uuid4().hex[:8]}"
    plan = {sa: [0] * 50 + [1] * 20 + [2] * 12, sb: [0] * 40 + [1] * 20 + [2] * 3}
    for school, tiers in plan.items():
        students = frame([(f"{school}-{i}", t) for i, t in enumerate(tiers)])
        upload(client, headers(token("counsellor", school)), students, window)
    analyst = headers(token("analyst"))
    district = client.get("/api/v1/reports/district", params={"window": window}, headers=analyst)
    row = {c["tier_label"]: c["count"] for c in district.json()["by_school"] if c["group"] == sa}
    assert row["orange"] is None  # hidden to protect SB's 3
    report = client.get(
        f"/api/v1/reports/schools/{sa}", params={"window": window}, headers=analyst
    ).json()
    line = {c["tier_label"]: c["count"] for c in report["by_tier"]}
    assert all(line[k] is None for k, v in row.items() if v is None)
    orange = [c["count"] for c in report["by_grade"] if c["tier_label"] == "orange"]
    assert None in orange  # its column total is hidden: the grades do not add up to it
    # SA's counsellor sees the school on its own terms: nothing small, nothing hidden
    own = client.get(
        f"/api/v1/reports/schools/{sa}",
        params={"window": window},
        headers=headers(token("counsellor", sa)),
    ).json()
    assert {c["tier_label"]: c["count"] for c in own["by_tier"]}["orange"] == 12


def test_a_district_reader_cannot_subtract_school_grade_tables_from_the_district_one(
    client, token, headers, new_school, frame
):
    """A district reader sees the district's by-grade table and every school's by-grade
    table. SA's 3 red in grade 7 is hidden in SA's report, but the district shows grade 7
    red = 43 and SB's report shows its own grade 7 red = 40: 43 - 40 = 3 gives it away."""
    sa, sb, sc = new_school(), new_school(), new_school()
    window = f"grades-{uuid.uuid4().hex[:8]}"
    plan = {
        sa: [("7", 3)] * 3 + [("7", 0)] * 50 + [("7", 1)] * 30 + [("8", 0)] * 50 + [("8", 2)] * 20,
        sb: [("7", 3)] * 40
        + [("7", 0)] * 80
        + [("7", 1)] * 60
        + [("8", 3)] * 12
        + [("8", 0)] * 50
        + [("8", 2)] * 25,
        sc: [("9", 3)] * 20 + [("9", 0)] * 100 + [("9", 1)] * 40 + [("9", 2)] * 30,
    }
    for school, rows in plan.items():
        students = frame(
            [(f"{school}-{i}", t) for i, (_, t) in enumerate(rows)],
            grade=lambda i, rows=rows: rows[i][0],
        )
        upload(client, headers(token("counsellor", school)), students, window)
    analyst = headers(token("analyst"))

    def grade_cells(path: str) -> dict:
        report = client.get(path, params={"window": window}, headers=analyst)
        assert report.status_code == 200, report.text
        return {(c["group"], c["tier_label"]): c["count"] for c in report.json()["by_grade"]}

    district = grade_cells("/api/v1/reports/district")
    a = grade_cells(f"/api/v1/reports/schools/{sa}")
    b = grade_cells(f"/api/v1/reports/schools/{sb}")
    assert a[("7", "red")] is None  # SA's 3 is a small count, hidden in its report
    # ... and it must not follow from the two tables the same reader gets beside it
    recovered = (
        None
        if district[("7", "red")] is None or b[("7", "red")] is None
        else district[("7", "red")] - b[("7", "red")]
    )
    assert recovered is None, f"SA's hidden grade-7 red count is {recovered} by subtraction"
