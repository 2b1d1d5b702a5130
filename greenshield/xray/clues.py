"""Seizures followed through: seized and referred X-ray events become clues (线索) that inspectors hand over to
another agency and close with the outcome; statistics of seizures by prohibited-item category, region,
enterprise and month. Functions take a session and flush, never commit."""
from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from greenshield.errors import Conflict, Invalid
from models import (Clue, ClueStatus, Enterprise, Outlet, ProhibitedCategory, Region, User, XrayEvent, XrayReview,
                    utcnow)
from models.base import CHINA

CLUE_DECISIONS = ("seized", "referred")


def open_clue(session: Session, event: XrayEvent, review: XrayReview) -> Clue | None:
    """The clue of a seized or referred event (test images are none); one per event."""
    if event.is_tip or review.decision not in CLUE_DECISIONS:
        return None
    clue = Clue(event_id=event.id, waybill_no=event.waybill_no, outlet_id=event.outlet_id, decision=review.decision,
                category_code=review.category_code, status=ClueStatus.OPEN)
    session.add(clue)
    session.flush()
    return clue


def hand_over(session: Session, clue: Clue, user: User, *, agency: str, agency_case_no: str) -> Clue:
    """Record that the clue went to ``agency`` under its case number. Raises Conflict unless the clue is open,
    Invalid for an empty agency or case number."""
    if clue.status is not ClueStatus.OPEN:
        raise Conflict("conflict.clue_not_open", status=clue.status.value)
    agency, agency_case_no = (agency or "").strip(), (agency_case_no or "").strip()
    if not agency:
        raise Invalid("validation_error.clue_agency_required", field="agency")
    if not agency_case_no:
        raise Invalid("validation_error.clue_case_no_required", field="agency_case_no")
    clue.agency, clue.agency_case_no = agency[:128], agency_case_no[:64]
    clue.status, clue.handed_over_at, clue.handled_by_id = ClueStatus.HANDED_OVER, utcnow(), user.id
    session.flush()
    return clue


def close(session: Session, clue: Clue, user: User, *, outcome: str) -> Clue:
    """Close a clue with its outcome (what the agency did, or why nothing follows). Raises Conflict when closed
    already, Invalid for an empty outcome."""
    if clue.status is ClueStatus.CLOSED:
        raise Conflict("conflict.clue_closed")
    outcome = (outcome or "").strip()
    if not outcome:
        raise Invalid("validation_error.clue_outcome_required", field="outcome")
    clue.outcome, clue.status, clue.closed_at, clue.handled_by_id = outcome, ClueStatus.CLOSED, utcnow(), user.id
    session.flush()
    return clue


def seizure_stats(session: Session, scoped: Select, start: dt.date, end: dt.date) -> dict:
    """Seizures (reviews ``seized``, test images excepted) of events scanned from ``start`` to ``end`` (China
    days) at the outlets of ``scoped``: in all, by each of the 19 categories (zeros included), by league/city,
    by enterprise and by month."""
    ids = select(scoped.subquery().c.id)
    first = dt.datetime.combine(start, dt.time(), CHINA)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), CHINA)
    rows = session.execute(
        select(XrayReview.category_code, XrayEvent.scanned_at, Outlet.region_code, Enterprise.code, Enterprise.name)
        .join(XrayEvent, XrayEvent.id == XrayReview.event_id)
        .join(Outlet, Outlet.id == XrayEvent.outlet_id)
        .join(Enterprise, Enterprise.id == Outlet.enterprise_id)
        .where(XrayReview.decision == "seized", XrayEvent.is_tip.is_(False), XrayEvent.outlet_id.in_(ids),
               XrayEvent.scanned_at >= first, XrayEvent.scanned_at < after)).all()
    categories = session.scalars(select(ProhibitedCategory).order_by(ProhibitedCategory.code)).all()
    regions = {r.code: r.name for r in session.scalars(select(Region).where(Region.level <= 2))}
    by_category, by_region, by_enterprise, by_month = Counter(), Counter(), Counter(), Counter()
    enterprise_names = {}
    for category, scanned, region_code, enterprise, enterprise_name in rows:
        by_category[category] += 1
        by_region[region_code[:4] + "00"] += 1
        by_enterprise[enterprise] += 1
        enterprise_names[enterprise] = enterprise_name
        by_month[scanned.astimezone(CHINA).strftime("%Y-%m")] += 1
    return {
        "from": start, "to": end, "total": len(rows),
        "by_category": [{"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "count": by_category[c.code]}
                        for c in categories],
        "by_region": [{"key": key, "name": regions.get(key, key), "count": n} for key, n in sorted(by_region.items())],
        "by_enterprise": [{"key": key, "name": enterprise_names[key], "count": n}
                          for key, n in sorted(by_enterprise.items())],
        "by_month": [{"month": key, "count": n} for key, n in sorted(by_month.items())],
    }
