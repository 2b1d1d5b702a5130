"""Daily-log batches, collection records (versioned, personal data encrypted), outlet-day rates, alerts, findings."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (JSON, Boolean, Date, Float, ForeignKey, Index, Integer, LargeBinary, String,
                        UniqueConstraint, false)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, BigId, UTCDateTime, str_enum, utcnow
from models.registry import Outlet


class BatchStatus(enum.Enum):
    ACCEPTED = "accepted"
    PARTIAL = "partial"
    REJECTED = "rejected"


class UploadBatch(Base):
    """One uploaded daily-log file: where it is archived, what came of its rows."""

    __tablename__ = "upload_batches"
    __table_args__ = (UniqueConstraint("outlet_id", "sha256"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigId)
    format: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str | None] = mapped_column(String(16))
    strict: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[BatchStatus] = mapped_column(str_enum(BatchStatus, "batch_status"))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0)
    rows_corrected: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(8))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    outlet: Mapped[Outlet] = relationship(lazy="joined")


class BatchError(Base):
    """A rejected row of a batch: the row number as the user sees it, the column (English key, '' for the whole
    row), and what is wrong as a code and the parameters of its message, so that the report can be shown in any
    language. Rows stored before codes existed have the code ``legacy`` and their English ``message`` as a
    parameter."""

    __tablename__ = "batch_errors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("upload_batches.id"), index=True)
    row: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict] = mapped_column(JSON, default=dict)


class RejectedRow(Base):
    """The cells of a rejected row as the file had them, for the error report (each reason beside the row's own
    values, ready to fix and upload again). The cells may hold ID and phone numbers, so they are stored only
    encrypted: the JSON object of raw values by column key, under the personal-data keys (purpose
    ``rejected_row``); the report masks personal columns for every role."""

    __tablename__ = "rejected_rows"
    __table_args__ = (UniqueConstraint("batch_id", "row"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("upload_batches.id"), index=True)
    row: Mapped[int] = mapped_column(Integer)
    values_enc: Mapped[bytes] = mapped_column(LargeBinary)


class CollectionRecord(Base):
    """One version of one item's collection record. A correction adds a version; none is ever overwritten.

    ID and phone numbers and addresses are stored only encrypted (``*_enc``) and as keyed hashes (``*_hmac``) for
    lookup (and to tell two versions apart).
    """

    __tablename__ = "collection_records"
    __table_args__ = (
        UniqueConstraint("outlet_id", "waybill_no", "version"),
        Index("ix_collection_records_outlet_day", "outlet_id", "collected_on", "is_current"),
        Index("ix_collection_records_sender_id_day", "sender_id_hmac", "collected_on"),
        Index("ix_collection_records_sender_name_day", "sender_name", "collected_on"),
        Index("ix_collection_records_recipient_name_day", "recipient_name", "collected_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    waybill_no: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("upload_batches.id"), index=True)
    row_no: Mapped[int] = mapped_column(Integer)
    collected_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    collected_on: Mapped[dt.date] = mapped_column(Date)
    sender_name: Mapped[str] = mapped_column(String(64), default="")
    sender_id_type: Mapped[str | None] = mapped_column(String(24))
    sender_id_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    sender_id_hmac: Mapped[str | None] = mapped_column(String(64))
    sender_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    sender_phone_hmac: Mapped[str | None] = mapped_column(String(64), index=True)
    item_name: Mapped[str] = mapped_column(String(128))
    item_category: Mapped[str | None] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    real_name_verified: Mapped[bool] = mapped_column(Boolean)
    inspected: Mapped[bool] = mapped_column(Boolean)
    xray_screened: Mapped[bool] = mapped_column(Boolean)
    real_name_compliant: Mapped[bool] = mapped_column(Boolean)
    courier_id: Mapped[str | None] = mapped_column(String(32))
    contract_customer_code: Mapped[str | None] = mapped_column(String(32))
    sender_address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    sender_address_hmac: Mapped[str | None] = mapped_column(String(64))
    recipient_name: Mapped[str | None] = mapped_column(String(64))
    recipient_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    recipient_phone_hmac: Mapped[str | None] = mapped_column(String(64), index=True)
    recipient_address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    recipient_address_hmac: Mapped[str | None] = mapped_column(String(64))
    destination_region: Mapped[str | None] = mapped_column(String(6))
    is_letter: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    outlet: Mapped[Outlet] = relationship(lazy="joined")


class OutletDay(Base):
    """The running counts of one outlet on one day (Asia/Shanghai), kept current as batches land."""

    __tablename__ = "outlet_days"

    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True, index=True)
    parcels: Mapped[int] = mapped_column(Integer, default=0)
    real_name_ok: Mapped[int] = mapped_column(Integer, default=0)
    real_name_adjusted_ok: Mapped[int] = mapped_column(Integer, default=0)
    inspected_ok: Mapped[int] = mapped_column(Integer, default=0)
    xray_ok: Mapped[int] = mapped_column(Integer, default=0)
    # declared screened and seen by a machine of the outlet or its screening site in the window (PRODUCT.md)
    xray_verified_ok: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    real_name_rate: Mapped[float] = mapped_column(Float, default=1.0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    outlet: Mapped[Outlet] = relationship(lazy="joined")


class AlertStatus(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class Alert(Base):
    """An outlet-day whose rate of one metric fell under its threshold; closes when a correction lifts it."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("outlet_id", "day", "metric"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(32))
    rate: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    status: Mapped[AlertStatus] = mapped_column(str_enum(AlertStatus, "alert_status"), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    outlet: Mapped[Outlet] = relationship(lazy="joined")


class Finding(Base):
    """Abnormal real-name data (异常实名信息) behind a rate: one subject, one kind, one outlet-day."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("kind", "outlet_id", "day", "subject"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    subject: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    outlet: Mapped[Outlet] = relationship(lazy="joined")


class FindingRecord(Base):
    """Ties a finding to the records behind it; such records do not count in the adjusted real-name rate."""

    __tablename__ = "finding_records"

    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("collection_records.id"), primary_key=True, index=True)


class PiiKeyState(Base):
    """Which personal-data key version the stored ciphertexts and blind indexes use (never the key itself)."""

    __tablename__ = "pii_key_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=1)
    active_version: Mapped[int] = mapped_column(Integer)
    rotated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
