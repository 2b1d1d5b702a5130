"""X-ray jobs: the scheduler's image retention, daily machine calibration and calibration of machines whose model
changed, and the workers' side of a queued import and of a calibration asked for by a change of model."""
from __future__ import annotations

import datetime as dt
import os
import uuid
import zipfile

from sqlalchemy.orm import Session

from greenshield import db
from greenshield.auth.policy import outlet_in_scope
from greenshield.context import settings_of
from greenshield.jobs import claim, job_app
from greenshield.personal import archive, vault
from greenshield.settings import Settings
from greenshield.storage import Storage, of as storage_of
from greenshield.work import services as background
from greenshield.xray.services import import_events, zip_reader
from models import BackgroundJob, User, utcnow
from models.base import CHINA


def purge_expired_images() -> int:
    """Daily: delete images past the retention period that are not evidence (once per day, whoever runs it)."""
    from greenshield.xray.services import purge_images

    app = job_app()
    with app.app_context(), db.job_session(write=True) as session:
        today = dt.datetime.now(CHINA).date()
        if not claim(session, "xray-retention", dt.datetime.combine(today, dt.time(), CHINA)):
            return 0
        settings = settings_of(app)
        return purge_images(session, storage_of(settings), now=utcnow(), retention_days=settings.xray_retention_days)


def calibrate_machines() -> list[dict]:
    """Daily: calibrate every active machine on its own recent scans for the false-flag budget (once per day,
    whoever runs it); machines with too few scans keep their model's threshold."""
    from greenshield.xray.services import calibrate_machines as calibrate

    app = job_app()
    with app.app_context(), db.job_session(write=True) as session:
        today = dt.datetime.now(CHINA).date()
        if not claim(session, "xray-calibration", dt.datetime.combine(today, dt.time(), CHINA)):
            return []
        return calibrate(session, settings_of(app))


CALIBRATION_GRACE = dt.timedelta(minutes=15)
"""With workers, how long a machine may wait for its queued calibration before the scheduler does it (the task
was lost: Redis down or flushed, the retries used up)."""


def calibrate_due_machines(due_before: str | None = None) -> list[dict]:
    """Calibrate each machine due for it (its model changed: ``request_calibration``), one transaction per
    machine so that a long run keeps what it did. The workers' task after a change of model (every due machine);
    ``due_before`` (ISO time) leaves the newer requests to the workers."""
    from sqlalchemy import select

    from greenshield.xray.services import calibrate_due, due_for_calibration
    from models import XrayMachine

    app = job_app()
    settings = settings_of(app)
    results = []
    with app.app_context():
        with db.job_session(write=False) as session:
            before = dt.datetime.fromisoformat(due_before) if due_before else None
            ids = [machine.id for machine in due_for_calibration(session, due_before=before)]
        for machine_id in ids:
            with db.job_session(write=True) as session:
                machine = session.scalar(select(XrayMachine).where(XrayMachine.id == machine_id))
                if machine is not None and machine.calibration_due_at is not None:
                    results.append(calibrate_due(session, settings, machine))
    return results


def calibrate_changed_machines() -> list[dict]:
    """Every minute (scheduler): calibrate the machines whose model changed. Without workers (the embedded
    default) this is where it happens, within a minute of the change; with workers only the requests older than
    ``CALIBRATION_GRACE`` (a lost task)."""
    if background.enabled(settings_of(job_app())):
        return calibrate_due_machines((utcnow() - CALIBRATION_GRACE).isoformat())
    return calibrate_due_machines()


def run_import_job(job_id: str) -> str:
    """The worker's side of a queued X-ray import (``POST /api/v1/xray-imports`` with a zip): every event of its
    manifest, all or nothing, with the machines of the importing user's scope."""
    return background.run(job_id, _import)


def _import(session: Session, settings: Settings, store: Storage, job: BackgroundJob) -> dict:
    user = session.get(User, job.user_id)
    spool = settings.instance_path / "tmp" / f"upload-{os.getpid()}-{uuid.uuid4().hex}"
    spool.parent.mkdir(parents=True, exist_ok=True)
    try:
        with archive.open_private(spool) as out:
            archive.restore(store, job.input_key, out, vault(session, settings))
        with zipfile.ZipFile(spool) as bundle:
            return import_events(session, settings, zip_reader(bundle),
                                 may_use=lambda machine: user is not None and outlet_in_scope(user, machine.outlet),
                                 progress=background.progress)
    finally:
        spool.unlink(missing_ok=True)


def review_overdue() -> int:
    """Every five minutes: flagged events waiting longer than ``XRAY_REVIEW_SLA_HOURS`` open (or keep open) an
    alert ``xray_review_overdue`` and notify the outlet's inspectors; reviewed ones close it. Idempotent, so two
    schedulers running it at once at worst recount."""
    from greenshield.xray.services import open_overdue_reviews

    app = job_app()
    with app.app_context(), db.job_session(write=True) as session:
        return len(open_overdue_reviews(session, settings_of(app), utcnow()))
