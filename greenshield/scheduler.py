"""The one process that runs scheduled jobs (``greenshield scheduler``), with its jobs in the database."""
from __future__ import annotations

import re

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from greenshield import db, jobs, observability
from greenshield.context import settings_of
from models.base import CHINA

MISFIRE_GRACE_SECONDS = 3600


def build(app: Flask) -> BlockingScheduler:
    """A scheduler whose jobs persist in the app's database (table ``apscheduler_jobs``, made by a migration).

    Missed firings (the scheduler was down) are coalesced into one run if the scheduler is back within an hour
    of the missed time, and skipped after that; the next regular firing then runs as usual.
    """
    engine = app.extensions[db.EXTENSION].engine
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")},
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1},
        timezone=CHINA,
    )
    scheduler.add_job("greenshield.jobs:sync_schedules", "interval", minutes=1, id="sync-schedules",
                      replace_existing=True)
    scheduler.add_job("greenshield.jobs:daily_audit_duties", CronTrigger(hour=1, minute=5, timezone=CHINA),
                      id="daily-audit-duties", replace_existing=True)
    for job_id, func, trigger in PERIODIC_JOBS:
        scheduler.add_job(func, trigger, id=job_id, replace_existing=True)
    scheduler.add_job("greenshield.incidents.jobs:send_daily_reports",
                      CronTrigger(hour=settings_of(app).daily_report_hour, minute=0, timezone=CHINA),
                      id="daily-safety-report", replace_existing=True)
    scheduler.add_listener(_count_run, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    jobs.bind(app, scheduler)
    return scheduler


def _count_run(event: JobExecutionEvent) -> None:
    """Count a run as ok, error or missed, per job (all audit schedules as one job, ``audit-schedule``)."""
    outcome = "missed" if event.code == EVENT_JOB_MISSED else "error" if event.exception else "ok"
    observability.count_job_run(re.sub(r"-\d+$", "", event.job_id), outcome)


PERIODIC_JOBS: list[tuple[str, str, CronTrigger]] = [
    ("xray-retention", "greenshield.xray.jobs:purge_expired_images", CronTrigger(hour=2, minute=15, timezone=CHINA)),
    ("xray-calibration", "greenshield.xray.jobs:calibrate_machines", CronTrigger(hour=3, minute=45, timezone=CHINA)),
    ("xray-review-overdue", "greenshield.xray.jobs:review_overdue", CronTrigger(minute="*/5", timezone=CHINA)),
    ("verify-screening", "greenshield.compliance.jobs:verify_screening", CronTrigger(minute=20, timezone=CHINA)),
    ("xray-model-change", "greenshield.xray.jobs:calibrate_changed_machines", CronTrigger(minute="*", timezone=CHINA)),
    ("trace-watchlists", "greenshield.trace.jobs:run_watchlists", CronTrigger(minute="*", timezone=CHINA)),
    ("access-log-checkpoint", "greenshield.trace.jobs:checkpoint_access_log", CronTrigger(minute="*", timezone=CHINA)),
    ("partitions-ahead", "greenshield.partitions:create_partitions_ahead", CronTrigger(hour=0, minute=40, timezone=CHINA)),
    ("auth-housekeeping", "greenshield.auth.jobs:purge_sessions_and_throttles",
     CronTrigger(hour=3, minute=25, timezone=CHINA)),
    ("abandoned-work", "greenshield.work.services:retry_abandoned", CronTrigger(minute="*", timezone=CHINA)),
]
"""Further periodic jobs of other features: (id, "module:function", trigger)."""


def run(app: Flask) -> None:
    """Run the scheduler until interrupted: JSON logs on stderr, metrics in ``instance/metrics/scheduler``."""
    observability.configure_logging(app.config["LOG_FORMAT"] or "json", app.config["LOG_LEVEL"])
    observability.use_metrics_folder(observability.metrics_folder(app.config["INSTANCE_PATH"], "scheduler"))
    scheduler = build(app)
    scheduler.add_job("greenshield.jobs:sync_schedules", id="sync-schedules-at-start", replace_existing=True)
    print(f"GreenShield scheduler running with jobs in {app.config['DATABASE_URL'].split('@')[-1]}", flush=True)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
