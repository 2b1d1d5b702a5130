"""Glue between the audit use cases and the app: configuration, scope, photo storage."""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from greenshield import db
from greenshield.auth.permissions import Capability, can
from greenshield.auth.policy import current_user, outlet_in_scope, region_in_scope
from greenshield.errors import Invalid, NotFound, OutOfScope
from greenshield.ingest.pipeline import thresholds
from models import Audit, Region, XrayEvent

CHINA = dt.timezone(dt.timedelta(hours=8))
PHOTO_TYPES = {b"\xff\xd8\xff": ("image/jpeg", "jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", "png")}
MAX_PHOTO_BYTES = 10 * 2**20


def today() -> dt.date:
    return dt.datetime.now(CHINA).date()


def plan_settings() -> dict:
    config = current_app.config
    return {"thresholds": thresholds(), "coverage_target": config["AUDIT_COVERAGE_TARGET"]}


def flagged_xray_counts(as_of: dt.date) -> dict[int, int]:
    """Flagged X-ray events per outlet in the last 30 days (a risk factor of the draw)."""
    since = dt.datetime.combine(as_of - dt.timedelta(days=30), dt.time(), CHINA)
    return dict(db.session().execute(select(XrayEvent.outlet_id, func.count()).where(
        XrayEvent.flagged.is_(True), XrayEvent.scanned_at >= since).group_by(XrayEvent.outlet_id)).all())


def region_for(code: str) -> Region:
    region = db.session().get(Region, code)
    if region is None:
        raise Invalid(f"Unknown region {code}.", details={"region_code": ["unknown region"]})
    if not region_in_scope(current_user(), region):
        raise OutOfScope(f"Region {code} is outside your scope.")
    return region


def audit_for(audit_id: int, *, write: bool = False) -> Audit:
    """An audit the caller may see (404 otherwise); with ``write``, one the caller may work on (403 otherwise):
    admins, and inspectors assigned to it."""
    audit = db.session().get(Audit, audit_id)
    user = current_user()
    if audit is None or not outlet_in_scope(user, audit.outlet):
        raise NotFound(f"No audit {audit_id}.")
    if write and not can(user, Capability.WORK_ANY_AUDIT) and user not in audit.inspectors:
        raise OutOfScope("Only the inspectors assigned to this audit may work on it.")
    return audit


def store_photo(stream, filename: str) -> tuple[str, str]:
    """Keep a JPEG or PNG photo content-addressed under the instance folder; returns (sha256, content type)."""
    data = stream.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise Invalid("The photo is larger than 10 MiB.", details={"photo": ["too large"]}, status=413,
                      code="payload_too_large")
    kind = next((v for magic, v in PHOTO_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise Invalid("Photos must be JPEG or PNG images.", details={"photo": ["not a JPEG or PNG image"]})
    sha = hashlib.sha256(data).hexdigest()
    path = Path(current_app.config["INSTANCE_PATH"]) / "photos" / sha[:2] / f"{sha}.{kind[1]}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return sha, kind[0]


def photo_path(sha: str, content_type: str) -> Path:
    ext = "png" if content_type == "image/png" else "jpg"
    return Path(current_app.config["INSTANCE_PATH"]) / "photos" / sha[:2] / f"{sha}.{ext}"
