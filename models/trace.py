"""Traceability: investigation cases, the tamper-evident access log, watchlists and their notifications."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.accounts import User
from models.base import Base, BigId, UTCDateTime, str_enum, utcnow


class CaseStatus(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    EXPIRED = "expired"


class Case(Base):
    """An investigation (联合调查) under which an investigator may see personal data, once approved."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(64), unique=True)
    agency: Mapped[str] = mapped_column(String(128))
    legal_basis: Mapped[str] = mapped_column(String(500))
    purpose: Mapped[str] = mapped_column(String(1000))
    valid_until: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus, "case_status"), default=CaseStatus.PENDING)
    investigator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refusal_reason: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    investigator: Mapped[User] = relationship(foreign_keys=[investigator_id], lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")

    def status_on(self, day: dt.date) -> CaseStatus:
        """The status as of ``day``: an approved case past its validity counts as expired."""
        if self.status in (CaseStatus.APPROVED, CaseStatus.PENDING) and day > self.valid_until:
            return CaseStatus.EXPIRED
        return self.status


class CaseResult(Base):
    """A collection record a case's queries returned: the case's evidence set."""

    __tablename__ = "case_results"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("collection_records.id"), primary_key=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccessLogEntry(Base):
    """One look at personal data or one decision, hash-chained to the one before; never updated or deleted
    (database triggers refuse both)."""

    __tablename__ = "access_log"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))  # None: a caller who was not signed in
    role: Mapped[str | None] = mapped_column(String(16))
    agency: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32), index=True)
    case_no: Mapped[str | None] = mapped_column(String(64), index=True)
    query_type: Mapped[str | None] = mapped_column(String(32))
    subject_hash: Mapped[str | None] = mapped_column(String(64))
    result_count: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(32))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class Watchlist(Base):
    """A saved query of a case that the scheduler runs on its cron, telling the investigator of new matches."""

    __tablename__ = "watchlists"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(128))
    query: Mapped[dict] = mapped_column(JSON)
    cron: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_record_id: Mapped[int] = mapped_column(BigId, default=0)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(lazy="joined")


class Notification(Base):
    """An in-app message to a user (new watchlist matches, decisions on their cases)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
