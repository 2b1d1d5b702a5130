"""Verified screening: what the networked X-ray machines saw, against what the outlets declared (是否过机).

A current record declared screened is *verified* when an X-ray event of its waybill (not a test image) exists at a
machine of its outlet or of the outlet's designated screening site (代检), scanned between ``before`` ahead of the
collection and ``after`` behind it (PRODUCT.md: 1 h and 72 h, ``XRAY_VERIFY_BEFORE_HOURS`` /
``XRAY_VERIFY_AFTER_HOURS``). The window is compared in SQL on both databases, so a recount stays one query.
Functions here take a session and flush, never commit.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from models import (CollectionRecord, Finding, MachineStatus, Outlet, OutletDay, ScreeningSite, XrayEvent,
                    XrayMachine, utcnow)
from models.base import CHINA

DECLARED_NOT_SCANNED = "declared_not_scanned"
SCANNED_WHILE_POWERED_OFF = "scanned_while_powered_off"
SCANNED_WITHOUT_SCREENER = "scanned_without_screener"
KINDS = (DECLARED_NOT_SCANNED, SCANNED_WHILE_POWERED_OFF, SCANNED_WITHOUT_SCREENER)
LISTED = 200  # waybills or events a finding lists (its ``records`` counts them all)


@dataclass(frozen=True)
class Window:
    """How long before and after the collection a scan verifies a record."""

    before: dt.timedelta = dt.timedelta(hours=1)
    after: dt.timedelta = dt.timedelta(hours=72)

    @classmethod
    def of(cls, settings) -> Window:
        return cls(dt.timedelta(hours=settings.xray_verify_before_hours),
                   dt.timedelta(hours=settings.xray_verify_after_hours))

    def closed_for_day(self, day: dt.date, now: dt.datetime) -> bool:
        """Whether the window of every record collected on ``day`` (China) has closed at ``now``."""
        end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), CHINA)
        return now >= end_of_day + self.after


DEFAULT_WINDOW = Window()


def _shifted(session: Session, column, seconds: int, *, upper: bool):
    """``column`` + ``seconds`` in SQL: SQLite keeps UTC times as text (``YYYY-MM-DD HH:MM:SS.ffffff``),
    PostgreSQL as timestamptz."""
    if session.get_bind().dialect.name == "postgresql":
        return column + func.make_interval(0, 0, 0, 0, 0, 0, literal(seconds))
    shifted = func.datetime(column, f"{seconds:+d} seconds")
    return shifted.op("||")(".999999") if upper else shifted


def verified(session: Session, window: Window, days: Iterable[dt.date] = ()) -> ColumnElement[bool]:
    """An SQL condition on ``CollectionRecord``: an X-ray event verifies it (see the module). With the collection
    ``days`` the records are on, the scans are also kept to those days' windows by constant bounds, so that
    PostgreSQL looks only into the months of X-ray events that can hold them (partition pruning)."""
    sites = (select(ScreeningSite.site_id).where(ScreeningSite.outlet_id == CollectionRecord.outlet_id)
             .correlate(CollectionRecord).scalar_subquery())
    conditions = [
        XrayEvent.waybill_no == CollectionRecord.waybill_no,
        XrayEvent.is_tip.is_(False),
        or_(XrayEvent.outlet_id == CollectionRecord.outlet_id, XrayEvent.outlet_id == sites),
        XrayEvent.scanned_at >= _shifted(session, CollectionRecord.collected_at,
                                         -int(window.before.total_seconds()), upper=False),
        XrayEvent.scanned_at <= _shifted(session, CollectionRecord.collected_at,
                                         int(window.after.total_seconds()), upper=True),
    ]
    days = sorted(days)
    if days:
        first = dt.datetime.combine(days[0], dt.time(), CHINA) - window.before
        last = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), CHINA) + window.after
        conditions += [XrayEvent.scanned_at >= first, XrayEvent.scanned_at <= last]
    return exists().where(*conditions).correlate(CollectionRecord)


def declared_not_scanned(session: Session, outlet_id: int, day: dt.date, declared: int, verified_ok: int,
                         window: Window, now: dt.datetime | None = None) -> None:
    """Open, refresh or drop the outlet-day's ``declared_not_scanned`` finding: the records declared screened that
    no machine saw, each listed once its own window has closed (at once for a log uploaded after it), for outlets
    a machine covers (``is_covered``). ``records`` counts them; the detail lists the first waybills."""
    now = now or utcnow()
    existing = session.scalar(select(Finding).where(Finding.kind == DECLARED_NOT_SCANNED,
                                                    Finding.outlet_id == outlet_id, Finding.day == day))
    start_of_day = dt.datetime.combine(day, dt.time(), CHINA)
    closed = window.closed_for_day(day, now)
    missing = declared - verified_ok
    if missing <= 0 or now - window.after < start_of_day or not is_covered(session, outlet_id):
        if existing is not None:
            session.delete(existing)
        return
    unseen = [CollectionRecord.outlet_id == outlet_id, CollectionRecord.collected_on == day,
              CollectionRecord.is_current.is_(True), CollectionRecord.xray_screened.is_(True),
              ~verified(session, window)]
    if not closed:  # part of the day: only the records whose window has closed
        unseen.append(CollectionRecord.collected_at <= now - window.after)
        missing = session.scalar(select(func.count()).select_from(CollectionRecord).where(*unseen)) or 0
        if not missing:
            if existing is not None:
                session.delete(existing)
            return
    waybills = list(session.scalars(select(CollectionRecord.waybill_no).where(*unseen)
                                    .order_by(CollectionRecord.collected_at, CollectionRecord.waybill_no)
                                    .limit(LISTED)))
    detail = {"waybills": waybills, "declared": declared, "verified": verified_ok, "window_closed": closed}
    if existing is None:
        session.add(Finding(kind=DECLARED_NOT_SCANNED, outlet_id=outlet_id, day=day, subject=DECLARED_NOT_SCANNED,
                            records=missing, detail=detail))
    else:
        existing.records, existing.detail = missing, detail


def covering_outlets():
    """A select of the ids of outlets whose parcels a machine screens: an active machine of their own or of
    their designated screening site."""
    with_machine = select(XrayMachine.outlet_id).where(XrayMachine.active.is_(True))
    return select(Outlet.id).where(or_(Outlet.id.in_(with_machine), Outlet.id.in_(
        select(ScreeningSite.outlet_id).where(ScreeningSite.site_id.in_(with_machine)))))


def is_covered(session: Session, outlet_id: int) -> bool:
    """Whether a machine screens the outlet's parcels. An uncovered outlet's declarations can never be verified:
    it shows as uncovered in the machine coverage and with a verified rate of 0, not as a waybill list."""
    return session.scalar(select(exists().where(Outlet.id == outlet_id, Outlet.id.in_(covering_outlets())))) or False


def powered_off(session: Session, event: XrayEvent) -> bool:
    """Whether the machine's last power report before the scan said it was off."""
    last = session.scalar(select(MachineStatus.kind).where(
        MachineStatus.machine_id == event.machine_id, MachineStatus.kind.in_(("power_on", "power_off")),
        MachineStatus.at <= event.scanned_at).order_by(MachineStatus.at.desc(), MachineStatus.id.desc()).limit(1))
    return last == "power_off"


def add_to_finding(session: Session, kind: str, event: XrayEvent) -> None:
    day = event.scanned_at.astimezone(CHINA).date()
    finding = session.scalar(select(Finding).where(Finding.kind == kind, Finding.outlet_id == event.outlet_id,
                                                   Finding.day == day, Finding.subject == kind))
    if finding is None:
        finding = Finding(kind=kind, outlet_id=event.outlet_id, day=day, subject=kind, records=0,
                          detail={"events": [], "machines": []})
        session.add(finding)
    detail = {"events": list(finding.detail.get("events", [])), "machines": list(finding.detail.get("machines", []))}
    if event.id in detail["events"]:
        return
    if len(detail["events"]) < LISTED:
        detail["events"].append(event.id)
    if event.machine.code not in detail["machines"]:
        detail["machines"].append(event.machine.code)
    finding.records += 1
    finding.detail = detail


def days_closing(session: Session, window: Window, now: dt.datetime) -> set[tuple[int, dt.date]]:
    """The outlet-days whose records' windows are closing now or closed within the last day: their
    ``declared_not_scanned`` findings grow (the scheduler's ``verify_screening`` job recounts them hourly)."""
    newest = (now - window.after).astimezone(CHINA).date()
    oldest = newest - dt.timedelta(days=1)
    return {(outlet_id, day) for outlet_id, day in session.execute(
        select(OutletDay.outlet_id, OutletDay.day).where(OutletDay.day >= oldest, OutletDay.day <= newest))}
