"""Scheduled account housekeeping."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, or_

from greenshield import db
from greenshield.context import settings_of
from greenshield.jobs import job_app
from models import LoginThrottle, UserSession, utcnow


def purge_sessions_and_throttles() -> int:
    """Daily: forget sessions that ended or passed the absolute limit a day ago, and throttles whose last failure
    is a day old and that no longer wait. Returns how many rows went."""
    app = job_app()
    with app.app_context(), db.job_session(write=True) as session:
        settings = settings_of(app)
        day_ago = utcnow() - dt.timedelta(days=1)
        oldest = day_ago - dt.timedelta(hours=settings.session_absolute_hours)
        sessions = session.execute(delete(UserSession).where(or_(
            UserSession.ended_at < day_ago, UserSession.created_at < oldest))).rowcount
        throttles = session.execute(delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < day_ago,
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < utcnow()))).rowcount
        return sessions + throttles
