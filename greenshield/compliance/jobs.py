"""Compliance jobs: the outlet-days whose verification windows have just closed get their findings."""
from __future__ import annotations


from greenshield import db
from greenshield.compliance.services import refresh_outlet_days
from greenshield.compliance.verification import Window, days_closing
from greenshield.context import settings_of
from greenshield.jobs import claim, job_app
from models import utcnow
from models.base import CHINA


def verify_screening() -> int:
    """Hourly: recount the outlet-days whose X-ray verification windows (72 h after collection) closed lately,
    so that records declared screened and never scanned are listed as ``declared_not_scanned`` (once per hour,
    whoever runs it). Returns how many outlet-days were recounted."""
    app = job_app()
    with app.app_context(), db.job_session(write=True) as session:
        now = utcnow()
        hour = now.astimezone(CHINA).replace(minute=0, second=0, microsecond=0)
        if not claim(session, "verify-screening", hour):
            return 0
        settings = settings_of(app)
        window = Window.of(settings)
        pairs = days_closing(session, window, now)
        refresh_outlet_days(session, pairs, settings.thresholds, window=window, now=now)
        return len(pairs)


