"""X-ray routes: events in, scores and heat maps out, the review queue, machines, models, reviewer statistics."""
from __future__ import annotations

import zipfile

from flask import Response
from flask_smorest import Blueprint
from sqlalchemy import select

from greenshield import db
from greenshield.pagination import page_of
from greenshield.auth.permissions import Capability, can
from greenshield.auth.policy import allow, current_user, outlet_in_scope, scope_outlets
from greenshield.context import actor, settings, storage
from greenshield.errors import Forbidden, Invalid, NotFound
from greenshield.fields import BINARY
from greenshield.personal import vault
from greenshield.trace import services as trace_services
from greenshield.uploads import spooled
from greenshield.work import services as work
from greenshield.work.api import JobOut, queued
from greenshield.xray import clues, schemas as s, services
from models import Clue, ClueStatus, JobKind, Outlet, ReviewStatus, XrayEvent, XrayMachine, XrayModelVersion

blp = Blueprint("xray", __name__, url_prefix="/api/v1", description="X-ray screening (过机安检)")

MIMETYPES = {"png": "image/png", "jpeg": "image/jpeg", "tiff": "image/tiff"}


def _machine(code: str) -> XrayMachine:
    machine = db.session().scalar(select(XrayMachine).where(XrayMachine.code == code.upper()))
    if machine is None:
        raise NotFound("not_found.machine", code=code)
    if not outlet_in_scope(current_user(), machine.outlet):
        raise Forbidden("forbidden.machine_scope", code=machine.code)
    return machine


def event_in_scope(event_id: int) -> XrayEvent:
    """The event of that id in the caller's scope; NotFound otherwise (the API and the review page)."""
    event = db.session().get(XrayEvent, event_id)
    if event is None or not outlet_in_scope(current_user(), event.outlet):
        raise NotFound("not_found.xray_event", id=event_id)
    return event


def _evidence(event_id: int, what: str) -> XrayEvent:
    """An event for its image or heat map: investigators see only their cases' evidence, and each look is logged."""
    user = current_user()
    if not can(user, Capability.READ_COMPLIANCE):
        return trace_services.open_event_evidence(db.session(), settings(), actor(), event_id, what)
    return event_in_scope(event_id)


@blp.route("/xray-events", methods=["POST"])
@blp.arguments(s.EventForm, location="form")
@blp.arguments(s.EventFiles, location="files")
@blp.response(201, s.EventCreated)
@allow(Capability.RECORD_XRAY_EVENTS)
def create_event(form, files):
    """A screened item's image (PNG, JPEG or TIFF; 8/16-bit, grey or colour) with its metadata: scored at once."""
    machine = _machine(form["machine_code"])
    data = files["image"].read()
    return services.record_event(db.session(), settings(), machine=machine, data=data,
                                 waybill_no=form["waybill_no"].upper(), scanned_at=form["scanned_at"],
                                 operator_id=form["operator_id"])


@blp.route("/xray-imports", methods=["POST"])
@blp.arguments(s.ImportFiles, location="files")
@blp.response(201, s.ImportedOut)
@blp.alt_response(202, schema=JobOut, description="Queued for a worker (when workers run): the job to follow")
@allow(Capability.RECORD_XRAY_EVENTS)
def import_events(files):
    """Many events at once: a zip holding ``manifest.csv`` (machine_code, waybill_no, scanned_at, operator_id,
    file) and the images it names; all or nothing. With workers (``REDIS_URL``) it is queued: 202 with the job."""
    user, session = current_user(), db.session()
    with spooled(settings(), files["file"].stream) as (path, sha256, size):
        if not zipfile.is_zipfile(path):
            raise Invalid("validation_error.import_not_zip", field="file")
        if work.enabled(settings()):
            return queued(work.create(session, storage(), vault(session, settings()), kind=JobKind.XRAY_IMPORT,
                                      source=path, sha256=sha256, size=size,
                                      filename=files["file"].filename or "import.zip", user_id=user.id))
        with zipfile.ZipFile(path) as bundle:
            return services.import_events(session, settings(), services.zip_reader(bundle),
                                          may_use=lambda machine: outlet_in_scope(user, machine.outlet)), 201


@blp.route("/xray-events", methods=["GET"])
@blp.arguments(s.EventListArgs, location="query")
@blp.response(200, s.EventOut(many=True))
@blp.paginate()
@allow(Capability.READ_COMPLIANCE)
def list_events(args, pagination_parameters):
    """Events in scope; ``flagged=true&status=pending`` is the review queue (oldest first)."""
    stmt = scope_outlets(select(XrayEvent).join(Outlet, XrayEvent.outlet_id == Outlet.id), current_user())
    if "flagged" in args:
        stmt = stmt.where(XrayEvent.flagged.is_(args["flagged"]))
    if args.get("status"):
        stmt = stmt.where(XrayEvent.status == ReviewStatus(args["status"]))
    if args.get("outlet"):
        stmt = stmt.where(Outlet.code == args["outlet"].upper())
    if args.get("waybill_no"):
        stmt = stmt.where(XrayEvent.waybill_no == args["waybill_no"].upper())
    return page_of(stmt.order_by(XrayEvent.scanned_at, XrayEvent.id), pagination_parameters)


@blp.route("/xray-events/<int:event_id>", methods=["GET"])
@blp.response(200, s.EventOut)
@allow(Capability.READ_COMPLIANCE)
def get_event(event_id):
    return event_in_scope(event_id)


@blp.route("/xray-events/<int:event_id>/image", methods=["GET"])
@blp.response(200, BINARY, description="The image as sent", content_type="image/png")
@blp.alt_response(200, schema=BINARY, description="The image as sent", content_type="image/jpeg")
@blp.alt_response(200, schema=BINARY, description="The image as sent", content_type="image/tiff")
@allow(Capability.READ_COMPLIANCE, Capability.TRACE)
def event_image(event_id):
    """The image as sent. Investigators: only an event of their case's evidence (the look is access-logged)."""
    event = _evidence(event_id, "image")
    if event.image_purged_at is not None:
        raise NotFound("not_found.image_purged")
    return Response(services.read_image(storage(), event), mimetype=MIMETYPES[event.image_format])


@blp.route("/xray-events/<int:event_id>/heatmap", methods=["GET"])
@blp.arguments(s.HeatmapArgs, location="query")
@blp.response(200, BINARY, description="8-bit grey PNG of the image's size; ?overlay=1 blended over the image",
              content_type="image/png")
@allow(Capability.READ_COMPLIANCE, Capability.TRACE)
def event_heatmap(args, event_id):
    """Where in the image the score came from: brighter = more anomalous. Investigators as for the image."""
    return Response(services.heatmap_png(db.session(), settings(), _evidence(event_id, "heatmap"),
                                         overlay=args["overlay"]), mimetype="image/png")


@blp.route("/xray-events/<int:event_id>/review", methods=["POST"])
@blp.arguments(s.ReviewIn)
@blp.response(200, s.ReviewResult)
@allow(Capability.REVIEW_XRAY)
def review_event(data, event_id):
    """Clear, seize (with one of the 19 prohibited-item categories) or refer a flagged event."""
    event = event_in_scope(event_id)
    row = services.review(db.session(), event, current_user(), decision=data["decision"], category=data["category"],
                          note=data["note"])
    return {"event_id": event.id, "decision": row.decision, "category_code": row.category_code, "note": row.note,
            "reviewer": current_user(), "decided_at": row.decided_at, "tip_outcome": row.tip_outcome}


@blp.route("/xray-machines/<code>/status", methods=["POST"])
@blp.arguments(s.StatusIn)
@blp.response(201, s.StatusOut)
@allow(Capability.RECORD_XRAY_EVENTS)
def machine_status(data, code):
    """Report a power-on/off, or a screener checking in or out (安检员打卡)."""
    return services.record_status(db.session(), _machine(code), kind=data["kind"], at=data["at"],
                                  staff_id=data["staff_id"])


@blp.route("/xray-machines/<code>/power-on", methods=["GET"])
@blp.arguments(s.PowerArgs, location="query")
@blp.response(200, s.PowerOut)
@allow(Capability.READ_COMPLIANCE)
def power_on(args, code):
    """The share of a period the machine was powered on."""
    return services.power_on_rate(db.session(), _machine(code), args["from_"], args["to"])


@blp.route("/xray-machines/<code>/calibration", methods=["GET"])
@blp.response(200, s.CalibrationOut)
@allow(Capability.READ_COMPLIANCE)
def machine_calibration(code):
    """The machine's operating point: its model, the threshold calibrated on its own recent clean scans for the
    false-flag budget (before enough scans: the model's own, with ``scans_used`` 0)."""
    return services.calibration_of(db.session(), settings(), _machine(code))


def _calibrate_later() -> None:
    """The machines whose model just changed are calibrated after this request, not in it (re-scoring their
    stored images takes minutes): the change is committed with the machines marked due, then a worker is given
    the task when workers run; without workers the scheduler does it within a minute."""
    db.session().commit()
    if work.enabled(settings()):
        work.enqueue_task(settings(), "greenshield.xray.jobs.calibrate_due_machines")


@blp.route("/xray-machines/<code>/model", methods=["PUT"])
@blp.arguments(s.MachineModelIn)
@blp.response(200, s.CalibrationOut)
@allow(Capability.MANAGE_XRAY_MODELS)
def assign_machine_model(data, code):
    """Commission a machine with a model version: its events are scored by it (not by the active global model);
    the machine is calibrated for it in the background (``calibration_pending``; the model's own threshold
    applies until then). Answers the machine's calibration."""
    machine = _machine(code)
    services.assign_model(db.session(), settings(), machine, data["version"])
    _calibrate_later()
    return services.calibration_of(db.session(), settings(), machine)


@blp.route("/xray-machines/<code>/model", methods=["DELETE"])
@blp.response(200, s.CalibrationOut)
@allow(Capability.MANAGE_XRAY_MODELS)
def unassign_machine_model(code):
    """The machine goes back to the active global model (and is calibrated for it in the background)."""
    machine = _machine(code)
    services.unassign_model(db.session(), settings(), machine)
    _calibrate_later()
    return services.calibration_of(db.session(), settings(), machine)


def _with_machines(rows):
    usage = services.model_usage(db.session())
    names = [name for name in s.ModelOut().fields if name != "machines"]
    return [{**{name: getattr(row, name) for name in names}, "machines": usage.get(row.version, [])} for row in rows]


@blp.route("/xray-models", methods=["GET"])
@blp.response(200, s.ModelOut(many=True))
@allow(Capability.REVIEW_XRAY)
def list_models():
    """The model versions, each with the machines that use it now."""
    return _with_machines(db.session().scalars(select(XrayModelVersion).order_by(XrayModelVersion.created_at)).all())


@blp.route("/xray-models/<version>/activate", methods=["POST"])
@blp.response(200, s.ModelOut)
@allow(Capability.MANAGE_XRAY_MODELS)
def activate_model(version):
    """Make a trained model the active one; new events of machines without their own model are scored by it (the
    machines are calibrated for it in the background; the model's own threshold applies until then)."""
    row = services.activate(db.session(), settings(), version)
    _calibrate_later()
    return _with_machines([row])[0]


@blp.route("/xray-reviewers/stats", methods=["GET"])
@blp.response(200, s.ReviewerStatsOut(many=True))
@allow(Capability.REVIEW_XRAY)
def reviewer_stats():
    """Reviews per reviewer, their hits, misses and false alarms on projected test images (TIP), and how long flags
    waited for their decision, in all and per machine."""
    return services.reviewer_stats(db.session(), current_user(), settings().xray_review_sla_hours)


# --- clues and seizures ---------------------------------------------------------------------------------------

def clue_in_scope(clue_id: int) -> Clue:
    """The clue of that id in the caller's scope; NotFound otherwise (the API and the pages)."""
    clue = db.session().get(Clue, clue_id)
    if clue is None or not outlet_in_scope(current_user(), clue.outlet):
        raise NotFound("not_found.clue", id=clue_id)
    return clue


def scoped_clues(args: dict):
    stmt = scope_outlets(select(Clue).join(Outlet, Clue.outlet_id == Outlet.id), current_user())
    if args.get("status"):
        stmt = stmt.where(Clue.status == ClueStatus(args["status"]))
    if args.get("outlet"):
        stmt = stmt.where(Outlet.code == args["outlet"].upper())
    return stmt.order_by(Clue.created_at.desc(), Clue.id.desc())


@blp.route("/clues", methods=["GET"])
@blp.arguments(s.ClueArgs, location="query")
@blp.response(200, s.ClueOut(many=True))
@allow(Capability.FOLLOW_CLUES)
def list_clues(args):
    """Seized and referred X-ray events in scope as clues (线索), newest first; ``status`` open, handed_over or
    closed."""
    return db.session().scalars(scoped_clues(args).limit(1000)).all()


@blp.route("/clues/<int:clue_id>", methods=["GET"])
@blp.response(200, s.ClueOut)
@allow(Capability.FOLLOW_CLUES)
def get_clue(clue_id):
    return clue_in_scope(clue_id)


@blp.route("/clues/<int:clue_id>/hand-over", methods=["POST"])
@blp.arguments(s.HandOverIn)
@blp.response(200, s.ClueOut)
@allow(Capability.FOLLOW_CLUES)
def hand_over_clue(data, clue_id):
    """Hand an open clue over to another agency (public security, state security, customs…) under its case
    number."""
    return clues.hand_over(db.session(), clue_in_scope(clue_id), current_user(), **data)


@blp.route("/clues/<int:clue_id>/close", methods=["POST"])
@blp.arguments(s.CloseClueIn)
@blp.response(200, s.ClueOut)
@allow(Capability.FOLLOW_CLUES)
def close_clue(data, clue_id):
    """Close a clue with its outcome."""
    return clues.close(db.session(), clue_in_scope(clue_id), current_user(), outcome=data["outcome"])


@blp.route("/xray-seizures/stats", methods=["GET"])
@blp.arguments(s.SeizureStatsArgs, location="query")
@blp.response(200, s.SeizureStatsOut)
@allow(Capability.FOLLOW_CLUES)
def seizure_stats(args):
    """Seizures in scope over a period by the 19 prohibited-item categories, league/city, enterprise and month."""
    from greenshield.compliance.queries import scoped_outlets

    if args["to"] < args["from_"]:
        raise Invalid("validation_error.period_reversed", field="to")
    scoped = scoped_outlets(current_user(), region=args.get("region"), enterprise=args.get("enterprise"))
    return clues.seizure_stats(db.read_session(), scoped, args["from_"], args["to"])
