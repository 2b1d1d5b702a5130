"""Threat image projection into the live review queue: test images reviewers cannot tell from real ones."""
from __future__ import annotations

import datetime as dt
import random
import secrets

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from greenshield.settings import Settings
from greenshield.storage import of as storage_of
from greenshield.xray.services import read_image, record_event
from inspection.xray import imaging
from inspection.xray.procedural import benign_bag, random_threats
from inspection.xray.tip import project
from models import XrayEvent, XrayMachine


def inject(session: Session, settings: Settings, *, count: int, threat_share: float, seed: int | None) -> int:
    """Add ``count`` TIP events at random machines, based on recent real benign images where there are any
    (generated bags otherwise); ``threat_share`` of them carry a projected threat. Returns how many."""
    seed = secrets.randbits(32) if seed is None else seed
    rng, pick = np.random.default_rng(seed), random.Random(seed)
    machines = session.scalars(select(XrayMachine).where(XrayMachine.active.is_(True))).all()
    if not machines:
        return 0
    backgrounds = session.scalars(select(XrayEvent).where(XrayEvent.flagged.is_(False), XrayEvent.is_tip.is_(False),
                                                          XrayEvent.image_purged_at.is_(None))
                                  .order_by(XrayEvent.id.desc()).limit(200)).all()
    threats = random_threats(max(count, 1), rng)
    store = storage_of(settings)
    for i in range(count):
        if backgrounds:
            pixels, _ = imaging.decode_pixels(read_image(store, pick.choice(backgrounds)))
            bag = imaging.to_unit_float(pixels)[0]
        else:
            bag = benign_bag(rng)
        with_threat = pick.random() < threat_share
        image = project(bag, threats[i], rng=rng)[0] if with_threat else bag
        data = imaging.encode_png(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
        # Nothing in the event tells a reviewer it is a test: waybill and operator look like real ones.
        waybill = f"{pick.choice(('SF', 'YT', 'ZT', 'JD', 'YD'))}{pick.randrange(10**12):012d}"
        record_event(session, settings, machine=pick.choice(machines), data=data, waybill_no=waybill,
                     scanned_at=dt.datetime.now(dt.timezone.utc), operator_id=f"OP-{pick.randrange(1, 40):02d}",
                     is_tip=True, tip_threat=with_threat)
    return count
