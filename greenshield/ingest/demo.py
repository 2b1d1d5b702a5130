"""Demo daily logs: weeks of uploads for every demo outlet, through the real ingest path, with the kinds of
trouble an inspector should find (a lax outlet under threshold, a courier typing his own ID, rejected rows)."""
from __future__ import annotations

import datetime as dt
import hashlib
import random
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from greenshield.ingest.pipeline import upload_daily_log
from greenshield.registry.services import set_staff_id_no
from greenshield.settings import Settings
from inspection.synth import generate_rows, make_resident_id, write_csv, write_jsonl, write_xlsx
from models import ContractCustomer, Outlet, Staff, StaffRole
from models.base import CHINA

LAX_OUTLETS = {"TL-JT-007": 0.012, "CF-STO-005": 0.004}
SELF_SENDER_OUTLET = "BT-YTO-003"


def seed_logs(session: Session, settings: Settings, outlets: list[Outlet], *, rng: random.Random, days: int) -> int:
    """Upload ``days`` days of logs for each outlet, ending yesterday (China time). Returns the batch count."""
    end = dt.datetime.now(CHINA).date() - dt.timedelta(days=1)
    couriers = {o.id: [s.staff_id for s in session.scalars(select(Staff).where(
        Staff.outlet_id == o.id, Staff.role == StaffRole.COURIER))] for o in outlets}
    customers = {o.id: [c.code for c in session.scalars(select(ContractCustomer).where(
        ContractCustomer.outlet_id == o.id))] for o in outlets}
    self_sender = _self_sending_courier(session, settings, outlets, rng)
    batches = 0
    with tempfile.TemporaryDirectory(prefix="greenshield-demo-") as tmp:
        for outlet in outlets:
            volume = 400 if outlet.kind.value == "sorting_centre" else 120
            for offset in range(days - 1, -1, -1):
                day = end - dt.timedelta(days=offset)
                seed = _seed(outlet.code, day)
                rows = list(generate_rows(
                    volume + rng.randrange(volume // 2), outlet_code=outlet.code, day=day, seed=seed,
                    invalid_ratio=0.01 if offset % 9 == 0 else 0.0,
                    noncompliant_ratio=LAX_OUTLETS.get(outlet.code, 0.0005 if offset % 5 == 0 else 0.0),
                    courier_ids=couriers[outlet.id], contract_customer_codes=customers[outlet.id]))
                if self_sender and outlet.code == SELF_SENDER_OUTLET and offset % 7 == 3:
                    for row in rows[:4]:
                        row.update(sender_id_type="RESIDENT_ID", sender_id_no=self_sender, real_name_verified="是")
                path = Path(tmp) / f"{outlet.code}-{day}"
                writer = (write_xlsx, write_jsonl, write_csv)[offset % 3]
                if writer is write_csv:
                    write_csv(rows, path, encoding="gbk", headers="zh")
                else:
                    writer(rows, path)
                with open(path, "rb") as stream:
                    upload_daily_log(session, settings, outlet=outlet, stream=stream, filename=f"{outlet.code}-{day}",
                                     strict=False, source="cli", user=None)
                batches += 1
    return batches


def _seed(code: str, day: dt.date) -> int:
    return int(hashlib.sha256(f"{code}/{day}".encode()).hexdigest()[:12], 16)


def _self_sending_courier(session: Session, settings: Settings, outlets: list[Outlet], rng: random.Random) -> str | None:
    """Give one courier of the self-sending outlet an ID on file; the demo logs then use it as senders' ID."""
    outlet = next((o for o in outlets if o.code == SELF_SENDER_OUTLET), None)
    if outlet is None:
        return None
    courier = session.scalar(select(Staff).where(Staff.outlet_id == outlet.id, Staff.role == StaffRole.COURIER)
                             .order_by(Staff.staff_id))
    id_no = make_resident_id(random.Random(7), area="150203", birth=dt.date(1990, 5, 17))
    set_staff_id_no(session, settings, courier, id_no)
    return id_no
