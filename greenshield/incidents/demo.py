"""Demo incidents and emergency readiness: a fire at the manager's outlet yesterday, graded, followed up and
closed; a personal-data leak in Baotou three days ago, reported late and still open; a prohibited item found this
morning at the manager's other outlet, waiting for its grade; plans and drills with an expired plan and an
enterprise that has not drilled for over a year."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from audits import incidents
from greenshield.incidents.services import alert_recipients, escalation_recipients
from greenshield.settings import Settings
from models import (EmergencyDrill, EmergencyPlan, Enterprise, Incident, IncidentGrade, IncidentType, Outlet, User,
                    utcnow)
from models.base import CHINA

# (outlet, reporter, type, hours ago it occurred, hours it took to report, casualties, records, description,
#  measures, confirmed grade, follow-up, closing summary)
INCIDENTS = (
    ("HHHT-EMS-001", "manager", IncidentType.FIRE, 30, 0.5, 0, 40, "营业部后仓电动自行车充电时起火，烧毁快件约40件",
     "员工使用灭火器扑灭明火，疏散人员，报119", IncidentGrade.IV, "受损快件已逐一联系寄件人理赔，充电区已迁出仓库",
     "起火原因为违规在仓内充电；已责令整改，建立充电管理制度"),
    ("BT-YTO-003", "inspector_bt", IncidentType.DATA_LEAK, 75, 10, 0, 150_000,
     "网点员工将面单信息导出出售，涉及约15万条用户信息", "已报警，停用涉事账号，封存服务器日志", IncidentGrade.III,
     "公安机关已立案侦查", None),
    ("HHHT-SF-002", "manager", IncidentType.PROHIBITED_ITEM, 3, 0.5, 0, 1, "收寄验视时发现一件快件内夹带管制刀具",
     "已扣留物品，登记寄件人信息，报告辖区派出所", None, None, None),
)
# (enterprise, title, version, valid for days from today; negative: expired)
PLANS = (("EMS", "中国邮政内蒙古分公司突发事件应急预案", "2025版", 400),
         ("SF", "顺丰速运内蒙古区突发事件应急预案", "V3.1", 200),
         ("ZTO", "中通快递内蒙古突发事件应急预案", "2022版", -30))
# (enterprise, days ago, scenario, participants, findings)
DRILLS = (("EMS", 60, "营业场所火灾疏散与初期火灾扑救", 28, "疏散用时 4 分钟，符合要求"),
          ("SF", 430, "疑似爆炸物快件处置", 15, "隔离区标识不清，已整改"),
          ("JD", 20, "用户信息泄露应急处置桌面推演", 12, None))


def seed_incidents(session: Session, settings: Settings) -> None:
    """The demo's incidents, plans and drills; left alone when any incident exists already."""
    if session.scalar(select(Incident.id).limit(1)) is not None:
        return
    users = {u.username: u for u in session.scalars(select(User))}
    outlets = {o.code: o for o in session.scalars(select(Outlet))}
    inspector = users["inspector"]
    now = utcnow()
    for (code, reporter, kind, ago, took, casualties, records, description, measures, grade, update,
         summary) in INCIDENTS:
        outlet = outlets[code]
        occurred = (now - dt.timedelta(hours=ago)).astimezone(CHINA).replace(second=0, microsecond=0)
        reported = occurred + dt.timedelta(hours=took)
        alerted = incidents.report_incident(
            session, outlet=outlet, reporter=users[reporter], kind=kind, occurred_at=occurred,
            description=description, casualties=casualties, records_affected=records, measures=measures,
            now=reported, hours=settings.incident_report_hours, alert_to=alert_recipients(session, outlet),
            escalate_to=escalation_recipients(session, outlet))
        incident = alerted.incident
        if grade is not None:
            incidents.confirm_grade(session, incident, grade=grade, by=inspector, now=reported + dt.timedelta(hours=1),
                                    hours=settings.incident_report_hours,
                                    escalate_to=escalation_recipients(session, outlet))
        if update:
            incidents.add_update(session, incident, author=users[reporter], text=update,
                                 now=reported + dt.timedelta(hours=5))
        if summary:
            incidents.close_incident(session, incident, by=inspector, summary=summary,
                                     now=reported + dt.timedelta(hours=20))
    enterprises = {e.code: e for e in session.scalars(select(Enterprise))}
    today = now.astimezone(CHINA).date()
    for code, title, version, days in PLANS:
        session.add(EmergencyPlan(enterprise_id=enterprises[code].id, title=title, version=version,
                                  valid_until=today + dt.timedelta(days=days), filed_by_id=inspector.id))
    for code, ago, scenario, participants, findings in DRILLS:
        session.add(EmergencyDrill(enterprise_id=enterprises[code].id, held_on=today - dt.timedelta(days=ago),
                                   scenario=scenario, participants=participants, findings=findings,
                                   recorded_by_id=inspector.id))
    session.flush()
