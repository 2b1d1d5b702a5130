"""Emergency readiness (应急预案与演练): which enterprises have a valid emergency plan on file and a drill in the
last 12 months, and what an audit checklist shows as evidence. No Flask; functions take a session."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import EmergencyDrill, EmergencyPlan, Enterprise, Incident, Outlet

DRILL_WINDOW_DAYS = 365
LATE_WINDOW_DAYS = 365
EVIDENCE_ITEMS = frozenset({"emergency_plan"})
"""Checklist items whose evidence is the enterprise's emergency plan and drills."""


@dataclass(frozen=True)
class Readiness:
    enterprise: Enterprise
    plan: EmergencyPlan | None  # the plan valid on the day, the latest filed first
    last_drill: EmergencyDrill | None
    late_reports: int = 0

    @property
    def enterprise_code(self) -> str:
        return self.enterprise.code

    @property
    def enterprise_name(self) -> str:
        return self.enterprise.name

    @property
    def plan_missing(self) -> bool:
        return self.plan is None

    @property
    def drill_missing(self) -> bool:
        return self.last_drill is None

    @property
    def ready(self) -> bool:
        return not (self.plan_missing or self.drill_missing)


def valid_plan(session: Session, enterprise_id: int, day: dt.date) -> EmergencyPlan | None:
    """The enterprise's plan valid on ``day`` (the latest filed when several are)."""
    return session.scalars(select(EmergencyPlan).where(EmergencyPlan.enterprise_id == enterprise_id,
                                                       EmergencyPlan.valid_until >= day)
                           .order_by(EmergencyPlan.created_at.desc(), EmergencyPlan.id.desc()).limit(1)).first()


def recent_drill(session: Session, enterprise_id: int, day: dt.date) -> EmergencyDrill | None:
    """The enterprise's latest drill in the 12 months up to ``day``."""
    return session.scalars(select(EmergencyDrill).where(
        EmergencyDrill.enterprise_id == enterprise_id, EmergencyDrill.held_on <= day,
        EmergencyDrill.held_on > day - dt.timedelta(days=DRILL_WINDOW_DAYS))
        .order_by(EmergencyDrill.held_on.desc(), EmergencyDrill.id.desc()).limit(1)).first()


def late_reports_by_enterprise(session: Session, day: dt.date, region_prefix: str = "") -> dict[int, int]:
    """Incidents first reported late in the 12 months up to ``day``, per enterprise (outlets of the region)."""
    since = dt.datetime.combine(day - dt.timedelta(days=LATE_WINDOW_DAYS), dt.time(), tzinfo=dt.timezone.utc)
    rows = session.execute(select(Outlet.enterprise_id, func.count()).join(Incident, Incident.outlet_id == Outlet.id)
                           .where(Incident.late.is_(True), Incident.reported_at >= since,
                                  Outlet.region_code.startswith(region_prefix))
                           .group_by(Outlet.enterprise_id))
    return {enterprise_id: int(count) for enterprise_id, count in rows}


def readiness(session: Session, day: dt.date, region_prefix: str = "") -> list[Readiness]:
    """Every active enterprise with active outlets in the region, its valid plan, last drill and late reports;
    those lacking a plan or a drill first."""
    enterprises = session.scalars(select(Enterprise).where(
        Enterprise.active.is_(True), Enterprise.id.in_(select(Outlet.enterprise_id).where(
            Outlet.active.is_(True), Outlet.region_code.startswith(region_prefix)))).order_by(Enterprise.code)).all()
    late = late_reports_by_enterprise(session, day, region_prefix)
    rows = [Readiness(e, valid_plan(session, e.id, day), recent_drill(session, e.id, day), late.get(e.id, 0))
            for e in enterprises]
    return sorted(rows, key=lambda r: (r.ready, r.enterprise.code))


def evidence(session: Session, enterprise_id: int, day: dt.date) -> Readiness:
    """What an audit of an outlet of the enterprise sees beside its emergency-plan checklist item."""
    enterprise = session.get(Enterprise, enterprise_id)
    return Readiness(enterprise, valid_plan(session, enterprise_id, day), recent_drill(session, enterprise_id, day))
