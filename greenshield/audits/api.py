"""Audit routes: plans and draws, schedules, the audit workflow, rectification orders, publication."""
from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint
from sqlalchemy import select

from audits import plans, workflow
from greenshield import db
from greenshield.audits import schemas as s
from greenshield.audits.services import (audit_for, flagged_xray_counts, photo_key, plan_settings, region_for,
                                         store_photo, today)
from greenshield.auth.permissions import Capability
from greenshield.context import settings, storage
from greenshield.auth.policy import allow, current_user, outlet_in_scope, region_prefix, scope_outlets
from greenshield.errors import NotFound
from greenshield.fields import BINARY
from models import (Audit, AuditPhoto, AuditPlan, AuditSchedule, AuditStatus, ChecklistEntry, OrderStatus, Outlet,
                    RectificationOrder)

blp = Blueprint("audits", __name__, url_prefix="/api/v1", description="Audits (执法检查) and their random draws")


@blp.route("/audit-plans", methods=["POST"])
@blp.arguments(s.PlanIn)
@blp.response(201, s.PlanOut)
@blp.alt_response(200, schema=s.PlanOut, description="A plan with these inputs and seed exists: that plan")
@allow(Capability.PLAN_AUDITS)
def create_plan(data):
    """Draw N outlets of a region weighted by risk, each with inspectors; the seed is stored and returned."""
    region_for(db.session(), current_user(), data["region_code"])
    plan, created = plans.create_plan(
        db.session(), region_code=data["region_code"], outlets=data["outlets"],
        per_audit=data["inspectors_per_audit"], due_date=data["due_date"], seed=data["seed"],
        created_by=current_user(), as_of=today(), flagged_xray=flagged_xray_counts(db.session(), today()), **plan_settings(settings()))
    return plan, 201 if created else 200


def _plan(plan_id: int) -> AuditPlan:
    plan = db.session().get(AuditPlan, plan_id)
    if plan is None:
        raise NotFound("not_found.audit_plan", id=plan_id)
    region_for(db.session(), current_user(), plan.region_code)
    return plan


@blp.route("/audit-plans/<int:plan_id>", methods=["GET"])
@blp.response(200, s.PlanOut)
@allow(Capability.VERIFY_AUDIT_PLANS)
def get_plan(plan_id):
    return _plan(plan_id)


@blp.route("/audit-plans/<int:plan_id>/verify", methods=["GET"])
@blp.response(200, s.VerifyOut)
@allow(Capability.VERIFY_AUDIT_PLANS)
def verify_plan(plan_id):
    """Re-run the stored draw from its stored inputs and seed and compare with the stored audits."""
    plan = _plan(plan_id)
    ok, differences = plans.verify_plan(db.session(), plan.id)
    return {"id": plan.id, "seed": plan.seed, "reproducible": ok, "differences": differences}


@blp.route("/audit-schedules", methods=["GET"])
@blp.response(200, s.ScheduleOut(many=True))
@allow(Capability.PLAN_AUDITS)
def list_schedules():
    """The recurring draws of the regions in the caller's scope (an inspector's region and below)."""
    stmt = select(AuditSchedule).order_by(AuditSchedule.id)
    prefix = region_prefix(current_user())
    if prefix is not None:
        stmt = stmt.where(AuditSchedule.region_code.startswith(prefix))
    return db.session().scalars(stmt).all()


@blp.route("/audit-schedules", methods=["POST"])
@blp.arguments(s.ScheduleIn)
@blp.response(201, s.ScheduleOut)
@allow(Capability.PLAN_AUDITS)
def create_schedule(data):
    """A recurring draw on a cron expression (Asia/Shanghai); the scheduler process picks it up within a minute."""
    region_for(db.session(), current_user(), data["region_code"])
    schedule = AuditSchedule(**data, active=True, created_by_id=current_user().id)
    db.session().add(schedule)
    db.session().flush()
    return schedule


@blp.route("/audit-schedules/<int:schedule_id>", methods=["PATCH"])
@blp.arguments(s.SchedulePatch)
@blp.response(200, s.ScheduleOut)
@allow(Capability.PLAN_AUDITS)
def update_schedule(data, schedule_id):
    """Pause (``active: false``) or resume a schedule."""
    schedule = db.session().get(AuditSchedule, schedule_id)
    if schedule is None:
        raise NotFound("not_found.schedule", id=schedule_id)
    region_for(db.session(), current_user(), schedule.region_code)
    schedule.active = data["active"]
    return schedule


@blp.route("/audits", methods=["GET"])
@blp.arguments(s.AuditListArgs, location="query")
@blp.response(200, s.AuditOut(many=True))
@allow(Capability.READ_AUDITS)
def list_audits(args):
    """Audits in scope; ``mine=true`` for the caller's own; ``publication=due|overdue|published``."""
    user = current_user()
    stmt = scope_outlets(select(Audit).join(Outlet, Audit.outlet_id == Outlet.id), user)
    if args.get("status"):
        stmt = stmt.where(Audit.status == AuditStatus(args["status"]))
    if args.get("outlet"):
        stmt = stmt.where(Outlet.code == args["outlet"].upper())
    if args.get("mine"):
        stmt = stmt.where(Audit.inspectors.any(id=user.id))
    audits = db.session().scalars(stmt.order_by(Audit.due_date, Audit.id).limit(1000)).all()
    if args.get("publication"):
        audits = [a for a in audits if workflow.publication_status(a, today()) == args["publication"]]
    return audits


@blp.route("/audits/<int:audit_id>", methods=["GET"])
@blp.response(200, s.AuditOut)
@allow(Capability.READ_AUDITS)
def get_audit(audit_id):
    return audit_for(db.session(), current_user(), audit_id)


@blp.route("/audits/<int:audit_id>/checklist/<item>", methods=["PUT"])
@blp.arguments(s.EntryIn)
@blp.response(200, s.EntryOut)
@allow(Capability.WORK_AUDITS)
def record_item(data, audit_id, item):
    """Record one checklist item: compliant (true/false) and what was found."""
    audit = audit_for(db.session(), current_user(), audit_id, write=True)
    return workflow.record_item(db.session(), audit, item, compliant=data["compliant"], finding=data["finding"])


@blp.route("/audits/<int:audit_id>/checklist/<item>/photos", methods=["POST"])
@blp.arguments(s.PhotoFiles, location="files")
@blp.response(201, s.EntryOut)
@allow(Capability.WORK_AUDITS)
def add_photo(files, audit_id, item):
    """Attach a JPEG or PNG photo to a checklist finding."""
    audit = audit_for(db.session(), current_user(), audit_id, write=True)
    entry = workflow.record_item(db.session(), audit, item, compliant=next(
        (e.compliant for e in audit.items if e.item == item), None), finding=next(
        (e.finding for e in audit.items if e.item == item), None))
    sha, content_type = store_photo(storage(), files["photo"].stream)
    entry.photos.append(AuditPhoto(sha256=sha, content_type=content_type, filename=(files["photo"].filename or "")[:255]))
    db.session().flush()
    return entry


@blp.route("/audit-photos/<int:photo_id>", methods=["GET"])
@blp.response(200, BINARY, description="The photo as uploaded", content_type="image/jpeg")
@blp.alt_response(200, schema=BINARY, description="The photo as uploaded", content_type="image/png")
@allow(Capability.READ_AUDITS)
def get_photo(photo_id):
    photo = db.session().get(AuditPhoto, photo_id)
    if photo is None:
        raise NotFound("not_found.photo", id=photo_id)
    audit_for(db.session(), current_user(), db.session().get(ChecklistEntry, photo.entry_id).audit_id)
    return Response(storage().get(photo_key(photo.sha256, photo.content_type)), mimetype=photo.content_type)


@blp.route("/audits/<int:audit_id>/close", methods=["POST"])
@blp.arguments(s.CloseIn)
@blp.response(200, s.AuditOut)
@allow(Capability.WORK_AUDITS)
def close_audit(data, audit_id):
    """Close with ``pass``, or ``rectify`` with a deadline (an order to the outlet follows)."""
    audit = audit_for(db.session(), current_user(), audit_id, write=True)
    return workflow.close_audit(db.session(), audit, result=data["result"], summary=data["summary"], today=today(),
                                deadline=data["deadline"], requirements=data["requirements"])


@blp.route("/audits/<int:audit_id>/publish", methods=["POST"])
@blp.response(200, s.AuditOut)
@allow(Capability.PUBLISH_AUDITS)
def publish_audit(audit_id):
    """Publish (公开) a closed audit's result: its assigned inspectors, or whoever may work on any audit (as on
    the audit's page). Publication cannot be undone."""
    return workflow.publish(db.session(), audit_for(db.session(), current_user(), audit_id, write=True))


@blp.route("/rectification-orders", methods=["GET"])
@blp.arguments(s.OrderListArgs, location="query")
@blp.response(200, s.OrderOut(many=True))
@allow(Capability.READ_AUDITS)
def list_orders(args):
    stmt = scope_outlets(select(RectificationOrder).join(Outlet, RectificationOrder.outlet_id == Outlet.id),
                         current_user())
    if args.get("status"):
        stmt = stmt.where(RectificationOrder.status == OrderStatus(args["status"]))
    return db.session().scalars(stmt.order_by(RectificationOrder.deadline)).all()


@blp.route("/rectification-orders/<int:order_id>/response", methods=["POST"])
@blp.arguments(s.ResponseIn)
@blp.response(200, s.OrderOut)
@allow(Capability.ANSWER_RECTIFICATION)
def respond(data, order_id):
    """The outlet manager's answer to a rectification order of one of their outlets."""
    order = db.session().get(RectificationOrder, order_id)
    if order is None or not outlet_in_scope(current_user(), order.outlet):
        raise NotFound("not_found.order", id=order_id)
    return workflow.respond(db.session(), order, data["response"])
