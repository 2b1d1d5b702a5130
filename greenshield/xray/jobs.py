"""Scheduled X-ray jobs."""
from __future__ import annotations

import datetime as dt

from greenshield import db
from greenshield.jobs import TIMEZONE, _the_app, claim
from models import utcnow


def purge_expired_images() -> int:
    """Daily: delete images past the retention period that are not evidence (once per day, whoever runs it)."""
    from greenshield.xray.services import purge_images

    app = _the_app()
    with app.app_context(), db.job_session(write=True) as session:
        today = dt.datetime.now(TIMEZONE).date()
        if not claim(session, "xray-retention", dt.datetime.combine(today, dt.time(), TIMEZONE)):
            return 0
        return purge_images(session, now=utcnow(), retention_days=app.config["XRAY_RETENTION_DAYS"])
