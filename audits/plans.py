"""Planning audits: gather the draw's inputs from the database, draw, store; re-run a stored draw."""
from __future__ import annotations

import datetime as dt
import math
import secrets
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audits.checklist import ensure_checklist
from audits.draw import Candidate, DrawInputs, Drawn, draw
from audits.errors import NotFound
from audits.risk import RiskFactors, risk_weight
from models import (Alert, AlertStatus, Audit, AuditKind, AuditPlan, AuditStatus, Finding, Outlet, OutletDay,
                    RectificationOrder, Region, Role, User)
from models.registry import prefix_of


def region_inspectors(session: Session, region: Region) -> list[User]:
    """Active inspectors whose scope covers the whole region (so they may see every outlet drawn in it)."""
    inspectors = session.scalars(select(User).where(User.role == Role.INSPECTOR, User.active.is_(True))).all()
    return [u for u in inspectors if u.region_code and region.code.startswith(prefix_of(u.region_code))]


def risk_factors(session: Session, outlets: list[Outlet], as_of: dt.date, thresholds: dict[str, float],
                 flagged_xray: dict[int, int] | None = None) -> dict[int, RiskFactors]:
    """Each outlet's risk factors as of ``as_of``."""
    ids = [o.id for o in outlets]
    since30, since90, since2y = (as_of - dt.timedelta(days=d) for d in (30, 90, 730))
    below = defaultdict(int)
    for day in session.scalars(select(OutletDay).where(OutletDay.outlet_id.in_(ids), OutletDay.day > since30,
                                                       OutletDay.day <= as_of)):
        rates = [(day.real_name_ok, thresholds["real_name"]), (day.inspected_ok, thresholds["inspection"]),
                 (day.xray_ok, thresholds["xray"])]
        if day.parcels and any(ok / day.parcels < t for ok, t in rates):
            below[day.outlet_id] += 1

    def counts(stmt) -> dict[int, int]:
        return dict(session.execute(stmt).all())

    alerts = counts(select(Alert.outlet_id, func.count()).where(Alert.outlet_id.in_(ids),
                                                                 Alert.status == AlertStatus.OPEN)
                    .group_by(Alert.outlet_id))
    findings = counts(select(Finding.outlet_id, func.count()).where(Finding.outlet_id.in_(ids), Finding.day > since90)
                      .group_by(Finding.outlet_id))
    orders = counts(select(RectificationOrder.outlet_id, func.count()).where(
        RectificationOrder.outlet_id.in_(ids), RectificationOrder.deadline > since2y).group_by(RectificationOrder.outlet_id))
    last = counts(select(Audit.outlet_id, func.max(Audit.due_date)).where(Audit.outlet_id.in_(ids))
                  .group_by(Audit.outlet_id))
    flagged_xray = flagged_xray or {}
    return {o.id: RiskFactors(days_below_threshold=below[o.id], open_alerts=alerts.get(o.id, 0),
                              findings=findings.get(o.id, 0), flagged_xray=flagged_xray.get(o.id, 0),
                              past_rectifications=orders.get(o.id, 0),
                              days_since_last_audit=(as_of - last[o.id]).days if o.id in last else None)
            for o in outlets}


def gather_inputs(session: Session, region: Region, *, outlets: int, per_audit: int, due_date: dt.date,
                  as_of: dt.date, thresholds: dict[str, float], coverage_target: float,
                  flagged_xray: dict[int, int] | None = None) -> tuple[DrawInputs, dict[str, dict]]:
    """The draw's inputs for ``region`` and each outlet's risk factors (stored beside them for the record)."""
    pool = session.scalars(select(Outlet).where(Outlet.active.is_(True),
                                                Outlet.region_code.startswith(prefix_of(region.code)))
                           .order_by(Outlet.code)).all()
    factors = risk_factors(session, pool, as_of, thresholds, flagged_xray)
    year_ago = as_of - dt.timedelta(days=365)
    covered = set(session.scalars(select(Audit.outlet_id).where(Audit.outlet_id.in_([o.id for o in pool]),
                                                                Audit.due_date > year_ago)))
    target = math.ceil(coverage_target * len(pool))
    min_uncovered = max(0, min(outlets, target - len(covered)))
    last_team: dict[str, tuple[str, ...]] = {}
    for outlet in pool:
        latest = session.scalar(select(Audit).where(Audit.outlet_id == outlet.id)
                                .order_by(Audit.due_date.desc(), Audit.id.desc()).limit(1))
        if latest is not None and latest.inspectors:
            last_team[outlet.code] = tuple(sorted(u.username for u in latest.inspectors))
    busy = session.scalars(select(User.username).join(Audit.inspectors).where(
        Audit.due_date == due_date, Audit.status != AuditStatus.CLOSED)).all()
    inputs = DrawInputs(
        candidates=tuple(Candidate(o.code, risk_weight(factors[o.id]), o.id in covered) for o in pool),
        inspectors=tuple(sorted(u.username for u in region_inspectors(session, region))),
        outlets=outlets, per_audit=per_audit, last_inspectors=last_team, busy=tuple(sorted(set(busy))),
        min_uncovered=min_uncovered)
    return inputs, {o.code: vars(factors[o.id]) for o in pool}


def create_plan(session: Session, *, region_code: str, outlets: int, per_audit: int, due_date: dt.date,
                seed: int | None, created_by: User | None, as_of: dt.date, thresholds: dict[str, float],
                coverage_target: float, schedule_id: int | None = None,
                flagged_xray: dict[int, int] | None = None) -> tuple[AuditPlan, bool]:
    """Draw and store a plan with its audits. The same request with the same seed returns the stored plan.

    Returns (plan, created). Raises NotFound for an unknown region, DrawImpossible when the draw is impossible.
    """
    region = session.get(Region, region_code)
    if region is None:
        raise NotFound("not_found.region", field="region_code", code=region_code)
    if seed is not None:
        same = session.scalar(select(AuditPlan).where(
            AuditPlan.region_code == region_code, AuditPlan.outlets_requested == outlets,
            AuditPlan.inspectors_per_audit == per_audit, AuditPlan.due_date == due_date, AuditPlan.seed == seed))
        if same is not None:
            return same, False
    seed = secrets.randbits(62) if seed is None else seed
    inputs, factors = gather_inputs(session, region, outlets=outlets, per_audit=per_audit, due_date=due_date,
                                    as_of=as_of, thresholds=thresholds, coverage_target=coverage_target,
                                    flagged_xray=flagged_xray)
    drawn = draw(inputs, seed)
    plan = AuditPlan(region_code=region.code, outlets_requested=outlets, inspectors_per_audit=per_audit,
                     due_date=due_date, seed=seed, inputs={"draw": inputs.to_json(), "risk": factors,
                                                           "as_of": as_of.isoformat()},
                     schedule_id=schedule_id, created_by_id=created_by.id if created_by else None)
    session.add(plan)
    _store_audits(session, plan, drawn, due_date, AuditKind.RANDOM, reason=None)
    session.flush()
    return plan, True


def _store_audits(session: Session, plan: AuditPlan | None, drawn: list[Drawn], due_date: dt.date,
                  kind: AuditKind, reason: str | None) -> list[Audit]:
    outlets = {o.code: o for o in session.scalars(select(Outlet).where(Outlet.code.in_([d.outlet_code for d in drawn])))}
    users = {u.username: u for u in session.scalars(select(User).where(
        User.username.in_([i for d in drawn for i in d.inspectors])))}
    audits = []
    for d in drawn:
        audit = Audit(plan=plan, outlet=outlets[d.outlet_code], kind=kind, status=AuditStatus.PLANNED,
                      due_date=due_date, reason=reason, inspectors=[users[i] for i in d.inspectors])
        ensure_checklist(audit)
        session.add(audit)
        audits.append(audit)
    session.flush()
    return audits


def verify_plan(session: Session, plan_id: int) -> tuple[bool, list[str]]:
    """Re-run a stored draw from its stored inputs and seed; (True, []) when it gives the stored audits."""
    plan = session.get(AuditPlan, plan_id)
    if plan is None:
        raise NotFound("not_found.audit_plan", id=plan_id)
    again = draw(DrawInputs.from_json(plan.inputs["draw"]), plan.seed)
    stored = [(a.outlet.code, tuple(sorted(u.username for u in a.inspectors))) for a in plan.audits]
    rerun = [(d.outlet_code, d.inspectors) for d in again]
    differences = [f"stored {s} vs re-run {r}" for s, r in zip(stored, rerun) if s != r]
    if len(stored) != len(rerun):
        differences.append(f"stored {len(stored)} audits, re-run gives {len(rerun)}")
    return not differences, differences
