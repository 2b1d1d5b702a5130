"""Planning audits: gather the draw's inputs from the database, draw, store; re-run a stored draw."""
from __future__ import annotations

import datetime as dt
import math
import secrets
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audits.calendar import WorkCalendar, alert_missing_years, load_calendar
from audits.checklist import ensure_checklist
from audits.credit import draw_levels
from audits.draw import Candidate, DrawInputs, PlanInputs, Planned, draw, draw_plan
from audits.errors import Invalid, NotFound
from audits.risk import RiskFactors, risk_weight
from models import (Alert, AlertStatus, Audit, AuditKind, AuditPlan, AuditStatus, Finding, InspectorAbsence, Outlet,
                    OutletDay, RectificationOrder, Region, Role, User)
from models.registry import prefix_of


MAX_PERIOD_DAYS = 366
"""The longest period a plan spreads over (a year: longer plans are drawn again, with fresher risk)."""


def outlet_inspectors(session: Session, outlet: Outlet) -> list[User]:
    """Active inspectors whose region holds the outlet (they see it, and answer for it)."""
    inspectors = session.scalars(select(User).where(User.role == Role.INSPECTOR, User.active.is_(True))).all()
    return [u for u in inspectors if u.region_code and outlet.region_code.startswith(prefix_of(u.region_code))]


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
    declared, seen = defaultdict(int), defaultdict(int)
    for day in session.scalars(select(OutletDay).where(OutletDay.outlet_id.in_(ids), OutletDay.day > since30,
                                                       OutletDay.day <= as_of)):
        declared[day.outlet_id] += day.xray_ok
        seen[day.outlet_id] += day.xray_verified_ok
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
    credit = draw_levels(session, outlets, as_of, thresholds)
    return {o.id: RiskFactors(days_below_threshold=below[o.id], open_alerts=alerts.get(o.id, 0),
                              findings=findings.get(o.id, 0), flagged_xray=flagged_xray.get(o.id, 0),
                              xray_unverified=round(1 - seen[o.id] / declared[o.id], 4) if declared[o.id] else 0.0,
                              past_rectifications=orders.get(o.id, 0),
                              days_since_last_audit=(as_of - last[o.id]).days if o.id in last else None,
                              credit_level=credit[o.id])
            for o in outlets}


def last_teams(session: Session, outlets: list[Outlet]) -> dict[str, tuple[str, ...]]:
    """Each outlet's team of its latest audit (by the day it was planned for)."""
    teams: dict[str, tuple[str, ...]] = {}
    day = func.coalesce(Audit.scheduled_on, Audit.due_date)
    for outlet in outlets:
        latest = session.scalar(select(Audit).where(Audit.outlet_id == outlet.id)
                                .order_by(day.desc(), Audit.id.desc()).limit(1))
        if latest is not None and latest.inspectors:
            teams[outlet.code] = tuple(sorted(u.username for u in latest.inspectors))
    return teams


def bookings(session: Session, usernames: list[str], days: list[dt.date]) -> tuple[dict[str, dict[str, int]],
                                                                                 dict[str, tuple[str, ...]]]:
    """What the inspectors already have on ``days``: audits not yet closed per day and inspector, and their
    days of absence (leave, training, other duties)."""
    if not days:
        return {}, {}
    day = func.coalesce(Audit.scheduled_on, Audit.due_date)
    booked: dict[str, dict[str, int]] = defaultdict(dict)
    rows = session.execute(select(day, User.username, func.count()).join(Audit.inspectors).where(
        User.username.in_(usernames), day >= days[0], day <= days[-1], Audit.status != AuditStatus.CLOSED)
        .group_by(day, User.username)).all()
    for on, username, count in rows:
        booked[on.isoformat()][username] = count
    wanted = {d.isoformat() for d in days}
    away: dict[str, set[str]] = defaultdict(set)
    for absence in session.scalars(select(InspectorAbsence).join(User, InspectorAbsence.user_id == User.id).where(
            User.username.in_(usernames), InspectorAbsence.start_date <= days[-1],
            InspectorAbsence.end_date >= days[0])):
        d = absence.start_date
        while d <= absence.end_date:
            if d.isoformat() in wanted:
                away[absence.user.username].add(d.isoformat())
            d += dt.timedelta(days=1)
    return ({d: dict(sorted(v.items())) for d, v in sorted(booked.items())},
            {k: tuple(sorted(v)) for k, v in sorted(away.items())})


def gather_inputs(session: Session, region: Region, *, outlets: int, per_audit: int, days: list[dt.date],
                  capacity: int, as_of: dt.date, thresholds: dict[str, float], coverage_target: float,
                  flagged_xray: dict[int, int] | None = None) -> tuple[PlanInputs, dict[str, dict]]:
    """The draw's inputs for ``region`` over ``days`` and each outlet's risk factors (stored for the record)."""
    pool = session.scalars(select(Outlet).where(Outlet.active.is_(True),
                                                Outlet.region_code.startswith(prefix_of(region.code)))
                           .order_by(Outlet.code)).all()
    factors = risk_factors(session, pool, as_of, thresholds, flagged_xray)
    year_ago = as_of - dt.timedelta(days=365)
    covered = set(session.scalars(select(Audit.outlet_id).where(Audit.outlet_id.in_([o.id for o in pool]),
                                                                Audit.due_date > year_ago)))
    target = math.ceil(coverage_target * len(pool))
    min_uncovered = max(0, min(outlets, target - len(covered)))
    inspectors = sorted(u.username for u in region_inspectors(session, region))
    booked, away = bookings(session, inspectors, days)
    inputs = PlanInputs(
        candidates=tuple(Candidate(o.code, risk_weight(factors[o.id]), o.id in covered) for o in pool),
        inspectors=tuple(inspectors), outlets=outlets, per_audit=per_audit,
        days=tuple(d.isoformat() for d in days), capacity=capacity, booked=booked, away=away,
        last_teams=last_teams(session, pool), min_uncovered=min_uncovered)
    return inputs, {o.code: vars(factors[o.id]) for o in pool}


def plan_period(session: Session, calendar: WorkCalendar, *, as_of: dt.date, start_date: dt.date | None,
                due_date: dt.date) -> tuple[dt.date, list[dt.date], tuple[int, ...]]:
    """The period's start (default: the next working day), its working days, and the years among them whose
    holidays are not loaded (their days are then counted Monday-Friday, and the admins are told)."""
    start = start_date or calendar.next_working_day(as_of).day
    if start < as_of:
        raise Invalid("validation_error.start_in_past", field="start_date")
    if due_date < start:
        raise Invalid("validation_error.due_before_start", field="due_date")
    if (due_date - start).days >= MAX_PERIOD_DAYS:
        raise Invalid("validation_error.period_too_long", field="due_date", max_days=MAX_PERIOD_DAYS)
    unknown = calendar.unknown_years(start, due_date)
    if unknown:
        alert_missing_years(session, unknown)
    return start, calendar.working_days(start, due_date), unknown


def create_plan(session: Session, *, region_code: str, outlets: int, per_audit: int, due_date: dt.date,
                seed: int | None, created_by: User | None, as_of: dt.date, thresholds: dict[str, float],
                coverage_target: float, capacity: int = 2, start_date: dt.date | None = None,
                kind: AuditKind = AuditKind.RANDOM, schedule_id: int | None = None,
                flagged_xray: dict[int, int] | None = None) -> tuple[AuditPlan, bool]:
    """Draw and store a plan with its audits spread over the working days from ``start_date`` (default: the
    next working day) to ``due_date``. The same request with the same seed returns the stored plan.

    Returns (plan, created). Raises NotFound for an unknown region, Invalid for a period that is no period,
    DrawImpossible when the draw is impossible.
    """
    region = session.get(Region, region_code)
    if region is None:
        raise NotFound("not_found.region", field="region_code", code=region_code)
    if kind not in (AuditKind.RANDOM, AuditKind.SAFETY):
        raise Invalid("validation_error.plan_kind", field="kind")
    start, days, unknown = plan_period(session, load_calendar(session), as_of=as_of, start_date=start_date,
                                       due_date=due_date)
    if seed is not None:
        same = session.scalar(select(AuditPlan).where(
            AuditPlan.region_code == region_code, AuditPlan.outlets_requested == outlets,
            AuditPlan.inspectors_per_audit == per_audit, AuditPlan.due_date == due_date, AuditPlan.seed == seed,
            AuditPlan.start_date == start, AuditPlan.kind == kind))
        if same is not None:
            return same, False
    seed = secrets.randbits(62) if seed is None else seed
    inputs, factors = gather_inputs(session, region, outlets=outlets, per_audit=per_audit, days=days,
                                    capacity=capacity, as_of=as_of, thresholds=thresholds,
                                    coverage_target=coverage_target, flagged_xray=flagged_xray)
    planned = draw_plan(inputs, seed)
    plan = AuditPlan(region_code=region.code, outlets_requested=outlets, inspectors_per_audit=per_audit,
                     due_date=due_date, start_date=start, kind=kind, seed=seed,
                     inputs={"draw": inputs.to_json(), "risk": factors, "as_of": as_of.isoformat(),
                             "provisional_years": list(unknown)},
                     schedule_id=schedule_id, created_by_id=created_by.id if created_by else None)
    session.add(plan)
    store_audits(session, plan, planned, due_date, kind, reason=None)
    session.flush()
    return plan, True


def store_audits(session: Session, plan: AuditPlan | None, planned: list[Planned], due_date: dt.date,
                 kind: AuditKind, reason: str | None) -> list[Audit]:
    outlets = {o.code: o for o in session.scalars(select(Outlet).where(
        Outlet.code.in_([d.outlet_code for d in planned])))}
    users = {u.username: u for u in session.scalars(select(User).where(
        User.username.in_([i for d in planned for i in d.inspectors])))}
    audits = []
    for d in planned:
        audit = Audit(plan=plan, outlet=outlets[d.outlet_code], kind=kind, status=AuditStatus.PLANNED,
                      due_date=due_date, scheduled_on=dt.date.fromisoformat(d.day), reason=reason,
                      inspectors=[users[i] for i in d.inspectors])
        ensure_checklist(session, audit)
        session.add(audit)
        audits.append(audit)
    session.flush()
    return audits


def verify_plan(session: Session, plan_id: int) -> tuple[bool, list[str]]:
    """Re-run a stored draw from its stored inputs and seed; (True, []) when it gives the stored audits.
    Plans stored in the one-day format (before periods) are re-run with that format's draw."""
    plan = session.get(AuditPlan, plan_id)
    if plan is None:
        raise NotFound("not_found.audit_plan", id=plan_id)
    doc = plan.inputs["draw"]
    if doc.get("version", 1) == 1:
        rerun = [(d.outlet_code, d.inspectors) for d in draw(DrawInputs.from_json(doc), plan.seed)]
        stored = [(a.outlet.code, tuple(sorted(u.username for u in a.inspectors))) for a in plan.audits]
    else:
        rerun = [(d.outlet_code, d.inspectors, d.day) for d in draw_plan(PlanInputs.from_json(doc), plan.seed)]
        stored = [(a.outlet.code, tuple(sorted(u.username for u in a.inspectors)),
                   a.scheduled_on.isoformat() if a.scheduled_on else None) for a in plan.audits]
    differences = [f"stored {s} vs re-run {r}" for s, r in zip(stored, rerun) if s != r]
    if len(stored) != len(rerun):
        differences.append(f"stored {len(stored)} audits, re-run gives {len(rerun)}")
    return not differences, differences
