"""X-ray use cases in the app: store and score an event, review it, machine status, TIP, retention, models."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Integer as Integer_, func, or_, select, update
from sqlalchemy.orm import Session

from greenshield.errors import Conflict, DomainError, Invalid, NotFound
from greenshield.observability import scoring_timer
from greenshield.settings import Settings
from greenshield.storage import Storage, of as storage_of
from greenshield.compliance.services import event_recorded
from greenshield.compliance.verification import Window
from models import (Alert, AlertStatus, MachineStatus, Notification, Outlet, ProhibitedCategory, ReviewStatus, Staff,
                    StaffRole, User, XrayCalibration, XrayEvent, XrayMachine, XrayMachineModel, XrayModelVersion,
                    XrayReview, utcnow)
from models.base import CHINA

BUILTIN = "builtin:default"
DECISIONS = ("cleared", "seized", "referred")
STATUS_KINDS = ("power_on", "power_off", "check_in", "check_out")
_models: dict = {}
_models_lock = threading.Lock()


def _imaging():
    """OpenCV and scikit-learn load only when an image is handled (not at every app or CLI start)."""
    from inspection.xray import imaging

    return imaging


def image_key(event: XrayEvent) -> str:
    """The storage key of an event's image (content-addressed; shared by events of identical images)."""
    return f"xray/images/{event.image_sha256[:2]}/{event.image_sha256}.{event.image_format}"


def heatmap_key(event: XrayEvent) -> str:
    return f"xray/heatmaps/{event.image_sha256[:2]}/{event.image_sha256}-{event.model_version}.png"


def read_image(store: Storage, event: XrayEvent) -> bytes:
    """The event's image as it was sent; raises MissingObject (a FileNotFoundError) when it is not stored."""
    return store.get(image_key(event))


def builtin_dir(settings: Settings) -> Path:
    """The shipped default model, or the folder ``XRAY_DEFAULT_MODEL_DIR`` names instead."""
    from inspection.xray.model import default_model_dir

    configured = settings.xray_default_model_dir
    return Path(configured) if configured else default_model_dir()


def model_location(settings: Settings, row: XrayModelVersion) -> Path:
    return builtin_dir(settings) if row.location == BUILTIN else settings.instance_path / row.location


def ensure_default_model(session: Session, settings: Settings) -> XrayModelVersion:
    """Register the shipped default model (trained on generated data only); active when no other model is.

    When a release ships another default (a new version in the same place), its row takes the new version,
    threshold and card: events keep the version that scored them, and machines are calibrated again for it."""
    from inspection.xray.model import METADATA_FILE, TrainedModel

    row = session.scalar(select(XrayModelVersion).where(XrayModelVersion.location == BUILTIN))
    if row is not None:
        card = json.loads((builtin_dir(settings) / METADATA_FILE).read_text(encoding="utf-8"))
        if card.get("version") != row.version and session.scalar(
                select(XrayModelVersion.id).where(XrayModelVersion.version == card.get("version"))) is None:
            TrainedModel.load(builtin_dir(settings))  # refuse a damaged model before pointing at it
            row.version, row.threshold = card["version"], float(card["threshold"])
            row.target_recall, row.false_flag_budget = card.get("target_recall"), card.get("false_flag_budget")
            row.metrics, row.training_summary = card.get("metrics", {}), card.get("training", {})
            row.created_at = utcnow()
            session.flush()
    if row is None:
        model = TrainedModel.load(builtin_dir(settings))
        active_exists = session.scalar(select(XrayModelVersion.id).where(XrayModelVersion.active.is_(True)))
        row = XrayModelVersion(version=model.version, location=BUILTIN, threshold=model.threshold,
                               target_recall=model.metadata.get("target_recall"),
                               false_flag_budget=model.metadata.get("false_flag_budget"),
                               metrics=model.metadata.get("metrics", {}),
                               training_summary=model.metadata.get("training", model.metadata.get("training_summary", {})),
                               active=active_exists is None, activated_at=None if active_exists else utcnow())
        session.add(row)
        session.flush()
    return row


def active_model(session: Session, settings: Settings) -> tuple:
    """The active model, loaded once per process and version."""
    row = session.scalar(select(XrayModelVersion).where(XrayModelVersion.active.is_(True)))
    if row is None:
        row = ensure_default_model(session, settings)
    return load_model(settings, row), row


def load_model(settings: Settings, row: XrayModelVersion):
    """The trained model of ``row``, loaded once per process and version."""
    from inspection.xray.model import TrainedModel

    with _models_lock:
        model = _models.get(row.version)
        if model is None:
            model = _models[row.version] = TrainedModel.load(model_location(settings, row))
    return model


def activate(session: Session, settings: Settings, version: str) -> XrayModelVersion:
    """Make ``version`` the one active model; the active machines without a model of their own are due for
    calibration (``request_calibration``: done in the background, not here). Raises NotFound."""
    row = session.scalar(select(XrayModelVersion).where(XrayModelVersion.version == version))
    if row is None:
        raise NotFound("not_found.model_version", version=version)
    load_model(settings, row)  # refuse to activate a model that does not load
    for other in session.scalars(select(XrayModelVersion).where(XrayModelVersion.active.is_(True))):
        other.active = False
    row.active, row.activated_at = True, utcnow()
    session.flush()
    own = select(XrayMachineModel.machine_id)
    request_calibration(session, session.scalars(select(XrayMachine).where(
        XrayMachine.active.is_(True), XrayMachine.id.not_in(own))).all())
    return row


def assign_model(session: Session, settings: Settings, machine: XrayMachine, version: str) -> XrayModelVersion:
    """Score ``machine``'s events with ``version`` from now on (commissioning); the machine is due for calibration
    (``request_calibration``). Raises NotFound."""
    row = session.scalar(select(XrayModelVersion).where(XrayModelVersion.version == version))
    if row is None:
        raise NotFound("not_found.model_version", version=version)
    load_model(settings, row)
    assigned = session.get(XrayMachineModel, machine.id)
    if assigned is None:
        session.add(XrayMachineModel(machine_id=machine.id, model_version_id=row.id, assigned_at=utcnow()))
    else:
        assigned.model_version_id, assigned.assigned_at = row.id, utcnow()
    session.flush()
    session.expire_all()  # the machine's model relationship now points elsewhere
    request_calibration(session, [machine])
    return row


def unassign_model(session: Session, settings: Settings, machine: XrayMachine) -> XrayModelVersion:
    """Score ``machine``'s events with the active global model again; the machine is due for calibration for it
    (``request_calibration``). Returns the model it uses now."""
    assigned = session.get(XrayMachineModel, machine.id)
    if assigned is not None:
        session.delete(assigned)
        session.flush()
        session.expire_all()
    request_calibration(session, [machine])
    return machine_model(session, settings, machine)[1]


def request_calibration(session: Session, machines: list[XrayMachine]) -> list[str]:
    """Mark ``machines`` due for calibration (their model changed): a change of model stays quick, and the
    re-scoring of up to ``XRAY_CALIBRATION_MAX_SCANS`` stored images per machine runs afterwards
    (``calibrate_due``: a queued job, the scheduler, or the CLI at once). Until then the model's own threshold
    applies. Flushes; returns the machines' codes."""
    now = utcnow()
    for machine in machines:
        machine.calibration_due_at = now
    session.flush()
    return [machine.code for machine in machines]


def due_for_calibration(session: Session, *, due_before: dt.datetime | None = None,
                        codes: list[str] | None = None) -> list[XrayMachine]:
    """The machines due for calibration (asked for before ``due_before``, of ``codes``), oldest request first."""
    stmt = select(XrayMachine).where(XrayMachine.calibration_due_at.is_not(None))
    if due_before is not None:
        stmt = stmt.where(XrayMachine.calibration_due_at <= due_before)
    if codes is not None:
        stmt = stmt.where(XrayMachine.code.in_(codes))
    return list(session.scalars(stmt.order_by(XrayMachine.calibration_due_at, XrayMachine.code)))


def calibrate_due(session: Session, settings: Settings, machine: XrayMachine) -> dict:
    """Calibrate a machine that was due (``request_calibration``) and say what applies now (as
    ``calibrate_machines`` does per machine)."""
    made = calibrate_machine(session, settings, machine)
    return {"machine_code": machine.code, "calibrated": made is not None, **calibration_of(session, settings, machine)}


def machine_model(session: Session, settings: Settings, machine: XrayMachine) -> tuple:
    """(trained model, its row) that scores ``machine``'s events: the model assigned to it, else the active one."""
    assigned = session.get(XrayMachineModel, machine.id)
    if assigned is not None:
        return load_model(settings, assigned.model_version), assigned.model_version
    return active_model(session, settings)


def current_calibration(session: Session, machine: XrayMachine, version: str) -> XrayCalibration | None:
    """The latest calibration of ``machine`` for model ``version`` (none: the model's own threshold applies)."""
    return session.scalar(select(XrayCalibration).where(
        XrayCalibration.machine_id == machine.id, XrayCalibration.model_version == version)
        .order_by(XrayCalibration.calibrated_at.desc(), XrayCalibration.id.desc()).limit(1))


def operating_point(session: Session, settings: Settings, machine: XrayMachine) -> dict:
    """What scores ``machine``'s events now: ``model``, ``row``, ``threshold`` (its calibration's, else the
    model's own), and the ``calibration`` row or None."""
    model, row = machine_model(session, settings, machine)
    calibration = current_calibration(session, machine, row.version)
    threshold = calibration.threshold if calibration is not None else row.threshold
    return {"model": model, "row": row, "threshold": threshold, "calibration": calibration}


def calibration_of(session: Session, settings: Settings, machine: XrayMachine) -> dict:
    """``GET …/calibration``: the machine's model, threshold, scans used (0: the model's own threshold),
    false-flag budget, calibration time (None before the first calibration of this model) and whether a
    calibration for a new model is pending."""
    point = operating_point(session, settings, machine)
    calibration, row = point["calibration"], point["row"]
    pending = {"calibration_pending": machine.calibration_due_at is not None}
    if calibration is None:
        return {"model_version": row.version, "threshold": row.threshold, "scans_used": 0,
                "false_flag_budget": row.false_flag_budget, "calibrated_at": None, **pending}
    return {"model_version": row.version, "threshold": calibration.threshold, "scans_used": calibration.scans_used,
            "false_flag_budget": calibration.false_flag_budget, "calibrated_at": calibration.calibrated_at, **pending}


def _trained_through(row: XrayModelVersion, machine: XrayMachine) -> int | None:
    """The last event id of ``machine`` that ``row`` was trained on, if it was trained on the machine's scans."""
    summary = row.training_summary or {}
    if summary.get("machine") == machine.code and summary.get("events_through") is not None:
        return int(summary["events_through"])
    return None


def eligible_scans(session: Session, machine: XrayMachine, *, trained_through: int | None = None,
                   since: dt.datetime | None = None, limit: int | None = None) -> list[XrayEvent]:
    """The machine's scans that may stand for its clean scans, newest first: not test images (TIP), not reviewed
    as a threat (seized or referred), newer than the scans a model was trained on (``trained_through``) and
    scanned from ``since`` on. Purged images are included (their stored score still counts)."""
    stmt = (select(XrayEvent).outerjoin(XrayReview, XrayReview.event_id == XrayEvent.id)
            .where(XrayEvent.machine_id == machine.id, XrayEvent.is_tip.is_(False),
                   or_(XrayReview.id.is_(None), XrayReview.decision == "cleared")))
    if trained_through is not None:
        stmt = stmt.where(XrayEvent.id > trained_through)
    if since is not None:
        stmt = stmt.where(XrayEvent.scanned_at >= since)
    stmt = stmt.order_by(XrayEvent.scanned_at.desc(), XrayEvent.id.desc())
    return list(session.scalars(stmt.limit(limit) if limit else stmt).unique())


def calibrate_machine(session: Session, settings: Settings, machine: XrayMachine) -> XrayCalibration | None:
    """Choose ``machine``'s threshold on its own recent eligible scans, scored by the model it uses now, so that
    at most ``XRAY_FALSE_FLAG_BUDGET`` of them would be flagged. Scans scored by another model are scored again
    from their stored image (purged ones are skipped). With fewer than ``XRAY_CALIBRATION_MIN_SCANS`` nothing is
    recorded (None) and the model's own threshold keeps applying."""
    from inspection.xray.evaluate import threshold_for_budget

    due = machine.calibration_due_at
    model, row = machine_model(session, settings, machine)
    events = eligible_scans(session, machine, trained_through=_trained_through(row, machine),
                            limit=settings.xray_calibration_max_scans)
    if len(events) < settings.xray_calibration_min_scans:
        _calibration_done(session, machine, due)
        return None  # too few even before purged images are left out: nothing to score again
    scores: list[float] = []
    store = None
    for event in events:
        if event.model_version == row.version:
            scores.append(event.score)
        elif event.image_purged_at is None:
            store = storage_of(settings) if store is None else store
            try:
                scores.append(model.score(read_image(store, event)).score)
            except FileNotFoundError:
                continue
    if len(scores) < settings.xray_calibration_min_scans:
        _calibration_done(session, machine, due)
        return None
    budget = settings.xray_false_flag_budget
    calibration = XrayCalibration(machine_id=machine.id, model_version=row.version,
                                  threshold=threshold_for_budget(scores, budget), scans_used=len(scores),
                                  false_flag_budget=budget, calibrated_at=utcnow())
    session.add(calibration)
    session.flush()
    _calibration_done(session, machine, due)
    return calibration


def _calibration_done(session: Session, machine: XrayMachine, due: dt.datetime | None) -> None:
    """The request ``due`` is answered, unless the machine's model changed again meanwhile (a newer request)."""
    if due is not None:
        session.execute(update(XrayMachine).where(XrayMachine.id == machine.id,
                                                  XrayMachine.calibration_due_at == due)
                        .values(calibration_due_at=None).execution_options(synchronize_session=False))
        session.refresh(machine, ["calibration_due_at"])


def calibrate_machines(session: Session, settings: Settings, *, code: str | None = None) -> list[dict]:
    """Calibrate every active machine (or the one of ``code``); per machine what applies now. Raises NotFound."""
    stmt = select(XrayMachine).where(XrayMachine.active.is_(True)).order_by(XrayMachine.code)
    if code is not None:
        stmt = select(XrayMachine).where(XrayMachine.code == code.upper())
    machines = session.scalars(stmt).all()
    if code is not None and not machines:
        raise NotFound("not_found.machine", code=code)
    results = []
    for machine in machines:
        made = calibrate_machine(session, settings, machine)
        results.append({"machine_code": machine.code, "calibrated": made is not None,
                        **calibration_of(session, settings, machine)})
    return results


def flag_rates(session: Session, machine: XrayMachine, *, days: int = 30,
               now: dt.datetime | None = None) -> list[dict]:
    """Per day (China time) of the last ``days``: the machine's scans (test images left out), how many were
    flagged, and the share."""
    now = now or utcnow()
    start = dt.datetime.combine((now.astimezone(CHINA) - dt.timedelta(days=days - 1)).date(), dt.time(), CHINA)
    counts: dict[dt.date, list[int]] = {}
    rows = session.execute(select(XrayEvent.scanned_at, XrayEvent.flagged).where(
        XrayEvent.machine_id == machine.id, XrayEvent.is_tip.is_(False), XrayEvent.scanned_at >= start))
    for scanned_at, flagged in rows:
        day = counts.setdefault(scanned_at.astimezone(CHINA).date(), [0, 0])
        day[0] += 1
        day[1] += bool(flagged)
    return [{"day": day, "scans": n, "flagged": f, "flag_rate": f / n} for day, (n, f) in sorted(counts.items())]


def model_usage(session: Session) -> dict[str, list[str]]:
    """Model version → codes of the machines scoring with it (assigned ones; the active model: all the others)."""
    usage: dict[str, list[str]] = {}
    own = {m.machine_id: m.model_version.version for m in session.scalars(select(XrayMachineModel))}
    active = session.scalar(select(XrayModelVersion.version).where(XrayModelVersion.active.is_(True)))
    for machine_id, code in session.execute(select(XrayMachine.id, XrayMachine.code)
                                            .where(XrayMachine.active.is_(True)).order_by(XrayMachine.code)):
        version = own.get(machine_id, active)
        if version is not None:
            usage.setdefault(version, []).append(code)
    return usage


def model_quality(session: Session, row: XrayModelVersion, user: User) -> dict:
    """What a model page shows beside its card, over the events of the outlets ``user`` sees: per machine the
    scans it scored, flagged and the flag rate; on test images (TIP) with a projected threat, how many the model
    flagged and how many reviewers caught."""
    from greenshield.auth.policy import scope_outlets

    machines = []
    per_machine = (select(XrayMachine.code, func.count(), func.sum(XrayEvent.flagged.cast(Integer_())))
                   .join(XrayMachine, XrayMachine.id == XrayEvent.machine_id)
                   .join(Outlet, Outlet.id == XrayEvent.outlet_id)
                   .where(XrayEvent.model_version == row.version, XrayEvent.is_tip.is_(False)))
    for code, scans, flagged in session.execute(scope_outlets(per_machine, user).group_by(XrayMachine.code)
                                                .order_by(XrayMachine.code)):
        machines.append({"machine_code": code, "scans": scans, "flagged": int(flagged or 0),
                         "flag_rate": int(flagged or 0) / scans if scans else None})
    tip_events = (select(XrayEvent).join(Outlet, Outlet.id == XrayEvent.outlet_id)
                  .where(XrayEvent.model_version == row.version, XrayEvent.is_tip.is_(True),
                         XrayEvent.tip_threat.is_(True)))
    tips = session.scalars(scope_outlets(tip_events, user)).unique().all()
    above = sum(1 for e in tips if e.threshold is not None and e.score >= e.threshold)
    reviewed = [e for e in tips if e.review is not None]
    hits = sum(1 for e in reviewed if e.review.tip_outcome == "hit")
    return {"machines": machines, "tip": {
        "shown": len(tips), "model_hits": above, "model_hit_rate": above / len(tips) if tips else None,
        "reviewed": len(reviewed), "reviewer_hits": hits,
        "reviewer_hit_rate": hits / len(reviewed) if reviewed else None}}


def screener_on_duty(session: Session, machine: XrayMachine, at: dt.datetime) -> str | None:
    """The screener whose last check-in at this machine before ``at`` was not followed by a check-out."""
    last = session.scalar(select(MachineStatus).where(
        MachineStatus.machine_id == machine.id, MachineStatus.kind.in_(("check_in", "check_out")),
        MachineStatus.at <= at).order_by(MachineStatus.at.desc(), MachineStatus.id.desc()).limit(1))
    return last.staff_id if last is not None and last.kind == "check_in" else None


def record_event(session: Session, settings: Settings, *, machine: XrayMachine, data: bytes, waybill_no: str,
                 scanned_at: dt.datetime, operator_id: str, is_tip: bool = False,
                 tip_threat: bool | None = None, to_recount: set | None = None) -> XrayEvent:
    """Check, store and score an image with the machine's model (its own, else the active one) against the
    machine's calibrated threshold (else the model's); the event records the model version and the threshold.
    The verified X-ray counts it changes are recounted now, or added to ``to_recount`` for the caller to recount once.

    Raises InvalidImage (a DomainError: 422, or 413 for size limits) before anything is stored.
    """
    imaging = _imaging()
    pixels, fmt = imaging.decode_pixels(data, max_bytes=settings.xray_max_image_bytes,
                                        max_pixels=settings.xray_max_pixels)
    point = operating_point(session, settings, machine)
    model, row, threshold = point["model"], point["row"], point["threshold"]
    with scoring_timer():
        result = model.score(pixels)
    sha = hashlib.sha256(data).hexdigest()
    event = XrayEvent(machine=machine, outlet_id=machine.outlet_id, waybill_no=waybill_no, scanned_at=scanned_at,
                      operator_id=operator_id, screener_on_duty=screener_on_duty(session, machine, scanned_at),
                      image_sha256=sha, image_format=fmt, width=int(pixels.shape[1]), height=int(pixels.shape[0]),
                      score=round(result.score, 6), flagged=result.score >= threshold, model_version=row.version,
                      threshold=threshold,
                      status=ReviewStatus.PENDING if (result.score >= threshold or is_tip) else ReviewStatus.NOT_FLAGGED,
                      is_tip=is_tip, tip_threat=tip_threat)
    if is_tip:
        event.flagged = True  # test images always reach the queue; reviewers cannot tell them apart
    store = storage_of(settings)
    store.put(image_key(event), data)
    store.put(heatmap_key(event), imaging.encode_png(result.heatmap))
    session.add(event)
    session.flush()
    pairs = event_recorded(session, event, settings.thresholds, Window.of(settings), recount=to_recount is None)
    if to_recount is not None:
        to_recount |= pairs
    return event


def heatmap_png(session: Session, settings: Settings, event: XrayEvent, *, overlay: bool) -> bytes:
    """The event's heat map (8-bit grey, the image's own size) or, with ``overlay``, blended over the image."""
    if event.image_purged_at is not None:
        raise NotFound("not_found.image_purged")
    imaging = _imaging()
    store, key = storage_of(settings), heatmap_key(event)
    if not store.exists(key):
        row = session.scalar(select(XrayModelVersion).where(XrayModelVersion.version == event.model_version))
        model = load_model(settings, row) if row else active_model(session, settings)[0]
        store.put(key, imaging.encode_png(model.score(read_image(store, event)).heatmap))
    if not overlay:
        return store.get(key)
    overlay_key = key.removesuffix(".png") + f"-overlay{OVERLAY_MAX_SIDE}.png"
    if not store.exists(overlay_key):
        store.put(overlay_key, _overlay_png(store, event, store.get(key), settings))
    return store.get(overlay_key)


OVERLAY_MAX_SIDE = 2048
"""The longest side of an overlay for people (a screen's worth): larger scans are shrunk before blending, so that
an overlay costs one bounded decode once, then comes from the storage."""


def _overlay_png(store: Storage, event: XrayEvent, heat: bytes, settings: Settings) -> bytes:
    import cv2
    import numpy as np

    imaging = _imaging()
    pixels, _ = imaging.decode_pixels(read_image(store, event), max_bytes=settings.xray_max_image_bytes,
                                      max_pixels=settings.xray_max_pixels)
    height, width = pixels.shape[:2]
    scale = min(1.0, OVERLAY_MAX_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if scale < 1.0:
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    grey = cv2.imdecode(np.frombuffer(heat, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey.shape[:2] != (size[1], size[0]):
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return imaging.encode_png(imaging.overlay_heatmap(imaging.to_display(pixels), grey))


def review(session: Session, event: XrayEvent, reviewer: User, *, decision: str, category: int | None,
           note: str | None) -> XrayReview:
    """Decide on a flagged event. ``seized`` needs one of the 19 prohibited-item categories.

    For a TIP test image, records whether the reviewer caught it (hit / miss / false_alarm / correct_reject).
    Raises Conflict when already reviewed, Invalid for a bad category.
    """
    if event.review is not None:
        raise Conflict("conflict.already_reviewed")
    if decision == "seized":
        if category is None:
            raise Invalid("validation_error.seizure_category", field="category")
    if category is not None and session.get(ProhibitedCategory, category) is None:
        raise Invalid("validation_error.unknown_category", field="category", category=category)
    outcome = None
    if event.is_tip:
        alarm = decision in ("seized", "referred")
        outcome = ("hit" if alarm else "miss") if event.tip_threat else ("false_alarm" if alarm else "correct_reject")
    row = XrayReview(event=event, reviewer_id=reviewer.id, decision=decision, category_code=category, note=note,
                     tip_outcome=outcome)
    event.status = ReviewStatus.REVIEWED
    session.add(row)
    session.flush()
    from greenshield.xray.clues import open_clue

    open_clue(session, event, row)
    return row


def reviewer_stats(session: Session, user: User, sla_hours: float = 4) -> list[dict]:
    """Per reviewer: decisions, and on TIP test images hits, misses, false alarms, hit rate; how long flags waited
    for their decision (mean, median, decisions after the SLA of ``sla_hours``), in all and per machine; counted
    over the events of the outlets ``user`` sees (an inspector: their region's)."""
    from greenshield.auth.policy import scope_outlets

    stmt = (select(User.username, XrayReview.tip_outcome, func.count())
            .join(XrayReview, XrayReview.reviewer_id == User.id)
            .join(XrayEvent, XrayEvent.id == XrayReview.event_id)
            .join(Outlet, Outlet.id == XrayEvent.outlet_id))
    rows = session.execute(scope_outlets(stmt, user).group_by(User.username, XrayReview.tip_outcome)).all()
    stats: dict[str, dict] = {}
    for username, outcome, count in rows:
        entry = stats.setdefault(username, {"reviewer": username, "reviews": 0, "tip_hits": 0, "tip_misses": 0,
                                            "tip_false_alarms": 0, "tip_correct_rejects": 0})
        entry["reviews"] += count
        key = {"hit": "tip_hits", "miss": "tip_misses", "false_alarm": "tip_false_alarms",
               "correct_reject": "tip_correct_rejects"}.get(outcome)
        if key:
            entry[key] += count
    for entry in stats.values():
        shown = entry["tip_hits"] + entry["tip_misses"]
        entry["tip_hit_rate"] = entry["tip_hits"] / shown if shown else None
    times = (select(User.username, XrayMachine.code, XrayEvent.created_at, XrayReview.decided_at)
             .join(XrayReview, XrayReview.reviewer_id == User.id)
             .join(XrayEvent, XrayEvent.id == XrayReview.event_id)
             .join(XrayMachine, XrayMachine.id == XrayEvent.machine_id)
             .join(Outlet, Outlet.id == XrayEvent.outlet_id))
    waits: dict[str, dict[str, list[float]]] = {}
    for username, machine, queued, decided in session.execute(scope_outlets(times, user)):
        minutes = max(0.0, (decided - queued).total_seconds() / 60)
        waits.setdefault(username, {}).setdefault(machine, []).append(minutes)
    for username, entry in stats.items():
        by_machine = waits.get(username, {})
        everything = [m for values in by_machine.values() for m in values]
        entry.update(_review_times(everything, sla_hours))
        entry["machines"] = [{"machine_code": code, "reviews": len(values), **_review_times(values, sla_hours)}
                             for code, values in sorted(by_machine.items())]
    return sorted(stats.values(), key=lambda e: e["reviewer"])


def _review_times(minutes: list[float], sla_hours: float) -> dict:
    """Mean and median minutes from a flag to its decision, and how many decisions came after the SLA."""
    if not minutes:
        return {"mean_review_minutes": None, "median_review_minutes": None, "reviews_after_sla": 0}
    ordered = sorted(minutes)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return {"mean_review_minutes": round(sum(ordered) / len(ordered), 1), "median_review_minutes": round(median, 1),
            "reviews_after_sla": sum(m > sla_hours * 60 for m in ordered)}


REVIEW_OVERDUE = "xray_review_overdue"


def open_overdue_reviews(session: Session, settings: Settings, now: dt.datetime) -> list[Alert]:
    """Flagged events still waiting for review ``XRAY_REVIEW_SLA_HOURS`` after they were flagged open an alert
    ``xray_review_overdue`` per outlet and day of flagging (``rate``: how many wait; ``threshold``: the SLA in
    hours), and notify the outlet's inspectors once; an alert whose events are all reviewed closes. Returns the
    alerts opened now. Flushes."""
    from audits.plans import outlet_inspectors

    deadline = now - dt.timedelta(hours=settings.xray_review_sla_hours)
    waiting: dict[tuple[int, dt.date], list[int]] = {}
    for event_id, outlet_id, created in session.execute(
            select(XrayEvent.id, XrayEvent.outlet_id, XrayEvent.created_at)
            .where(XrayEvent.flagged.is_(True), XrayEvent.status == ReviewStatus.PENDING,
                   XrayEvent.created_at <= deadline)):
        waiting.setdefault((outlet_id, created.astimezone(CHINA).date()), []).append(event_id)
    existing = {(a.outlet_id, a.day): a for a in session.scalars(select(Alert).where(
        Alert.metric == REVIEW_OVERDUE,
        or_(Alert.status == AlertStatus.OPEN, Alert.day.in_({day for _, day in waiting} or {dt.date.min}))))}
    opened = []
    for (outlet_id, day), events in waiting.items():
        alert = existing.get((outlet_id, day))
        if alert is None:
            alert = Alert(outlet_id=outlet_id, day=day, metric=REVIEW_OVERDUE, rate=float(len(events)),
                          threshold=float(settings.xray_review_sla_hours), status=AlertStatus.OPEN)
            session.add(alert)
            opened.append(alert)
        else:
            alert.rate = float(len(events))
            if alert.status is AlertStatus.CLOSED:
                alert.status, alert.closed_at = AlertStatus.OPEN, None
                opened.append(alert)
    for key, alert in existing.items():
        if key not in waiting and alert.status is AlertStatus.OPEN:
            alert.status, alert.closed_at = AlertStatus.CLOSED, now
    session.flush()
    for alert in opened:
        outlet = session.get(Outlet, alert.outlet_id)
        for inspector in outlet_inspectors(session, outlet):
            session.add(Notification(user_id=inspector.id, kind=REVIEW_OVERDUE,
                                     message=f"{outlet.code} {alert.day}: {int(alert.rate)} flagged X-ray images "
                                             f"not reviewed within {settings.xray_review_sla_hours:g} h",
                                     data={"outlet_code": outlet.code, "outlet_name": outlet.name, "day": alert.day.isoformat(),
                                           "count": int(alert.rate), "sla_hours": settings.xray_review_sla_hours}))
    session.flush()
    return opened


def record_status(session: Session, machine: XrayMachine, *, kind: str, at: dt.datetime,
                  staff_id: str | None) -> MachineStatus:
    """A power-on/off or a screener's check-in/out. Check-ins need a screener of the machine's outlet."""
    if kind in ("check_in", "check_out"):
        staff = session.scalar(select(Staff).where(Staff.staff_id == (staff_id or "").upper()))
        if staff is None or staff.outlet_id != machine.outlet_id or staff.role is not StaffRole.SCREENER:
            raise Invalid("validation_error.not_screener_here", field="staff_id")
        staff_id = staff.staff_id
    row = MachineStatus(machine_id=machine.id, kind=kind, at=at, staff_id=staff_id)
    session.add(row)
    session.flush()
    return row


def power_on_rate(session: Session, machine: XrayMachine, start: dt.datetime, end: dt.datetime) -> dict:
    """Share of [start, end) the machine was powered on, from its power-on/off reports."""
    if end <= start:
        raise Invalid("validation_error.empty_period", field="to")
    before = session.scalar(select(MachineStatus).where(
        MachineStatus.machine_id == machine.id, MachineStatus.kind.in_(("power_on", "power_off")),
        MachineStatus.at < start).order_by(MachineStatus.at.desc()).limit(1))
    on_since = start if before is not None and before.kind == "power_on" else None
    seconds = 0.0
    for report in session.scalars(select(MachineStatus).where(
            MachineStatus.machine_id == machine.id, MachineStatus.kind.in_(("power_on", "power_off")),
            MachineStatus.at >= start, MachineStatus.at < end).order_by(MachineStatus.at, MachineStatus.id)):
        if report.kind == "power_on" and on_since is None:
            on_since = report.at
        elif report.kind == "power_off" and on_since is not None:
            seconds += (report.at - on_since).total_seconds()
            on_since = None
    if on_since is not None:
        seconds += (min(end, utcnow()) - on_since).total_seconds() if on_since < end else 0
    total = (end - start).total_seconds()
    return {"machine_code": machine.code, "from": start, "to": end, "powered_seconds": round(seconds),
            "power_on_rate": min(1.0, seconds / total)}


def purge_images(session: Session, store: Storage, *, now: dt.datetime, retention_days: int) -> int:
    """Delete images older than the retention period unless they are evidence (reviewed with a decision other
    than cleared, or held for a case); the event rows stay, marked purged."""
    cutoff = now - dt.timedelta(days=retention_days)
    candidates = session.scalars(select(XrayEvent).where(
        XrayEvent.scanned_at < cutoff, XrayEvent.image_purged_at.is_(None), XrayEvent.evidence_hold.is_(False))).all()
    purged = 0
    for event in candidates:
        if event.review is not None and event.review.decision != "cleared":
            continue
        event.image_purged_at = now
        purged += 1
    session.flush()
    kept = set(session.scalars(select(XrayEvent.image_sha256).where(XrayEvent.image_purged_at.is_(None))))
    for event in candidates:
        if event.image_purged_at is not None and event.image_sha256 not in kept:
            store.delete(image_key(event))
            for heat in list(store.keys(f"xray/heatmaps/{event.image_sha256[:2]}/{event.image_sha256}-")):
                store.delete(heat)
    return purged


def import_events(session: Session, settings: Settings, read: Callable[[str], bytes], *,
                  may_use: Callable[[XrayMachine], bool] = lambda machine: True,
                  progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Import the events a ``manifest.csv`` lists (machine_code, waybill_no, scanned_at, operator_id, file), each
    image read by ``read(name)``, all or nothing: a bad line raises Invalid naming the line, and the caller's
    transaction is then rolled back. Machines outside ``may_use`` count as unknown. Returns the counts."""
    try:
        manifest = csv.DictReader(io.StringIO(read("manifest.csv").decode("utf-8-sig")))
    except (KeyError, FileNotFoundError):
        raise Invalid("validation_error.manifest_missing", field="file") from None
    except UnicodeDecodeError:
        raise Invalid("validation_error.manifest_encoding", field="file") from None
    machines = {m.code: m for m in session.scalars(select(XrayMachine).where(XrayMachine.active.is_(True)))}
    flagged = count = 0
    to_recount: set = set()
    for line, row in enumerate(manifest, start=2):
        machine = machines.get((row.get("machine_code") or "").strip().upper())
        if machine is None or not may_use(machine):
            raise Invalid("validation_error.manifest_unknown_machine", field="file", line=line,
                          machine=(row.get("machine_code") or "").strip()[:32])
        try:
            scanned = dt.datetime.fromisoformat((row.get("scanned_at") or "").strip())
            data = read((row.get("file") or "").strip())
            waybill, operator = row["waybill_no"].strip().upper(), row["operator_id"].strip()
        except (KeyError, ValueError, AttributeError, FileNotFoundError):
            raise Invalid("validation_error.manifest_line", field="file", line=line) from None
        if scanned.tzinfo is None:
            scanned = scanned.replace(tzinfo=CHINA)
        try:
            event = record_event(session, settings, machine=machine, data=data, waybill_no=waybill,
                                 scanned_at=scanned, operator_id=operator, to_recount=to_recount)
        except DomainError as exc:
            raise Invalid("validation_error.manifest_image", field="file", line=line, reason_code=exc.code,
                          reason_params=exc.params) from None
        count += 1
        flagged += event.flagged
        if progress is not None:
            progress(count)
    if to_recount:  # the verified X-ray counts of the logged items the import's scans verify: once, at the end
        from greenshield.compliance.services import refresh_outlet_days

        refresh_outlet_days(session, to_recount, settings.thresholds, window=Window.of(settings))
    return {"imported": count, "flagged": flagged}


def zip_reader(archive: zipfile.ZipFile) -> Callable[[str], bytes]:
    """``read(name)`` for ``import_events`` over a zip file (a name it does not hold: FileNotFoundError)."""
    def read(name: str) -> bytes:
        try:
            return archive.read(name)
        except KeyError:
            raise FileNotFoundError(name) from None
    return read
