"""Credit (信用) of outlets and enterprises over the last 12 months, from findings, rectifications, penalties
and rates; low credit raises an outlet's weight in the draw ("提高对其随机抽查的频次和比例").

The rule is documented in docs/credit.md; ``score_credit`` is it, the rest gathers its facts.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from models import (Audit, AuditStatus, ChecklistEntry, Finding, Incident, OrderStatus, Outlet, OutletDay,
                    PenaltyCase, PenaltyDecision, RectificationOrder)
from models.base import CHINA

WINDOW_DAYS = 365
LEVELS = (("A", 90.0), ("B", 75.0), ("C", 60.0), ("D", 0.0))  # the lowest score of each level
DRAW_FACTOR = {"A": 1.0, "B": 1.25, "C": 1.6, "D": 2.0}
"""How much a level multiplies an outlet's weight in the draw (the worse of the outlet's and its enterprise's)."""


@dataclass(frozen=True)
class CreditFacts:
    """What counts against an outlet over the window."""

    failed_items: int = 0          # checklist items found not compliant in audits closed in the window
    failed_serious: int = 0        # of which serious items (real-name, inspection, X-ray, prohibited items...)
    orders: int = 0                # rectification orders issued
    orders_overdue: int = 0        # orders not answered by their deadline
    orders_escalated: int = 0      # orders a follow-up audit found not put right
    warnings: int = 0              # penalty decisions: warnings
    fines: int = 0                 # penalty decisions: fines
    other_penalties: int = 0       # penalty decisions: other measures
    findings: int = 0              # abnormal real-name findings
    days: int = 0                  # outlet-days with parcels
    days_below: int = 0            # of which under a rate threshold
    incidents_late: int = 0        # safety incidents first reported after their grade's deadline


@dataclass(frozen=True)
class Credit:
    score: float
    level: str
    deductions: dict[str, float] = field(default_factory=dict)  # reason -> points taken off
    facts: CreditFacts = CreditFacts()

    def as_dict(self) -> dict:
        return {"score": self.score, "level": self.level, "deductions": self.deductions, "facts": asdict(self.facts)}


def level_of(score: float) -> str:
    return next(level for level, lowest in LEVELS if score >= lowest)


def score_credit(f: CreditFacts) -> Credit:
    """100 points less capped deductions per kind of fact (docs/credit.md); level A ≥ 90, B ≥ 75, C ≥ 60, D."""
    deductions = {
        "audit_findings": min(2 * (f.failed_items - f.failed_serious) + 4 * f.failed_serious, 24),
        "rectification": min(4 * f.orders + 6 * f.orders_overdue + 10 * f.orders_escalated, 30),
        "penalties": min(10 * f.warnings + 20 * f.fines + 15 * f.other_penalties, 40),
        "abnormal_real_name": min(f.findings, 10),
        "rates": round(30 * f.days_below / f.days, 1) if f.days else 0.0,
        "late_incident_reports": min(5 * f.incidents_late, 15),
    }
    deductions = {k: float(v) for k, v in deductions.items() if v}
    score = round(max(0.0, 100.0 - sum(deductions.values())), 1)
    return Credit(score, level_of(score), deductions, f)


def enterprise_level(scores: list[Credit]) -> Credit:
    """An enterprise's credit: the mean score of its outlets, its level at most one above its worst outlet's."""
    if not scores:
        return Credit(100.0, "A")
    score = round(sum(c.score for c in scores) / len(scores), 1)
    order = [level for level, _ in LEVELS]
    worst = max(order.index(c.level) for c in scores)
    level = order[max(order.index(level_of(score)), worst - 1)]
    return Credit(score, level)


def outlet_credits(session: Session, outlet_ids: list[int], as_of: dt.date,
                   thresholds: dict[str, float]) -> dict[int, Credit]:
    """The credit of each outlet as of ``as_of`` (the window ends that day)."""
    if not outlet_ids:
        return {}
    since = as_of - dt.timedelta(days=WINDOW_DAYS)
    facts: dict[int, dict[str, int]] = defaultdict(dict)

    def collect(stmt, *names):
        for outlet_id, *values in session.execute(stmt):
            for name, value in zip(names, values):
                facts[outlet_id][name] = int(value or 0)

    collect(select(Audit.outlet_id, func.count(), func.sum(case((ChecklistEntry.serious.is_(True), 1), else_=0)))
            .join(ChecklistEntry, ChecklistEntry.audit_id == Audit.id)
            .where(Audit.outlet_id.in_(outlet_ids), Audit.status == AuditStatus.CLOSED, Audit.closed_on > since,
                   Audit.closed_on <= as_of, ChecklistEntry.compliant.is_(False)).group_by(Audit.outlet_id),
            "failed_items", "failed_serious")
    issued = func.coalesce(RectificationOrder.issued_on, RectificationOrder.deadline)
    collect(select(RectificationOrder.outlet_id, func.count(),
                   func.sum(case((RectificationOrder.overdue_alerted_at.is_not(None), 1), else_=0)),
                   func.sum(case((RectificationOrder.status == OrderStatus.ESCALATED, 1), else_=0)))
            .where(RectificationOrder.outlet_id.in_(outlet_ids), issued > since, issued <= as_of)
            .group_by(RectificationOrder.outlet_id), "orders", "orders_overdue", "orders_escalated")
    collect(select(PenaltyCase.outlet_id,
                   *(func.sum(case((PenaltyCase.decision == d, 1), else_=0)) for d in PenaltyDecision))
            .where(PenaltyCase.outlet_id.in_(outlet_ids), PenaltyCase.decided_on > since,
                   PenaltyCase.decided_on <= as_of).group_by(PenaltyCase.outlet_id),
            "warnings", "fines", "other_penalties")
    collect(select(Finding.outlet_id, func.count()).where(Finding.outlet_id.in_(outlet_ids), Finding.day > since,
                                                          Finding.day <= as_of).group_by(Finding.outlet_id), "findings")
    below = or_(OutletDay.real_name_ok < thresholds["real_name"] * OutletDay.parcels,
                OutletDay.inspected_ok < thresholds["inspection"] * OutletDay.parcels,
                OutletDay.xray_ok < thresholds["xray"] * OutletDay.parcels)
    collect(select(OutletDay.outlet_id, func.count(), func.sum(case((below, 1), else_=0)))
            .where(OutletDay.outlet_id.in_(outlet_ids), OutletDay.day > since, OutletDay.day <= as_of,
                   OutletDay.parcels > 0).group_by(OutletDay.outlet_id), "days", "days_below")
    start, end = (dt.datetime.combine(d + dt.timedelta(days=1), dt.time(), tzinfo=CHINA) for d in (since, as_of))
    collect(select(Incident.outlet_id, func.count()).where(
        Incident.outlet_id.in_(outlet_ids), Incident.late.is_(True), Incident.reported_at >= start,
        Incident.reported_at < end).group_by(Incident.outlet_id), "incidents_late")
    return {i: score_credit(CreditFacts(**facts.get(i, {}))) for i in outlet_ids}


def enterprise_credits(session: Session, enterprise_ids: list[int], as_of: dt.date,
                       thresholds: dict[str, float]) -> dict[int, tuple[Credit, dict[int, Credit]]]:
    """Each enterprise's credit and its active outlets' credits."""
    outlets = session.execute(select(Outlet.id, Outlet.enterprise_id).where(
        and_(Outlet.enterprise_id.in_(enterprise_ids), Outlet.active.is_(True)))).all()
    credits = outlet_credits(session, [o for o, _ in outlets], as_of, thresholds)
    by_enterprise: dict[int, dict[int, Credit]] = {e: {} for e in enterprise_ids}
    for outlet_id, enterprise_id in outlets:
        by_enterprise[enterprise_id][outlet_id] = credits[outlet_id]
    return {e: (enterprise_level(list(c.values())), c) for e, c in by_enterprise.items()}


def draw_levels(session: Session, outlets: list[Outlet], as_of: dt.date,
                thresholds: dict[str, float]) -> dict[int, str]:
    """The level that weighs in the draw for each outlet: the worse of its own and its enterprise's."""
    enterprises = enterprise_credits(session, sorted({o.enterprise_id for o in outlets}), as_of, thresholds)
    order = [level for level, _ in LEVELS]
    levels = {}
    for o in outlets:
        enterprise, own = enterprises[o.enterprise_id]
        mine = own.get(o.id) or outlet_credits(session, [o.id], as_of, thresholds)[o.id]
        levels[o.id] = order[max(order.index(mine.level), order.index(enterprise.level))]
    return levels
