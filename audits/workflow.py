"""The audit workflow: checklist and findings, result, rectification orders, follow-ups, publication,
and the daily duties (follow-ups at deadlines, overdue orders, targeted audits)."""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from audits.calendar import add_working_days
from audits.checklist import CODES, ensure_checklist
from audits.draw import Candidate, DrawImpossible, DrawInputs, draw
from audits.errors import Conflict, Invalid, NotFound
from audits.plans import _store_audits, region_inspectors
from models import (Alert, AlertStatus, Audit, AuditKind, AuditResult, AuditStatus, ChecklistEntry, OrderStatus,
                    Outlet, OutletDay, RectificationOrder, Region, utcnow)

PUBLICATION_WORKING_DAYS = 20


def get_audit(session: Session, audit_id: int) -> Audit:
    audit = session.get(Audit, audit_id)
    if audit is None:
        raise NotFound("not_found.audit", id=audit_id)
    return audit


def record_item(session: Session, audit: Audit, item: str, *, compliant: bool | None, finding: str | None) -> ChecklistEntry:
    """Record what was found for one checklist item; starts the audit. Raises Conflict once closed."""
    if audit.status is AuditStatus.CLOSED:
        raise Conflict("conflict.audit_closed")
    if item not in CODES:
        raise Invalid("validation_error.unknown_checklist_item", field="item", item=item)
    ensure_checklist(audit)
    entry = next(e for e in audit.items if e.item == item)
    entry.compliant, entry.finding = compliant, finding
    audit.status = AuditStatus.IN_PROGRESS
    session.flush()
    return entry


def close_audit(session: Session, audit: Audit, *, result: str, summary: str | None, today: dt.date,
                deadline: dt.date | None = None, requirements: str | None = None) -> Audit:
    """Close an audit as ``pass`` or ``rectify``. A rectification needs a future deadline and creates the order;
    the result is due for publication within 20 working days of today.

    Raises Conflict when already closed or the checklist is incomplete; Invalid for a bad deadline.
    """
    if audit.status is AuditStatus.CLOSED:
        raise Conflict("conflict.audit_closed")
    ensure_checklist(audit)
    open_items = [e.item for e in audit.items if e.compliant is None]
    if open_items:
        raise Conflict("conflict.checklist_incomplete", items=open_items)
    outcome = AuditResult(result)
    if outcome is AuditResult.RECTIFY:
        if deadline is None or deadline <= today:
            raise Invalid("validation_error.deadline_not_future", field="deadline")
        failed = [e for e in audit.items if not e.compliant]
        text = requirements or "; ".join(f"{e.item}: {e.finding or ''}".strip() for e in failed)
        session.add(RectificationOrder(audit=audit, outlet_id=audit.outlet_id, deadline=deadline,
                                       requirements=text or "-", status=OrderStatus.OPEN))
    audit.result, audit.summary = outcome, summary
    audit.status, audit.closed_at, audit.closed_on = AuditStatus.CLOSED, utcnow(), today
    audit.publish_by = add_working_days(today, PUBLICATION_WORKING_DAYS)
    session.flush()
    return audit


def publish(session: Session, audit: Audit) -> Audit:
    """Mark a closed audit's result as published (公开). Raises Conflict for an open one."""
    if audit.status is not AuditStatus.CLOSED:
        raise Conflict("conflict.audit_not_closed")
    if audit.published_at is None:
        audit.published_at = utcnow()
    session.flush()
    return audit


def respond(session: Session, order: RectificationOrder, response: str) -> RectificationOrder:
    """The outlet manager's answer to an order. Raises Conflict once the order is closed."""
    if order.status is OrderStatus.CLOSED:
        raise Conflict("conflict.order_closed")
    order.response, order.responded_at, order.status = response, utcnow(), OrderStatus.ANSWERED
    session.flush()
    return order


def create_follow_ups(session: Session, today: dt.date) -> list[Audit]:
    """A follow-up audit for every order whose deadline has come, by the inspectors of the original audit."""
    created = []
    due = session.scalars(select(RectificationOrder).where(RectificationOrder.deadline <= today,
                                                           RectificationOrder.follow_up_id.is_(None))).all()
    for order in due:
        original = order.audit
        follow = Audit(outlet_id=order.outlet_id, kind=AuditKind.FOLLOW_UP, status=AuditStatus.PLANNED,
                       due_date=order.deadline, parent_id=original.id, inspectors=list(original.inspectors),
                       reason=f"follow-up of audit {original.id}")
        ensure_checklist(follow)
        session.add(follow)
        session.flush()
        order.follow_up_id = follow.id
        created.append(follow)
    session.flush()
    return created


def raise_overdue(session: Session, today: dt.date) -> list[RectificationOrder]:
    """Orders past their deadline without an answer raise an alert (metric ``rectification``) once."""
    overdue = session.scalars(select(RectificationOrder).where(RectificationOrder.deadline < today,
                                                               RectificationOrder.status == OrderStatus.OPEN,
                                                               RectificationOrder.overdue_alerted_at.is_(None))).all()
    for order in overdue:
        exists = session.scalar(select(Alert).where(Alert.outlet_id == order.outlet_id, Alert.day == order.deadline,
                                                    Alert.metric == "rectification"))
        if exists is None:
            session.add(Alert(outlet_id=order.outlet_id, day=order.deadline, metric="rectification", rate=0.0,
                              threshold=1.0, status=AlertStatus.OPEN))
        order.overdue_alerted_at = utcnow()
    session.flush()
    return overdue


def create_targeted(session: Session, today: dt.date, *, consecutive_days: int, threshold: float,
                    per_audit: int, due_in_days: int = 7) -> list[Audit]:
    """A targeted audit for each outlet whose real-name rate was under ``threshold`` on each of the last
    ``consecutive_days`` days with parcels (up to yesterday), unless it already has an audit not yet closed.
    Inspectors are drawn reproducibly (seed from outlet and date); outlets without free inspectors are skipped."""
    since = today - dt.timedelta(days=consecutive_days)
    created = []
    rows = session.scalars(select(OutletDay).where(OutletDay.day >= since, OutletDay.day < today)
                           .order_by(OutletDay.outlet_id, OutletDay.day)).all()
    by_outlet: dict[int, list[OutletDay]] = {}
    for row in rows:
        by_outlet.setdefault(row.outlet_id, []).append(row)
    for outlet_id, days in by_outlet.items():
        if len(days) < consecutive_days or not all(d.parcels and d.real_name_ok / d.parcels < threshold
                                                    for d in days[-consecutive_days:]):
            continue
        if session.scalar(select(Audit.id).where(Audit.outlet_id == outlet_id, Audit.status != AuditStatus.CLOSED)):
            continue
        outlet = session.get(Outlet, outlet_id)
        region = session.get(Region, outlet.region_code[:4] + "00") or session.get(Region, outlet.region_code)
        due = today + dt.timedelta(days=due_in_days)
        seed = int(hashlib.sha256(f"{outlet.code}/{today}".encode()).hexdigest()[:15], 16)
        pool = tuple(sorted(u.username for u in region_inspectors(session, region)))
        busy = tuple(sorted({u.username for a in session.scalars(select(Audit).where(
            Audit.due_date == due, Audit.status != AuditStatus.CLOSED)) for u in a.inspectors}))
        try:
            drawn = draw(DrawInputs(candidates=(Candidate(outlet.code, 1.0),), inspectors=pool, outlets=1,
                                    per_audit=per_audit, busy=busy), seed)
        except DrawImpossible:
            continue
        created += _store_audits(session, None, drawn, due, AuditKind.TARGETED,
                                 reason=f"real-name rate under {threshold:.1%} for {consecutive_days} days")
    return created


def publication_status(audit: Audit, today: dt.date) -> str | None:
    """'published', 'overdue', 'due' (closed, not yet published) or None (not closed)."""
    if audit.status is not AuditStatus.CLOSED:
        return None
    if audit.published_at is not None:
        return "published"
    return "overdue" if audit.publish_by and audit.publish_by < today else "due"
