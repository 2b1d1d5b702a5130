"""The whole path of one upload, shared by the API, the web page and the CLI."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from greenshield.work import services as background
from greenshield.compliance.services import refresh_outlet_days, screen
from greenshield.compliance.verification import Window
from greenshield.ingest.services import IngestOutcome, existing_batch, ingest_daily_log
from greenshield.personal import vault
from greenshield.settings import Settings
from greenshield.storage import of as storage_of
from greenshield.uploads import spooled
from inspection.screening import Thresholds
from models import BackgroundJob, JobKind, Outlet, User


def screening_thresholds(settings: Settings) -> Thresholds:
    return Thresholds(names_per_id=settings.screening_names_per_id, outlets_per_id=settings.screening_outlets_per_id,
                      items_per_id=settings.screening_items_per_id, sequential_run=settings.screening_sequential_run)


def receive_daily_log(session: Session, settings: Settings, *, outlet: Outlet, stream: BinaryIO, filename: str,
                      strict: bool, source: str, user: User | None) -> IngestOutcome | BackgroundJob:
    """Spool an upload, then ingest it here, or, when workers take long work (``REDIS_URL``) and the file is
    larger than ``QUEUE_UPLOAD_BYTES``, leave it encrypted in the storage for a worker and return its queued
    ``BackgroundJob`` (the caller commits, then ``background.enqueue``s it). The same file again returns its
    first batch at once. Raises a DomainError (nothing stored) for unusable files."""
    with spooled(settings, stream) as (path, sha256, size):
        earlier = existing_batch(session, outlet, sha256)
        if earlier is not None:
            return IngestOutcome(earlier, created=False)
        if background.enabled(settings) and size > settings.queue_upload_bytes:
            return background.create(session, storage_of(settings), vault(session, settings),
                                     kind=JobKind.DAILY_LOG, source=path, sha256=sha256, size=size,
                                     filename=filename or "upload", user_id=user.id if user else None,
                                     outlet_id=outlet.id, options={"strict": strict, "source": source})
        return ingest_spooled(session, settings, outlet=outlet, path=path, sha256=sha256, size=size,
                              filename=filename, strict=strict, source=source, user=user)


def upload_daily_log(session: Session, settings: Settings, *, outlet: Outlet, stream: BinaryIO, filename: str,
                     strict: bool, source: str, user: User | None) -> IngestOutcome:
    """Spool, archive, ingest, screen and recount, here and now (the CLI, the demo). Raises a DomainError
    (nothing stored) for unusable files."""
    with spooled(settings, stream) as (path, sha256, size):
        return ingest_spooled(session, settings, outlet=outlet, path=path, sha256=sha256, size=size,
                              filename=filename, strict=strict, source=source, user=user)


def ingest_spooled(session: Session, settings: Settings, *, outlet: Outlet, path: Path, sha256: str, size: int,
                   filename: str, strict: bool, source: str, user: User | None,
                   progress: Callable[[int], None] | None = None) -> IngestOutcome:
    """Archive, ingest, screen and recount a spooled file (in a request, or in a worker)."""
    keys = vault(session, settings)
    outcome = ingest_daily_log(session, outlet=outlet, path=path, sha256=sha256, size=size,
                               filename=filename or "upload", strict=strict, source=source, user=user,
                               vault=keys, storage=storage_of(settings), progress=progress,
                               parallel=size > settings.ingest_parallel_bytes)
    if outcome.created:
        touched = outcome.touched | screen(session, outcome.screening, screening_thresholds(settings), keys)
        refresh_outlet_days(session, touched, settings.thresholds, window=Window.of(settings))
    return outcome
