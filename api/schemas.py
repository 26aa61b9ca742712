"""Request and response models of the service (pydantic), shared by routes and web pages."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from screening.api.models import (
    Disposition,
    GuardianContactMethod,
    GuardianContactOutcome,
    ReferralCategory,
    Role,
)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value: str) -> str:
    """``value`` unless it holds a NUL or a lone UTF-16 surrogate, which no database stores.

    A JSON client that cuts text at a number of UTF-16 units can split an emoji and send
    half of it (``"\\ud83d"``); the request is refused with the position, not half stored.
    """
    found = _UNSTORABLE.search(value)
    if found is not None:
        char = found.group()
        what = (
            "a NUL character"
            if char == "\x00"
            else f"U+{ord(char):04X}, half of a character (an emoji, say) that was cut in two"
        )
        raise ValueError(f"character {found.start() + 1} is {what}; remove it and send again")
    return value


Storable = AfterValidator(_storable)
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), Storable
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Storable
]
SchoolId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32), Storable
]
StudentId = Annotated[
    str,
    Storable,
    # as the upload reads ids (screening.io.canonical_ids): a full-width Ｓ１ is the
    # uploaded S1, and a zero-width space pasted with an id is not part of it
    AfterValidator(
        lambda value: "".join(
            c for c in unicodedata.normalize("NFKC", value) if unicodedata.category(c) != "Cf"
        ).strip()
    ),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
]
TierLabel = Literal["green", "yellow", "orange", "red", "retest"]
ScoreValue = float | int | str | bool | None


class Model(BaseModel):
    """Base: forbid unknown fields in requests."""

    model_config = ConfigDict(extra="forbid")


class Me(Model):
    """The account a token belongs to."""

    name: str
    role: Role
    school_id: str | None


class RejectedRow(Model):
    """A row of an upload that was not stored, and why."""

    row: int = Field(description="1-based data row of the file")
    reason: str
    tier_label: TierLabel | None = Field(
        default=None,
        description="the tier the row scored; a red or orange row is in no queue until "
        "it is uploaded again",
    )


class FailureCase(Model):
    """An answer that is not valid for its item (the row is kept with status invalid)."""

    row: int
    student_id: str | None
    column: str
    value: str | None
    reason: str


class UploadSummary(Model):
    """What an upload did: rows accepted and rejected, counts by status and tier, cases."""

    upload_id: int
    school_id: str
    window: str
    battery: str
    duplicate: bool = Field(description="True when the same content was uploaded before")
    rows: int
    accepted: int
    rejected: int
    by_status: dict[str, int]
    by_tier: dict[str, int]
    cases_opened: int
    cases_updated: int
    uploaded_at: dt.datetime
    numbered_from: int | None = Field(
        default=None,
        description="The number the file gave each item's first option (null: answer codes)",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Doubts about the file that did not stop scoring, such as an instrument "
        "whose lowest answer nobody chose (options numbered from 1)",
    )
    rejected_rows: list[RejectedRow] = Field(default_factory=list)
    failure_cases: list[FailureCase] = Field(default_factory=list)
    failure_cases_total: int = 0


class ReferralIn(Model):
    """A level-1 referral: a teacher or class psychology committee member noticed something."""

    student_id: StudentId
    school_id: SchoolId | None = None
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), Storable] | None
    ) = None
    category: ReferralCategory
    note: Text


class ReferralReceipt(Model):
    """Answer to a referral; counsellors also get the case it joined or opened."""

    received: bool = True
    case_id: int | None = None
    opened: bool | None = None


class QueueItem(Model):
    """One open case in the counselling room's queue."""

    case_id: int
    student_id: str
    name: str | None
    grade: str | None
    class_id: str | None
    sex: str | None
    tier: int
    tier_label: TierLabel
    urgent: bool
    source: str
    status: str
    opened_at: dt.datetime
    due_at: dt.datetime
    overdue: bool
    claimed_by: str | None
    claimed_at: dt.datetime | None
    follow_up_on: dt.date | None
    follow_up_due: bool
    """The case is open and its follow-up date is today or past in China Standard Time."""
    escalated: bool
    guardian_informed: bool
    """A contact with the student's guardian is recorded that reached them (any outcome but
    ``not_reached``)."""
    reasons: list[str]


class Queue(Model):
    """A school's queue: urgent first, then due time, then tier, then waiting time.

    ``count``, ``overdue`` and ``follow_ups_due`` count every open case (of the caller,
    with ``mine``; with a due follow-up, with ``follow_up_due``); ``items`` is the page
    from ``offset`` of at most ``limit`` cases.
    """

    school_id: str
    as_of: dt.datetime
    count: int
    overdue: int
    follow_ups_due: int
    offset: int = 0
    limit: int | None = None
    items: list[QueueItem]


class CaseEventOut(Model):
    """One change of a case."""

    id: int
    at: dt.datetime
    kind: str
    actor: str | None
    detail: dict[str, Any]


class ResultOut(Model):
    """One screening result of the student."""

    window: str
    battery: str
    status: str
    tier: int | None
    tier_label: TierLabel
    grade: str | None
    sex: str | None
    class_id: str | None
    scores: dict[str, ScoreValue]
    reasons: list[str]
    screened_at: dt.datetime


class CaseBrief(Model):
    """Another case of the same student."""

    case_id: int
    status: str
    source: str
    tier: int
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    disposition: str | None


class CaseOut(QueueItem):
    """A case with the student's whole file: events, every screening, other cases."""

    referred_at: dt.datetime | None
    closed_at: dt.datetime | None
    disposition: str | None
    events: list[CaseEventOut]
    results: list[ResultOut]
    other_cases: list[CaseBrief]


class NoteIn(Model):
    """An interview or counselling note."""

    text: Text


class FollowUpIn(Model):
    """The next follow-up date."""

    on: dt.date
    note: Text | None = None


class EscalateIn(Model):
    """Hand the case to the level-3 group (moral-education office, leadership group)."""

    reason: Text


class ReferIn(Model):
    """A hospital referral through the medical-education green channel."""

    target: ShortText
    on: dt.date
    note: Text | None = None


class GuardianContactIn(Model):
    """A contact with the student's guardian (家校沟通): when, how, and what came of it."""

    on: dt.date
    method: GuardianContactMethod
    outcome: GuardianContactOutcome
    note: Text | None = None


class CloseIn(Model):
    """Close a case with a disposition (an urgent case also needs a referral or a note)."""

    disposition: Disposition
    note: Text | None = None
    seen_event: int | None = Field(
        default=None,
        description="id of the newest event of the case that the closer has read; the close "
        "is refused (409) when someone else added an event since (a referral, a screening)",
    )


class Cell(Model):
    """One count of an aggregate table; None when suppressed (fewer than min_cell)."""

    group: str | None
    tier_label: TierLabel
    count: int | None
    suppressed: bool


class Report(Model):
    """Counts by tier, grade and sex; cells under min_cell are suppressed."""

    scope: Literal["school", "district"]
    school_id: str | None
    window: str | None
    min_cell: int
    students: int | None
    by_tier: list[Cell]
    by_grade: list[Cell]
    by_sex: list[Cell]
    by_school: list[Cell] | None = None
    note: str = (
        "Screening results are a reason to talk with a student, not a diagnosis. "
        "Cells under min_cell students are suppressed."
    )


class Health(Model):
    """Liveness and database reachability."""

    status: Literal["ok"]
    database: Literal["ok"]


class ErrorOut(BaseModel):
    """An error answer (401, 403, 404, 409, 413, 500, 503)."""

    detail: str
