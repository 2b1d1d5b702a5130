"""The whole path of one upload, shared by the API, the web page and the CLI."""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy.orm import Session

from greenshield import archive
from greenshield.compliance.services import refresh_outlet_days, screen
from greenshield.ingest.services import IngestOutcome, RejectedFile, ingest_daily_log
from greenshield.personal import vault
from inspection.screening import Thresholds
from models import Outlet, User


def thresholds() -> dict[str, float]:
    config = current_app.config
    return {"real_name": config["REAL_NAME_THRESHOLD"], "inspection": config["INSPECTION_THRESHOLD"],
            "xray": config["XRAY_THRESHOLD"]}


def screening_thresholds() -> Thresholds:
    config = current_app.config
    return Thresholds(names_per_id=config["SCREENING_NAMES_PER_ID"], outlets_per_id=config["SCREENING_OUTLETS_PER_ID"],
                      items_per_id=config["SCREENING_ITEMS_PER_ID"], sequential_run=config["SCREENING_SEQUENTIAL_RUN"])


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


def upload_daily_log(session: Session, *, outlet: Outlet, stream: BinaryIO, filename: str, strict: bool,
                     source: str, user: User | None) -> IngestOutcome:
    """Spool, archive, ingest, screen and recount. Raises RejectedFile (nothing stored) for unusable files."""
    instance = Path(current_app.config["INSTANCE_PATH"])
    sweep_spool(instance / "tmp")
    spool_path = instance / "tmp" / f"upload-{os.getpid()}-{uuid.uuid4().hex}"
    try:
        try:
            sha256, size = archive.spool(stream, spool_path, max_bytes=current_app.config["MAX_UPLOAD_BYTES"])
        except archive.TooLarge as exc:
            raise RejectedFile(f"The file is too large: {exc}.", code="too_large", status=413) from None
        if size == 0:
            raise RejectedFile("The file is empty.", code="empty_file")
        outcome = ingest_daily_log(session, outlet=outlet, path=spool_path, sha256=sha256, size=size,
                                   filename=filename or "upload", strict=strict, source=source, user=user,
                                   vault=vault(session), instance=instance)
        if outcome.created:
            touched = outcome.touched | screen(session, outcome.screen_rows, screening_thresholds())
            refresh_outlet_days(session, touched, thresholds())
        return outcome
    finally:
        spool_path.unlink(missing_ok=True)
