"""Glue between the audit use cases and the app: the draw's settings and risk inputs, scope, photo storage."""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from greenshield.auth.permissions import Capability, can
from greenshield.auth.policy import outlet_in_scope, region_in_scope
from greenshield.errors import Forbidden, Invalid, NotFound
from greenshield.settings import Settings
from greenshield.storage import Storage
from models import Audit, Region, User, XrayEvent
from models.base import CHINA, china_today as today

PHOTO_TYPES = {b"\xff\xd8\xff": ("image/jpeg", "jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", "png")}
MAX_PHOTO_BYTES = 10 * 2**20

__all__ = ["audit_for", "flagged_xray_counts", "photo_key", "plan_settings", "region_for", "store_photo", "today"]


def plan_settings(settings: Settings) -> dict:
    """The settings a draw weighs risk with."""
    return {"thresholds": settings.thresholds, "coverage_target": settings.audit_coverage_target}


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


def photo_key(sha: str, content_type: str) -> str:
    """The storage key of a photo (content-addressed)."""
    ext = "png" if content_type == "image/png" else "jpg"
    return f"photos/{sha[:2]}/{sha}.{ext}"


def store_photo(store: Storage, stream) -> tuple[str, str]:
    """Keep a JPEG or PNG photo content-addressed in the storage; returns (sha256, content type).

    Raises Invalid for a photo over 10 MiB (413) or of another type."""
    data = stream.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise Invalid("payload_too_large.photo", field="photo", max_mib=MAX_PHOTO_BYTES // 2**20)
    kind = next((v for magic, v in PHOTO_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise Invalid("validation_error.photo_type", field="photo")
    sha = hashlib.sha256(data).hexdigest()
    store.put(photo_key(sha, kind[0]), data)
    return sha, kind[0]
