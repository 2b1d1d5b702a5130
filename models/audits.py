"""Audits (执法检查): random-draw plans, audits with their checklist, rectification orders, schedules."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.accounts import User
from models.base import Base, UTCDateTime, str_enum, utcnow
from models.registry import Outlet


class AuditKind(enum.Enum):
    RANDOM = "random"          # routine, drawn by a plan (双随机)
    TARGETED = "targeted"      # an outlet under threshold for consecutive days
    FOLLOW_UP = "follow_up"    # re-inspection of a rectification order (复查)
    SAFETY = "safety"          # safety-production hazard inspection (安全生产隐患排查), drawn by a plan


class AuditStatus(enum.Enum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class AuditResult(enum.Enum):
    PASS = "pass"
    RECTIFY = "rectify"


class AuditSchedule(Base):
    """A recurring draw on a cron expression; fired by the scheduler process."""

    __tablename__ = "audit_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    cron: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    outlets: Mapped[int] = mapped_column(Integer)
    inspectors_per_audit: Mapped[int] = mapped_column(Integer, default=2)
    due_in_days: Mapped[int] = mapped_column(Integer, default=14)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_fired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ScheduleFiring(Base):
    """One firing of one scheduled job: the unique key lets exactly one scheduler process claim it."""

    __tablename__ = "schedule_firings"
    __table_args__ = (UniqueConstraint("job_id", "fire_time"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64))
    fire_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(255))


class AuditPlan(Base):
    """One draw: its inputs and seed are stored so anyone can re-run it and get the same audits."""

    __tablename__ = "audit_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    outlets_requested: Mapped[int] = mapped_column(Integer)
    inspectors_per_audit: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[dt.date] = mapped_column(Date)
    start_date: Mapped[dt.date | None] = mapped_column(Date)  # None: a plan of the one-day format (before 2026-12)
    kind: Mapped[AuditKind] = mapped_column(str_enum(AuditKind, "audit_kind"), default=AuditKind.RANDOM)
    seed: Mapped[int] = mapped_column(BigInteger)
    inputs: Mapped[dict] = mapped_column(JSON)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("audit_schedules.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    audits: Mapped[list[Audit]] = relationship(back_populates="plan", order_by="Audit.id")


audit_inspectors = Table(
    "audit_inspectors",
    Base.metadata,
    Column("audit_id", ForeignKey("audits.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
)


class Audit(Base):
    """An inspection of one outlet by (usually) two inspectors, with a checklist and a result."""

    __tablename__ = "audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("audit_plans.id"), index=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    kind: Mapped[AuditKind] = mapped_column(str_enum(AuditKind, "audit_kind"))
    status: Mapped[AuditStatus] = mapped_column(str_enum(AuditStatus, "audit_status"), default=AuditStatus.PLANNED)
    result: Mapped[AuditResult | None] = mapped_column(str_enum(AuditResult, "audit_result"))
    due_date: Mapped[dt.date] = mapped_column(Date, index=True)
    scheduled_on: Mapped[dt.date | None] = mapped_column(Date, index=True)  # the working day it is planned for
    reason: Mapped[str | None] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("audits.id"))
    summary: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    publish_by: Mapped[dt.date | None] = mapped_column(Date)
    publish_by_provisional: Mapped[bool] = mapped_column(Boolean, default=False)  # counted in a year without holidays
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    outlet: Mapped[Outlet] = relationship(lazy="joined")
    plan: Mapped[AuditPlan | None] = relationship(back_populates="audits")
    inspectors: Mapped[list[User]] = relationship(secondary=audit_inspectors, lazy="selectin",
                                                  order_by="User.username")
    items: Mapped[list[ChecklistEntry]] = relationship(back_populates="audit", lazy="selectin",
                                                       order_by="ChecklistEntry.position",
                                                       cascade="all, delete-orphan")
    order: Mapped[RectificationOrder | None] = relationship(back_populates="audit", lazy="joined",
                                                           foreign_keys="RectificationOrder.audit_id")
    members: Mapped[list[AuditMember]] = relationship(lazy="selectin", order_by="AuditMember.id",
                                                      cascade="all, delete-orphan")

    @property
    def day(self) -> dt.date:
        """The day the audit is planned for (its due date for audits planned before plans had periods)."""
        return self.scheduled_on or self.due_date


class AuditMember(Base):
    """A named member of a joint audit from another agency (e.g. the public-security 物流寄递 police)."""

    __tablename__ = "audit_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChecklistItem(Base):
    """One item of the checklist of an audit kind, kept as data that admins extend; an audit copies the active
    items of its kind when it is created, so later edits never change an audit under way."""

    __tablename__ = "checklist_items"
    __table_args__ = (UniqueConstraint("kind", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AuditKind] = mapped_column(str_enum(AuditKind, "audit_kind"))
    code: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    serious: Mapped[bool] = mapped_column(Boolean, default=False)  # a failure may open a penalty case directly
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AbsenceReason(enum.Enum):
    LEAVE = "leave"
    TRAINING = "training"
    OTHER = "other"


class InspectorAbsence(Base):
    """Days an inspector cannot audit (leave, training, other duties): the draw schedules nobody on them."""

    __tablename__ = "inspector_absences"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[AbsenceReason] = mapped_column(str_enum(AbsenceReason, "absence_reason"))
    note: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class ChecklistEntry(Base):
    """One item of an audit's checklist: compliant or not, and what was found."""

    __tablename__ = "checklist_entries"
    __table_args__ = (UniqueConstraint("audit_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(200), default="")  # the item's text when the audit began
    name_en: Mapped[str] = mapped_column(String(200), default="")
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer)
    compliant: Mapped[bool | None] = mapped_column(Boolean)
    finding: Mapped[str | None] = mapped_column(Text)

    audit: Mapped[Audit] = relationship(back_populates="items")
    photos: Mapped[list[AuditPhoto]] = relationship(lazy="selectin", order_by="AuditPhoto.id")


class AuditPhoto(Base):
    """A photo attached to a checklist finding, stored content-addressed in the instance folder."""

    __tablename__ = "audit_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("checklist_entries.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderStatus(enum.Enum):
    OPEN = "open"                  # issued (or rejected): the outlet must answer by the deadline
    ANSWERED = "answered"          # the manager answered: an inspector accepts, rejects or re-inspects
    REINSPECTING = "reinspecting"  # a follow-up audit will close or escalate it
    CLOSED = "closed"              # put right
    ESCALATED = "escalated"        # not put right: a penalty case may follow


class RectificationOrder(Base):
    """An order to put right what an audit found, by a deadline; the outlet manager answers it."""

    __tablename__ = "rectification_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id"), unique=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    deadline: Mapped[dt.date] = mapped_column(Date, index=True)
    issued_on: Mapped[dt.date | None] = mapped_column(Date)
    notice_year: Mapped[int | None] = mapped_column(Integer)  # 责令限期改正通知书 number: year and sequence
    notice_seq: Mapped[int | None] = mapped_column(Integer)
    notice_no: Mapped[str | None] = mapped_column(String(40))  # as printed: 内邮责改〔2026〕第12号
    requirements: Mapped[str] = mapped_column(Text)
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, "order_status"), default=OrderStatus.OPEN)
    response: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    overdue_alerted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("audits.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    audit: Mapped[Audit] = relationship(back_populates="order", foreign_keys=[audit_id])
    outlet: Mapped[Outlet] = relationship(lazy="joined")
    follow_up: Mapped[Audit | None] = relationship(foreign_keys=[follow_up_id])
    events: Mapped[list[RectificationEvent]] = relationship(
        back_populates="order", lazy="selectin", order_by="RectificationEvent.id", cascade="all, delete-orphan")


class RectificationEvent(Base):
    """One dated step of an order's history: issued, answered, accepted, rejected, re-inspection, overdue..."""

    __tablename__ = "rectification_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("rectification_orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    day: Mapped[dt.date] = mapped_column(Date)  # the day in China
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str | None] = mapped_column(Text)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("audits.id"))

    order: Mapped[RectificationOrder] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship(lazy="joined")
    photos: Mapped[list[RectificationPhoto]] = relationship(lazy="selectin", order_by="RectificationPhoto.id",
                                                            cascade="all, delete-orphan")


class RectificationPhoto(Base):
    """A photo of an outlet's answer to an order, in the storage (content-addressed, like audit photos)."""

    __tablename__ = "rectification_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("rectification_events.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
