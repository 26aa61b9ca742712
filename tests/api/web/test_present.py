"""Presentation helpers and the translation of service messages."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from screening.api.schemas import CaseEventOut, ResultOut
from screening.api.web.messages import translate
from screening.api.web.present import (
    event_rows,
    local_time,
    mask_name,
    reason_text,
    score_rows,
)
from screening.i18n import translator
from screening.instruments.loader import (
    bundled_batteries,
    bundled_instruments,
    load_battery,
    load_instrument,
)
from screening.rules import parse_condition


def test_mask_name():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧*"
    assert mask_name("  Li Lei ") == "L*"
    assert mask_name("") == mask_name(None) == "—"


def test_local_time_is_beijing_time():
    assert local_time(dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)) == "2026-09-01 16:00"
    assert local_time(None) == ""


def test_service_messages_are_translated():
    cases = {
        "student_id is empty: every row needs the school's student id": "学号为空",
        "grade is longer than 16 characters": "grade 超过 16 个字符",
        "school_id 'S9' is not the school of this upload (S1): upload each school's rows under that school": "学校编号 'S9' 不是本次上传的学校（S1）",
        "the student_id appears more than once in the file; row 3 (the highest tier) was kept": "已保留第 3 行",
        "Item 'phq9_3' of instrument 'phq9' must be an integer in [0, 3]": "phq9_3 列（量表 phq9）的答案必须是 0 到 3",
        "An urgent case closes only after a hospital referral or with a note recording the disposition: add a note.": "紧急个案",
        "Claim the case first (POST /api/v1/cases/4/claim).": "请先认领",
        "a.csv: missing item columns 'phq9_2', 'gad7_1' and 3 more. The file has 'student_id', 'phq9_1'. Name the columns {instrument}_{item}": "缺少列 'phq9_2', 'gad7_1' 等另外 3 个。文件中的列为 'student_id', 'phq9_1'",
        'a.csv: the file is UTF-16 text. In Excel use "Save as"': "UTF-16 编码",
        "a.csv: the file is empty. Export the responses again.": "文件是空的",
        "asq: none of the 1,200 students answered any of its items, and it counts a missing answer as an answer, so every student": "asq：1,200 名学生都没有回答其中任何一题，而该量表把缺失的回答计为作答",
        "gad7: none of the 3 students answered any of its items, so nobody has its scores.": "因此没有人得到该量表的分数",
        "student_id: 6 ids of 16 or more digits look like numbers that Excel has rounded (e.g. '110101200801000000'): Excel": "有 6 个 16 位以上的学号像是被 Excel 舍入过的数字（如 '110101200801000000'）",
        "This file was stored before as upload 4, and later uploads of the same school and window (7, 9) have replaced": "此文件已保存过（上传编号 4）；之后同一学校、同一批次的上传（编号 7, 9）已替换",
        "The screening window must be 1-32 letters, digits, '.', '_' or '-' (e.g. 2026-autumn).": "筛查批次格式不正确",
    }
    for message, expected in cases.items():
        assert expected in translate(message, "zh-CN"), message
    assert (
        translate("The case has already been claimed.", "en")
        == "Someone else has claimed this case."
    )
    assert translate("Something new happened.", "zh-CN") == "Something new happened."


def test_score_rows_label_bands_in_the_locale():
    result = ResultOut(
        window="2026-autumn",
        battery="default",
        status="scored",
        tier=2,
        tier_label="orange",
        grade="7",
        sex="F",
        class_id=None,
        scores={
            "phq9.total": 16.0,
            "phq9.total.band": "moderately severe",
            "phq9.answered": 9,
            "phq9.critical": False,
            "gad7.total": 3.0,
            "gad7.total.band": "minimal",
        },
        reasons=["phq9.total >= 15"],
        screened_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
    )
    zh = score_rows(result, "zh-CN")
    assert [(r["value"], r["band"]) for r in zh] == [("16", "中重度"), ("3", "无或极轻")]
    assert "PHQ-9" in zh[0]["name"]
    en = score_rows(result, "en")
    assert en[0]["band"] == "moderately severe"


def test_event_rows_translate_kinds_and_values():
    events = [
        CaseEventOut(
            id=1,
            at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
            kind="opened",
            actor=None,
            detail={"category": "self_harm", "note": "哭", "referred_by_role": "teacher"},
        ),
        CaseEventOut(
            id=2,
            at=dt.datetime(2026, 9, 2, tzinfo=dt.UTC),
            kind="closed",
            actor="王老师",
            detail={"disposition": "hospital_referral", "note": None},
        ),
    ]
    rows = event_rows(events, "zh-CN")
    assert rows[0]["label"] == "开案" and rows[0]["actor"] == "系统"
    assert ("转介原因", "自伤行为或言语") in rows[0]["details"]
    assert ("转介人角色", "教师") in rows[0]["details"]
    assert rows[1]["details"] == [("结案方式", "已转介医院")]


@pytest.mark.parametrize(("locale", "label"), [("zh-CN", "待重测"), ("en", "Re-test")])
def test_a_rescreen_without_a_tier_shows_as_retest(locale, label):
    """A screening whose answers are incomplete or invalid has no tier: the student must be
    re-tested, never taken for green. The timeline left the tier out of the event (a value
    of None was skipped), so the counsellor read "rescreened" with no result at all."""
    _ = translator(locale)
    event = CaseEventOut(
        id=3,
        at=dt.datetime(2026, 9, 3, tzinfo=dt.UTC),
        kind="rescreened",
        actor=None,
        detail={"window": "2027-spring", "tier": None, "raised": False, "upload_id": 7},
    )
    (row,) = event_rows([event], locale)
    assert (_("web.detail.tier"), label) in row["details"]
    assert label == _("tier.retest")  # the label the rest of the service uses
    assert all(value not in ("None", "") for _key, value in row["details"])
    assert (_("web.detail.window"), "2027-spring") in row["details"]


def test_score_rows_leave_out_the_response_quality_flags():
    """Uploads store each instrument's straight_line flag beside its scores; the case page
    showed it as a score row ('phq9.straight_line False', with the critical-item warning)."""
    result = ResultOut(
        window="2026-autumn",
        battery="default",
        status="scored",
        tier=3,
        tier_label="red",
        grade="7",
        sex="F",
        class_id=None,
        scores={
            "phq9.total": 1.0,
            "phq9.total.band": "minimal",
            "phq9.answered": 9,
            "phq9.critical": True,
            "phq9.longstring": 8,
            "phq9.straight_line": False,
            "phq9.irv": 0.3,
        },
        reasons=["phq9.item9 >= 1"],
        screened_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
    )
    rows = score_rows(result, "zh-CN")
    assert [r["value"] for r in rows] == ["1"]
    assert all("straight_line" not in r["name"] for r in rows)


BUNDLED_RULES = sorted(
    {
        rule
        for battery in bundled_batteries()
        for tier in load_battery(battery).battery.tier
        for rule in (*tier.any, *tier.all)
    }
)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("rule", BUNDLED_RULES)
def test_every_bundled_rule_reads_as_words(rule, locale):
    """Each rule of the bundled batteries names its instrument, the item's label or the
    scale's name from the instrument file, and the comparison as a sign, not as code."""
    condition = parse_condition(rule)
    spec = load_instrument(condition.instrument)
    text = reason_text(rule, locale)
    assert rule not in text and f"{condition.instrument}." not in text
    assert re.search(r"[（(][A-Z][A-Z0-9-]*[)）]$", spec.name["zh-CN"]), spec.id
    assert spec.name["zh-CN"].rpartition("（")[2].rstrip("）") in text  # e.g. PHQ-9
    assert {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "=", "!=": "≠"}[condition.op] in text
    assert text.endswith(f" {condition.value:g}")
    scale = next((s for s in spec.scales if s.id == condition.member), None)
    if scale is not None:
        assert scale.name[locale] in text
    else:
        item = next(i for i in spec.items if f"item{i.id}" == condition.member)
        assert item.label[locale] in text


def test_reasons_in_words_in_both_languages():
    cases = {
        ("phq9.item9 >= 1", "zh-CN"): "PHQ-9 第 9 题（自伤或轻生念头）≥ 1",
        ("phq9.item9 >= 1", "en"): "PHQ-9 item 9 (Thoughts of self-harm or death) ≥ 1",
        ("phq9.total >= 15", "zh-CN"): "PHQ-9 抑郁总分 ≥ 15",
        ("gad7.total >= 10", "en"): "GAD-7 Total ≥ 10",
        ("asq.screen == 1", "zh-CN"): "ASQ 筛查结果 = 1",
        ("who5.percentage <= 28", "en"): "WHO-5 Percentage score ≤ 28",
        ("cesd.total != 2.5", "en"): "CES-D Total ≠ 2.5",
        ("invalid answer phq9_3 = '7'", "zh-CN"): "PHQ-9 第 3 题（睡眠问题）的答案无效：'7'",
        ("invalid answer phq9_3 = '7'", "en"): "PHQ-9 item 3 (Sleep problems): invalid answer '7'",
        (
            "invalid answer gad7_1 = 'it's 4'",
            "en",
        ): "GAD-7 item 1 (Feeling nervous): invalid answer 'it's 4'",
    }
    for (reason, locale), expected in cases.items():
        assert reason_text(reason, locale) == expected, (reason, locale)


def test_reasons_that_cannot_be_read_are_shown_as_they_are():
    for reason in (
        "phq9.total >>= 15",  # not the grammar
        "phq9.total",
        "",
        "someone flagged this",
        "kads.total >= 6",  # an instrument that is not bundled
        "__init__.total >= 1",
        "phq9.item99 >= 1",  # no such item or scale
        "phq9.anxiety >= 1",
        "invalid answer phq9_99 = '1'",
        "invalid answer kads_1 = '1'",
        "invalid answer phq9_3 = 'a long answer cut sho…",  # clipped when stored
    ):
        for locale in ("zh-CN", "en"):
            assert reason_text(reason, locale) == reason, (reason, locale)


def test_every_item_and_scale_of_every_bundled_instrument_has_words():
    for instrument in bundled_instruments():
        spec = load_instrument(instrument)
        members = [(s.id, s.name) for s in spec.scales] + [
            (f"item{i.id}", i.label) for i in spec.items
        ]
        for member, words in members:
            for locale in ("zh-CN", "en"):
                text = reason_text(f"{instrument}.{member} >= 1", locale)
                assert words[locale] in text and "." not in text, (instrument, member, locale)
