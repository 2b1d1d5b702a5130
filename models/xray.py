"""X-ray screening: scoring models, events with their images, reviews, machine power and screener duty."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.accounts import User
from models.base import Base, BigId, UTCDateTime, str_enum, utcnow
from models.registry import Outlet, XrayMachine


class XrayModelVersion(Base):
    """A trained anomaly model; exactly one is active and scores new events."""

    __tablename__ = "xray_model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    location: Mapped[str] = mapped_column(String(255))
    threshold: Mapped[float] = mapped_column(Float)
    target_recall: Mapped[float | None] = mapped_column(Float)
    false_flag_budget: Mapped[float | None] = mapped_column(Float)  # the threshold flags this share of clean scans
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    training_summary: Mapped[dict] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ReviewStatus(enum.Enum):
    PENDING = "pending"        # flagged, waiting for a reviewer
    REVIEWED = "reviewed"
    NOT_FLAGGED = "not_flagged"


class XrayEvent(Base):
    """One screened item: its image (content-addressed in the instance folder), score and review state."""

    __tablename__ = "xray_events"
    __table_args__ = (Index("ix_xray_events_queue", "flagged", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("xray_machines.id"), index=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    waybill_no: Mapped[str] = mapped_column(String(32), index=True)
    scanned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    operator_id: Mapped[str] = mapped_column(String(32))
    screener_on_duty: Mapped[str | None] = mapped_column(String(32))
    image_sha256: Mapped[str] = mapped_column(String(64))
    image_format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean)
    model_version: Mapped[str] = mapped_column(String(64))
    threshold: Mapped[float | None] = mapped_column(Float)  # the operating threshold it was flagged against
    status: Mapped[ReviewStatus] = mapped_column(str_enum(ReviewStatus, "review_status"))
    is_tip: Mapped[bool] = mapped_column(Boolean, default=False)
    tip_threat: Mapped[bool | None] = mapped_column(Boolean)  # for TIP events: was a threat projected into it
    evidence_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    image_purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    machine: Mapped[XrayMachine] = relationship(lazy="joined")
    outlet: Mapped[Outlet] = relationship(lazy="joined")
    review: Mapped[XrayReview | None] = relationship(back_populates="event", lazy="joined")


class XrayReview(Base):
    """A reviewer's decision on a flagged image; for a projected test threat (TIP), whether they caught it."""

    __tablename__ = "xray_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("xray_events.id"), unique=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    category_code: Mapped[int | None] = mapped_column(ForeignKey("prohibited_categories.code"))
    note: Mapped[str | None] = mapped_column(Text)
    tip_outcome: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[XrayEvent] = relationship(back_populates="review")
    reviewer: Mapped[User] = relationship(lazy="joined")


class MachineStatus(Base):
    """What a machine reported: power on/off, a screener checking in or out (安检员打卡)."""

    __tablename__ = "machine_status"
    __table_args__ = (Index("ix_machine_status_machine_at", "machine_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("xray_machines.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    staff_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class XrayMachineModel(Base):
    """The model a machine was commissioned with: its events are scored by it instead of the active global one."""

    __tablename__ = "xray_machine_models"

    machine_id: Mapped[int] = mapped_column(ForeignKey("xray_machines.id"), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("xray_model_versions.id"), index=True)
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    machine: Mapped[XrayMachine] = relationship(lazy="joined")
    model_version: Mapped[XrayModelVersion] = relationship(lazy="joined")


class XrayCalibration(Base):
    """A machine's operating threshold for one model, chosen on the machine's own recent clean scans so that at
    most ``false_flag_budget`` of them would be flagged. The latest row of a machine and its current model applies."""

    __tablename__ = "xray_calibrations"
    __table_args__ = (Index("ix_xray_calibrations_machine_at", "machine_id", "calibrated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("xray_machines.id"))
    model_version: Mapped[str] = mapped_column(String(64))
    threshold: Mapped[float] = mapped_column(Float)
    scans_used: Mapped[int] = mapped_column(Integer)
    false_flag_budget: Mapped[float] = mapped_column(Float)
    calibrated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    machine: Mapped[XrayMachine] = relationship(lazy="joined")
class ClueStatus(enum.Enum):
    OPEN = "open"                  # seized or referred, not yet with another agency
    HANDED_OVER = "handed_over"    # with the receiving agency, under its case number
    CLOSED = "closed"              # the outcome is known


class Clue(Base):
    """A seized or referred X-ray event followed through (线索): handed over to an agency, then closed."""

    __tablename__ = "clues"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("xray_events.id"), unique=True)
    waybill_no: Mapped[str] = mapped_column(String(32), index=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    category_code: Mapped[int | None] = mapped_column(ForeignKey("prohibited_categories.code"))
    status: Mapped[ClueStatus] = mapped_column(str_enum(ClueStatus, "clue_status"), index=True)
    agency: Mapped[str | None] = mapped_column(String(128))
    agency_case_no: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    handed_over_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    event: Mapped[XrayEvent] = relationship(lazy="joined")
    outlet: Mapped[Outlet] = relationship(lazy="joined")
