"""Demo X-ray data: machines powered on in working hours with screeners checked in, and scans (a few with
projected threats) scored by the active model, so the review queue has work in it — a few per cent of the scans,
as a centre working to a false-flag budget sees."""
from __future__ import annotations

import datetime as dt
import hashlib
import random

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from greenshield.settings import Settings
from greenshield.xray.services import record_event, record_status
from inspection.xray import imaging
from inspection.xray.procedural import benign_bag, quantise, random_threats, scanner_effects
from inspection.xray.tip import project
from models import Clue, Outlet, Staff, StaffRole, XrayEvent, XrayMachine
from models.base import CHINA

def seed_xray(session: Session, settings: Settings, outlets: list[Outlet], *, rng: random.Random, days: int,
              scans_per_outlet: int = 10) -> int:
    """Status reports for the last ``days`` days and a few scans per outlet yesterday; skipped when scans exist."""
    if session.scalar(select(XrayEvent.id).limit(1)) is not None:
        return 0
    images = np.random.default_rng(rng.randrange(2**32))
    threats = random_threats(len(outlets), images)
    yesterday = dt.datetime.now(CHINA).date() - dt.timedelta(days=1)
    made = 0
    for n, outlet in enumerate(outlets):
        machine = session.scalar(select(XrayMachine).where(XrayMachine.outlet_id == outlet.id).order_by(XrayMachine.code))
        screener = session.scalar(select(Staff).where(Staff.outlet_id == outlet.id, Staff.role == StaffRole.SCREENER))
        if machine is None or screener is None:
            continue
        for back in range(min(days, 7), 0, -1):
            day = yesterday - dt.timedelta(days=back - 1)
            start = dt.datetime.combine(day, dt.time(8, rng.randrange(0, 30)), CHINA)
            hours = 10 if n % 5 else 6  # a few machines are switched off early
            record_status(session, machine, kind="power_on", at=start, staff_id=None)
            record_status(session, machine, kind="check_in", at=start + dt.timedelta(minutes=5), staff_id=screener.staff_id)
            record_status(session, machine, kind="check_out", at=start + dt.timedelta(hours=hours), staff_id=screener.staff_id)
            record_status(session, machine, kind="power_off", at=start + dt.timedelta(hours=hours, minutes=10), staff_id=None)
        for i in range(scans_per_outlet):
            bag = benign_bag(images, size=(360, 480))
            if i == 0:  # one bag with a projected threat per outlet: about half of them are flagged
                bag = project(bag, threats[n], rng=images)[0]
            data = imaging.encode_png(quantise(scanner_effects(bag, images)))  # as a scanner stores it
            at = dt.datetime.combine(yesterday, dt.time(8 + i % 10, rng.randrange(60)), CHINA)
            record_event(session, settings, machine=machine, data=data, waybill_no=f"{outlet.enterprise.code}{rng.randrange(10**11):011d}",
                         scanned_at=at, operator_id=screener.staff_id)
            made += 1
    return made


SCANNED_SHARE = {"CF-EMS-006": 0.72}
"""Outlets whose declarations outrun their scans (是否过机 ticked for items no machine saw); the others have nearly
every declared item scanned."""
ROUTINE_SCORE = 0.05


def seed_scans(session: Session, settings: Settings, outlets: list[Outlet], *, rng: random.Random) -> int:
    """The machines' routine scans of the logged items: an event for nearly every item declared screened, at a
    machine of its outlet or of its designated screening site, 5-90 minutes after collection, all showing one
    stored benign image (the few scans of ``seed_xray`` carry their own). Outlets of ``SCANNED_SHARE`` have
    gaps; an outlet without machine or screening site has none. Then recounts the verified rates. Skipped when
    routine scans exist. Returns the events made."""
    from greenshield.compliance.services import refresh_outlet_days
    from greenshield.compliance.verification import Window
    from greenshield.storage import of as storage_of
    from greenshield.xray.services import active_model, image_key
    from models import CollectionRecord, OutletDay, ReviewStatus

    if session.scalar(select(XrayEvent.id).where(XrayEvent.score == ROUTINE_SCORE).limit(1)) is not None:
        return 0
    images = np.random.default_rng(rng.randrange(2**32))
    bag = benign_bag(images, size=(360, 480))
    data = imaging.encode_png(np.round(np.clip(bag, 0, 1) * 255).astype(np.uint8))
    sha = hashlib.sha256(data).hexdigest()
    template = XrayEvent(image_sha256=sha, image_format="png")
    storage_of(settings).put(image_key(template), data)
    _, model = active_model(session, settings)
    made = 0
    for outlet in outlets:
        site = outlet.screening_site or outlet
        machine = session.scalar(select(XrayMachine).where(XrayMachine.outlet_id == site.id,
                                                           XrayMachine.active.is_(True)).order_by(XrayMachine.code))
        if machine is None:
            continue
        screener = session.scalar(select(Staff.staff_id).where(Staff.outlet_id == site.id,
                                                               Staff.role == StaffRole.SCREENER))
        share = SCANNED_SHARE.get(outlet.code, 0.999)
        rows = []
        for waybill, collected in session.execute(
                select(CollectionRecord.waybill_no, CollectionRecord.collected_at).where(
                    CollectionRecord.outlet_id == outlet.id, CollectionRecord.is_current.is_(True),
                    CollectionRecord.xray_screened.is_(True))):
            if rng.random() >= share:
                continue
            at = collected + dt.timedelta(minutes=rng.randrange(5, 90))
            rows.append({"machine_id": machine.id, "outlet_id": site.id, "waybill_no": waybill, "scanned_at": at,
                         "operator_id": screener or "", "screener_on_duty": screener, "image_sha256": sha,
                         "image_format": "png", "width": 480, "height": 360, "score": ROUTINE_SCORE,
                         "flagged": False, "model_version": model.version, "status": ReviewStatus.NOT_FLAGGED,
                         "is_tip": False, "evidence_hold": False, "created_at": at})
        for start in range(0, len(rows), 5000):
            session.execute(insert(XrayEvent), rows[start:start + 5000])
        made += len(rows)
    pairs = {(o, d) for o, d in session.execute(select(OutletDay.outlet_id, OutletDay.day))}
    refresh_outlet_days(session, pairs, settings.thresholds, window=Window.of(settings))
    return made


def seed_follow_up(session: Session, settings: Settings) -> None:
    """What the centre did with the demo's flags: one seizure handed over to the police, one referral still open,
    and a flag left waiting past the review time limit (an ``xray_review_overdue`` alert); the rest stay in the
    queue. Skipped when reviews exist."""
    from greenshield.xray.services import open_overdue_reviews, review
    from models import ReviewStatus, User, XrayReview, utcnow

    if session.scalar(select(XrayReview.id).limit(1)) is not None:
        return
    inspector = session.scalar(select(User).where(User.username == "inspector"))
    pending = session.scalars(select(XrayEvent).where(XrayEvent.flagged.is_(True), XrayEvent.is_tip.is_(False),
                                                      XrayEvent.status == ReviewStatus.PENDING)
                              .order_by(XrayEvent.id)).all()
    if inspector is None or len(pending) < 3:
        return
    from greenshield.xray.clues import hand_over

    seized = review(session, pending[0], inspector, decision="seized", category=2, note="疑似管制刀具")
    clue = session.scalar(select(Clue).where(Clue.event_id == seized.event_id))
    hand_over(session, clue, inspector, agency="呼和浩特市公安局新城区分局", agency_case_no="新公（治）立字〔2026〕0412号")
    review(session, pending[1], inspector, decision="referred", category=None, note="疑似液体，移交复检")
    pending[2].created_at = utcnow() - dt.timedelta(hours=settings.xray_review_sla_hours + 2)
    session.flush()
    open_overdue_reviews(session, settings, utcnow())
