"""The tables of the service (SQLAlchemy 2 ORM).

Only what the work needs is stored: the school's student id and, when the file has one, a
name (counsellors talk to the student); scale scores, bands, tier and the reasons that
fired; case events; an append-only audit trail. Item answers and pseudonyms are not
stored. Times are stored as UTC and read back as aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Role(StrEnum):
    """Roles of the service (DESIGN.md, "Service")."""

    district_admin = "district_admin"
    analyst = "analyst"
    counsellor = "counsellor"
    teacher = "teacher"
    researcher = "researcher"


class CaseSource(StrEnum):
    """How a case was opened."""

    screening = "screening"
    referral = "referral"


class CaseStatus(StrEnum):
    """Open cases are in the queue; closed cases keep their history."""

    open = "open"
    closed = "closed"


class ReferralCategory(StrEnum):
    """Why a teacher or class psychology committee member refers a student (POLICY.md)."""

    self_harm = "self_harm"
    suicidal_tendency = "suicidal_tendency"
    aggression = "aggression"
    withdrawn_or_depressed = "withdrawn_or_depressed"
    study_pressure = "study_pressure"
    family_emergency = "family_emergency"
    sensitive_period = "sensitive_period"
    special_attention_group = "special_attention_group"
    other = "other"


URGENT_REFERRALS = frozenset(
    {ReferralCategory.self_harm, ReferralCategory.suicidal_tendency, ReferralCategory.aggression}
)


class Disposition(StrEnum):
    """How a case was closed."""

    counselled_resolved = "counselled_resolved"
    no_concern_after_interview = "no_concern_after_interview"
    hospital_referral = "hospital_referral"
    handed_to_level3_group = "handed_to_level3_group"
    left_school = "left_school"
    other = "other"


class GuardianContactMethod(StrEnum):
    """How a student's guardian was reached (家校沟通)."""

    phone = "phone"
    in_person = "in_person"
    message = "message"
    letter = "letter"


class GuardianContactOutcome(StrEnum):
    """What came of a contact with the guardian.

    ``advised_medical_care`` is the reminder to take the student to a doctor that the
    policies ask of schools for high-risk students (及时提醒家长送医诊治); ``not_reached``
    records an attempt, which does not count as the guardian being informed.
    """

    informed = "informed"
    advised_medical_care = "advised_medical_care"
    declined = "declined"
    not_reached = "not_reached"


TIER_LABELS = {0: "green", 1: "yellow", 2: "orange", 3: "red"}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and returned as an aware UTC datetime."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Timestamps must be timezone-aware.")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


JSONType = JSON()  # plain JSON keeps the order of scale columns on PostgreSQL too

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with constraint names that migrations can rely on."""

    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    """A staff account. Only the SHA-256 of its bearer token is stored."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    school_id: Mapped[str | None] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Student(Base):
    """A student of one school, keyed by the school's student id."""

    __tablename__ = "students"
    __table_args__ = (UniqueConstraint("school_id", "student_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[str] = mapped_column(String(32))
    student_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Upload(Base):
    """One accepted response file: the same content for a school and window is stored once."""

    __tablename__ = "uploads"
    __table_args__ = (UniqueConstraint("school_id", "screening_window", "content_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[str] = mapped_column(String(32))
    window: Mapped[str] = mapped_column("screening_window", String(32))
    battery: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Result(Base):
    """The screening result of one student in one window (the newest upload wins)."""

    __tablename__ = "results"
    __table_args__ = (
        UniqueConstraint("student_pk", "screening_window"),
        Index(None, "school_id", "screening_window"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_pk: Mapped[int] = mapped_column(ForeignKey("students.id"))
    school_id: Mapped[str] = mapped_column(String(32))
    window: Mapped[str] = mapped_column("screening_window", String(32))
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"))
    battery: Mapped[str] = mapped_column(String(200))
    grade: Mapped[str | None] = mapped_column(String(16))
    sex: Mapped[str | None] = mapped_column(String(16))
    class_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12))
    tier: Mapped[int | None] = mapped_column(SmallInteger)
    scores: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reasons: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Case(Base):
    """A student in the counselling room's queue; at most one open case per student."""

    __tablename__ = "cases"
    __table_args__ = (
        Index(
            "uq_cases_one_open_per_student",
            "student_pk",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index(None, "school_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[str] = mapped_column(String(32))
    student_pk: Mapped[int] = mapped_column(ForeignKey("students.id"))
    result_id: Mapped[int | None] = mapped_column(ForeignKey("results.id"))
    source: Mapped[str] = mapped_column(String(12))
    tier: Mapped[int] = mapped_column(SmallInteger)
    urgent: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(10))
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    follow_up_on: Mapped[dt.date | None] = mapped_column(Date)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    referred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    disposition: Mapped[str | None] = mapped_column(String(40))


class CaseEvent(Base):
    """One change of a case: opened, claimed, note, follow_up, escalated, referred, closed...

    Append-only: a trigger refuses UPDATE and DELETE (migration 0003).
    """

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)


class AuditEvent(Base):
    """Who read or changed what, when. Append-only: a trigger refuses UPDATE and DELETE."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    school_id: Mapped[str | None] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))


__all__ = [
    "TIER_LABELS",
    "URGENT_REFERRALS",
    "AuditEvent",
    "Base",
    "Case",
    "CaseEvent",
    "CaseSource",
    "CaseStatus",
    "Disposition",
    "ReferralCategory",
    "Result",
    "Role",
    "Student",
    "Upload",
    "User",
]
