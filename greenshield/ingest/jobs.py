"""The worker's side of a queued daily-log upload (``greenshield worker``; see ``greenshield.background``)."""
from __future__ import annotations

import os
import uuid

from sqlalchemy.orm import Session

from greenshield.work import services as background
from greenshield.ingest.pipeline import ingest_spooled
from greenshield.personal import archive, vault
from greenshield.settings import Settings
from greenshield.storage import Storage
from models import BackgroundJob, Outlet, User


def run_daily_log_job(job_id: str) -> str:
    """Ingest the upload of job ``job_id``: the file's batch, its screening and recount, in one transaction.
    A retry of a job whose batch was stored finds that batch (a batch is unique per outlet and file)."""
    return background.run(job_id, _ingest)


def _ingest(session: Session, settings: Settings, store: Storage, job: BackgroundJob) -> dict:
    spool = settings.instance_path / "tmp" / f"upload-{os.getpid()}-{uuid.uuid4().hex}"
    spool.parent.mkdir(parents=True, exist_ok=True)
    try:
        with archive.open_private(spool) as out:
            archive.restore(store, job.input_key, out, vault(session, settings))
        outcome = ingest_spooled(session, settings, outlet=session.get(Outlet, job.outlet_id), path=spool,
                                 sha256=job.sha256, size=job.size_bytes, filename=job.filename,
                                 strict=bool(job.options.get("strict")), source=job.options.get("source", "api"),
                                 user=session.get(User, job.user_id) if job.user_id else None,
                                 progress=background.progress)
    finally:
        spool.unlink(missing_ok=True)
    batch = outcome.batch
    return {"batch_id": batch.id, "status": batch.status.value, "rows_total": batch.rows_total,
            "rows_accepted": batch.rows_accepted, "rows_rejected": batch.rows_rejected, "created": outcome.created}
