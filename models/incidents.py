"""Safety incidents (突发事件) and emergency management (应急): incidents with their grade, follow-up reports and
attachments; each enterprise's emergency plans (应急预案) and drills (应急演练)."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.accounts import User
from models.base import Base, UTCDateTime, str_enum, utcnow
from models.registry import Enterprise, Outlet


class IncidentType(enum.Enum):
    PROHIBITED_ITEM = "prohibited_item"    # 禁寄物品流入寄递渠道
    EXPLOSION = "explosion"                # 爆炸
    LEAK = "leak"                          # 泄漏
    FIRE = "fire"                          # 火灾
    VIOLENCE_THREAT = "violence_threat"    # 暴力恐怖威胁
    BACKLOG = "backlog"                    # 邮件快件大面积积压
    DATA_LEAK = "data_leak"                # 用户个人信息泄露
    NATURAL_DISASTER = "natural_disaster"  # 自然灾害
    OTHER = "other"


class IncidentGrade(enum.Enum):
    """The four grades of the postal emergency plan, I the gravest (特别重大, 重大, 较大, 一般)."""

    I = "I"      # noqa: E741 - the grade's own name
    II = "II"
    III = "III"
    IV = "IV"


class IncidentStatus(enum.Enum):
    REPORTED = "reported"    # grade suggested, waiting for an inspector's confirmation
    CONFIRMED = "confirmed"  # grade confirmed; follow-up reports
    CLOSED = "closed"        # closed with a summary


class Incident(Base):
    """A safety incident at an outlet or sorting centre, from its first report to its closing summary."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    type: Mapped[IncidentType] = mapped_column(str_enum(IncidentType, "incident_type"))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    description: Mapped[str] = mapped_column(Text)
    casualties: Mapped[int] = mapped_column(Integer, default=0)  # people dead or seriously injured
    records_affected: Mapped[int] = mapped_column(Integer, default=0)  # parcels or personal-data records
    measures: Mapped[str | None] = mapped_column(Text)
    grade_suggested: Mapped[IncidentGrade] = mapped_column(str_enum(IncidentGrade, "incident_grade_suggested"))
    grade: Mapped[IncidentGrade | None] = mapped_column(str_enum(IncidentGrade, "incident_grade"))  # confirmed
    grade_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    grade_confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    report_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # the first report's deadline
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # the first report came after it
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # told the province (grades I-II)
    status: Mapped[IncidentStatus] = mapped_column(str_enum(IncidentStatus, "incident_status"),
                                                   default=IncidentStatus.REPORTED, index=True)
    summary: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    outlet: Mapped[Outlet] = relationship(lazy="joined")
    reported_by: Mapped[User | None] = relationship(foreign_keys=[reported_by_id])
    grade_confirmed_by: Mapped[User | None] = relationship(foreign_keys=[grade_confirmed_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    updates: Mapped[list[IncidentUpdate]] = relationship(back_populates="incident", order_by="IncidentUpdate.id",
                                                         lazy="selectin")
    attachments: Mapped[list[IncidentAttachment]] = relationship(order_by="IncidentAttachment.id", lazy="selectin")

    @property
    def effective_grade(self) -> IncidentGrade:
        """The confirmed grade, else the suggested one."""
        return self.grade or self.grade_suggested


class IncidentUpdate(Base):
    """A follow-up report (续报) on an incident."""

    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="updates")
    author: Mapped[User | None] = relationship(lazy="joined")


class IncidentAttachment(Base):
    """A file sent with an incident (photos, scans), kept content-addressed in the storage."""

    __tablename__ = "incident_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    storage_key: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmergencyPlan(Base):
    """An enterprise's emergency plan (应急预案) on file: a version of the document and how long it is valid."""

    __tablename__ = "emergency_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(32))
    valid_until: Mapped[dt.date] = mapped_column(Date)
    storage_key: Mapped[str | None] = mapped_column(String(200))
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(64))
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")


class EmergencyDrill(Base):
    """An emergency drill (应急演练) an enterprise held: when, what it rehearsed, who took part, what it found."""

    __tablename__ = "emergency_drills"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    held_on: Mapped[dt.date] = mapped_column(Date)
    scenario: Mapped[str] = mapped_column(String(200))
    participants: Mapped[int] = mapped_column(Integer)
    findings: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")
