"""Long work done by a background worker (large daily-log uploads, X-ray imports): what was asked, by whom, and
what came of it. The queue (Redis) only carries the job's id; this row is the job's truth."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, str_enum, utcnow
from models.registry import Outlet


class JobKind(enum.Enum):
    DAILY_LOG = "daily_log"
    XRAY_IMPORT = "xray_import"


class JobStatus(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BackgroundJob(Base):
    """One piece of long work. ``input_key`` names its input in the storage (encrypted: it may hold personal
    data) until the work is done; ``result`` is what the user needs afterwards (the batch, the counts);
    ``error_code`` and ``error_params`` a refusal in the domain's error vocabulary."""

    __tablename__ = "background_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[JobKind] = mapped_column(str_enum(JobKind, "job_kind"))
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus, "job_status"), index=True)
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    input_key: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_params: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    outlet: Mapped[Outlet | None] = relationship(lazy="joined")
