"""Uploads: idempotency under re-encoding, shuffling and concurrency; hostile files; the
size limit; atomicity when the process is killed mid-upload."""

from __future__ import annotations

import asyncio
import io
import random
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from screening.api.main import create_app
from screening.api.models import Case, CaseEvent, Result, Student, Upload

WINDOW = "2026-autumn"
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇"]


def post(client, headers, data: bytes, filename="responses.csv", **form):
    fields = {"window": WINDOW, "battery": "default"} | form
    return client.post(
        "/api/v1/uploads",
        headers=headers,
        files={"file": (filename, data, "text/csv")},
        data=fields,
    )


def counts(sessions, school: str) -> dict[str, int]:
    with sessions() as session:

        def n(model, *where):
            return session.scalar(select(func.count()).select_from(model).where(*where))

        return {
            "uploads": n(Upload, Upload.school_id == school),
            "students": n(Student, Student.school_id == school),
            "results": n(Result, Result.school_id == school),
            "cases": n(Case, Case.school_id == school),
            "opened": session.scalar(
                select(func.count())
                .select_from(CaseEvent)
                .join(Case, Case.id == CaseEvent.case_id)
                .where(Case.school_id == school, CaseEvent.kind == "opened")
            ),
        }


def shuffled_csv(frame: pl.DataFrame, seed: int, encoding: str) -> bytes:
    rows = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    return rows.write_csv().encode(encoding)


def test_reupload_is_idempotent_serial_and_concurrent(
    client, token, headers, school, frame, sessions
):
    counsellor = headers(token("counsellor", school))
    tiers = [0, 1, 2, 3, None] * 8
    students = [(f"R{i:03d}", t) for i, t in enumerate(tiers)]
    names = {sid: NAMES[i % len(NAMES)] + str(i) for i, (sid, _) in enumerate(students)}
    data = frame(students, school_id=school, names=names)
    flagged = sum(t is not None and t >= 2 for t in tiers)

    serial = [
        post(client, counsellor, shuffled_csv(data, seed, "gbk" if seed % 2 else "utf-8"))
        for seed in range(5)
    ]
    assert [r.status_code for r in serial] == [201, 200, 200, 200, 200]
    assert serial[0].json()["cases_opened"] == flagged
    assert all(r.json()["duplicate"] for r in serial[1:])
    assert len({r.json()["upload_id"] for r in serial}) == 1
    expected = {
        "uploads": 1,
        "students": 40,
        "results": 40,
        "cases": flagged,
        "opened": flagged,
    }
    assert counts(sessions, school) == expected

    # Five concurrent uploads of the same answers for a new window, each encoded and
    # ordered differently: one stores, four are duplicates.
    def send(seed: int):
        body = shuffled_csv(data, 100 + seed, "gbk" if seed % 2 else "utf-8")
        return post(client, counsellor, body, window="2027-spring")

    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(send, range(5)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 200, 200, 200, 201], [r.text[:200] for r in answers]
    expected |= {"uploads": 2, "results": 80}  # same students, one open case each
    assert counts(sessions, school) == expected


def test_different_files_same_window_never_duplicate(
    client, token, headers, school, frame, sessions
):
    counsellor = headers(token("counsellor", school))
    first = frame([("P1", 3), ("P2", 2), ("P3", 0)])
    second = frame([("P1", 3), ("P2", 0), ("P4", 2)])  # corrected file for the same window
    assert post(client, counsellor, first.write_csv().encode()).status_code == 201
    again = post(client, counsellor, second.write_csv().encode())
    assert again.status_code == 201 and again.json()["cases_opened"] == 1
    assert counts(sessions, school) | {"opened": 0} == {
        "uploads": 2,
        "students": 4,
        "results": 4,
        "cases": 3,
        "opened": 0,
    }
    # the first file once more: a duplicate, which says that a later upload replaced it
    old = post(client, counsellor, first.write_csv().encode())
    assert old.status_code == 200 and old.json()["duplicate"] is True
    assert "later uploads of the same school and window" in old.json()["warnings"][-1]
    latest = post(client, counsellor, second.write_csv().encode())
    assert latest.json()["duplicate"] is True and latest.json()["warnings"] == []


def test_rows_of_other_schools_and_bad_ids_are_rejected_with_reasons(
    client, token, headers, school, new_school, frame
):
    counsellor = headers(token("counsellor", school))
    other = new_school()
    data = pl.concat(
        [
            frame([("Q1", 3), ("Q2", 0)], school_id=school),
            frame([("Q3", 3)], school_id=other),
            frame([("Q4" * 40, 2)], school_id=school),
        ]
    )
    answer = post(client, counsellor, data.write_csv().encode())
    assert answer.status_code == 201
    body = answer.json()
    assert (body["rows"], body["accepted"], body["rejected"]) == (4, 2, 2)
    reasons = {r["row"]: (r["reason"], r["tier_label"]) for r in body["rejected_rows"]}
    assert set(reasons) == {3, 4}
    assert other in reasons[3][0] and "longer than 64" in reasons[4][0]
    assert (reasons[3][1], reasons[4][1]) == ("red", "orange")
    assert body["cases_opened"] == 1
    # the red and orange rows that were not stored are named first, and how to act now
    assert body["warnings"][0].startswith("2 rejected rows scored red or orange (rows 3, 4)")


def test_a_student_twice_keeps_the_highest_tier_and_is_not_called_lost(frame):
    """A prepared frame (the file reader refuses repeated ids before this) keeps each
    student's row of the highest tier; the others are rejected but not lost."""
    from screening.api.services.uploads import _check_rows, _flagged_rejections, prepare_frame

    data = frame([("R1", 2), ("R2", 0), ("R1", 3), ("R3", 3)], school_id="S")
    data = data.with_columns(pl.Series("school_id", ["S", "S", "S", "T"]))
    accepted, rejected, _ = _check_rows(prepare_frame(data, "default").results, "S")
    assert accepted["_row"].to_list() == [2, 3]
    assert [(r.row, r.tier_label) for r in rejected] == [(1, "orange"), (4, "red")]
    assert "row 3 (the highest tier) was kept" in rejected[0].reason
    (warning,) = _flagged_rejections(rejected)
    assert warning.startswith("1 rejected rows scored red or orange (rows 4)")


def test_a_red_row_is_never_lost_over_a_label(client, token, headers, school, frame):
    """A grade, class, sex or name that is too long or holds a NUL byte is shortened, and a
    full-width school id read as the school: the row is stored and its case opened."""
    counsellor = headers(token("counsellor", school))
    wide = school.translate({ord(c): ord(c) + 0xFEE0 for c in school if "!" <= c <= "~"})
    data = frame([("L1", 3), ("L2", 3), ("L3", 0)], school_id=school).with_columns(
        pl.Series("grade", ["初中二年级2025级实验班（寄宿）", "7", "7"]),
        pl.Series("class_id", ["7-1", "高一3班" * 9, "7-1"]),
        pl.Series("school_id", [school, wide, f" {school} "]),
    )
    body = post(client, counsellor, data.write_csv().encode()).json()
    assert (body["accepted"], body["rejected"], body["cases_opened"]) == (3, 0, 2)
    assert body["by_tier"]["red"] == 2
    shortened = [w for w in body["warnings"] if "was shortened" in w]
    assert [w.split(" longer")[0] for w in shortened] == ["grade", "class_id"]
    assert "(rows 1)" in shortened[0] and "(rows 2)" in shortened[1]
    export = client.get(f"/api/v1/exports/schools/{school}/results", headers=counsellor)
    rows = {r["student_id"]: r for r in pl.read_csv(export.content).to_dicts()}
    assert rows["L1"]["grade"] == "初中二年级2025级实验班（寄…"
    assert len(rows["L1"]["grade"]) == 16 and len(rows["L2"]["class_id"]) == 32


def test_nul_bytes_in_labels_are_replaced_not_rejected(frame):
    """NUL bytes reach the service from Excel cells (the CSV reader refuses them whole)."""
    from screening.api.services.uploads import _check_rows, prepare_frame

    data = frame([("N1", 3), ("N2", 0)]).with_columns(pl.Series("sex", ["F\x00", "M"]))
    accepted, rejected, repairs = _check_rows(prepare_frame(data, "default").results, "any")
    assert rejected == [] and accepted["sex"].to_list() == ["F\ufffd", "M"]
    assert repairs[0].startswith("sex longer than 16 characters or holding a NUL byte in 1 rows")


def test_invalid_answers_are_flagged_not_lost(client, token, headers, school, frame):
    counsellor = headers(token("counsellor", school))
    data = frame([("V1", 0), ("V2", 0)]).with_columns(
        pl.Series("phq9_3", ["7", "0"]), pl.Series("phq9_9", ["2", "x"])
    )
    body = post(client, counsellor, data.write_csv().encode()).json()
    assert body["accepted"] == 2 and body["failure_cases_total"] == 2
    cells = {(c["row"], c["column"], c["value"]) for c in body["failure_cases"]}
    assert cells == {(1, "phq9_3", "7"), (2, "phq9_9", "x")}
    # Row 1 endorses the self-harm item: red although the protocol is invalid.
    assert body["by_tier"]["red"] == 1 and body["cases_opened"] == 1


def _xlsx(rows: list[list[object]]) -> bytes:
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, {"in_memory": True}) as book:
        sheet = book.add_worksheet()
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                sheet.write(i, j, value)
    return buffer.getvalue()


@lru_cache(maxsize=1)
def _bomb() -> bytes:
    """An .xlsx whose sheet inflates from a few kB to 64 MiB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            block = b"<row>" + b" " * (1 << 20)
            for _ in range(64):
                member.write(block)
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<worksheet><sheetData><row><c t="inlineStr"><is><t>&lol3;</t></is></c></row></sheetData></worksheet>"""


def _xml_attack() -> bytes:
    good = _xlsx([["student_id"], ["X1"]])
    source = zipfile.ZipFile(io.BytesIO(good))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith("sheet1.xml"):
                data = BILLION_LAUGHS
            archive.writestr(item.filename, data)
    return buffer.getvalue()


def hostile_files(frame: pl.DataFrame) -> Iterator[tuple[str, str, bytes, object]]:
    """(case, filename, bytes, data rows when usable / None when 422 / "any"), built lazily."""
    csv = frame.write_csv()
    header, first, *rest = csv.splitlines()
    formula = frame.with_columns(
        pl.Series("name", ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)"][: frame.height])
    )
    yield "ragged", "r.csv", "\n".join([header, first + ",1,2,3", *rest]).encode(), None
    yield "nul bytes", "n.csv", csv.replace("0,", "0\x00,", 3).encode(), None
    ten_mb = frame.head(1).with_columns(pl.lit("名" * ((10 << 20) // 3)).alias("name"))
    yield "ten megabyte field", "big.csv", ten_mb.write_csv().encode(), 1
    yield "utf-16", "u.csv", csv.encode("utf-16"), None
    yield "latin-1", "l.csv", csv.replace("F", "é").encode("latin-1"), "any"
    yield "formula cells", "f.csv", formula.write_csv().encode(), formula.height
    yield "traversal name", "../../../etc/cron.d/x.csv", csv.encode(), frame.height
    yield "windows traversal", "..\\..\\boot.ini.csv", csv.encode(), frame.height
    yield "no extension", "responses", csv.encode(), None
    yield "parquet refused", "r.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1", None
    yield "xlsx bomb", "bomb.xlsx", _bomb(), None
    yield "xml entity attack", "lol.xlsx", _xml_attack(), None
    yield "truncated xlsx", "t.xlsx", _xlsx([[*frame.columns]])[:300], None
    yield "header only", "h.csv", (header + "\n").encode(), None
    yield "missing items", "m.csv", frame.drop("phq9_1").write_csv().encode(), None
    yield "empty", "e.csv", b"", None
    yield "binary junk", "j.csv", bytes(range(256)) * 100, None
    yield "excel ok", "ok.xlsx", _xlsx([frame.columns, *frame.rows()]), frame.height


@pytest.fixture
def big_client(db, settings, clock):
    """A client of an app that accepts bodies up to 40 MiB."""
    roomy = settings.model_copy(update={"max_upload_mb": 40})
    with TestClient(create_app(roomy, engine=db.engine, clock=clock)) as test_client:
        yield test_client


def test_hostile_uploads_never_5xx_and_account_for_every_row(
    big_client, token, headers, new_school, frame, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    problems = []
    seen = 0
    for case, filename, body, rows in hostile_files(
        frame([("H1", 3), ("H2", 0), ("H3", 2), ("H4", 1)])
    ):
        seen += 1
        school = new_school()
        counsellor = headers(token("counsellor", school))
        answer = post(big_client, counsellor, body, filename=filename)
        code = answer.status_code
        if code >= 500 or (rows is None and code != 422) or code not in (201, 422):
            problems.append(f"{case}: {code} {answer.text[:200]}")
        elif code == 201:
            summary = answer.json()
            if summary["accepted"] + summary["rejected"] != summary["rows"]:
                problems.append(f"{case}: rows not accounted for: {summary}")
            if rows != "any" and summary["rows"] != rows:
                problems.append(f"{case}: {summary['rows']} rows, expected {rows}")
        elif rows not in (None, "any"):
            problems.append(f"{case}: usable file refused: {answer.text[:200]}")
        elif not answer.json()["detail"][0]["msg"]:
            problems.append(f"{case}: 422 without a message")
    assert seen == 18
    assert problems == []
    assert list(tmp_path.iterdir()) == []  # nothing written where the client pointed


def test_ten_megabyte_name_is_shortened(big_client, token, headers, school, frame):
    client = big_client
    counsellor = headers(token("counsellor", school))
    data = frame([("T1", 3)]).with_columns(pl.lit("x" * (10 << 20)).alias("name"))
    body = post(client, counsellor, data.write_csv().encode()).json()
    assert (body["accepted"], body["rejected"], body["cases_opened"]) == (1, 0, 1)
    assert body["warnings"][0].startswith("name longer than 100 characters")


def test_bad_battery_and_window_are_422(client, token, headers, school, frame):
    counsellor = headers(token("counsellor", school))
    csv = frame([("W1", 0)]).write_csv().encode()
    assert post(client, counsellor, csv, battery="../../etc/passwd").status_code == 422
    assert post(client, counsellor, csv, battery="nonexistent").status_code == 422
    assert post(client, counsellor, csv, window="2026 autumn; DROP").status_code == 422


# ------------------------------------------------------------------------- size limit


def _asgi_post(app, headers: list[tuple[bytes, bytes]], chunks: list[bytes]):
    """Call the app with a body fed in chunks; returns (status, chunks consumed)."""
    consumed = 0
    status = None

    async def receive():
        nonlocal consumed
        if consumed < len(chunks):
            consumed += 1
            return {
                "type": "http.request",
                "body": chunks[consumed - 1],
                "more_body": consumed < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/uploads",
        "raw_path": b"/api/v1/uploads",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    return status, consumed


def test_413_before_the_body_is_read(app, token, school):
    bearer = token("counsellor", school).encode()
    limit = app.state.settings.max_upload_bytes
    chunk = b"x" * (1 << 20)
    n = limit // len(chunk) + 5
    common = [
        (b"authorization", b"Bearer " + bearer),
        (b"content-type", b"multipart/form-data; boundary=b"),
    ]
    declared = [*common, (b"content-length", str(n * len(chunk)).encode())]
    status, consumed = _asgi_post(app, declared, [chunk] * n)
    assert (status, consumed) == (413, 0)
    # Without a Content-Length the body is counted and refused once it passes the limit.
    part = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n"
    )
    status, consumed = _asgi_post(app, common, [part] + [chunk] * n)
    assert status == 413 and consumed <= limit // len(chunk) + 2 < n + 1


def test_413_through_the_client(client, token, headers, school):
    counsellor = headers(token("counsellor", school))
    answer = post(client, counsellor, b"x" * (3 << 20))
    assert answer.status_code == 413


# ------------------------------------------------------------------------- atomicity


def test_killed_process_leaves_all_of_an_upload_or_none(db, new_school, sessions):
    """A worker stores uploads in a loop; it is killed inside a transaction."""
    school = new_school()
    rows = 1500
    worker = Path(__file__).with_name("upload_worker.py")
    process = subprocess.Popen(
        [sys.executable, str(worker), db.url, school, str(rows)],
        stdout=subprocess.PIPE,
        text=True,
    )
    began: dict[int, float] = {}
    durations = []
    try:
        for line in process.stdout:
            word, number = line.split()
            i = int(number)
            if word == "begin":
                began[i] = time.perf_counter()
                if i == 3:
                    # Kill somewhere inside the third transaction.
                    average = sum(durations) / len(durations)
                    time.sleep(random.Random(i).uniform(0.2, 0.8) * average)
                    process.kill()
                    break
            else:
                durations.append(time.perf_counter() - began[i])
    finally:
        process.kill()
        process.wait()
    lines = process.stdout.read()
    assert "commit 3" not in lines
    with sessions() as session:
        per_window = dict(
            session.execute(
                select(Result.window, func.count())
                .where(Result.school_id == school)
                .group_by(Result.window)
            ).all()
        )
        uploads = dict(
            session.execute(
                select(Upload.window, Upload.accepted).where(Upload.school_id == school)
            ).all()
        )
    assert {w: per_window[w] for w in ("w1", "w2")} == dict.fromkeys(("w1", "w2"), rows)
    assert per_window.get("w3", 0) in (0, rows)
    assert ("w3" in uploads) == (per_window.get("w3", 0) == rows)


def test_options_numbered_from_1_are_warned_about(client, token, headers, school, frame):
    counsellor = headers(token("counsellor", school))
    students = [(f"N{i:02d}", 0) for i in range(12)]
    numbered = frame(students).with_columns(pl.col(r"^(phq9|gad7)_\d$") + 1)  # all 1s, no 0
    body = post(client, counsellor, numbered.write_csv().encode()).json()
    assert [w.split(":")[0] for w in body["warnings"]] == ["phq9", "gad7"]
    assert body["warnings"][0].startswith("phq9: none of the 12 students")
    stored = client.get(f"/api/v1/uploads/{body['upload_id']}", headers=counsellor).json()
    assert stored["warnings"] == body["warnings"]
    assert stored["numbered_from"] is None
    codes = post(client, counsellor, frame(students).write_csv().encode(), window="2027-spring")
    assert codes.json()["warnings"] == []
    read_right = post(client, counsellor, numbered.write_csv().encode(), numbered_from="1")
    body = read_right.json()
    assert read_right.status_code == 201 and not body["duplicate"]
    assert body["warnings"] == [] and body["numbered_from"] == 1
    assert body["by_tier"] == codes.json()["by_tier"]
    refused = post(client, counsellor, numbered.write_csv().encode(), numbered_from="-1")
    assert refused.status_code == 422
