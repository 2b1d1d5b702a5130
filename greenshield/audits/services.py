"""Glue between the audit use cases and the app: the draw's settings and risk inputs, scope, photo storage."""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from greenshield.auth.permissions import Capability, Scope, can, scope_of
from greenshield.auth.policy import outlet_in_scope, region_in_scope
from greenshield.errors import Forbidden, Invalid, NotFound
from greenshield.settings import Settings
from greenshield.storage import Storage
from audits import calendar as cal, penalties, workflow
from audits.credit import Credit
from models import (AbsenceReason, Audit, CalendarDay, CalendarYear, ChecklistItem, InspectorAbsence,
                    RectificationOrder, Region, User, XrayEvent)
from models.base import CHINA, china_today as today

PHOTO_TYPES = {b"\xff\xd8\xff": ("image/jpeg", "jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", "png")}
MAX_PHOTO_BYTES = 10 * 2**20
MAX_PHOTO_PIXELS = 50_000_000  # a 50-megapixel camera; a 20000×20000 "photo" would take gigabytes to show

__all__ = ["absence_for", "audit_for", "calendar_year", "credit_doc", "flagged_xray_counts", "order_for", "photo_key",
           "plan_settings", "record_absence", "region_for", "save_calendar_year", "store_photo", "today",
           "update_checklist_item"]


def plan_settings(settings: Settings) -> dict:
    """The settings a draw weighs risk and schedules with."""
    return {"thresholds": settings.thresholds, "coverage_target": settings.audit_coverage_target,
            "capacity": settings.audit_daily_capacity}


def flagged_xray_counts(session: Session, as_of: dt.date) -> dict[int, int]:
    """Flagged X-ray events per outlet in the last 30 days (a risk factor of the draw)."""
    since = dt.datetime.combine(as_of - dt.timedelta(days=30), dt.time(), CHINA)
    return dict(session.execute(select(XrayEvent.outlet_id, func.count()).where(
        XrayEvent.flagged.is_(True), XrayEvent.scanned_at >= since).group_by(XrayEvent.outlet_id)).all())


def region_for(session: Session, user: User, code: str) -> Region:
    """The region ``code`` if ``user`` may plan in it. Raises Invalid (unknown) or Forbidden (out of scope)."""
    region = session.get(Region, code)
    if region is None:
        raise Invalid("validation_error.unknown_region", field="region_code", code=code)
    if not region_in_scope(user, region):
        raise Forbidden("forbidden.region_scope", code=code)
    return region


def audit_for(session: Session, user: User, audit_id: int, *, write: bool = False) -> Audit:
    """An audit the user may see (NotFound otherwise); with ``write``, one the user may work on (Forbidden
    otherwise): admins, and inspectors assigned to it."""
    audit = session.get(Audit, audit_id)
    if audit is None or not outlet_in_scope(user, audit.outlet):
        raise NotFound("not_found.audit", id=audit_id)
    if write and not can(user, Capability.WORK_ANY_AUDIT) and user not in audit.inspectors:
        raise Forbidden("forbidden.not_assigned")
    return audit


def order_for(session: Session, user: User, order_id: int, *, decide: bool = False) -> RectificationOrder:
    """An order the user may see (NotFound otherwise); with ``decide``, one whose answer the user may accept,
    reject or re-inspect (Forbidden otherwise): admins, and the inspectors of its audit or of its follow-up."""
    order = session.get(RectificationOrder, order_id)
    if order is None or not outlet_in_scope(user, order.outlet):
        raise NotFound("not_found.order", id=order_id)
    if decide and not can(user, Capability.WORK_ANY_AUDIT):
        team = list(order.audit.inspectors) + (list(order.follow_up.inspectors) if order.follow_up else [])
        if not can(user, Capability.DECIDE_RECTIFICATION) or user not in team:
            raise Forbidden("forbidden.not_assigned")
    return order


def photo_key(sha: str, content_type: str) -> str:
    """The storage key of a photo (content-addressed)."""
    ext = "png" if content_type == "image/png" else "jpg"
    return f"photos/{sha[:2]}/{sha}.{ext}"


def store_photo(store: Storage, stream) -> tuple[str, str]:
    """Keep a JPEG or PNG photo content-addressed in the storage; returns (sha256, content type).

    Raises Invalid for a photo over 10 MiB (413), over 50 megapixels (413, read from the header without decoding
    the pixels), with an unreadable header, or of another type."""
    data = stream.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise Invalid("payload_too_large.photo", field="photo", max_mib=MAX_PHOTO_BYTES // 2**20)
    kind = next((v for magic, v in PHOTO_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise Invalid("validation_error.photo_type", field="photo")
    from inspection.xray.imaging import InvalidImage, image_dimensions

    try:
        width, height = image_dimensions(data)
    except InvalidImage:
        raise Invalid("corrupt_image.photo", field="photo") from None
    if width * height > MAX_PHOTO_PIXELS:
        raise Invalid("too_many_pixels.photo", field="photo", width=width, height=height,
                      max_megapixels=MAX_PHOTO_PIXELS // 1_000_000)
    sha = hashlib.sha256(data).hexdigest()
    store.put(photo_key(sha, kind[0]), data)
    return sha, kind[0]


def record_absence(session: Session, user: User, data: dict) -> InspectorAbsence:
    """Record days of absence: one's own, or (with RECORD_ANY_ABSENCE) any inspector's.

    Raises Invalid for a reversed period or a user who is no inspector, Forbidden for another's absence."""
    who = user
    if data.get("username") and data["username"] != user.username:
        if not can(user, Capability.RECORD_ANY_ABSENCE):
            raise Forbidden("forbidden.others_absence")
        who = session.scalar(select(User).where(User.username == data["username"]))
        if who is None or scope_of(who) is not Scope.REGION:  # inspectors, whom draws assign
            raise Invalid("validation_error.not_an_inspector", field="username", username=data["username"])
    if data["end_date"] < data["start_date"]:
        raise Invalid("validation_error.period_reversed", field="end_date")
    absence = InspectorAbsence(user_id=who.id, start_date=data["start_date"], end_date=data["end_date"],
                               reason=AbsenceReason(data.get("reason") or "leave"), note=data.get("note"),
                               created_by_id=user.id)
    session.add(absence)
    session.flush()
    session.refresh(absence)
    return absence


def absence_for(session: Session, user: User, absence_id: int) -> InspectorAbsence:
    """An absence the user may remove: their own, or anyone's with RECORD_ANY_ABSENCE (NotFound otherwise)."""
    absence = session.get(InspectorAbsence, absence_id)
    if absence is None or (absence.user_id != user.id and not can(user, Capability.RECORD_ANY_ABSENCE)):
        raise NotFound("not_found.absence", id=absence_id)
    return absence


def update_checklist_item(session: Session, item_id: int, data: dict) -> ChecklistItem:
    item = session.get(ChecklistItem, item_id)
    if item is None:
        raise NotFound("not_found.checklist_item", id=item_id)
    for name, value in data.items():
        setattr(item, name, value.strip() if isinstance(value, str) else value)
    session.flush()
    return item


def calendar_year(session: Session, year: int) -> dict:
    """A year's special days and whether it is known (its deadlines firm). Raises Invalid for a year out of
    range."""
    if not 2000 <= year <= 2100:
        raise Invalid("validation_error.calendar_year", field="year", year=year)
    known = session.get(CalendarYear, year)
    days = session.scalars(select(CalendarDay).where(CalendarDay.day >= dt.date(year, 1, 1),
                                                     CalendarDay.day <= dt.date(year, 12, 31))
                           .order_by(CalendarDay.day)).all()
    return {"year": year, "known": known is not None, "source": known.source if known else None, "days": days}


def save_calendar_year(session: Session, user: User, year: int, days: list[dict]) -> dict:
    """Store a year's holidays and make-up working days as an admin entered them, then count the provisional
    deadlines again. Raises Invalid for a day outside the year or a year out of range."""
    if not 2000 <= year <= 2100:
        raise Invalid("validation_error.calendar_year", field="year", year=year)
    outside = [d["date"].isoformat() for d in days if d["date"].year != year]
    if outside:
        raise Invalid("validation_error.calendar_day_outside_year", field="days", year=year, days=outside)
    cal.save_year(session, year, {d["date"]: (d["working"], d.get("name") or "") for d in days}, source="admin",
                  confirmed_by=user)
    calendar = cal.load_calendar(session)
    workflow.firm_up_deadlines(session, calendar)
    penalties.firm_up_hearing_deadlines(session, calendar)
    return calendar_year(session, year)


def credit_doc(code: str, name: str, credit: Credit, outlets: list[dict] | None = None) -> dict:
    doc = {"code": code, "name": name, **credit.as_dict()}
    if outlets is not None:
        doc["outlets"] = outlets
    return doc
