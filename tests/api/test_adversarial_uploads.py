"""Uploads as schools make them: files that the service must refuse whole, and the web
form's upload kept off the event loop."""

from __future__ import annotations

import polars as pl
import pytest

from tests.api.test_uploads import counts, post

#: PHQ-9 / GAD-7 answers as 问卷星's 按选项文本 export writes them (option text, not codes).
OPTION_TEXT = {0: "完全不会", 1: "好几天", 2: "一半以上的天数", 3: "几乎每天"}


def as_option_text(data: pl.DataFrame, prefix: str = "") -> pl.DataFrame:
    """Every item column whose name starts with ``prefix`` as option text."""
    items = [c for c in data.columns if c.startswith(("phq9_", "gad7_")) and c.startswith(prefix)]
    return data.with_columns(
        pl.col(c).replace_strict(OPTION_TEXT, default=None, return_dtype=pl.String) for c in items
    )


@pytest.mark.parametrize("prefix", ["", "phq9_"])
def test_option_text_export_is_refused_whole_with_the_fix(
    client, token, headers, school, frame, sessions, prefix
):
    """A 按选项文本 export holds no answer code: every student would be stored 'invalid'
    and the red ones (item 9 given as text) would reach no queue. It is refused like a
    file without the item columns, naming the instrument, a cell and how to fix it."""
    counsellor = headers(token("counsellor", school))
    data = as_option_text(frame([("O1", 3), ("O2", 2), ("O3", 0)], school_id=school), prefix)
    answer = post(client, counsellor, data.write_csv().encode())
    assert answer.status_code == 422, answer.text[:300]
    message = answer.json()["detail"][0]["msg"]
    assert "'phq9'" in message and "phq9_1" in message and "'完全不会'" in message
    assert "按选项分值" in message and "numbered_from=1" in message
    assert "--map" not in message
    failure = answer.json()["failure_cases"][0]
    assert (failure["row"], failure["column"], failure["value"]) == (1, "phq9_1", "完全不会")
    assert counts(sessions, school) == dict.fromkeys(
        ("uploads", "students", "results", "cases", "opened"), 0
    )


def test_a_few_invalid_answers_are_still_flagged_not_refused(client, token, headers, school, frame):
    """Only an instrument of which no answer at all can be read refuses the file."""
    counsellor = headers(token("counsellor", school))
    data = frame([("F1", 3), ("F2", 0)], school_id=school).with_columns(
        pl.Series("phq9_1", ["完全不会", "0"])
    )
    answer = post(client, counsellor, data.write_csv().encode())
    assert answer.status_code == 201 and answer.json()["failure_cases_total"] == 1


def test_unreadable_instrument_message_is_translated():
    from screening.api.services.uploads import unreadable_answers_message
    from screening.api.web.messages import translate

    message = unreadable_answers_message("phq9", 18, 2, "phq9_1", 1, "完全不会")
    zh = translate(message, "zh-CN")
    assert zh != message and "phq9" in zh and "完全不会" in zh and "按选项分值" in zh


def test_another_schools_file_is_refused_and_stores_nothing(
    client, token, headers, school, new_school, frame, sessions
):
    """A counsellor who picks another school's file (every row that school's) is told so
    with 422; no upload with nothing in it is recorded (it would stand as this school's
    screening of the window, and default its reports to it)."""
    other = new_school()
    counsellor = headers(token("counsellor", school))
    data = frame([("A1", 3), ("A2", 2), ("A3", 0)], school_id=other)
    answer = post(client, counsellor, data.write_csv().encode())
    assert answer.status_code == 422, answer.text[:300]
    message = answer.json()["detail"][0]["msg"]
    assert "None of the 3 rows" in message and "Row 1: " in message and other in message
    assert "upload each school's rows under that school" in message
    assert counts(sessions, school) == dict.fromkeys(
        ("uploads", "students", "results", "cases", "opened"), 0
    )
    # one row of the school's own is enough to store the file, the others rejected
    mixed = pl.concat([data, frame([("A4", 3)], school_id=school)])
    stored = post(client, counsellor, mixed.write_csv().encode())
    assert stored.status_code == 201 and stored.json()["rejected"] == 3


def test_no_row_stored_message_is_translated():
    from screening.api.services.uploads import no_row_stored_message
    from screening.api.web.messages import translate

    reason = "school_id 'X2' is not the school of this upload (X1): upload each school's rows"
    message = no_row_stored_message(3, "X1", 1, reason)
    zh = translate(message, "zh-CN")
    assert zh != message and "X1" in zh and "X2" in zh and "第 1 行" in zh
    assert "upload" not in zh


def test_an_empty_school_cell_is_named_as_such(client, token, headers, school, frame):
    """Merged school cells in Excel leave the rows below the first empty: the reason says
    so and how to fix it, not that the school 'None' is another school."""
    from screening.api.web.messages import translate

    counsellor = headers(token("counsellor", school))
    data = frame([("M1", 0), ("M2", 3)], school_id=school).with_columns(
        pl.Series("school_id", [school, None])
    )
    body = post(client, counsellor, data.write_csv().encode()).json()
    (rejected,) = body["rejected_rows"]
    assert rejected["row"] == 2 and "None" not in rejected["reason"]
    assert rejected["reason"].startswith("school_id is empty") and "merged" in rejected["reason"]
    assert translate(rejected["reason"], "zh-CN") != rejected["reason"]


def test_warnings_give_advice_an_upload_can_follow(client, token, headers, school, frame):
    """The service takes no mapping file and no battery path: its warnings say what to
    send instead of --map or 'score the file'."""
    counsellor = headers(token("counsellor", school))
    students = [(f"W{i}", 1) for i in range(12)]
    data = frame(students, school_id=school).with_columns(
        pl.lit(None, dtype=pl.Int64).alias("gad7_1")
    )
    data = data.with_columns(pl.col(f"phq9_{k}").replace(0, 1) for k in range(1, 10))
    data = data.with_columns(pl.lit(None, dtype=pl.Int64).alias(f"gad7_{k}") for k in range(1, 8))
    warnings = post(client, counsellor, data.write_csv().encode()).json()["warnings"]
    assert any("numbered_from=1" in w for w in warnings), warnings
    assert any("upload the file again with a battery" in w for w in warnings), warnings
    assert not any("--map" in w or "score the file" in w for w in warnings), warnings


def test_an_option_number_export_without_numbered_from_is_refused(
    client, token, headers, school, frame, sessions
):
    """问卷星's 按选项序号 export (PHQ-9 answered 1-4) uploaded without numbered_from=1 would
    be flagged row by row: every item 9 answered '1' red, hundreds of false urgent cases."""
    import numpy as np

    counsellor = headers(token("counsellor", school))
    rng = np.random.default_rng(3)
    rows = [(f"N{i}", int(t)) for i, t in enumerate(rng.integers(0, 4, 30))]
    items = [c for c in frame(rows[:1], school_id=school).columns if c[:5] in ("phq9_", "gad7_")]
    data = frame(rows, school_id=school).with_columns(
        pl.Series(c, rng.integers(1, 5, len(rows))) for c in items
    )
    answer = post(client, counsellor, data.write_csv().encode())
    assert answer.status_code == 422, answer.text[:300]
    message = answer.json()["detail"][0]["msg"]
    assert "look like option numbers" in message and "numbered_from=1" in message
    assert "--map" not in message
    assert counts(sessions, school) == dict.fromkeys(
        ("uploads", "students", "results", "cases", "opened"), 0
    )
    again = post(client, counsellor, data.write_csv().encode(), numbered_from="1")
    assert again.status_code == 201, again.text[:300]


def test_option_number_message_is_translated():
    from screening.api.web.messages import translate
    from screening.numbering import LowestCodeCheck
    from screening.pipeline import Scorer

    check = LowestCodeCheck(Scorer.for_battery("default").compiled)
    check._seen[:] = False
    check._students[:] = 30
    check._invalid[:] = check._one_above[:] = 12
    zh = translate(check.misnumbered()[0], "zh-CN")
    assert zh.startswith("phq9：答案看起来是从 1 开始的选项序号") and "12 个答案" in zh
