"""Demo X-ray data: machines powered on in working hours with screeners checked in, and scans (a few with
projected threats) scored by the active model, so the review queue has work in it — a few per cent of the scans,
as a centre working to a false-flag budget sees."""
from __future__ import annotations

import datetime as dt
import random

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from greenshield.settings import Settings
from greenshield.xray.services import record_event, record_status
from inspection.xray import imaging
from inspection.xray.procedural import benign_bag, quantise, random_threats, scanner_effects
from inspection.xray.tip import project
from models import Outlet, Staff, StaffRole, XrayEvent, XrayMachine
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
            if i == 0 and n % 2 == 0:
                bag = project(bag, threats[n], rng=images)[0]
            data = imaging.encode_png(quantise(scanner_effects(bag, images)))  # as a scanner stores it
            at = dt.datetime.combine(yesterday, dt.time(8 + i % 10, rng.randrange(60)), CHINA)
            record_event(session, settings, machine=machine, data=data, waybill_no=f"{outlet.enterprise.code}{rng.randrange(10**11):011d}",
                         scanned_at=at, operator_id=screener.staff_id)
            made += 1
    return made
