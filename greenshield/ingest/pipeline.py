"""The whole path of one upload, shared by the API, the web page and the CLI."""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from greenshield.personal import archive
from greenshield.compliance.services import refresh_outlet_days, screen
from greenshield.errors import Invalid
from greenshield.ingest.services import IngestOutcome, ingest_daily_log
from greenshield.personal import vault
from greenshield.settings import Settings
from greenshield.storage import of as storage_of
from inspection.screening import Thresholds
from models import Outlet, User


def screening_thresholds(settings: Settings) -> Thresholds:
    return Thresholds(names_per_id=settings.screening_names_per_id, outlets_per_id=settings.screening_outlets_per_id,
                      items_per_id=settings.screening_items_per_id, sequential_run=settings.screening_sequential_run)


def sweep_spool(folder: Path) -> None:
    """Remove clear-text spool files left by ingest processes that died (killed, out of memory, power cut)."""
    for path in folder.glob("upload-*-*"):
        try:
            pid = int(path.name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except (ValueError, PermissionError):
            continue


def remove_spool_of(folder: Path, pid: int) -> int:
    """Remove the spool files of process ``pid`` (a gunicorn worker that timed out, was killed or crashed);
    returns how many."""
    removed = 0
    for path in folder.glob(f"upload-{pid}-*"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def upload_daily_log(session: Session, settings: Settings, *, outlet: Outlet, stream: BinaryIO, filename: str,
                     strict: bool, source: str, user: User | None) -> IngestOutcome:
    """Spool, archive, ingest, screen and recount. Raises a DomainError (nothing stored) for unusable files."""
    instance = settings.instance_path
    sweep_spool(instance / "tmp")
    spool_path = instance / "tmp" / f"upload-{os.getpid()}-{uuid.uuid4().hex}"
    try:
        try:
            sha256, size = archive.spool(stream, spool_path, max_bytes=settings.max_upload_bytes)
        except archive.TooLarge:
            raise Invalid("too_large.upload", field="file", max_mib=settings.max_upload_bytes // 2**20) from None
        if size == 0:
            raise Invalid("empty_file", field="file")
        outcome = ingest_daily_log(session, outlet=outlet, path=spool_path, sha256=sha256, size=size,
                                   filename=filename or "upload", strict=strict, source=source, user=user,
                                   vault=vault(session, settings), storage=storage_of(settings))
        if outcome.created:
            touched = outcome.touched | screen(session, outcome.screen_rows, screening_thresholds(settings))
            refresh_outlet_days(session, touched, settings.thresholds)
        return outcome
    finally:
        spool_path.unlink(missing_ok=True)
