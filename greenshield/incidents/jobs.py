"""The scheduled job of the incidents feature: each morning, yesterday's daily safety report of every inspector's
region, as an in-app notification to the inspectors and, when configured, on the webhook."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from greenshield import db
from greenshield.auth.permissions import Capability, Scope, can, scope_of
from greenshield.context import settings_of
from greenshield.incidents import report as daily
from greenshield.jobs import claim, job_app
from greenshield.settings import Settings
from models import Notification, Region, User, utcnow
from models.base import CHINA

log = logging.getLogger(__name__)
KIND = "daily_safety_report"


def readers(session: Session) -> dict[str, list[User]]:
    """The inspectors who read daily reports, by the region they are scoped to."""
    by_region: dict[str, list[User]] = {}
    for user in session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)):
        if can(user, Capability.READ_EMERGENCY_READINESS) and scope_of(user) is Scope.REGION and user.region_code:
            by_region.setdefault(user.region_code, []).append(user)
    return by_region


def send_reports(session: Session, settings: Settings, day: dt.date) -> list[dict]:
    """Notify every inspector of their region's report for ``day``; returns what the webhook is told (one per
    region)."""
    sent = []
    for code, users in sorted(readers(session).items()):
        region = session.get(Region, code)
        if region is None:
            continue
        report = daily.build(session, region, day, settings)
        data = {"region_code": code, "region_name": region.name, "date": day.isoformat(),
                "incidents": report.incidents_total, "alerts": report.alerts_total,
                "incidents_by_grade": report.incidents_by_grade, "parcels": report.parcels,
                "real_name_rate": report.real_name_rate, "flagged": report.flagged, "seized": report.seized}
        for user in users:
            session.add(Notification(user_id=user.id, kind=KIND, data=data,
                                     message=f"Daily safety report of {region.name} for {day}"))
        sent.append(data)
    session.flush()
    return sent


def send_daily_reports(now: dt.datetime | None = None) -> int:
    """Each morning: yesterday's report of every inspector's region, once per day whatever the number of
    scheduler processes; the webhook (``INCIDENT_WEBHOOK_URL``) gets one message per region."""
    from greenshield.incidents.services import webhook_text
    from greenshield.trace.jobs import notify_webhook

    app = job_app()
    settings = settings_of(app)
    now = (now or dt.datetime.now(CHINA)).astimezone(CHINA)
    day = now.date() - dt.timedelta(days=1)
    with app.app_context():
        with db.job_session(write=True) as session:
            if not claim(session, "daily-safety-report", dt.datetime.combine(now.date(), dt.time(), CHINA)):
                return 0
            sent = send_reports(session, settings, day)
        if settings.incident_webhook_url:
            for data in sent:
                notify_webhook(settings.incident_webhook_url, {"kind": KIND, "text": webhook_text(KIND, data), **data,
                                                               "at": utcnow().isoformat()})
    log.info("daily safety reports of %s sent for %d regions", day, len(sent))
    return len(sent)
