"""Audit routes: plans and draws, schedules, absences, the audit workflow and joint members, rectification
orders with their history and decisions, publication, checklist items, the holiday calendar, credit."""
from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint
from sqlalchemy import select

from audits import checklist, plans, workflow
from audits.credit import enterprise_credits, outlet_credits
from greenshield import db
from greenshield.audits import schemas as s
from greenshield.audits.services import (absence_for, audit_for, calendar_year, credit_doc, flagged_xray_counts,
                                         order_for, photo_key, plan_settings, record_absence, region_for,
                                         save_calendar_year, store_photo, today, update_checklist_item)
from greenshield.auth.permissions import Capability, can
from greenshield.context import settings, storage
from greenshield.auth.policy import allow, current_user, outlet_for, outlet_in_scope, region_prefix, scope_outlets
from greenshield.errors import Conflict, NotFound
from greenshield.fields import BINARY
from models import (Audit, AuditKind, AuditMember, AuditPhoto, AuditPlan, AuditSchedule, AuditStatus, ChecklistEntry,
                    ChecklistItem, Enterprise, InspectorAbsence, OrderStatus, Outlet, RectificationEvent,
                    RectificationOrder, RectificationPhoto)

blp = Blueprint("audits", __name__, url_prefix="/api/v1", description="Audits (执法检查) and their random draws")


@blp.route("/audit-plans", methods=["POST"])
@blp.arguments(s.PlanIn)
@blp.response(201, s.PlanOut)
@blp.alt_response(200, schema=s.PlanOut, description="A plan with these inputs and seed exists: that plan")
@allow(Capability.PLAN_AUDITS)
def create_plan(data):
    """Draw N outlets of a region weighted by risk and credit, each with inspectors and a working day of the
    period (at most ``AUDIT_DAILY_CAPACITY`` audits per inspector a day, absences and other audits respected);
    the seed is stored and returned."""
    region_for(db.session(), current_user(), data["region_code"])
    plan, created = plans.create_plan(
        db.session(), region_code=data["region_code"], outlets=data["outlets"],
        per_audit=data["inspectors_per_audit"], start_date=data["start_date"], due_date=data["due_date"],
        seed=data["seed"], kind=AuditKind(data["kind"]), created_by=current_user(), as_of=today(),
        flagged_xray=flagged_xray_counts(db.session(), today()), **plan_settings(settings()))
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
    """Close with ``pass``, or ``rectify`` with a deadline (an order to the outlet follows). A follow-up audit's
    result closes (``pass``) or escalates (``rectify``) the order it re-inspects."""
    audit = audit_for(db.session(), current_user(), audit_id, write=True)
    return workflow.close_audit(db.session(), audit, result=data["result"], summary=data["summary"], today=today(),
                                deadline=data["deadline"], requirements=data["requirements"], actor=current_user(),
                                document_prefix=settings().document_prefix)


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


@blp.route("/rectification-orders/<int:order_id>", methods=["GET"])
@blp.response(200, s.OrderDetailOut)
@allow(Capability.READ_AUDITS)
def get_order(order_id):
    """An order with its dated history: issued, answered (with photos), accepted, rejected, re-inspection,
    closed or escalated, overdue."""
    return order_for(db.session(), current_user(), order_id)


@blp.route("/rectification-orders/<int:order_id>/response", methods=["POST"])
@blp.arguments(s.ResponseIn)
@blp.response(200, s.OrderDetailOut)
@allow(Capability.ANSWER_RECTIFICATION)
def respond(data, order_id):
    """The outlet manager's answer to a rectification order of one of their outlets (photos: ``/photos``)."""
    order = db.session().get(RectificationOrder, order_id)
    if order is None or not outlet_in_scope(current_user(), order.outlet):
        raise NotFound("not_found.order", id=order_id)
    return workflow.respond(db.session(), order, data["response"], today=today(), actor=current_user())


@blp.route("/rectification-orders/<int:order_id>/photos", methods=["POST"])
@blp.arguments(s.PhotoFiles, location="files")
@blp.response(201, s.OrderDetailOut)
@allow(Capability.ANSWER_RECTIFICATION)
def add_response_photo(files, order_id):
    """Attach a JPEG or PNG photo to the outlet's latest answer."""
    order = db.session().get(RectificationOrder, order_id)
    if order is None or not outlet_in_scope(current_user(), order.outlet):
        raise NotFound("not_found.order", id=order_id)
    sha, content_type = store_photo(storage(), files["photo"].stream)
    workflow.add_response_photo(db.session(), order, (sha, content_type, files["photo"].filename or ""))
    return order


@blp.route("/rectification-photos/<int:photo_id>", methods=["GET"])
@blp.response(200, BINARY, description="The photo as uploaded", content_type="image/jpeg")
@blp.alt_response(200, schema=BINARY, description="The photo as uploaded", content_type="image/png")
@allow(Capability.READ_AUDITS)
def get_response_photo(photo_id):
    photo = db.session().get(RectificationPhoto, photo_id)
    if photo is None:
        raise NotFound("not_found.photo", id=photo_id)
    order_for(db.session(), current_user(), db.session().get(RectificationEvent, photo.event_id).order_id)
    return Response(storage().get(photo_key(photo.sha256, photo.content_type)), mimetype=photo.content_type)


@blp.route("/rectification-orders/<int:order_id>/accept", methods=["POST"])
@blp.arguments(s.AcceptIn)
@blp.response(200, s.OrderDetailOut)
@allow(Capability.DECIDE_RECTIFICATION)
def accept_order(data, order_id):
    """Accept the outlet's answer: the order is closed."""
    order = order_for(db.session(), current_user(), order_id, decide=True)
    return workflow.accept(db.session(), order, today=today(), actor=current_user(), note=data["note"])


@blp.route("/rectification-orders/<int:order_id>/reject", methods=["POST"])
@blp.arguments(s.RejectIn)
@blp.response(200, s.OrderDetailOut)
@allow(Capability.DECIDE_RECTIFICATION)
def reject_order(data, order_id):
    """Reject the outlet's answer with a reason and a new deadline: the order is open again."""
    order = order_for(db.session(), current_user(), order_id, decide=True)
    return workflow.reject(db.session(), order, reason=data["reason"], deadline=data["deadline"], today=today(),
                           actor=current_user())


@blp.route("/rectification-orders/<int:order_id>/reinspect", methods=["POST"])
@blp.arguments(s.ReinspectIn)
@blp.response(201, s.OrderDetailOut)
@allow(Capability.DECIDE_RECTIFICATION)
def reinspect_order(data, order_id):
    """Schedule a follow-up audit (复查) of the order; its result closes or escalates the order."""
    order = order_for(db.session(), current_user(), order_id, decide=True)
    workflow.schedule_follow_up(db.session(), order, on=data["scheduled_on"] or today(), today=today(),
                                actor=current_user())
    return order


@blp.route("/audits/<int:audit_id>/members", methods=["POST"])
@blp.arguments(s.MemberIn)
@blp.response(201, s.AuditOut)
@allow(Capability.WORK_AUDITS)
def add_member(data, audit_id):
    """Name a member of another agency on a joint audit (e.g. the public-security 物流寄递 police)."""
    audit = audit_for(db.session(), current_user(), audit_id, write=True)
    workflow.add_member(db.session(), audit, **data)
    return audit


@blp.route("/audits/<int:audit_id>/members/<int:member_id>", methods=["DELETE"])
@blp.response(204)
@allow(Capability.WORK_AUDITS)
def remove_member(audit_id, member_id):
    audit = audit_for(db.session(), current_user(), audit_id, write=True)
    member = db.session().get(AuditMember, member_id)
    if member is None or member.audit_id != audit.id:
        raise NotFound("not_found.member", id=member_id)
    if audit.status is AuditStatus.CLOSED:
        raise Conflict("conflict.audit_closed")
    audit.members.remove(member)
    db.session().flush()


@blp.route("/inspector-absences", methods=["GET"])
@blp.response(200, s.AbsenceOut(many=True))
@allow(Capability.RECORD_ABSENCES)
def list_absences():
    """Days of absence from today on: one's own, or everyone's for admins."""
    stmt = select(InspectorAbsence).where(InspectorAbsence.end_date >= today())
    if not can(current_user(), Capability.RECORD_ANY_ABSENCE):
        stmt = stmt.where(InspectorAbsence.user_id == current_user().id)
    return db.session().scalars(stmt.order_by(InspectorAbsence.start_date, InspectorAbsence.id)).all()


@blp.route("/inspector-absences", methods=["POST"])
@blp.arguments(s.AbsenceIn)
@blp.response(201, s.AbsenceOut)
@allow(Capability.RECORD_ABSENCES)
def create_absence(data):
    """Days an inspector cannot audit (leave, training, other duties): draws schedule nobody on them."""
    return record_absence(db.session(), current_user(), data)


@blp.route("/inspector-absences/<int:absence_id>", methods=["DELETE"])
@blp.response(204)
@allow(Capability.RECORD_ABSENCES)
def delete_absence(absence_id):
    db.session().delete(absence_for(db.session(), current_user(), absence_id))
    db.session().flush()


@blp.route("/checklist-items", methods=["GET"])
@blp.arguments(s.ChecklistArgs, location="query")
@blp.response(200, s.ChecklistItemOut(many=True))
@allow(Capability.WORK_AUDITS)
def list_checklist_items(args):
    """The checklist items of each audit kind (new audits copy the active ones)."""
    stmt = select(ChecklistItem)
    if args.get("kind"):
        stmt = stmt.where(ChecklistItem.kind == AuditKind(args["kind"]))
    return db.session().scalars(stmt.order_by(ChecklistItem.kind, ChecklistItem.position, ChecklistItem.id)).all()


@blp.route("/checklist-items", methods=["POST"])
@blp.arguments(s.ChecklistItemIn)
@blp.response(201, s.ChecklistItemOut)
@allow(Capability.MANAGE_CHECKLISTS)
def create_checklist_item(data):
    """A new item at the end of a kind's checklist; audits created from now on have it."""
    return checklist.add_item(db.session(), kind=AuditKind(data["kind"]), code=data["code"], name_zh=data["name_zh"],
                              name_en=data["name_en"], serious=data["serious"])


@blp.route("/checklist-items/<int:item_id>", methods=["PATCH"])
@blp.arguments(s.ChecklistItemPatch)
@blp.response(200, s.ChecklistItemOut)
@allow(Capability.MANAGE_CHECKLISTS)
def update_checklist_item_route(data, item_id):
    """Reword, reorder or retire (``active: false``) an item; audits under way keep the text they started with."""
    return update_checklist_item(db.session(), item_id, data)


@blp.route("/calendar/<int:year>", methods=["GET"])
@blp.response(200, s.CalendarYearOut)
@allow(Capability.WORK_AUDITS)
def get_calendar_year(year):
    """A year's holidays and make-up working days; ``known: false`` means deadlines in it are provisional."""
    return calendar_year(db.session(), year)


@blp.route("/calendar/<int:year>", methods=["PUT"])
@blp.arguments(s.CalendarYearIn)
@blp.response(200, s.CalendarYearOut)
@allow(Capability.MANAGE_CALENDAR)
def put_calendar_year(data, year):
    """Load a year's holidays and make-up working days as the State Council published them; provisional
    deadlines are counted again."""
    return save_calendar_year(db.session(), current_user(), year, data["days"])


@blp.route("/credit/outlets/<code>", methods=["GET"])
@blp.response(200, s.CreditOut)
@allow(Capability.READ_COMPLIANCE)
def outlet_credit(code):
    """An outlet's credit level over the last 12 months, with the deductions and the facts behind them."""
    outlet = outlet_for(current_user(), code)
    credit = outlet_credits(db.read_session(), [outlet.id], today(), settings().thresholds)[outlet.id]
    return credit_doc(outlet.code, outlet.name, credit)


@blp.route("/credit/enterprises/<code>", methods=["GET"])
@blp.response(200, s.CreditOut)
@allow(Capability.READ_CREDIT)
def enterprise_credit(code):
    """An enterprise's credit level and its outlets' (those in the caller's scope)."""
    enterprise = db.read_session().scalar(select(Enterprise).where(Enterprise.code == code.upper()))
    if enterprise is None:
        raise NotFound("not_found.enterprise", code=code)
    credit, outlets = enterprise_credits(db.read_session(), [enterprise.id], today(), settings().thresholds)[enterprise.id]
    visible = {o.id: o for o in db.read_session().scalars(scope_outlets(select(Outlet), current_user()).where(
        Outlet.id.in_(list(outlets))))}
    return credit_doc(enterprise.code, enterprise.name, credit, outlets=[
        {"code": o.code, "name": o.name, "level": outlets[i].level, "score": outlets[i].score}
        for i, o in sorted(visible.items(), key=lambda kv: kv[1].code)])
