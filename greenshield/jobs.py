"""Scheduled jobs, referenced by text (``"greenshield.jobs:run_audit_schedule"``) from the APScheduler job store.

Each job opens its own app context and session. A job that must run once per firing claims the firing in the
database first (``schedule_firings``: unique job and fire time), so two scheduler processes started by mistake
still run it once.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from apscheduler.triggers.cron import CronTrigger
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import AuditSchedule, ScheduleFiring, utcnow
from models.base import CHINA, china_today

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"
_app: Flask | None = None
_scheduler = None


def bind(app: Flask, scheduler=None) -> None:
    """Tell the jobs which app (and scheduler) they run under; the scheduler process does this at start."""
    global _app, _scheduler
    _app, _scheduler = app, scheduler


def job_app() -> Flask:
    """The app the scheduled jobs run under: the scheduler's (``bind``), else one made from the environment."""
    global _app
    if _app is None:
        from greenshield import create_app
        _app = create_app()
    return _app


def last_fire_time(cron: str, now: dt.datetime, window: dt.timedelta = dt.timedelta(hours=2)) -> dt.datetime | None:
    """The most recent time ``cron`` fired at or before ``now`` (looking back at most ``window``)."""
    trigger = CronTrigger.from_crontab(cron, timezone=CHINA)
    fire = trigger.get_next_fire_time(None, now - window)
    last = None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
    return last


def claim(session: Session, job_id: str, fire_time: dt.datetime) -> bool:
    """Claim one firing of a job for this process; False when another process has it already."""
    try:
        with session.begin_nested():
            session.add(ScheduleFiring(job_id=job_id, fire_time=fire_time, claimed_by=WORKER))
    except IntegrityError:
        return False
    return True


def run_audit_schedule(schedule_id: int) -> str:
    """Fire a recurring draw: once per firing of its cron, whatever the number of scheduler processes."""
    from audits import plans
    from greenshield import db
    from greenshield.audits.services import flagged_xray_counts, plan_settings
    from greenshield.context import settings_of

    app = job_app()
    with app.app_context(), db.job_session(write=True) as session:
        schedule = session.get(AuditSchedule, schedule_id)
        if schedule is None or not schedule.active:
            return "inactive"
        fire = last_fire_time(schedule.cron, dt.datetime.now(CHINA))
        if fire is None or not claim(session, f"audit-schedule-{schedule_id}", fire):
            return "claimed elsewhere"
        as_of = china_today()
        plan, _ = plans.create_plan(
            session, region_code=schedule.region_code, outlets=schedule.outlets,
            per_audit=schedule.inspectors_per_audit, due_date=as_of + dt.timedelta(days=schedule.due_in_days),
            seed=None, created_by=None, as_of=as_of, schedule_id=schedule.id,
            flagged_xray=flagged_xray_counts(session, as_of), **plan_settings(settings_of(app)))
        schedule.last_fired_at = utcnow()
        log.info("schedule %s fired at %s: plan %s", schedule_id, fire, plan.id)
        return f"plan {plan.id}"


def daily_audit_duties() -> dict[str, int]:
    """Follow-up audits at deadlines, alerts for overdue orders, targeted audits for lasting low rates."""
    from audits import workflow
    from greenshield import db
    from greenshield.context import settings_of

    app = job_app()
    settings = settings_of(app)
    with app.app_context(), db.job_session(write=True) as session:
        day = china_today()
        if not claim(session, "daily-audit-duties", dt.datetime.combine(day, dt.time(), CHINA)):
            return {}
        overdue = workflow.raise_overdue(session, day)  # before the follow-ups, which settle what is overdue
        return {
            "follow_ups": len(workflow.create_follow_ups(session, day)),
            "overdue": len(overdue),
            "targeted": len(workflow.create_targeted(
                session, day, consecutive_days=settings.audit_targeted_consecutive_days,
                threshold=settings.real_name_threshold, per_audit=settings.audit_inspectors_per_audit,
                capacity=settings.audit_daily_capacity)),
        }


def sync_schedules() -> int:
    """Make the job store hold one job per active audit schedule (schedules are edited through the API)."""
    from greenshield import db

    if _scheduler is None:
        return 0
    app = job_app()
    with app.app_context(), db.job_session() as session:
        wanted = {f"audit-schedule-{s.id}": s for s in session.scalars(
            select(AuditSchedule).where(AuditSchedule.active.is_(True)))}
    for job in _scheduler.get_jobs():
        if job.id.startswith("audit-schedule-") and job.id not in wanted:
            job.remove()
    for job_id, schedule in wanted.items():
        existing = _scheduler.get_job(job_id)
        trigger = CronTrigger.from_crontab(schedule.cron, timezone=CHINA)
        if existing is None or str(existing.trigger) != str(trigger):
            _scheduler.add_job("greenshield.jobs:run_audit_schedule", trigger, args=[schedule.id], id=job_id,
                               replace_existing=True)
    return len(wanted)
