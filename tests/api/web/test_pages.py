"""The web pages through HTTP: sign-in, CSRF, roles, schools, uploads, referrals, dashboard."""

from __future__ import annotations

import html
import re

import polars as pl
from sqlalchemy import func, select

from screening.api.db import session_scope
from screening.api.models import AuditEvent
from screening.api.web.routes import SESSION_COOKIE
from screening.i18n import t

CASE_ROW = re.compile(r'<tr class="([^"]*)" data-case="(\d+)">')


def _case_ids(html: str) -> list[int]:
    return [int(m.group(2)) for m in CASE_ROW.finditer(html)]


def test_pages_need_a_session(browser_client):
    client = browser_client()
    for path in ("/queue", "/cases/1", "/upload", "/refer", "/dashboard"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/sign-in?next=")
    assert client.get("/", follow_redirects=False).headers["location"] == "/sign-in"


def test_sign_in_form_is_chinese_and_protected(browser_client, account, helpers):
    client = browser_client()
    page = client.get("/sign-in")
    assert '<html lang="zh-CN">' in page.text and t("web.sign_in_title") in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    _, token = account("counsellor", "S-web-1")
    # a forged sign-in (no login cookie, or another token) is refused
    fresh = browser_client()
    refused = fresh.post("/sign-in", data={"csrf": "forged", "token": token})
    assert refused.status_code == 403 and t("web.form_expired") in refused.text
    wrong = client.post("/sign-in", data={"csrf": helpers.csrf(page.text), "token": "scr_nope"})
    assert wrong.status_code == 401 and t("web.sign_in_failed") in wrong.text
    assert SESSION_COOKIE not in client.cookies


def test_session_cookie_is_http_only_and_sign_out_ends_it(browser_client, account, helpers):
    _, token = account("counsellor", "S-web-2")
    client = browser_client()
    form = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={"csrf": helpers.csrf(form.text), "token": token, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/queue"  # never another site
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(SESSION_COOKIE) and "HttpOnly" in cookie and "SameSite=lax" in cookie
    value = client.cookies[SESSION_COOKIE]
    csrf = helpers.csrf(client.get("/queue").text)
    # sign-out needs the CSRF token too
    assert client.post("/sign-out", data={"csrf": "wrong"}).status_code == 403
    out = client.post("/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    replay = browser_client()
    replay.cookies.set(SESSION_COOKIE, value)
    assert replay.get("/queue", follow_redirects=False).status_code == 303  # ended on the server


def test_password_sign_in(browser_client, account, helpers, web_sessions, clock):
    from screening.api.web.auth import set_password

    name, _ = account("teacher", "S-web-3")
    with session_scope(web_sessions) as session:
        set_password(session, name, "teacher password 1", clock())
    client = browser_client()
    form = client.get("/sign-in")
    landed = client.post(
        "/sign-in",
        data={"csrf": helpers.csrf(form.text), "name": name, "password": "teacher password 1"},
    )
    assert landed.status_code == 200
    assert str(landed.url).endswith("/refer")  # a teacher's first page


def test_forms_without_the_csrf_token_change_nothing(counsellor_client, helpers, frame):
    client, csrf, school = counsellor_client
    helpers.upload(client, csrf, frame([("R1", 3)], school_id=school))
    (case_id,) = _case_ids(client.get("/queue").text)
    refused = client.post(f"/cases/{case_id}/claim", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert t("web.queue_page.unclaimed") in client.get(f"/cases/{case_id}").text
    no_token = client.post(f"/cases/{case_id}/claim")
    assert no_token.status_code == 403


def test_queue_masks_names_and_puts_urgent_first(counsellor_client, helpers, frame):
    client, csrf, school = counsellor_client
    # ids that cannot occur by chance in a random CSRF token or a timestamp
    students = [("学号Q1", 2), ("学号Q2", 0), ("学号Q3", 3), ("学号Q4", 1)]
    names = {"学号Q1": "李小龙", "学号Q2": "王五", "学号Q3": "张三丰", "学号Q4": "赵六"}
    result = helpers.upload(client, csrf, frame(students, school_id=school, names=names))
    assert result.status_code == 201
    assert re.search(r'id="cases-opened">2<', result.text)
    queue = client.get("/queue").text
    rows = CASE_ROW.findall(queue)
    assert len(rows) == 2
    assert "urgent" in rows[0][0] and "urgent" not in rows[1][0]
    assert re.findall(r'class="student">([^<]*)<', queue) == ["张*", "李*"]
    for name in names.values():
        assert name not in queue
    assert "学号Q3" not in queue and "学号Q1" not in queue  # ids only on the case page
    case = client.get(f"/cases/{rows[0][1]}").text
    assert "张三丰" in case and "学号Q3" in case


def test_another_schools_case_is_not_found(
    browser_client, account, helpers, frame, new_school, web_sessions
):
    school_a, school_b = new_school(), new_school()
    _, token_a = account("counsellor", school_a)
    _, token_b = account("counsellor", school_b)
    a, b = browser_client(), browser_client()
    csrf_a = helpers.sign_in(a, token_a)
    csrf_b = helpers.sign_in(b, token_b)
    helpers.upload(a, csrf_a, frame([("学号X1", 3)], school_id=school_a))
    (case_id,) = _case_ids(a.get("/queue").text)
    page = b.get(f"/cases/{case_id}")
    assert page.status_code == 404 and t("web.not_found_title") in page.text
    assert "学号X1" not in page.text
    missing = b.get("/cases/999999")
    assert missing.status_code == 404 and missing.text.count(t("web.not_found")) == 1
    for action in ("claim", "note", "close"):
        changed = b.post(f"/cases/{case_id}/{action}", data={"csrf": csrf_b, "text": "x"})
        assert changed.status_code == 404
    assert t("web.queue_page.unclaimed") in a.get(f"/cases/{case_id}").text
    with session_scope(web_sessions) as session:  # each refusal left a row in b's school
        refused = session.execute(
            select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id)
            .where(AuditEvent.school_id == school_b, AuditEvent.action == "denied.404")
            .order_by(AuditEvent.id)
        ).all()
    ids = [str(case_id), "999999", *[str(case_id)] * 3]
    assert refused == [("denied.404", "case", i) for i in ids]


def test_teacher_refers_and_sees_no_scores(browser_client, account, helpers, frame, school):
    _, counsellor = account("counsellor", school)
    _, teacher = account("teacher", school)
    c, tc = browser_client(), browser_client()
    csrf_c = helpers.sign_in(c, counsellor)
    helpers.upload(c, csrf_c, frame([("T1", 2)], school_id=school))
    csrf_t = helpers.sign_in(tc, teacher)
    assert tc.get("/queue").status_code == 403
    assert tc.get("/dashboard").status_code == 403
    assert tc.get("/upload").status_code == 403
    form = tc.get("/refer").text
    for category in ("self_harm", "suicidal_tendency", "aggression", "other"):
        assert t(f"web.category.{category}") in form
    bad = tc.post("/refer", data={"csrf": csrf_t, "student_id": "T1", "category": "self_harm"})
    assert bad.status_code == 422 and t("web.refer_page.note") in bad.text
    done = tc.post(
        "/refer",
        data={"csrf": csrf_t, "student_id": "T1", "category": "self_harm", "note": "说想伤害自己"},
    )
    assert done.status_code == 201 and t("web.refer_page.received") in done.text
    assert "/cases/" not in done.text  # teachers learn nothing about the case
    for text in (done.text, bad.text, form):
        assert "phq9" not in text and t("tier.orange") not in text
    queue = c.get("/queue").text
    (row,) = CASE_ROW.findall(queue)
    assert "urgent" in row[0]  # a self-harm referral raises the case to urgent
    case = c.get(f"/cases/{row[1]}").text
    assert t("web.event.referral") in case and "说想伤害自己" in case


def test_upload_report_names_rows_in_the_users_language(counsellor_client, helpers, frame):
    client, csrf, school = counsellor_client
    good = frame([("U1", 0), ("U2", 1)], school_id=school)
    other = frame([("U3", 0)], school_id="ELSEWHERE")
    bad_answer = frame([("U4", 0)], school_id=school).with_columns(pl.lit(7).alias("phq9_3"))
    data = pl.concat([good, other, bad_answer], how="vertical_relaxed")
    page = helpers.upload(client, csrf, data)
    assert page.status_code == 201
    text = html.unescape(page.text)
    assert "学校编号 'ELSEWHERE' 不是本次上传的学校" in text
    assert "第 phq9_3 列（量表 phq9）的答案必须是 0 到 3 之间的整数" in text
    assert re.search(r"<td>3</td><td class=\"text\">学校编号", text)  # row 3 named
    again = helpers.upload(client, csrf, data)
    assert again.status_code == 200 and t("web.upload_page.duplicate") in again.text
    unusable = client.post(
        "/upload",
        data={"csrf": csrf, "window": "2026-autumn", "battery": "default"},
        files={"file": ("notes.pdf", b"%PDF", "application/pdf")},
    )
    assert unusable.status_code == 422
    assert "不支持的文件类型 '.pdf'" in html.unescape(unusable.text)
    bad_window = helpers.upload(client, csrf, good, window="秋季")
    assert bad_window.status_code == 422 and t("web.err.bad_window") in bad_window.text


def test_upload_report_shows_warnings_in_the_users_language(counsellor_client, helpers, frame):
    client, csrf, school = counsellor_client
    students = [(f"W{i:02d}", 0) for i in range(12)]
    numbered = frame(students, school_id=school).with_columns(pl.col(r"^(phq9|gad7)_\d$") + 1)
    page = helpers.upload(client, csrf, numbered)
    assert page.status_code == 201
    text = html.unescape(page.text)
    assert "phq9：作答的 12 名学生在所有题目上都没有选择最低分值（0）" in text
    assert "从 1 开始编号" in text and text.count('class="warning" role="alert"') == 2
    form = html.unescape(client.get("/upload").text)
    assert "选项序号，从 1 开始（PHQ-9：1–4）" in form
    read_right = helpers.upload(client, csrf, numbered, numbered_from="1")
    assert read_right.status_code == 201  # another reading of the same file: not a duplicate
    assert 'class="warning"' not in read_right.text


def test_case_work_and_rules_in_the_page(counsellor_client, helpers, frame):
    client, csrf, school = counsellor_client
    helpers.upload(client, csrf, frame([("W1", 3)], school_id=school))
    (case_id,) = _case_ids(client.get("/queue").text)
    early = client.post(f"/cases/{case_id}/note", data={"csrf": csrf, "text": "x"})
    assert early.status_code == 409 and t("web.err.claim_first") in early.text
    assert client.post(f"/cases/{case_id}/claim", data={"csrf": csrf}).status_code == 200
    empty = client.post(f"/cases/{case_id}/note", data={"csrf": csrf, "text": "  "})
    assert empty.status_code == 422 and t("web.case.note_label") in empty.text
    noted = client.post(f"/cases/{case_id}/note", data={"csrf": csrf, "text": "第一次面谈"})
    assert t("web.case.done_note") in noted.text and "第一次面谈" in noted.text
    followed = client.post(f"/cases/{case_id}/follow-up", data={"csrf": csrf, "on": "2026-09-08"})
    assert "2026-09-08" in followed.text
    urgent = client.post(f"/cases/{case_id}/close", data={"csrf": csrf, "disposition": "other"})
    assert urgent.status_code == 409 and t("web.err.urgent_close") in urgent.text
    referred = client.post(
        f"/cases/{case_id}/refer",
        data={"csrf": csrf, "target": "市精神卫生中心", "on": "2026-09-02"},
    )
    assert "市精神卫生中心" in referred.text
    closed = client.post(
        f"/cases/{case_id}/close", data={"csrf": csrf, "disposition": "hospital_referral"}
    )
    assert t("web.case.done_close") in closed.text
    assert re.search(r'id="case-status">' + t("web.case.status_closed"), closed.text)
    assert _case_ids(client.get("/queue").text) == []


def test_case_forms_date_today_on_chinas_calendar(
    browser_client, account, helpers, frame, clock, school
):
    """At 07:30 in Beijing (23:30 UTC the day before) the referral date defaulted to
    yesterday and the follow-up date could be set to yesterday: the page took the UTC date."""
    clock.now = clock.now.replace(hour=23, minute=30)  # 2026-09-02 07:30 in Beijing
    _, token = account("counsellor", school)
    client = browser_client()
    csrf = helpers.sign_in(client, token)
    helpers.upload(client, csrf, frame([("TZW1", 3)], school_id=school))
    (case_id,) = _case_ids(client.get("/queue").text)
    page = client.post(f"/cases/{case_id}/claim", data={"csrf": csrf}).text
    assert 'name="on" type="date" required min="2026-09-02"' in page
    assert 'name="on" type="date" required value="2026-09-02"' in page


def test_english_switch(counsellor_client):
    client, _, _ = counsellor_client
    zh = client.get("/queue").text
    assert t("web.queue_page.title") in zh
    en = client.get("/lang/en?next=/queue")
    assert str(en.url).endswith("/queue")
    assert '<html lang="en">' in en.text and "Case queue" in en.text
    assert t("web.queue_page.title") not in en.text
    away = client.get("/lang/zh-CN?next=//evil.example/x", follow_redirects=False)
    assert away.headers["location"] == "/"


def test_dashboard_suppresses_small_cells_and_audits(
    browser_client, account, helpers, frame, new_school, web_sessions
):
    school = new_school()
    _, counsellor = account("counsellor", school)
    client = browser_client()
    csrf = helpers.sign_in(client, counsellor)
    students = [(f"D{i}", 0) for i in range(30)] + [(f"E{i}", 3) for i in range(4)]
    students += [(f"F{i}", 1) for i in range(12)]
    helpers.upload(client, csrf, frame(students, school_id=school), window="dash-1")
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert t("web.dash.school_title") in page.text and school in page.text
    # 4 red students are under 10: hidden, and the 12 yellow too (else 46 - 30 - 12 = 4)
    assert t("report.hidden_cell_title") in page.text
    cells = re.findall(r"<td>(\d[\d,]*)<span class=\"pct\">", page.text)
    assert cells and all(
        int(c.replace(",", "")) in (0,) or int(c.replace(",", "")) >= 10 for c in cells
    )
    assert "30<span" in page.text  # the 30 green students are shown
    assert "12<span" not in page.text and "4<span" not in page.text
    assert "<script" not in page.text.split("</head>")[1]
    with session_scope(web_sessions) as session:
        reads = session.scalar(
            select(func.count()).where(
                AuditEvent.action == "dashboard.school", AuditEvent.school_id == school
            )
        )
    assert reads == 1


def test_district_dashboard(browser_client, account, helpers, frame, new_school):
    school = new_school()
    _, counsellor = account("counsellor", school)
    _, admin = account("district_admin")
    c = browser_client()
    helpers.upload(
        c,
        helpers.sign_in(c, counsellor),
        frame([(f"Z{i}", i % 2) for i in range(24)], school_id=school),
        window="dist-1",
    )
    d = browser_client()
    helpers.sign_in(d, admin)
    page = d.get("/dashboard?window=dist-1")
    assert page.status_code == 200 and t("web.dash.title") in page.text
    assert t("report.by_school") in page.text and school in page.text
    assert t("web.dash.trends") in page.text and page.text.count("<svg") >= 5


def test_upload_errors_of_common_files_are_in_chinese(counsellor_client, frame):
    """A school's own export with Chinese headers (学号 for student_id), a file with a
    repeated column or an .xlsx that is not a workbook: the zh-CN page must say what is
    wrong in Chinese, not in the service's English (issue 5: a validation report in the
    user's language; a counsellor works in Chinese with no help)."""
    client, csrf, school = counsellor_client
    good = frame([("C1", 0), ("C2", 1)], school_id=school)
    files = {
        "no_id.csv": good.rename({"student_id": "学号"}).write_csv().encode(),
        "repeated.csv": b"student_id,student_id\nA,B\n",
        "broken.xlsx": b"PK\x03\x04 not a workbook",
    }
    english = re.compile(r"[A-Za-z]{3,}(?: [A-Za-z]{2,}){2,}")
    for name, content in files.items():
        page = client.post(
            "/upload",
            data={"csrf": csrf, "window": "2026-autumn", "battery": "default"},
            files={"file": (name, content, "text/csv")},
        )
        assert page.status_code == 422, name
        error = re.search(r'id="upload-error">(.*?)</div>', page.text, re.S)
        assert error, (name, page.text[:500])
        message = html.unescape(re.sub(r"<[^>]+>", "", error.group(1)))
        assert not english.search(message), f"{name}: {message}"


def test_upload_scores_and_stores_off_the_event_loop(
    counsellor_client, helpers, frame, monkeypatch
):
    """Scoring a school's file takes seconds: done on the event loop, it would stop every
    other page and API call of the worker (and /healthz) until it ends."""
    import asyncio

    from screening.api.services import uploads

    on_loop = []

    def watched(function):
        def call(*args, **kwargs):
            try:
                asyncio.get_running_loop()
                on_loop.append(function.__name__)
            except RuntimeError:  # no loop in this thread: a worker thread
                pass
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(uploads, "prepare_upload", watched(uploads.prepare_upload))
    monkeypatch.setattr(uploads, "store_upload", watched(uploads.store_upload))
    client, csrf, school = counsellor_client
    page = helpers.upload(client, csrf, frame([("E1", 3), ("E2", 0)], school_id=school))
    assert page.status_code == 201
    assert on_loop == []


def _xlsx(rows: list[list[object]]) -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_upload_errors_of_malformed_files_are_in_chinese(counsellor_client, frame):
    """Files a school really sends: a Word document or old workbook renamed .csv, a header
    with no rows, a value with a comma, a quote in the header or in a value, a title row
    above the header, headers that differ in letter case, a column without a header, an
    empty row, an empty sheet. The reader's English (its messages name lines, bytes and
    polars) reached the zh-CN upload page untranslated."""
    client, csrf, school = counsellor_client
    good = frame([("C1", 0), ("C2", 1)], school_id=school).write_csv()
    header, first, second = good.splitlines()
    quoted = first.replace("C1", 'C"1', 1)
    files = {
        "binary.csv": b"\xd0\xcf\x11\xe0\x00\x00" + b"0" * 64,
        "header_only.csv": f"{header}\n".encode(),
        "ragged.csv": f"{header}\n{first}\n{second},1,2\n".encode(),
        "header_quote.csv": f'"{header}\n{first}\n'.encode(),
        "header_cr.csv": b"student_id\r,phq9_1\nA,1\n",
        "value_quote.csv": f"{header}\n{quoted}\n".encode(),
        "title_row.csv": f"2026年心理筛查\n{header}\n{first}\n".encode(),
        "semicolons.csv": f"{header.replace(',', ';')}\n{first.replace(',', ';')}\n".encode(),
        "cased.csv": f"{header},PHQ9_1\n{first},1\n".encode(),
        "no_header.csv": f"{header},\n{first},x\n".encode(),
        "empty_row.csv": f"{header}\n{first}\n{',' * header.count(',')}\n{second}\n".encode(),
        "undecodable.csv": f"{header}\n".encode() + b"C1,\x81\xff\xfe\n",
        "header_only.xlsx": _xlsx([header.split(",")]),
        "empty.xlsx": _xlsx([]),
        "responses": good.encode(),
    }
    for name, message in _upload_errors(client, csrf, files, "text/csv"):
        assert "polars" not in message and "row_offset" not in message, f"{name}: {message}"


def test_a_form_sent_after_the_session_expired_leads_back_to_its_page(
    browser_client, account, helpers, frame, school, clock
):
    """A counsellor writes a note for an hour and the session ends meanwhile: signing in
    again took them to the form's address (POST only), a JSON 'Method Not Allowed'."""
    _, token = account("counsellor", school)
    client = browser_client()
    csrf = helpers.sign_in(client, token)
    helpers.upload(client, csrf, frame([("E1", 3)], school_id=school))
    (case_id,) = _case_ids(client.get("/queue").text)
    clock.advance(hours=11)
    forms = {
        f"/cases/{case_id}/note": f"/cases/{case_id}",
        f"/cases/{case_id}/claim": f"/cases/{case_id}",
        "/upload": "/upload",
        "/refer": "/refer",
    }
    for action, page in forms.items():
        sent = client.post(action, data={"csrf": csrf, "text": "x"}, follow_redirects=False)
        assert sent.status_code == 303, action
        assert sent.headers["location"] == f"/sign-in?next={page}&notice=unsent", action
    form = client.get(f"/sign-in?next=/cases/{case_id}")
    _, again = account("counsellor", school)
    landed = client.post(
        "/sign-in",
        data={"csrf": helpers.csrf(form.text), "token": again, "next": f"/cases/{case_id}"},
    )
    assert landed.status_code == 200 and str(landed.url).endswith(f"/cases/{case_id}")


def test_a_file_over_the_limit_is_refused_on_the_upload_page(counsellor_client, web_app):
    """The body limit answered the upload form with JSON in English ('Request body larger
    than 2097152 bytes.'), before the page could say that the file is too large."""
    client, csrf, _ = counsellor_client
    limit_mb = web_app.state.settings.max_upload_mb
    big = b"student_id\n" + b"S1\n" * int(limit_mb * 1024 * 1024 / 3 + 10)
    for locale in ("zh-CN", "en"):
        client.cookies.set("screening_lang", locale)
        page = client.post(
            "/upload",
            data={"csrf": csrf, "window": "2026-autumn", "battery": "default"},
            files={"file": ("big.csv", big, "text/csv")},
        )
        assert page.status_code == 413
        assert page.headers["content-type"].startswith("text/html")
        assert t("web.err.file_too_large", locale, mb=f"{limit_mb:g}") in html.unescape(page.text)
        assert "Request body" not in page.text
    client.cookies.set("screening_lang", "zh-CN")


def test_a_note_too_long_says_so_and_its_limit(counsellor_client, helpers, frame):
    """'Please check: Note' for a note over 5,000 characters (a browser counts a line
    break as one character and sends two) did not say what was wrong with it."""
    client, csrf, school = counsellor_client
    helpers.upload(client, csrf, frame([("L1", 3)], school_id=school))
    (case_id,) = _case_ids(client.get("/queue").text)
    client.post(f"/cases/{case_id}/claim", data={"csrf": csrf})
    for locale in ("zh-CN", "en"):
        client.cookies.set("screening_lang", locale)
        page = client.post(f"/cases/{case_id}/note", data={"csrf": csrf, "text": "记\r\n" * 2000})
        assert page.status_code == 422
        expected = t("web.field_too_long", locale, field=t("web.case.note_label", locale), max=5000)
        assert expected in html.unescape(page.text)
    client.cookies.set("screening_lang", "zh-CN")
    teacher = client.post(
        "/refer",
        data={"csrf": csrf, "student_id": "L" * 65, "category": "other", "note": "x"},
    )
    expected = t("web.field_too_long", field=t("web.refer_page.student_id"), max=64)
    assert teacher.status_code == 422 and expected in teacher.text


def test_a_wrong_address_is_a_page_not_json(counsellor_client):
    """A mistyped or cut-off link (/cases/12a, /queu) answered with FastAPI's JSON in
    English ({"detail":"Not Found"}, a validation error naming 'path', 'case_id'); the
    JSON API keeps its JSON answers."""
    client, _, _ = counsellor_client
    for locale in ("zh-CN", "en"):
        client.cookies.set("screening_lang", locale)
        for path in ("/queu", "/cases/12a", "/cases/12a/claim", "/queue?mine=maybe"):
            page = client.get(path)
            assert page.status_code == 404, path
            assert page.headers["content-type"].startswith("text/html"), path
            assert html.escape(t("web.not_found", locale), quote=False) in page.text, path
    client.cookies.set("screening_lang", "zh-CN")
    assert client.get("/api/v1/nothing").json() == {"detail": "Not Found"}
    assert client.get("/api/v1/cases/12a").status_code in (401, 422)


def _field(page: str, element_id: str) -> str:
    """What a form field of ``page`` holds: a textarea's text, an input's value or the
    selected option of a select ('' when none)."""
    textarea = re.search(rf'<textarea id="{element_id}"[^>]*>(.*?)</textarea>', page, re.S)
    if textarea:
        text = textarea.group(1)
        return html.unescape(text[1:] if text.startswith("\n") else text)  # as a browser reads it
    select = re.search(rf'<select id="{element_id}".*?</select>', page, re.S)
    if select:
        chosen = re.search(r'<option value="([^"]*)" selected>', select.group(0))
        return chosen.group(1) if chosen else ""
    tag = re.search(rf'<input id="{element_id}"[^>]*>', page)
    assert tag, f"no field {element_id}"
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


def test_a_refused_case_form_keeps_what_was_typed(counsellor_client, helpers, frame, clock):
    """A counsellor writes a long note; it is refused (too long, a date out of range, a
    stale page, a case closed meanwhile) and the page came back with every field empty:
    what they wrote was lost."""
    client, csrf, school = counsellor_client
    helpers.upload(client, csrf, frame([("K1", 3)], school_id=school))
    (case_id,) = _case_ids(client.get("/queue").text)
    client.post(f"/cases/{case_id}/claim", data={"csrf": csrf})
    long_note = "\n第一次面谈：学生说<最近>睡不好 & 不想上学。\n" * 400  # over 5,000
    page = client.post(f"/cases/{case_id}/note", data={"csrf": csrf, "text": long_note})
    assert page.status_code == 422 and _field(page.text, "note-text") == long_note
    sent = {"csrf": csrf, "on": "2031-01-01", "note": "下周三再约"}
    page = client.post(f"/cases/{case_id}/follow-up", data=sent)
    assert page.status_code == 409 and "2031-01-01" in page.text
    assert _field(page.text, "follow-on") == "2031-01-01"
    assert _field(page.text, "follow-note") == "下周三再约"
    assert _field(page.text, "note-text") == ""  # only the refused form is filled
    page = client.post(
        f"/cases/{case_id}/refer", data={"csrf": csrf, "on": "2026-09-03", "note": "家长同意"}
    )
    assert page.status_code == 422
    assert _field(page.text, "refer-on") == "2026-09-03"
    assert _field(page.text, "refer-note") == "家长同意"
    page = client.post(f"/cases/{case_id}/escalate", data={"csrf": csrf, "reason": "危" * 5001})
    assert page.status_code == 422 and _field(page.text, "escalate-reason") == "危" * 5001
    close = {"csrf": csrf, "disposition": "other", "note": "学生情况稳定。" * 800}
    page = client.post(f"/cases/{case_id}/close", data=close)
    assert page.status_code == 422
    assert _field(page.text, "close-disposition") == "other"
    assert _field(page.text, "close-note") == "学生情况稳定。" * 800
    # a stale page (its CSRF token of an earlier session): nothing done, the text kept
    page = client.post(f"/cases/{case_id}/note", data={"csrf": "stale", "text": "面谈记录"})
    assert page.status_code == 403 and t("web.form_stale_kept") in page.text
    assert _field(page.text, "note-text") == "面谈记录"
    assert helpers.csrf(page.text) == csrf and "面谈记录" not in page.text.split('id="timeline"')[1]
    # the case was closed meanwhile (in another tab): its forms are gone, the text is not
    client.post(
        f"/cases/{case_id}/refer", data={"csrf": csrf, "target": "市精卫中心", "on": "2026-09-02"}
    )
    client.post(f"/cases/{case_id}/close", data={"csrf": csrf, "disposition": "hospital_referral"})
    page = client.post(f"/cases/{case_id}/note", data={"csrf": csrf, "text": "晚写的记录"})
    assert page.status_code == 409 and t("web.err.case_closed") in page.text
    assert t("web.case.unsent") in page.text and _field(page.text, "unsent-text") == "晚写的记录"


def test_a_refused_referral_keeps_what_was_typed(browser_client, account, helpers, school):
    _, teacher = account("teacher", school)
    client = browser_client()
    csrf = helpers.sign_in(client, teacher)
    note = "  课上哭了两次，\n说“活着没意思”。\n"
    typed = {
        "student_id": "R" * 65,
        "name": "王小明",
        "category": "suicidal_tendency",
        "note": note,
    }
    for token, status in ((csrf, 422), ("stale", 403)):
        page = client.post("/refer", data={"csrf": token} | typed)
        assert page.status_code == status
        assert _field(page.text, "student_id") == "R" * 65
        assert _field(page.text, "name") == "王小明"
        assert _field(page.text, "note") == note
        assert 'value="suicidal_tendency" required checked' in page.text
        assert helpers.csrf(page.text) == csrf
    assert t("web.form_stale_kept") in page.text


def test_a_form_sent_after_the_session_ended_says_so_on_the_sign_in_page(
    browser_client, account, helpers, frame, school, clock
):
    """The sign-in page did not say why it was shown: a counsellor whose note was not sent
    did not know it."""
    _, token = account("counsellor", school)
    client = browser_client()
    csrf = helpers.sign_in(client, token)
    helpers.upload(client, csrf, frame([("E2", 3)], school_id=school))
    (case_id,) = _case_ids(client.get("/queue").text)
    clock.advance(hours=11)
    sent = client.post(f"/cases/{case_id}/note", data={"csrf": csrf, "text": "面谈记录甲"})
    assert sent.status_code == 200 and t("web.form_not_sent") in sent.text
    assert "面谈记录甲" not in sent.text and "面谈记录甲" not in str(sent.url)
    assert t("web.form_not_sent") not in client.get(f"/sign-in?next=/cases/{case_id}").text


def _workbook(sheets: list[tuple[str, list[list[object]], bool]]) -> bytes:
    """An .xlsx of (name, rows, hidden) sheets."""
    import io

    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows, hidden in sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if hidden:
            sheet.sheet_state = "hidden"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rezipped(workbook: bytes, change: dict[str, bytes], *, stored: bool = False) -> bytes:
    """``workbook`` with parts added or replaced (name: content)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(io.BytesIO(workbook)) as old, zipfile.ZipFile(buffer, "w", method) as new:
        for name in old.namelist():
            if name not in change:
                new.writestr(name, old.read(name))
        for name, content in change.items():
            new.writestr(name, content)
    return buffer.getvalue()


def _declared_sizes(archive: bytes, size: int) -> bytes:
    """``archive`` with every part declared ``size`` bytes long in its central directory."""
    import struct

    raw = bytearray(archive)
    at = raw.find(b"PK\x01\x02")
    while at != -1:
        struct.pack_into("<I", raw, at + 24, size)
        at = raw.find(b"PK\x01\x02", at + 4)
    return bytes(raw)


def test_upload_errors_of_workbooks_and_unparsable_csv_are_in_chinese(counsellor_client, frame):
    """A workbook of one sheet per class with different headers, a hidden sheet of rows, a
    workbook refused as a zip bomb, too large, of too many parts or with a DTD, and a CSV
    that polars cannot parse: the reader's English reached the zh-CN upload page."""
    import io
    import zipfile

    client, csrf, school = counsellor_client
    header = frame([("C1", 0)], school_id=school).columns
    row = list(frame([("C1", 0)], school_id=school).row(0))
    renamed = ["学校" if c == "school_id" else c for c in header]
    good = _workbook([("一班", [header, row], False)])
    with zipfile.ZipFile(io.BytesIO(good)) as book:
        workbook = book.read("xl/workbook.xml")
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        for index in range(10_001):
            archive.writestr(f"x/{index}", b"")
    huge = io.BytesIO()
    with zipfile.ZipFile(huge, "w") as archive:
        for index in range(2_100):
            archive.writestr(f"x/{index}", b"a")
    csv = ",".join(header) + "\n" + ",".join(map(str, row)) + '\nC2,"1\n'
    files = {
        "headers.xlsx": _workbook(
            [("一班", [header, row], False), ("二班", [renamed, row], False)]
        ),
        "hidden.xlsx": _workbook([("一班", [header, row], False), ("旧", [header, row], True)]),
        "only_hidden.xlsx": _workbook([("一班", [header], False), ("旧", [header, row], True)]),
        "no_rows.xlsx": _workbook([("一班", [header], False), ("二班", [], True)]),
        "bomb.xlsx": _rezipped(good, {"xl/media/big.bin": b"\0" * (5 << 20)}),
        "huge.xlsx": _declared_sizes(huge.getvalue(), 1 << 20),
        "parts.xlsx": many.getvalue(),
        "dtd.xlsx": _rezipped(
            good, {"xl/workbook.xml": b'<!DOCTYPE w [<!ENTITY a "b">]>' + workbook}
        ),
        "unparsable.csv": csv.encode(),
    }
    for name, message in _upload_errors(client, csrf, files, "application/octet-stream"):
        assert "refused" not in message and "Parquet" not in message, f"{name}: {message}"


ENGLISH = re.compile(r"[A-Za-z]{3,}(?: [A-Za-z]{2,}){2,}")


def _upload_errors(client, csrf: str, files: dict[str, bytes], media: str):
    """Upload each file on the zh-CN page: (name, the error shown) of each, every one a 422
    whose message holds no English sentence."""
    for name, content in files.items():
        page = client.post(
            "/upload",
            data={"csrf": csrf, "window": "2026-autumn", "battery": "default"},
            files={"file": (name, content, media)},
        )
        assert page.status_code == 422, name
        error = re.search(r'id="upload-error">(.*?)</div>', page.text, re.S)
        assert error, (name, page.text[:500])
        message = html.unescape(re.sub(r"<[^>]+>", "", error.group(1)))
        assert not ENGLISH.search(message), f"{name}: {message}"
        yield name, message


def test_case_page_shows_the_reasons_in_words_with_the_rule_beside(
    counsellor_client, helpers, frame
):
    client, csrf, school = counsellor_client
    helpers.upload(client, csrf, frame([("R1", 3)], school_id=school))
    (case_id,) = _case_ids(client.get("/queue").text)
    page = client.get(f"/cases/{case_id}").text
    assert "PHQ-9 第 9 题（自伤或轻生念头）≥ 1" in page
    assert '<code class="rule">phq9.item9 &gt;= 1</code>' in page
    client.get("/lang/en?next=/queue")
    english = client.get(f"/cases/{case_id}").text
    assert "PHQ-9 item 9 (Thoughts of self-harm or death) ≥ 1" in english
    assert '<code class="rule">phq9.item9 &gt;= 1</code>' in english


def test_queue_page_marks_due_follow_ups_and_filters_them(
    browser_client, account, helpers, frame, clock, school
):
    """A follow-up is due from 00:00 of its day in China (16:00 UTC the day before): the
    queue marks it in the reader's language, and ``?follow_up_due=true`` lists only those."""
    _, token = account("counsellor", school)
    client = browser_client()
    csrf = helpers.sign_in(client, token)
    helpers.upload(client, csrf, frame([("FU1", 2), ("FU2", 2)], school_id=school))
    first, second = _case_ids(client.get("/queue").text)
    assert client.post(f"/cases/{first}/claim", data={"csrf": csrf}).status_code == 200
    client.post(f"/cases/{first}/follow-up", data={"csrf": csrf, "on": "2026-09-02"})
    mark = re.compile(r'class="flag follow-up-due-flag">([^<]*)<')

    clock.now = clock.now.replace(hour=15, minute=59)  # 23:59 on 1 September in Beijing
    queue = client.get("/queue").text
    assert "2026-09-02" in queue and mark.findall(queue) == []
    assert 'href="/queue?follow_up_due=true"' in queue
    assert _case_ids(client.get("/queue?follow_up_due=true").text) == []

    clock.now = clock.now.replace(hour=16, minute=0)  # 00:00 on 2 September in Beijing
    queue = client.get("/queue").text
    assert _case_ids(queue) == [first, second]
    assert mark.findall(queue) == [t("web.queue_page.follow_up_due")] == ["回访到期"]
    marked = [int(case) for classes, case in CASE_ROW.findall(queue) if "follow-up-due" in classes]
    assert marked == [first]
    due = client.get("/queue?follow_up_due=true").text
    assert _case_ids(due) == [first]
    assert re.search(r'href="/queue\?follow_up_due=true" aria-current="page"', due)
    assert t("web.queue_page.count", n=1, overdue=0, due=1) in due
    client.get("/lang/en?next=/queue")
    english = client.get("/queue?follow_up_due=true").text
    assert mark.findall(english) == ["Follow-up due"]
    assert "1 open, 0 overdue, 1 with follow-up due" in english
    assert client.get("/queue?follow_up_due=maybe").status_code == 404


def test_guardian_contact_is_recorded_on_the_case_page_and_marked_in_the_queue(
    counsellor_client, helpers, frame
):
    """An urgent case shows "guardian not informed" in the queue until a contact that
    reached the guardian is recorded; an attempt that did not reach them keeps the mark."""
    client, csrf, school = counsellor_client
    helpers.upload(client, csrf, frame([("GC1", 3)], school_id=school))
    (case_id,) = _case_ids(client.get("/queue").text)
    flag = f'<span class="flag guardian-flag">{t("web.queue_page.guardian_not_informed")}<'
    assert flag in client.get("/queue").text
    page = client.post(f"/cases/{case_id}/claim", data={"csrf": csrf}).text
    assert 'id="guardian-on" name="on" type="date" required max="2026-09-01"' in page
    sent = {"csrf": csrf, "on": "2026-09-01", "method": "phone", "outcome": "not_reached"}
    page = client.post(f"/cases/{case_id}/guardian", data=sent).text
    assert t("web.case.done_guardian") in page
    assert t("web.guardian_outcome.not_reached") in page.split('id="timeline"')[1]
    assert flag in client.get("/queue").text
    refused = client.post(f"/cases/{case_id}/guardian", data={**sent, "on": "2026-09-05"})
    assert refused.status_code == 409 and _field(refused.text, "guardian-on") == "2026-09-05"
    sent = {
        **sent,
        "method": "in_person",
        "outcome": "advised_medical_care",
        "note": "母亲会带去就诊",
    }
    timeline = client.post(f"/cases/{case_id}/guardian", data=sent).text.split('id="timeline"')[1]
    for shown in (
        t("web.guardian_method.in_person"),
        t("web.guardian_outcome.advised_medical_care"),
        "母亲会带去就诊",
    ):
        assert shown in timeline
    assert flag not in client.get("/queue").text
