"""Scheduled X-ray jobs."""
from __future__ import annotations

import datetime as dt

from greenshield import db
from greenshield.context import settings_of
from greenshield.storage import of as storage_of
from greenshield.jobs import claim, job_app
from models import utcnow
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
