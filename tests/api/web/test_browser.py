"""The pages in a real browser (Debian's Chromium through Playwright), as people use them.

A counsellor signs in, uploads the school's file, finds the urgent case first, claims it,
adds a note and closes it; a teacher's referral reaches the counsellor's queue; a
counsellor of another school gets "not found" for that case; the English switch changes
the labels. Screenshots of every page go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import csv
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from screening.api.db import make_engine, make_sessionmaker, migrate, session_scope
from screening.api.main import create_app, warm_kernels
from screening.api.security import create_user
from screening.api.web.auth import set_password
from screening.config import Settings
from screening.i18n import t

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "web"
PHQ9 = {
    0: [0, 1, 0, 0, 1, 0, 0, 0, 0],
    1: [2, 2, 2, 2, 1, 1, 0, 0, 0],
    2: [2, 2, 2, 2, 2, 2, 2, 1, 0],
    3: [0, 1, 0, 1, 0, 0, 0, 0, 1],
}
STUDENTS = [  # student id, name, grade, sex, tier
    ("S0101", "李明", "7", "男", 2),
    ("S0102", "张小红", "8", "女", 3),
    ("S0103", "王芳", "7", "女", 0),
    ("S0104", "赵强", "8", "男", 1),
] + [
    (f"S02{i:02d}", f"陈同学{i}", "7" if i % 2 else "8", "女" if i % 3 else "男", 0)
    for i in range(24)
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[dict]:
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is missing: apt-get install chromium")
    import uvicorn

    folder = tmp_path_factory.mktemp("browser")
    engine = make_engine(f"sqlite:///{folder / 'web.db'}")
    migrate(engine)
    settings = Settings(
        environment="test",
        secret_key="browser-test-secret-" + "s" * 32,
        pseudonym_key="browser-test-key-" + "k" * 32,
        escalation_interval_s=0,
    )
    app = create_app(settings, engine=engine)
    sessions = make_sessionmaker(engine)
    now = app.state.clock()
    with session_scope(sessions) as session:
        _, counsellor = create_user(session, "王老师", "counsellor", "SCH1", now)
        _, other = create_user(session, "周老师", "counsellor", "SCH2", now)
        create_user(session, "李老师", "teacher", "SCH1", now)
        _, admin = create_user(session, "区教研员", "district_admin", None, now)
        set_password(session, "李老师", "teacher-password-1", now)
    responses, other_responses = folder / "responses.csv", folder / "other.csv"
    for path, school in ((responses, "SCH1"), (other_responses, "SCH2")):
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            header = ["student_id", "姓名", "school_id", "grade", "class_id", "sex"]
            writer.writerow(
                header + [f"phq9_{k}" for k in range(1, 10)] + [f"gad7_{k}" for k in range(1, 8)]
            )
            for sid, name, grade, sex, tier in STUDENTS:
                answers = [*PHQ9[tier], *[0, 1, 0, 0, 0, 0, 0]]
                writer.writerow([sid, name, school, grade, f"{grade}-2", sex, *answers])
    warm_kernels()  # the service's start-up does it in a thread; here before any click
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    # the other school's data, so that the district dashboard never depends on which
    # tests ran before it in this process (pytest -n spreads them over processes)
    import httpx

    seeded = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/uploads",
        headers={"Authorization": f"Bearer {other}"},
        files={"file": ("other.csv", other_responses.read_bytes(), "text/csv")},
        data={"window": "2026-autumn"},
        timeout=60,
    )
    assert seeded.status_code == 201, seeded.text
    yield {
        "url": f"http://127.0.0.1:{port}",
        "counsellor": counsellor,
        "other": other,
        "admin": admin,
        "responses": responses,
    }
    uv.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="module")
def chromium_browser(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def _page(chromium_browser, server):
    context = chromium_browser.new_context(
        base_url=server["url"], viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sign_in_with_token(page, token: str) -> None:
    page.goto("/sign-in")
    form = page.locator("form", has=page.get_by_label(t("web.token"), exact=True))
    page.get_by_label(t("web.token"), exact=True).fill(token)
    form.get_by_role("button", name=t("web.sign_in")).click()
    page.wait_for_url(lambda url: "/sign-in" not in url)  # the page signing in leads to


def test_counsellor_day(chromium_browser, server):
    from playwright.sync_api import expect  # waits for the page a click loads

    page = _page(chromium_browser, server)
    page.goto("/queue")
    assert "/sign-in" in page.url  # not signed in: sent to the sign-in page
    _shot(page, "01-sign-in")
    # the skip link is the first stop of the keyboard
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == t("web.skip")
    _sign_in_with_token(page, server["counsellor"])
    expect(page).to_have_url(re.compile(r"/queue$"))
    expect(page.get_by_text(t("web.queue_page.empty"))).to_be_visible()

    page.get_by_role("link", name=t("web.upload")).click()
    _shot(page, "02-upload-form")
    page.get_by_label(t("web.upload_page.file")).set_input_files(str(server["responses"]))
    page.get_by_label(t("web.upload_page.window")).fill("2026-autumn")
    page.get_by_role("button", name=t("web.upload_page.submit")).click()
    expect(page.locator("#cases-opened")).to_have_text("2")
    _shot(page, "03-upload-result")

    page.get_by_role("link", name=t("web.upload_page.go_queue")).click()
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(2)
    first = rows.nth(0)
    assert "urgent" in first.get_attribute("class")
    assert first.locator("td.student").inner_text() == "张*"  # masked until opened
    assert "张小红" not in page.content()
    _shot(page, "04-queue")

    first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("张小红$"))
    _shot(page, "05-case")
    claim = page.get_by_role("button", name=t("web.case.claim"))
    claim.focus()
    page.keyboard.press("Enter")  # keyboard works
    page.wait_for_url("**done=claim")
    expect(page.locator("#claimed-by")).to_have_text("王老师")

    page.get_by_label(t("web.case.note_label")).fill("与学生面谈，学生情绪稳定，已联系家长。")
    page.get_by_role("button", name=t("web.case.add_note")).click()
    page.wait_for_url("**done=note")
    expect(page.locator("#timeline").get_by_text("已联系家长")).to_be_visible()

    page.get_by_label(t("web.case.disposition")).select_option("counselled_resolved")
    page.get_by_label(t("web.case.close_note")).fill("面谈后缓解，下学期复查。")
    page.get_by_role("button", name=t("web.case.do_close"), exact=True).click()
    page.wait_for_url("**done=close")
    expect(page.locator("#case-status")).to_have_text(t("web.case.status_closed"))
    _shot(page, "06-case-closed")
    page.goto("/queue")
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    page.context.close()


def test_teacher_referral_reaches_the_queue_and_other_school_sees_nothing(chromium_browser, server):
    from playwright.sync_api import expect  # waits for the page a click loads

    teacher = _page(chromium_browser, server)
    teacher.goto("/sign-in")
    teacher.get_by_label(t("web.account"), exact=True).fill("李老师")
    teacher.get_by_label(t("web.password"), exact=True).fill("teacher-password-1")
    teacher.locator("form", has=teacher.get_by_label(t("web.password"), exact=True)).get_by_role(
        "button", name=t("web.sign_in")
    ).click()
    teacher.wait_for_url("**/refer")
    _shot(teacher, "07-refer-form")
    teacher.get_by_label(t("web.refer_page.student_id")).fill("S0999")
    teacher.get_by_label(t("web.refer_page.name") + " " + t("web.optional")).fill("孙悟空")
    teacher.get_by_label(t("web.category.withdrawn_or_depressed")).check()
    teacher.get_by_label(t("web.refer_page.note")).fill("最近两周上课沉默，午饭一个人吃。")
    teacher.get_by_role("button", name=t("web.refer_page.submit")).click()
    expect(teacher.locator("#referral-received")).to_be_visible()
    assert "phq9" not in teacher.content()
    _shot(teacher, "08-refer-done")
    teacher.context.close()

    counsellor = _page(chromium_browser, server)
    _sign_in_with_token(counsellor, server["counsellor"])
    row = counsellor.locator("table.queue tbody tr", has_text="孙*")
    expect(row).to_have_count(1)
    assert t("web.source.referral") in row.inner_text()
    case_url = row.get_by_role("link").get_attribute("href")
    counsellor.goto(case_url)
    expect(counsellor.get_by_text("最近两周上课沉默")).to_be_visible()
    counsellor.context.close()

    other = _page(chromium_browser, server)
    _sign_in_with_token(other, server["other"])
    response = other.goto(case_url)
    assert response.status == 404
    expect(other.get_by_role("heading", name=t("web.not_found_title"))).to_be_visible()
    assert "孙悟空" not in other.content() and "S0999" not in other.content()
    _shot(other, "09-other-school-not-found")
    other.context.close()


def test_english_switch_and_dashboard(chromium_browser, server):
    from playwright.sync_api import expect  # waits for the page the click loads

    page = _page(chromium_browser, server)
    _sign_in_with_token(page, server["counsellor"])
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(t("web.queue_page.title", "zh-CN"))
    page.get_by_role("link", name="English").click()
    expect(heading).to_have_text("Case queue")
    expect(page).to_have_url(re.compile(r"/queue$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="Upload screening data")).to_be_visible()
    _shot(page, "10-queue-en")
    page.get_by_role("link", name="中文").click()
    expect(heading).to_have_text(t("web.queue_page.title", "zh-CN"))
    page.context.close()

    admin = _page(chromium_browser, server)
    _sign_in_with_token(admin, server["admin"])
    expect(admin).to_have_url(re.compile(r"/dashboard$"))
    expect(admin.get_by_role("heading", name=t("report.by_school"))).to_be_visible()
    expect(admin.locator("svg.chart").nth(4)).to_be_attached()  # five charts at least
    _shot(admin, "11-dashboard")
    admin.context.close()
