"""CSV and Excel exports: results per role, aggregate reports, the queue.

Every text cell that a spreadsheet could run as a formula (starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return, or their full-width forms) is prefixed with
``'``. CSV is written as UTF-8 with a byte-order mark so that Chinese Excel opens it.

What each role gets in a results export: counsellors the school's student ids and names;
analysts and district admins a keyed pseudonym instead (no name); researchers neither
(de-identified: grade, sex, scores). Only counsellors get the value that an invalid
answer's reason quotes: the cell may hold anything typed into it (a name, a note, a
student id shifted into an answer column).

A researcher's rows are k-anonymous in grade and sex (k = ``SCREENING_MIN_CELL``): the
only boy of a grade is known to everyone at the school, and a row with his school, grade
and sex would be his. Rows of a grade and sex with fewer than ``min_cell`` students have
both left empty; where those rows are fewer than ``min_cell`` together, they are left out.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from screening.api import audit
from screening.api.models import Result, Role, Student
from screening.api.pseudonyms import pseudonym
from screening.api.security import Actor
from screening.api.services.access import (
    EXPORTERS,
    require_role,
    target_school,
)
from screening.api.services.cases import list_queue, tier_label
from screening.api.services.reports import _latest_window, school_report

Format = Literal["csv", "xlsx"]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# screening.pipeline writes "invalid answer {column} = '{value}'" (cut to fit when stored)
QUOTED_ANSWER = re.compile(r"(invalid answer \S+) = '")


def unquoted(reason: str) -> str:
    """A reason without the answer it quotes, for exports that carry no identities.

    Examples
    --------
    >>> unquoted("invalid answer phq9_3 = '王小明'"), unquoted("phq9.item9 >= 1")
    ('invalid answer phq9_3', 'phq9.item9 >= 1')
    """
    quoted = QUOTED_ANSWER.match(reason)
    return reason if quoted is None else quoted.group(1)


@dataclass(frozen=True)
class Export:
    """A file to send: name, media type and bytes."""

    filename: str
    media_type: str
    content: bytes


def neutralise(value: Any) -> Any:
    """Prefix text that a spreadsheet would treat as a formula with ``'``.

    Examples
    --------
    >>> neutralise("=HYPERLINK(1)"), neutralise("-3"), neutralise(-3), neutralise("ok")
    ("'=HYPERLINK(1)", "'-3", -3, 'ok')
    """
    if isinstance(value, str) and value.startswith(DANGEROUS):
        return "'" + value
    return value


def write_table(header: list[str], rows: list[list[Any]], fmt: Format) -> bytes:
    """A table as CSV (UTF-8 with BOM) or XLSX bytes, formula cells neutralised."""
    safe_header = [neutralise(h) for h in header]
    safe_rows = [[neutralise(v) for v in row] for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(safe_header)
        writer.writerows(["" if v is None else v for v in row] for row in safe_rows)
        return buffer.getvalue().encode("utf-8-sig")
    import xlsxwriter

    buffer = io.BytesIO()
    options = {
        "in_memory": True,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    with xlsxwriter.Workbook(buffer, options) as book:
        sheet = book.add_worksheet("data")
        for j, name in enumerate(safe_header):
            sheet.write_string(0, j, str(name))
        for i, row in enumerate(safe_rows, start=1):
            for j, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(i, j, value)
                elif isinstance(value, int | float):
                    sheet.write_number(i, j, value)
                else:
                    sheet.write_string(i, j, str(value))
    return buffer.getvalue()


def _text(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def k_anonymous(rows: list[list[Any]], columns: list[int], k: int) -> list[list[Any]]:
    """Rows in which every combination of the values of ``columns`` is shared by ``k`` rows.

    The values of ``columns`` are emptied in rows whose combination fewer than ``k`` rows
    share; those rows (with any that had them all empty before) form one combination, and
    are left out where they are fewer than ``k``.

    Examples
    --------
    >>> rows = [["7", "F", 1]] * 3 + [["9", "M", 2], ["8", "F", 3], ["8", "M", 4]]
    >>> k_anonymous(rows, [0, 1], 3)  # 9 M, 8 F and 8 M, hidden as one group of 3
    [['7', 'F', 1], ['7', 'F', 1], ['7', 'F', 1], [None, None, 2], [None, None, 3], [None, None, 4]]
    >>> k_anonymous(rows[:4], [0, 1], 3)  # the one left alone is left out
    [['7', 'F', 1], ['7', 'F', 1], ['7', 'F', 1]]
    """

    def key(row: list[Any]) -> tuple[Any, ...]:
        return tuple(row[c] for c in columns)

    sizes = Counter(key(row) for row in rows)
    blank = tuple(None for _ in columns)
    out = []
    for row in rows:
        if sizes[key(row)] < k:
            row = [None if j in columns else v for j, v in enumerate(row)]
        out.append(row)
    sizes = Counter(key(row) for row in out)
    return [row for row in out if key(row) != blank or sizes[blank] >= k]


def export_results(
    session: Session,
    actor: Actor,
    school_id: str,
    now: dt.datetime,
    *,
    window: str | None = None,
    fmt: Format = "csv",
    pseudonym_key: bytes | str = b"",
    min_cell: int = 10,
) -> Export:
    """One row per student screened in the window, with the identity the role may see
    (researchers: k-anonymous in grade and sex, ``k = min_cell``)."""
    require_role(actor, EXPORTERS, "export results")
    school = target_school(actor, school_id)
    window = window or _latest_window(session, school)
    rows = session.execute(
        select(Result, Student.student_id, Student.name)
        .join(Student, Student.id == Result.student_pk)
        .where(Result.school_id == school, Result.window == window)
        .order_by(Student.student_id)
    ).all()
    score_names: list[str] = []
    for result, _, _ in rows:
        for key in result.scores or {}:
            if key not in score_names:
                score_names.append(key)
    if actor.role is Role.counsellor:
        identity = ["student_id", "name", "class_id"]
    elif actor.role is Role.researcher:
        identity = []
    else:
        identity = ["pseudonym", "class_id"]
    header = [*identity, "school_id", "window", "grade", "sex", "status", "tier", "tier_label"]
    header += [*score_names, "reasons"]
    table = []
    for result, student_id, name in rows:
        ids = {
            "student_id": student_id,
            "name": name,
            "class_id": result.class_id,
            "pseudonym": (
                pseudonym(school, student_id, pseudonym_key) if "pseudonym" in identity else None
            ),
        }
        line = [ids[c] for c in identity]
        line += [school, window, result.grade, result.sex, result.status, result.tier]
        line += [tier_label(result.tier)]
        line += [(result.scores or {}).get(k) for k in score_names]
        reasons = list(result.reasons or [])
        if actor.role is not Role.counsellor:
            reasons = [unquoted(r) for r in reasons]
        line += [_text(reasons)]
        table.append(line)
    if actor.role is Role.researcher:
        table = k_anonymous(table, [header.index("grade"), header.index("sex")], min_cell)
    if actor.role is not Role.counsellor:
        # not in student-id order, which a roster would tie back to the pseudonyms
        table.sort(key=lambda r: [str(v) for v in r])
    audit.record(session, actor, f"export.results.{fmt}", "window", window, school, now)
    return Export(f"results-{school}-{window}.{fmt}", MEDIA[fmt], write_table(header, table, fmt))


def export_report(
    session: Session,
    actor: Actor,
    school_id: str,
    now: dt.datetime,
    *,
    window: str | None = None,
    fmt: Format = "csv",
    min_cell: int = 10,
) -> Export:
    """The school report's cells as a table (suppressed cells left empty)."""
    report = school_report(session, actor, school_id, now, window=window, min_cell=min_cell)
    header = ["table", "group", "tier_label", "count", "suppressed"]
    rows = []
    for name, cells in (
        ("tier", report.by_tier),
        ("grade", report.by_grade),
        ("sex", report.by_sex),
    ):
        rows += [[name, c.group, c.tier_label, c.count, c.suppressed] for c in cells]
    name = f"report-{report.school_id}-{report.window}.{fmt}"
    # beside the report's own read: the report left the service as a file
    audit.record(
        session, actor, f"export.report.{fmt}", "window", report.window, report.school_id, now
    )
    return Export(name, MEDIA[fmt], write_table(header, rows, fmt))


def export_queue(
    session: Session, actor: Actor, now: dt.datetime, *, fmt: Format = "csv"
) -> Export:
    """The counsellor's queue as a table."""
    queue = list_queue(session, actor, now)
    header = list(queue.items[0].model_dump().keys()) if queue.items else ["case_id"]
    rows = [[_text(v) for v in item.model_dump().values()] for item in queue.items]
    audit.record(
        session, actor, f"export.queue.{fmt}", "queue", queue.school_id, queue.school_id, now
    )
    return Export(f"queue-{queue.school_id}.{fmt}", MEDIA[fmt], write_table(header, rows, fmt))
