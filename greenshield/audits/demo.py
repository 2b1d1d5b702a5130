"""Demo audits: a plan of last month worked through, with a rectification order in each state (waiting, answered,
re-inspection, closed, escalated twice) and a published penalty decision; a result closed today whose publication
deadline runs into a year without holiday data (provisional, admins alerted); a joint audit; an absence; a
targeted audit of the manager's outlet for today; and next fortnight's plan waiting for its inspectors."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from audits import penalties, plans, workflow
from audits.calendar import load_calendar
from audits.checklist import ensure_checklist
from greenshield.audits.services import plan_settings, today
from greenshield.settings import Settings
from models import (AbsenceReason, Audit, AuditKind, AuditPlan, AuditStatus, InspectorAbsence, LegalProvision,
                    Outlet, User)

FINDINGS = {
    "real_name_records": "抽查运单20份，其中6份未登记寄件人证件号码",
    "video_coverage": "监控录像仅保存7天，不足30天",
    "xray_full": "安检机未开机，部分快件未过机",
    "inspection": "收寄人员未当面开箱验视",
}
# (result, failing item, what becomes of the order)
OUTCOMES = (
    ("pass", None, None), ("rectify", "video_coverage", "open"), ("rectify", "real_name_records", "answered"),
    ("rectify", "inspection", "reinspecting"), ("rectify", "video_coverage", "closed"),
    ("rectify", "real_name_records", "penalty"), ("rectify", "xray_full", "escalated"), ("pass", None, "today"),
)


def _work(session: Session, audit: Audit, failing: str | None, passing: bool = True) -> None:
    for entry in audit.items:
        bad = entry.item == failing or (not passing and entry.item == "requirements_met")
        workflow.record_item(session, audit, entry.item, compliant=not bad,
                             finding=FINDINGS.get(entry.item, "整改未落实") if bad else None)


def seed_audits(session: Session, settings: Settings) -> None:
    """The demo's audits; left alone when any plan exists already."""
    if session.scalar(select(AuditPlan.id).limit(1)) is not None:
        return
    now, prefix = today(), settings.document_prefix
    calendar = load_calendar(session)
    as_of = now - dt.timedelta(days=40)
    past, _ = plans.create_plan(session, region_code="150000", outlets=len(OUTCOMES), per_audit=2,
                                start_date=calendar.next_working_day(as_of).day, due_date=as_of + dt.timedelta(days=14),
                                seed=20261101, created_by=None, as_of=as_of, **plan_settings(settings))
    workflow.add_member(session, past.audits[1], name="王建军", agency="呼和浩特市公安局物流寄递治安管理大队",
                        title="民警")
    manager = session.scalar(select(User).where(User.username == "manager"))
    provision = session.scalar(select(LegalProvision).where(LegalProvision.code == "REALNAME"))
    for audit, (result, failing, fate) in zip(past.audits, OUTCOMES):
        _work(session, audit, failing)
        day = now if fate == "today" else audit.scheduled_on
        actor = audit.inspectors[0]
        deadline = now + dt.timedelta(days=7) if fate in ("open", "answered", "reinspecting") else day + dt.timedelta(days=10)
        workflow.close_audit(session, audit, result=result, summary="现场检查完成", today=day, actor=actor,
                             deadline=deadline if result == "rectify" else None, document_prefix=prefix,
                             calendar=calendar)
        order = audit.order
        if fate in ("answered", "reinspecting", "closed"):
            workflow.respond(session, order, "已按要求整改，相关记录已补齐并组织培训。", today=day + dt.timedelta(days=3),
                             actor=manager)
        if fate == "reinspecting":
            workflow.schedule_follow_up(session, order, on=now + dt.timedelta(days=2), today=now, actor=actor)
        elif fate == "closed":
            workflow.accept(session, order, today=day + dt.timedelta(days=5), actor=actor, note="整改到位")
        elif fate in ("penalty", "escalated"):
            on = day + dt.timedelta(days=12)
            follow = workflow.schedule_follow_up(session, order, on=on, today=on, actor=actor)
            _work(session, follow, None, passing=False)
            workflow.close_audit(session, follow, result="rectify", summary="复查发现逾期未改正", today=on, actor=actor,
                                 document_prefix=prefix, calendar=calendar)
            if fate == "penalty":
                _penalty(session, order, provision, on + dt.timedelta(days=1), actor, prefix, calendar)
    workflow.publish(session, past.audits[0])
    _today(session, calendar)
    inspector3 = session.scalar(select(User).where(User.username == "inspector3"))
    if inspector3 is not None:
        start = calendar.next_working_day(now).day
        session.add(InspectorAbsence(user_id=inspector3.id, start_date=start, end_date=start + dt.timedelta(days=4),
                                     reason=AbsenceReason.TRAINING, note="全区寄递安全执法培训"))
        session.flush()
    plans.create_plan(session, region_code="150000", outlets=6, per_audit=2, due_date=now + dt.timedelta(days=14),
                      seed=20261201, created_by=None, as_of=now, **plan_settings(settings))


def _penalty(session, order, provision, day, actor, prefix, calendar) -> None:
    case = penalties.register_case(session, facts="当事人未落实实名收寄制度，抽查运单20份中6份未登记寄件人身份信息；"
                                   f"经{order.notice_no}责令限期改正，复查时仍未改正。", provision=provision, today=day,
                                   registered_by=actor, document_prefix=prefix, order=order)
    penalties.serve_notice(session, case, served_on=day + dt.timedelta(days=1), hearing_requested=False,
                           today=day + dt.timedelta(days=1), calendar=calendar)
    decided = case.hearing_deadline + dt.timedelta(days=1)
    penalties.decide(session, case, decision="fine", fine_amount=10_000, decided_on=decided, today=max(decided, today()),
                     decided_by=actor, document_prefix=prefix)
    penalties.publish(session, case)


def _today(session: Session, calendar) -> None:
    """A targeted audit of the manager's outlet for today, by the demo's first two inspectors (the order loop
    of the browser journey starts from it)."""
    outlet = session.scalar(select(Outlet).where(Outlet.code == "HHHT-SF-002"))
    team = session.scalars(select(User).where(User.username.in_(["inspector", "inspector2"]))).all()
    if outlet is None or len(team) < 2:
        return
    day = today() if calendar.is_working_day(today()) else calendar.next_working_day(today()).day
    audit = Audit(outlet=outlet, kind=AuditKind.TARGETED, status=AuditStatus.PLANNED, due_date=day, scheduled_on=day,
                  reason="实名收寄率连续3天低于99.8%", inspectors=list(team))
    ensure_checklist(session, audit)
    session.add(audit)
    session.flush()
