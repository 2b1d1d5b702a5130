"""Demo audits: last month's draw worked through (one published pass, one rectification, one due for
publication) and next fortnight's draw waiting for its inspectors."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from audits import plans, workflow
from audits.checklist import CODES
from greenshield.audits.services import plan_settings, today
from greenshield.settings import Settings
from models import AuditPlan


def seed_audits(session: Session, settings: Settings) -> None:
    """Two plans of the whole province; left alone when any plan exists already."""
    if session.scalar(select(AuditPlan.id).limit(1)) is not None:
        return
    now = today()
    past, _ = plans.create_plan(session, region_code="150000", outlets=3, per_audit=2,
                                due_date=now - dt.timedelta(days=20), seed=20261101, created_by=None,
                                as_of=now - dt.timedelta(days=25), **plan_settings(settings))
    outcomes = (("pass", None), ("rectify", "video_coverage"), ("pass", None))
    for audit, (result, failing) in zip(past.audits, outcomes):
        for item in CODES:
            workflow.record_item(session, audit, item, compliant=item != failing,
                                 finding="监控录像仅保存7天，不足30天" if item == failing else None)
        workflow.close_audit(session, audit, result=result, summary="现场检查完成", today=now - dt.timedelta(days=18),
                             deadline=now + dt.timedelta(days=12) if result == "rectify" else None)
    workflow.publish(session, past.audits[0])
    plans.create_plan(session, region_code="150000", outlets=2, per_audit=2, due_date=now + dt.timedelta(days=14),
                      seed=20261201, created_by=None, as_of=now, **plan_settings(settings))
