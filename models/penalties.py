"""Administrative penalties (行政处罚): the table of legal provisions, penalty cases and document numbers."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.accounts import User
from models.audits import Audit, RectificationOrder
from models.base import Base, UTCDateTime, str_enum, utcnow
from models.registry import Outlet


class LegalProvision(Base):
    """A provision a penalty may rest on: the law, the article, its text and the fine range it allows (元)."""

    __tablename__ = "legal_provisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    law: Mapped[str] = mapped_column(String(128))
    article: Mapped[str] = mapped_column(String(64))
    violation: Mapped[str] = mapped_column(String(200))  # what it punishes, in a line
    text: Mapped[str] = mapped_column(Text)
    verbatim: Mapped[bool] = mapped_column(Boolean, default=False)  # text quoted from the law, not a summary
    fine_min: Mapped[int | None] = mapped_column(Integer)
    fine_max: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def citation(self) -> str:
        return f"{self.law}{self.article}"


class PenaltyStatus(enum.Enum):
    REGISTERED = "registered"  # 立案
    NOTIFIED = "notified"      # 行政处罚事先告知 (with the right to a hearing) served
    DECIDED = "decided"        # 行政处罚决定书 issued
    PUBLISHED = "published"    # 公示


class PenaltyDecision(enum.Enum):
    WARNING = "warning"  # 警告
    FINE = "fine"        # 罚款
    OTHER = "other"      # 其他 (e.g. 责令停业整顿), in words


class PenaltyCase(Base):
    """A penalty case against an outlet's enterprise: registered from an escalated rectification order or a
    serious finding, notified, decided and published."""

    __tablename__ = "penalty_cases"
    __table_args__ = (UniqueConstraint("case_year", "case_seq"), UniqueConstraint("decision_year", "decision_seq"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_year: Mapped[int] = mapped_column(Integer)
    case_seq: Mapped[int] = mapped_column(Integer)
    case_no: Mapped[str] = mapped_column(String(40))  # as printed: 内邮立〔2026〕第3号
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("rectification_orders.id"), index=True)
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("audits.id"))
    provision_id: Mapped[int] = mapped_column(ForeignKey("legal_provisions.id"))
    facts: Mapped[str] = mapped_column(Text)
    status: Mapped[PenaltyStatus] = mapped_column(str_enum(PenaltyStatus, "penalty_status"),
                                                  default=PenaltyStatus.REGISTERED)
    registered_on: Mapped[dt.date] = mapped_column(Date)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    notice_served_on: Mapped[dt.date | None] = mapped_column(Date)
    hearing_deadline: Mapped[dt.date | None] = mapped_column(Date)
    hearing_deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    hearing_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    rights_waived: Mapped[bool] = mapped_column(Boolean, default=False)  # 书面放弃陈述、申辩和听证
    hearing_held_on: Mapped[dt.date | None] = mapped_column(Date)
    hearing_note: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[PenaltyDecision | None] = mapped_column(str_enum(PenaltyDecision, "penalty_decision"))
    fine_amount: Mapped[int | None] = mapped_column(Integer)  # 元
    decision_text: Mapped[str | None] = mapped_column(Text)
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    decision_year: Mapped[int | None] = mapped_column(Integer)
    decision_seq: Mapped[int | None] = mapped_column(Integer)
    decision_no: Mapped[str | None] = mapped_column(String(40))  # 内邮罚〔2026〕第3号
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    outlet: Mapped[Outlet] = relationship(lazy="joined")
    provision: Mapped[LegalProvision] = relationship(lazy="joined")
    order: Mapped[RectificationOrder | None] = relationship()
    audit: Mapped[Audit | None] = relationship()
    registered_by: Mapped[User | None] = relationship(foreign_keys=[registered_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class DocumentCounter(Base):
    """The last number given to a kind of document in a year (通知书 and 决定书 are numbered per year)."""

    __tablename__ = "document_counters"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)
