"""The audit workflow: checklist and findings, result, rectification orders and their dated history (answer,
acceptance, rejection, re-inspection, escalation), publication, and the daily duties (follow-ups at deadlines,
overdue orders, targeted audits)."""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from audits.calendar import WorkCalendar, deadline as working_deadline, load_calendar
from audits.checklist import ensure_checklist
from audits.documents import document_no, next_number
from audits.draw import Candidate, DrawImpossible, PlanInputs, draw_plan
from audits.errors import Conflict, Invalid, NotFound
from audits.plans import bookings, region_inspectors, store_audits
from models.base import china_today
from models import (Alert, AlertStatus, Audit, AuditKind, AuditMember, AuditResult, AuditStatus, ChecklistEntry,
                    OrderStatus, Outlet, OutletDay, RectificationEvent, RectificationOrder, RectificationPhoto, Region,
                    User, utcnow)

PUBLICATION_WORKING_DAYS = 20
OPEN_ORDERS = (OrderStatus.OPEN, OrderStatus.ANSWERED)


def get_audit(session: Session, audit_id: int) -> Audit:
    audit = session.get(Audit, audit_id)
    if audit is None:
        raise NotFound("not_found.audit", id=audit_id)
    return audit


def record_item(session: Session, audit: Audit, item: str, *, compliant: bool | None, finding: str | None) -> ChecklistEntry:
    """Record what was found for one checklist item of the audit; starts the audit. Raises Conflict once closed,
    Invalid for an item not on this audit's checklist."""
    if audit.status is AuditStatus.CLOSED:
        raise Conflict("conflict.audit_closed")
    entry = next((e for e in audit.items if e.item == item), None)
    if entry is None:
        raise Invalid("validation_error.unknown_checklist_item", field="item", item=item)
    entry.compliant, entry.finding = compliant, finding
    audit.status = AuditStatus.IN_PROGRESS
    session.flush()
    return entry


def add_member(session: Session, audit: Audit, *, name: str, agency: str, title: str | None) -> AuditMember:
    """Name a member of another agency on a joint audit (联合检查). Raises Conflict once the audit is closed."""
    if audit.status is AuditStatus.CLOSED:
        raise Conflict("conflict.audit_closed")
    member = AuditMember(name=name.strip(), agency=agency.strip(), title=(title or "").strip() or None)
    audit.members.append(member)
    session.flush()
    return member


def order_of_follow_up(session: Session, audit: Audit) -> RectificationOrder | None:
    """The order a follow-up audit re-inspects, if it is one."""
    return session.scalar(select(RectificationOrder).where(RectificationOrder.follow_up_id == audit.id))


def _event(order: RectificationOrder, kind: str, today: dt.date, actor: User | None = None, **values) -> RectificationEvent:
    event = RectificationEvent(kind=kind, day=today, actor_id=actor.id if actor else None, **values)
    order.events.append(event)
    return event


def close_audit(session: Session, audit: Audit, *, result: str, summary: str | None, today: dt.date,
                document_prefix: str, deadline: dt.date | None = None, requirements: str | None = None,
                actor: User | None = None, calendar: WorkCalendar | None = None) -> Audit:
    """Close an audit as ``pass`` or ``rectify``; its result is due for publication within 20 working days of
    today (``publish_by_provisional`` when that count crosses a year without holiday data: admins are told).

    A rectification needs a future deadline and issues an order numbered per year (``document_prefix``: the
    authority's abbreviation, as in 内邮责改〔2026〕第12号). A follow-up audit instead settles the
    order it re-inspects: ``pass`` closes it, ``rectify`` escalates it (a penalty case may follow).

    Raises Conflict when already closed or the checklist is incomplete; Invalid for a bad deadline.
    """
    if audit.status is AuditStatus.CLOSED:
        raise Conflict("conflict.audit_closed")
    open_items = [e.name_zh or e.item for e in audit.items if e.compliant is None]
    if open_items:
        raise Conflict("conflict.checklist_incomplete", items=open_items)
    outcome = AuditResult(result)
    settles = order_of_follow_up(session, audit) if audit.kind is AuditKind.FOLLOW_UP else None
    if settles is not None:
        if outcome is AuditResult.PASS:
            settles.status = OrderStatus.CLOSED
            _event(settles, "reinspected_pass", today, actor, audit_id=audit.id, text=summary)
        else:
            settles.status = OrderStatus.ESCALATED
            _event(settles, "escalated", today, actor, audit_id=audit.id, text=summary)
    elif outcome is AuditResult.RECTIFY:
        if deadline is None or deadline <= today:
            raise Invalid("validation_error.deadline_not_future", field="deadline")
        failed = [e for e in audit.items if not e.compliant]
        text = requirements or "；".join(f"{e.name_zh or e.item}：{e.finding or '不符合要求'}" for e in failed)
        seq = next_number(session, "notice", today.year)
        order = RectificationOrder(audit=audit, outlet_id=audit.outlet_id, deadline=deadline, issued_on=today,
                                   requirements=text or "-", status=OrderStatus.OPEN, notice_year=today.year,
                                   notice_seq=seq, notice_no=document_no(document_prefix, "notice", today.year, seq))
        session.add(order)
        _event(order, "issued", today, actor, text=order.requirements, deadline=deadline)
    audit.result, audit.summary = outcome, summary
    audit.status, audit.closed_at, audit.closed_on = AuditStatus.CLOSED, utcnow(), today
    publish_by = working_deadline(session, calendar or load_calendar(session), today, PUBLICATION_WORKING_DAYS)
    audit.publish_by, audit.publish_by_provisional = publish_by.day, publish_by.provisional
    session.flush()
    return audit


def firm_up_deadlines(session: Session, calendar: WorkCalendar) -> int:
    """Count again the provisional publication deadlines (after admins loaded a year); returns how many are
    firm now."""
    firmed = 0
    for audit in session.scalars(select(Audit).where(Audit.publish_by_provisional.is_(True),
                                                     Audit.closed_on.is_not(None))):
        again = calendar.add_working_days(audit.closed_on, PUBLICATION_WORKING_DAYS)
        audit.publish_by, audit.publish_by_provisional = again.day, again.provisional
        firmed += not again.provisional
    session.flush()
    return firmed


def publish(session: Session, audit: Audit) -> Audit:
    """Mark a closed audit's result as published (公开). Raises Conflict for an open one."""
    if audit.status is not AuditStatus.CLOSED:
        raise Conflict("conflict.audit_not_closed")
    if audit.published_at is None:
        audit.published_at = utcnow()
    session.flush()
    return audit


def respond(session: Session, order: RectificationOrder, response: str, *, today: dt.date | None = None,
            actor: User | None = None, photos: list[tuple[str, str, str]] = ()) -> RectificationOrder:
    """The outlet manager's answer to an order, with photos ``(sha256, content type, file name)`` already in
    the storage. Raises Conflict unless the order waits for an answer (open, or answered and not yet decided)."""
    if order.status not in OPEN_ORDERS:
        raise Conflict("conflict.order_not_open", status=order.status.value)
    today = today or china_today()
    order.response, order.responded_at, order.status = response, utcnow(), OrderStatus.ANSWERED
    event = _event(order, "answered", today, actor, text=response)
    for sha, content_type, filename in photos:
        event.photos.append(RectificationPhoto(sha256=sha, content_type=content_type, filename=filename[:255]))
    session.flush()
    return order


def add_response_photo(session: Session, order: RectificationOrder, photo: tuple[str, str, str]) -> RectificationEvent:
    """Attach a photo to the outlet's latest answer. Raises Conflict when the order is not answered."""
    answer = next((e for e in reversed(order.events) if e.kind == "answered"), None)
    if order.status is not OrderStatus.ANSWERED or answer is None:
        raise Conflict("conflict.order_not_answered")
    sha, content_type, filename = photo
    answer.photos.append(RectificationPhoto(sha256=sha, content_type=content_type, filename=filename[:255]))
    session.flush()
    return answer


def accept(session: Session, order: RectificationOrder, *, today: dt.date, actor: User | None,
           note: str | None = None) -> RectificationOrder:
    """The inspector accepts the answer: the order is closed. Raises Conflict unless it is answered."""
    if order.status is not OrderStatus.ANSWERED:
        raise Conflict("conflict.order_not_answered")
    order.status = OrderStatus.CLOSED
    _event(order, "accepted", today, actor, text=note)
    session.flush()
    return order


def reject(session: Session, order: RectificationOrder, *, reason: str, deadline: dt.date, today: dt.date,
           actor: User | None) -> RectificationOrder:
    """The inspector rejects the answer with a reason and a new deadline: the order is open again (and alerts
    again when that deadline passes unanswered). Raises Conflict unless answered, Invalid for a past deadline."""
    if order.status is not OrderStatus.ANSWERED:
        raise Conflict("conflict.order_not_answered")
    if deadline <= today:
        raise Invalid("validation_error.deadline_not_future", field="deadline")
    order.status, order.deadline, order.overdue_alerted_at = OrderStatus.OPEN, deadline, None
    _event(order, "rejected", today, actor, text=reason, deadline=deadline)
    session.flush()
    return order


def schedule_follow_up(session: Session, order: RectificationOrder, *, on: dt.date, today: dt.date,
                       actor: User | None, due: dt.date | None = None) -> Audit:
    """A follow-up audit (复查) of the order by the team of the original audit, re-checking the items it found
    wanting; its result closes or escalates the order. Raises Conflict when the order is settled or a follow-up
    is under way, Invalid for a day in the past."""
    if order.status not in OPEN_ORDERS:
        raise Conflict("conflict.order_not_open", status=order.status.value)
    if on < today:
        raise Invalid("validation_error.date_in_past", field="scheduled_on")
    original = order.audit
    follow = Audit(outlet_id=order.outlet_id, kind=AuditKind.FOLLOW_UP, status=AuditStatus.PLANNED,
                   due_date=due or on, scheduled_on=on, parent_id=original.id, inspectors=list(original.inspectors),
                   reason=f"follow-up of audit {original.id}")
    ensure_checklist(session, follow, extra=tuple(e for e in original.items if e.compliant is False))
    session.add(follow)
    session.flush()
    order.follow_up_id, order.status = follow.id, OrderStatus.REINSPECTING
    _event(order, "reinspection", today, actor, audit_id=follow.id, deadline=on)
    session.flush()
    return follow


def create_follow_ups(session: Session, today: dt.date, calendar: WorkCalendar | None = None) -> list[Audit]:
    """A follow-up audit for every order still waiting at its deadline, on the first working day from it."""
    calendar = calendar or load_calendar(session)
    created = []
    due = session.scalars(select(RectificationOrder).where(RectificationOrder.deadline <= today,
                                                           RectificationOrder.status.in_(OPEN_ORDERS))).all()
    for order in due:
        day = order.deadline if calendar.is_working_day(order.deadline) else \
            calendar.next_working_day(order.deadline).day
        created.append(schedule_follow_up(session, order, on=max(day, today), today=today, actor=None,
                                          due=order.deadline))
    return created


def raise_overdue(session: Session, today: dt.date) -> list[RectificationOrder]:
    """Orders past their deadline without an answer raise an alert (metric ``rectification``) once per deadline."""
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
        _event(order, "overdue", today, deadline=order.deadline)
    session.flush()
    return overdue


def create_targeted(session: Session, today: dt.date, *, consecutive_days: int, threshold: float,
                    per_audit: int, due_in_days: int = 7, capacity: int = 2) -> list[Audit]:
    """A targeted audit for each outlet whose real-name rate was under ``threshold`` on each of the last
    ``consecutive_days`` days with parcels (up to yesterday), unless it already has an audit not yet closed.
    Scheduled reproducibly (seed from outlet and date) on a working day of the next ``due_in_days`` days, with
    inspectors free that day; outlets without free inspectors are skipped."""
    since = today - dt.timedelta(days=consecutive_days)
    calendar = load_calendar(session)
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
        period = calendar.working_days(today + dt.timedelta(days=1), due)
        seed = int(hashlib.sha256(f"{outlet.code}/{today}".encode()).hexdigest()[:15], 16)
        pool = sorted(u.username for u in region_inspectors(session, region))
        booked, away = bookings(session, pool, period)
        try:
            planned = draw_plan(PlanInputs(candidates=(Candidate(outlet.code, 1.0),), inspectors=tuple(pool), outlets=1,
                                           per_audit=per_audit, days=tuple(d.isoformat() for d in period),
                                           capacity=capacity, booked=booked, away=away), seed)
        except DrawImpossible:
            continue
        created += store_audits(session, None, planned, due, AuditKind.TARGETED,
                                reason=f"real-name rate under {threshold:.1%} for {consecutive_days} days")
    return created


def publication_status(audit: Audit, today: dt.date) -> str | None:
    """'published', 'overdue', 'due' (closed, not yet published) or None (not closed)."""
    if audit.status is not AuditStatus.CLOSED:
        return None
    if audit.published_at is not None:
        return "published"
    return "overdue" if audit.publish_by and audit.publish_by < today else "due"
