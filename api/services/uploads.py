"""School uploads: read and score a response file, then store results and open cases.

Two steps keep the slow part out of the transaction: :func:`prepare_upload` (or
:func:`prepare_frame`) reads and scores without touching the database;
:func:`store_upload` writes everything in the caller's one transaction, so an upload is
stored whole or not at all.

Idempotency: the content hash is taken over the parsed rows, sorted, so the same answers
re-encoded (GBK / UTF-8) or re-ordered hash the same. The same content for the same school
and window is stored once (a unique constraint); results are unique per student and window
and a student has at most one open case (a partial unique index), so even different files
never duplicate a result or a case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from screening.api import audit
from screening.api.models import (
    TIER_LABELS,
    Case,
    CaseEvent,
    CaseSource,
    CaseStatus,
    Result,
    Student,
    Upload,
)
from screening.api.schemas import FailureCase, RejectedRow, UploadSummary
from screening.api.security import Actor
from screening.api.services.access import UPLOADERS, check_school, require_role, target_school
from screening.api.services.dialect import bulk_insert
from screening.api.services.errors import Conflict, NotFound, Unprocessable
from screening.errors import NAMING_ADVICE, UPLOAD_NAMING_ADVICE, ScreeningError

if TYPE_CHECKING:
    from screening.pipeline import ScoreResult

log = logging.getLogger("screening.api.uploads")

PASSTHROUGH_LIMITS = {"student_id": 64, "school_id": 32, "grade": 16, "sex": 16, "class_id": 32}
NAME_COLUMNS = ("name", "student_name", "姓名")
NAME_LIMIT = 100
RESULT_META = ("student_id", "school_id", "grade", "sex", "class_id", "tier", "tier_label")
RESULT_META += ("status", "reasons")
REPEATED = "the student_id appears more than once in the file;"
MAX_FAILURE_CASES = 1000
MAX_REASON = 300
BATTERY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WINDOW = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
UPLOAD_SUFFIXES = frozenset({".csv", ".txt", ".xlsx", ".xlsm"})


@dataclass(frozen=True)
class PreparedUpload:
    """A scored file, ready to store.

    Attributes
    ----------
    battery
        The bundled battery id.
    results
        The results frame with ``_row`` (1-based file row) and ``_name`` columns added.
    failure_cases
        Invalid answers (row, student_id, column, value, reason).
    due_hours
        Hours until a case of each tier is due (the battery's ``[queue]``).
    content_hash
        SHA-256 of the parsed rows, sorted (same answers, any encoding or order), with the
        battery and the option numbering.
    numbered_from
        The number the file gave each item's first option (None: the answers are codes).
    warnings
        Doubts about the file that did not stop scoring (e.g. option numbers from 1).
    """

    battery: str
    results: pl.DataFrame
    failure_cases: pl.DataFrame
    due_hours: dict[int, int]
    content_hash: str
    numbered_from: int | None = None
    warnings: tuple[str, ...] = ()


@lru_cache(maxsize=16)
def _scorer(battery: str) -> Any:
    from screening.pipeline import Scorer

    return Scorer.for_battery(battery)


def check_battery(battery: str) -> Any:
    """The prepared scorer of a bundled battery id; 422 for anything else (never a path)."""
    from screening.instruments.loader import bundled_batteries

    if not BATTERY_ID.match(battery or "") or battery not in bundled_batteries():
        known = ", ".join(bundled_batteries())
        raise Unprocessable(f"Unknown battery {battery[:64]!r}: use one of {known}.")
    return _scorer(battery)


def check_window(window: str) -> str:
    """A screening window label such as ``2026-autumn``; 422 when it is not one."""
    if not WINDOW.match(window or ""):
        raise Unprocessable(
            "The screening window must be 1-32 letters, digits, '.', '_' or '-' (e.g. 2026-autumn)."
        )
    return window


def content_hash(frame: pl.DataFrame, battery: str, numbered_from: int | None = None) -> str:
    """SHA-256 of the frame's rows as text, sorted, with the battery id (and the option
    numbering when given: the same numbers read another way are another upload)."""
    columns = sorted(frame.columns)
    text = frame.select(pl.col(c).cast(pl.String) for c in columns)
    text = text.sort(columns, nulls_last=True)
    numbering = "" if numbered_from is None else f"numbered_from={numbered_from}\n"
    digest = hashlib.sha256(f"{battery}\n{numbering}".encode())
    digest.update(text.write_csv(include_header=True).encode("utf-8"))
    return digest.hexdigest()


def _unprocessable(error: ScreeningError) -> Unprocessable:
    """A 422 for a file the toolkit refused, with advice an upload can follow (the
    command line's ``--map`` has no counterpart here)."""
    return Unprocessable(_upload_advice(str(error).replace(NAMING_ADVICE, UPLOAD_NAMING_ADVICE)))


def unreadable_answers_message(
    instrument: str, answers: int, rows: int, column: str, row: int, value: str
) -> str:
    """Why a file is refused when none of an instrument's answers could be read, and how
    to fix it (the template that the web pages translate).

    Parameters
    ----------
    instrument
        The instrument id.
    answers, rows
        How many answers that are not answer codes, in how many rows.
    column, row, value
        The first of them: file column, row (from 1 after the header) and cell text.

    Returns
    -------
    str
        The message of the 422.
    """
    return (
        f"Instrument {instrument!r}: none of its answers could be read: {answers:,} answers "
        f"in {rows:,} rows are not its answer codes (first: column {column!r}, row {row}, "
        f"value {_clean(value, 40)!r}). Nothing was stored. If the survey tool exported the "
        "option text (问卷星 按选项文本), export the answer codes (按选项分值) instead; if it "
        "exported option numbers that start at 1 (按选项序号), upload the file again with "
        "numbered_from=1."
    )


def _unreadable_instruments(scored: ScoreResult) -> None:
    """Refuse a file of which some instrument has invalid answers and not one valid answer:
    every student would be stored as invalid and its critical items never seen (an export
    of option text, say). A few invalid answers are flagged instead, row by row."""
    cases = scored.failure_cases
    if cases.height == 0:
        return
    for instrument in scored.battery.instruments:
        answered = scored.results.get_column(f"{instrument.id}.answered")
        mine = cases.filter(pl.col("column").is_in(instrument.item_columns()))
        if mine.height == 0 or answered.sum() > 0:
            continue
        first = mine.sort("row", maintain_order=True).row(0, named=True)
        message = unreadable_answers_message(
            instrument.id,
            mine.height,
            mine.get_column("row").n_unique(),
            first["column"],
            first["row"],
            str(first["value"]),
        )
        raise Unprocessable(message, [case.model_dump() for case in _failure_cases(mine)])


#: Advice of the command line's warnings and what an upload does instead (it takes no
#: mapping file and no battery path).
UPLOAD_ADVICE = (
    (
        "say so with '[options] numbered_from = 1' in the column mapping (--map)",
        "upload the file again with numbered_from=1",
    ),
    (
        "score the file with a battery that leaves it out",
        "upload the file again with a battery that leaves it out",
    ),
)


def _upload_advice(warning: str) -> str:
    """A scoring warning with the command line's advice replaced by the upload's."""
    for cli, upload in UPLOAD_ADVICE:
        warning = warning.replace(cli, upload)
    return warning


def prepare_frame(
    frame: pl.DataFrame, battery: str, numbered_from: int | None = None
) -> PreparedUpload:
    """Score a parsed frame (one row per student) with a bundled battery; ``numbered_from``
    as in :func:`screening.pipeline.score_frame`."""
    from screening.pipeline import score_frame

    scorer = check_battery(battery)
    name_column = next((c for c in NAME_COLUMNS if c in frame.columns), None)
    try:
        scored = score_frame(frame, scorer, on_invalid="flag", numbered_from=numbered_from)
    except ScreeningError as error:
        raise _unprocessable(error) from error
    _unreadable_instruments(scored)
    results = scored.results.with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64, eager=True).alias("_row"),
        (
            frame.get_column(name_column).cast(pl.String)
            if name_column
            else pl.Series([None] * frame.height, dtype=pl.String)
        ).alias("_name"),
    )
    return PreparedUpload(
        battery=battery,
        results=results,
        failure_cases=scored.failure_cases,
        due_hours=dict(scored.battery.queue_due_hours),
        content_hash=content_hash(frame, battery, numbered_from),
        numbered_from=numbered_from,
        warnings=tuple(_upload_advice(w) for w in scored.warnings),
    )


def prepare_upload(
    data: bytes, filename: str, battery: str, numbered_from: int | None = None
) -> PreparedUpload:
    """Read an uploaded CSV or Excel file and score it.

    ``numbered_from``: the number the file gives each item's first option when it is not
    the item's lowest code (1 for 问卷星's 按选项序号 export); None: the answers are codes.

    Raises
    ------
    Unprocessable
        When the battery is unknown or the file cannot be used at all (encoding, shape,
        missing columns, an Excel bomb).
    """
    from screening.io import read_upload

    scorer = check_battery(battery)
    suffix = PurePath(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise Unprocessable(
            f"Unknown file type {suffix[:16] or '(no extension)'!r}: upload a CSV (.csv, UTF-8 "
            "or GBK) or an Excel workbook (.xlsx)."
        )
    try:
        frame = read_upload(data, filename, item_columns=scorer.loaded.item_columns())
    except ScreeningError as error:
        raise _unprocessable(error) from error
    return prepare_frame(frame, battery, numbered_from)


def _clean(value: Any, limit: int = MAX_REASON) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\x00", "\ufffd")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_rows(
    results: pl.DataFrame, school_id: str
) -> tuple[pl.DataFrame, list[RejectedRow], list[str]]:
    """Split rows into accepted and rejected (with reasons); every row lands in one of them.

    Only a row that cannot be stored as this school's student is rejected: no usable student
    id, another school's id, or the same student again. A grade, sex, class or name that is
    too long or holds a NUL byte is shortened or cleaned instead (:func:`_fit_labels`), so that
    no red student is lost over a label; the third value lists those repairs as warnings.
    """
    from screening.io import canonical_ids

    results = results.with_columns(
        canonical_ids(results.get_column(c))
        for c in ("student_id", "school_id")
        if c in results.columns
    )
    rejected: list[RejectedRow] = []
    keep = []
    columns = set(results.columns)
    for row in results.iter_rows(named=True):
        reason = _row_problem(row, columns, school_id)
        if reason:
            rejected.append(
                RejectedRow(row=row["_row"], reason=reason, tier_label=_tier_key(row["tier"]))
            )
        else:
            keep.append(row["_row"])
    accepted, repairs = _fit_labels(results.filter(pl.col("_row").is_in(keep)))
    # A student twice in one file: keep the highest tier (positive evidence counts), then first.
    ranked = accepted.with_columns(pl.col("tier").fill_null(-1).alias("_rank")).sort(
        ["_rank", "_row"], descending=[True, False]
    )
    first = ranked.unique("student_id", keep="first", maintain_order=True)
    if first.height < accepted.height:
        kept = dict(zip(first["student_id"], first["_row"], strict=True))
        dropped = ranked.join(first.select("_row"), on="_row", how="anti")
        for student, row, tier in dropped.select("student_id", "_row", "tier").iter_rows():
            rejected.append(
                RejectedRow(
                    row=row,
                    reason=f"{REPEATED} row {kept[student]} (the highest tier) was kept",
                    tier_label=_tier_key(tier),
                )
            )
    rejected.sort(key=lambda r: r.row)
    return first.drop("_rank").sort("_row"), rejected, repairs


def _row_problem(row: dict[str, Any], columns: set[str], school_id: str) -> str | None:
    student = row.get("student_id")
    if not student:
        return "student_id is empty: every row needs the school's student id"
    if "\x00" in student:
        return "student_id contains a NUL byte: save the file again as plain text"
    limit = PASSTHROUGH_LIMITS["student_id"]
    if len(student) > limit:
        return f"student_id is longer than {limit} characters"
    if "school_id" in columns and not row.get("school_id"):
        return (
            f"school_id is empty: fill in the school ({school_id}) in every row (merged cells "
            "in Excel leave all but the first row empty: unmerge them and fill every row)"
        )
    if "school_id" in columns and row.get("school_id") != school_id:
        return (
            f"school_id {_clean(row.get('school_id'), 32)!r} is not the school of this upload "
            f"({school_id}): upload each school's rows under that school"
        )
    return None


def _fit_labels(accepted: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Grade, sex, class and name made storable (NUL bytes replaced, cut to their limit
    ending in "…"), and a warning for each label that was not."""
    labels = [c for c in ("grade", "sex", "class_id") if c in accepted.columns]
    limits = {c: PASSTHROUGH_LIMITS[c] for c in labels} | {"_name": NAME_LIMIT}
    repairs = []
    for column, limit in limits.items():
        value = pl.col(column)
        bad = (value.str.len_chars() > limit) | value.str.contains("\x00", literal=True)
        rows = accepted.filter(bad.fill_null(False)).get_column("_row").to_list()
        if not rows:
            continue
        shown = ", ".join(map(str, rows[:10])) + (" …" if len(rows) > 10 else "")
        label = "name" if column == "_name" else column
        repairs.append(
            f"{label} longer than {limit} characters or holding a NUL byte in {len(rows)} "
            f"rows (rows {shown}) was shortened to fit; the rows were stored. Correct the "
            "value in the file if it matters."
        )
        clean = value.str.replace_all("\x00", "\ufffd", literal=True)
        accepted = accepted.with_columns(
            pl.when(clean.str.len_chars() > limit)
            .then(clean.str.slice(0, limit - 1) + "…")
            .otherwise(clean)
            .alias(column)
        )
    return accepted, repairs


def no_row_stored_message(rows: int, school: str, row: int, reason: str) -> str:
    """Why a file none of whose rows can be stored is refused (the template that the web
    pages translate).

    Parameters
    ----------
    rows
        The number of rows in the file (all rejected).
    school
        The school of the upload.
    row, reason
        The first rejected row and why it was rejected.

    Returns
    -------
    str
        The message of the 422.
    """
    return (
        f"None of the {rows:,} rows can be stored as students of school {school}, so "
        f"nothing was stored. Row {row}: {reason}"
    )


def _flagged_rejections(rejected: list[RejectedRow]) -> list[str]:
    """A warning when rejected rows scored red or orange: those students are in no queue."""
    # a repeated row is not lost: the student's row of the highest tier was kept
    lost = [r for r in rejected if not r.reason.startswith(REPEATED)]
    rows = [r.row for r in lost if r.tier_label in ("red", "orange")]
    if not rows:
        return []
    shown = ", ".join(map(str, rows[:20])) + (" …" if len(rows) > 20 else "")
    return [
        f"{len(rows)} rejected rows scored red or orange (rows {shown}) and are NOT in the "
        "counselling-room queue: correct them and upload them again today, or refer the "
        "students by hand."
    ]


def _scores(row: dict[str, Any]) -> dict[str, Any]:
    scores = {}
    for key, value in row.items():
        if key in RESULT_META or key.startswith("_"):
            continue
        scores[key] = value
    return scores


def _tier_key(tier: int | None) -> str:
    return "retest" if tier is None else TIER_LABELS[tier]


def _failure_cases(cases: pl.DataFrame) -> list[FailureCase]:
    """The first :data:`MAX_FAILURE_CASES` failure cases, their texts cut to fit."""
    cases = cases.head(MAX_FAILURE_CASES)
    return [
        FailureCase(
            row=row["row"],
            student_id=_clean(row["student_id"], 64),
            column=_clean(row["column"], 64) or "",
            value=_clean(row["value"], 100),
            reason=_clean(row["reason"]) or "",
        )
        for row in cases.iter_rows(named=True)
    ]


def store_upload(
    session: Session,
    actor: Actor,
    prepared: PreparedUpload,
    *,
    school_id: str | None,
    window: str,
    now: dt.datetime,
) -> UploadSummary:
    """Store a prepared upload in the caller's transaction and open cases for tier >= 2.

    Parameters
    ----------
    session
        The unit of work (the caller commits; all of the upload or none of it).
    actor
        A counsellor (own school) or a district admin (names the school).
    prepared
        From :func:`prepare_upload` or :func:`prepare_frame`.
    school_id
        The school the file belongs to (counsellors may leave it out).
    window
        The screening window, e.g. ``2026-autumn``.
    now
        Time of the upload (cases are due from it).

    Returns
    -------
    UploadSummary
        With ``duplicate=True`` and the first upload's counts when the same content was
        already stored for this school and window.
    """
    require_role(actor, UPLOADERS, "upload response files")
    school = target_school(actor, school_id)
    window = check_window(window)
    existing = _find_upload(session, school, window, prepared.content_hash)
    if existing is not None:
        return _duplicate(session, actor, existing, now)

    accepted, rejected, repairs = _check_rows(prepared.results, school)
    if accepted.height == 0 and rejected:
        # an upload without a single student would stand as the school's screening of the
        # window (and the window its reports default to): refuse the file instead
        first = rejected[0]
        raise Unprocessable(no_row_stored_message(len(rejected), school, first.row, first.reason))
    flagged = _flagged_rejections(rejected)
    if flagged:
        log.warning("upload for %s: %s", school, flagged[0].split(" (rows")[0])
    # Rows are written in student-id order: concurrent uploads then take row locks in the
    # same order and cannot deadlock on PostgreSQL.
    accepted = accepted.sort("student_id")
    upload = Upload(
        school_id=school,
        window=window,
        battery=prepared.battery,
        content_hash=prepared.content_hash,
        rows=prepared.results.height,
        accepted=accepted.height,
        rejected=len(rejected),
        summary={},
        uploaded_by=actor.user_id,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(upload)
            session.flush()
    except IntegrityError:
        # The same content committed by a concurrent upload while this one was scoring.
        existing = _find_upload(session, school, window, prepared.content_hash)
        if existing is None:
            raise
        return _duplicate(session, actor, existing, now)

    student_pks = _upsert_students(session, school, accepted, now)
    _upsert_results(session, upload, accepted, student_pks, now)
    opened, updated = _open_cases(session, upload, accepted, student_pks, prepared.due_hours, now)
    updated += _note_unflagged_screenings(session, upload, accepted, student_pks, now)
    by_status = Counter(accepted["status"].cast(pl.String).to_list())
    by_tier = Counter(_tier_key(t) for t in accepted["tier"].to_list())
    counts = {
        "by_status": {s: by_status.get(s, 0) for s in ("scored", "incomplete", "invalid")},
        "by_tier": {label: by_tier.get(label, 0) for label in (*TIER_LABELS.values(), "retest")},
        "cases_opened": opened,
        "cases_updated": updated,
        "numbered_from": prepared.numbered_from,
        "warnings": [*flagged, *repairs, *prepared.warnings],
    }
    upload.summary = counts
    audit.record(session, actor, "upload", "upload", upload.id, school, now)
    session.flush()
    log.info(
        "upload %s stored: %d rows, %d accepted, %d rejected, %d cases opened",
        upload.id,
        upload.rows,
        upload.accepted,
        upload.rejected,
        opened,
    )
    return UploadSummary(
        **_summary_fields(upload),
        duplicate=False,
        rejected_rows=rejected,
        failure_cases=_failure_cases(prepared.failure_cases),
        failure_cases_total=prepared.failure_cases.height,
    )


def _find_upload(session: Session, school: str, window: str, digest: str) -> Upload | None:
    return session.scalar(
        select(Upload).where(
            Upload.school_id == school, Upload.window == window, Upload.content_hash == digest
        )
    )


def _summary_fields(upload: Upload) -> dict[str, Any]:
    summary = upload.summary or {}
    return {
        "upload_id": upload.id,
        "school_id": upload.school_id,
        "window": upload.window,
        "battery": upload.battery,
        "rows": upload.rows,
        "accepted": upload.accepted,
        "rejected": upload.rejected,
        "by_status": summary.get("by_status", {}),
        "by_tier": summary.get("by_tier", {}),
        "cases_opened": summary.get("cases_opened", 0),
        "cases_updated": summary.get("cases_updated", 0),
        "numbered_from": summary.get("numbered_from"),
        "warnings": summary.get("warnings", []),
        "uploaded_at": upload.created_at,
    }


def _duplicate(session: Session, actor: Actor, upload: Upload, now: dt.datetime) -> UploadSummary:
    audit.record(session, actor, "upload.duplicate", "upload", upload.id, upload.school_id, now)
    log.info("upload %s received again: nothing stored", upload.id)
    fields = _summary_fields(upload)
    later = session.scalars(
        select(Upload.id).where(
            Upload.school_id == upload.school_id,
            Upload.window == upload.window,
            Upload.id > upload.id,
        )
    ).all()
    if later:  # its counts are no longer what is stored: say so
        fields["warnings"] = [
            *fields["warnings"],
            f"This file was stored before as upload {upload.id}, and later uploads of the "
            f"same school and window ({', '.join(map(str, later))}) have replaced the "
            "results of the students they hold since. Nothing was changed; the counts "
            "shown are those of the first time.",
        ]
    return UploadSummary(**fields, duplicate=True)


def get_upload(session: Session, actor: Actor, upload_id: int, now: dt.datetime) -> UploadSummary:
    """The stored summary of an upload (own school only; 404 otherwise)."""
    require_role(actor, UPLOADERS, "read uploads")
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise NotFound()
    check_school(actor, upload.school_id)
    audit.record(session, actor, "upload.read", "upload", upload.id, upload.school_id, now)
    return UploadSummary(**_summary_fields(upload), duplicate=False)


def list_uploads(
    session: Session, actor: Actor, school_id: str | None, now: dt.datetime
) -> list[UploadSummary]:
    """The uploads of a school, newest first."""
    require_role(actor, UPLOADERS, "read uploads")
    school = target_school(actor, school_id)
    uploads = session.scalars(
        select(Upload).where(Upload.school_id == school).order_by(Upload.id.desc())
    ).all()
    audit.record(session, actor, "upload.list", "school", school, school, now)
    return [UploadSummary(**_summary_fields(u), duplicate=False) for u in uploads]


def _school_students(session: Session, school: str) -> dict[str, tuple[int, str | None]]:
    rows = session.execute(
        select(Student.student_id, Student.id, Student.name).where(Student.school_id == school)
    )
    return {sid: (pk, name) for sid, pk, name in rows}


def _upsert_students(
    session: Session, school: str, accepted: pl.DataFrame, now: dt.datetime
) -> dict[str, int]:
    """Insert new students, update changed names; map student id -> primary key.

    Whole-school selects (one school holds thousands of students, not millions) keep the
    statements small: no IN list with thousands of parameters.
    """
    wanted = dict(zip(accepted["student_id"], accepted["_name"], strict=True))
    if not wanted:
        return {}
    known = _school_students(session, school)
    new = [
        {"school_id": school, "student_id": sid, "name": name, "created_at": now}
        for sid, name in wanted.items()
        if sid not in known
    ]
    if new:
        bulk_insert(session, Student.__table__, new)
        known = _school_students(session, school)
    renames = [
        {"id": known[sid][0], "name": name}
        for sid, name in wanted.items()
        if name is not None and name != known[sid][1]
    ]
    if renames:
        session.execute(update(Student), renames)
    return {sid: known[sid][0] for sid in wanted}


def _upsert_results(
    session: Session,
    upload: Upload,
    accepted: pl.DataFrame,
    pks: dict[str, int],
    now: dt.datetime,
) -> None:
    """Insert or replace the result of each student in this window."""
    rows = []
    for row in accepted.iter_rows(named=True):
        rows.append(
            {
                "student_pk": pks[row["student_id"]],
                "school_id": upload.school_id,
                "screening_window": upload.window,
                "upload_id": upload.id,
                "battery": upload.battery,
                "grade": row.get("grade"),
                "sex": row.get("sex"),
                "class_id": row.get("class_id"),
                "status": str(row["status"]),
                "tier": row["tier"],
                "scores": _scores(row),
                "reasons": [_clean(r) for r in row["reasons"] or []],
                "created_at": now,
                "updated_at": now,
            }
        )
    if not rows:
        return
    replaced = ("upload_id", "battery", "grade", "sex", "class_id", "status", "tier")
    bulk_insert(
        session,
        Result.__table__,
        rows,
        conflict=["student_pk", "screening_window"],
        update=(*replaced, "scores", "reasons", "updated_at"),
    )


def _worked_this_window(
    session: Session, upload: Upload, result_ids: dict[int, int], tiers: dict[int, int]
) -> set[int]:
    """Students whose screening in this window already reached the queue at this tier or
    higher, in a case that has since been closed: a corrected file for the same window
    opens no second case for them. A case counts when this window's screening opened it,
    or raised or confirmed it while it was open (its ``rescreened`` event); a referral or
    an earlier window's case does not."""
    worked: set[int] = set()
    closed = (Case.school_id == upload.school_id, Case.closed_at.is_not(None))
    for pk, tier, result_id in session.execute(
        select(Case.student_pk, Case.tier, Case.result_id).where(
            *closed, Case.source == CaseSource.screening.value
        )
    ):
        if pk in tiers and result_id == result_ids.get(pk) and tier >= tiers[pk]:
            worked.add(pk)
    for pk, detail in session.execute(
        select(Case.student_pk, CaseEvent.detail)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(*closed, CaseEvent.kind == "rescreened")
    ):
        window, tier = detail.get("window"), detail.get("tier") or 0
        if pk in tiers and window == upload.window and tier >= tiers[pk]:
            worked.add(pk)
    return worked


JOIN_ROUNDS = 3
ID_BATCH = 5000  # ids per IN list (SQLite allows 32,766 parameters)


def _lock_open_cases(
    session: Session, school: str, students: set[int]
) -> dict[int, tuple[int, int, dt.datetime]]:
    """The open case of each of ``students`` that has one, locked for this transaction:
    ``{student_pk: (case_id, tier, due_at)}``."""
    if not students:
        return {}
    candidates = [
        case_id
        for case_id, pk in session.execute(
            select(Case.id, Case.student_pk).where(
                Case.school_id == school, Case.status == CaseStatus.open.value
            )
        )
        if pk in students
    ]
    found = {}
    for start in range(0, len(candidates), ID_BATCH):
        # an update that changes nothing locks the rows it matches; the status is checked
        # again once a concurrent close has committed (PostgreSQL's READ COMMITTED)
        locked = session.execute(
            update(Case)
            .where(
                Case.id.in_(candidates[start : start + ID_BATCH]),
                Case.status == CaseStatus.open.value,
            )
            .values(status=Case.status)
            .returning(Case.student_pk, Case.id, Case.tier, Case.due_at)
        )
        found.update({pk: (case_id, tier, due_at) for pk, case_id, tier, due_at in locked})
    return found


def _open_cases(
    session: Session,
    upload: Upload,
    accepted: pl.DataFrame,
    pks: dict[str, int],
    due_hours: dict[int, int],
    now: dt.datetime,
) -> tuple[int, int]:
    """Open a case for every student at tier >= 2 without one; update the open ones."""
    flagged = accepted.filter(pl.col("tier") >= 2)
    pairs = zip(flagged["student_id"], flagged["tier"], strict=True)
    tiers = dict(sorted((pks[s], int(t)) for s, t in pairs))
    if not tiers:
        return 0, 0

    def due(tier: int) -> dt.datetime:
        hours = due_hours.get(tier) or (24 if tier >= 3 else 168)
        return now + dt.timedelta(hours=hours)

    result_ids = {
        pk: rid
        for rid, pk in session.execute(
            select(Result.id, Result.student_pk).where(
                Result.school_id == upload.school_id, Result.window == upload.window
            )
        )
        if pk in tiers
    }
    for pk in _worked_this_window(session, upload, result_ids, tiers):
        del tiers[pk]
    if not tiers:
        return 0, 0
    open_cases: dict[int, tuple[int, int, dt.datetime]] = {}
    created: dict[int, int] = {}
    pending = set(tiers)
    # A case closed by a counsellor between reading it and joining it must not take the
    # new screening (the student would be in no queue): the open cases are locked with a
    # guarded update first, and a student whose case closed meanwhile gets a new one. A
    # case opened meanwhile by a concurrent upload makes its insert a no-op (the partial
    # unique index) and is joined in the next round.
    for _ in range(JOIN_ROUNDS):
        found = _lock_open_cases(session, upload.school_id, pending)
        open_cases.update(found)
        pending -= set(found)
        rows = [
            {
                "school_id": upload.school_id,
                "student_pk": pk,
                "result_id": result_ids.get(pk),
                "source": CaseSource.screening.value,
                "tier": tiers[pk],
                "urgent": tiers[pk] >= 3,
                "status": CaseStatus.open.value,
                "opened_at": now,
                "due_at": due(tiers[pk]),
            }
            for pk in sorted(pending)
        ]
        if rows:
            written = bulk_insert(session, Case.__table__, rows, returning=("id", "student_pk"))
            created.update({pk: case_id for case_id, pk in written})
            pending -= set(created)
        if not pending:
            break
    else:
        raise Conflict("Cases of this school changed while the upload was stored: upload again.")
    events = [
        {
            "case_id": case_id,
            "at": now,
            "actor_id": None,
            "kind": "opened",
            "detail": {
                "source": "screening",
                "window": upload.window,
                "tier": tiers[pk],
                "upload_id": upload.id,
            },
        }
        for pk, case_id in created.items()
    ]
    # Students who already had an open case: record the new screening, raise the tier.
    raised = []
    for pk, (case_id, old_tier, due_at) in open_cases.items():
        tier = tiers[pk]
        if tier > old_tier:
            raised.append(
                {"id": case_id, "tier": tier, "urgent": tier >= 3, "due_at": min(due_at, due(tier))}
            )
        events.append(
            {
                "case_id": case_id,
                "at": now,
                "actor_id": None,
                "kind": "rescreened",
                "detail": {
                    "window": upload.window,
                    "tier": tier,
                    "raised": tier > old_tier,
                    "upload_id": upload.id,
                },
            }
        )
    if raised:
        session.execute(update(Case), raised)
    if events:
        bulk_insert(session, CaseEvent.__table__, events)
    return len(created), len(open_cases)


def _note_unflagged_screenings(
    session: Session,
    upload: Upload,
    accepted: pl.DataFrame,
    pks: dict[str, int],
    now: dt.datetime,
) -> int:
    """Record on each open case the screening of its student when it flags them no more
    (tier below 2 or not determined): a corrected file that lowers a tier, a student
    screened again in a later window. The case keeps its tier: whoever works it reads
    the new result in its timeline and decides. Returns the number of cases noted."""
    below = accepted.filter(pl.col("tier").is_null() | (pl.col("tier") < 2))
    tiers = dict(zip((pks[s] for s in below["student_id"]), below["tier"], strict=True))
    if not tiers:
        return 0
    events = [
        {
            "case_id": case_id,
            "at": now,
            "actor_id": None,
            "kind": "rescreened",
            "detail": {
                "window": upload.window,
                "tier": tiers[pk],
                "raised": False,
                "upload_id": upload.id,
            },
        }
        for case_id, pk in session.execute(
            select(Case.id, Case.student_pk).where(
                Case.school_id == upload.school_id, Case.status == CaseStatus.open.value
            )
        )
        if pk in tiers
    ]
    if events:
        bulk_insert(session, CaseEvent.__table__, events)
    return len(events)


__all__ = [
    "PreparedUpload",
    "check_battery",
    "check_window",
    "content_hash",
    "get_upload",
    "list_uploads",
    "prepare_frame",
    "prepare_upload",
    "store_upload",
]
