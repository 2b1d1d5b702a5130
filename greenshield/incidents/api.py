"""Incident routes: report, grade confirmation, follow-up reports, attachments, closing; emergency plans and
drills, readiness; the daily safety report (JSON and PDF)."""
from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint
from sqlalchemy import select

from audits import emergency, incidents
from greenshield import db
from greenshield.audits.services import today
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user, region_prefix
from greenshield.context import settings, storage
from greenshield.fields import BINARY
from greenshield.incidents import report as daily, schemas as s, services
from greenshield.incidents.documents import render_daily_report, render_incident_report
from models import EmergencyDrill, EmergencyPlan, utcnow

blp = Blueprint("incidents", __name__, url_prefix="/api/v1",
                description="Safety incidents (应急), emergency plans and drills, the daily safety report")


@blp.route("/incidents", methods=["GET"])
@blp.arguments(s.IncidentListArgs, location="query")
@blp.response(200, s.IncidentOut(many=True))
@allow(Capability.READ_INCIDENTS)
def list_incidents(args):
    """Incidents of the outlets in scope, newest first (``region``, ``status``, ``outlet`` narrow them)."""
    session = db.session()
    return session.scalars(services.incidents_in_scope(session, current_user(), **args).limit(1000)).all()


@blp.route("/incidents", methods=["POST"])
@blp.arguments(s.IncidentIn)
@blp.response(201, s.IncidentOut)
@allow(Capability.REPORT_INCIDENTS)
def report_incident(data):
    """The first report of an incident: the grade is suggested by the rule (docs/incidents.md), the report is
    marked late after the grade's deadline, the region's inspectors are told at once (in the app and on the
    webhook) and, for grades I-II, the province."""
    alerted = services.report(db.session(), current_user(), data, settings())
    services.tell_webhook_after_commit(db.session(), settings(), alerted, incidents.REPORTED)
    return alerted.incident


@blp.route("/incidents/<int:incident_id>", methods=["GET"])
@blp.response(200, s.IncidentOut)
@allow(Capability.READ_INCIDENTS)
def get_incident(incident_id):
    return services.incident_for(db.session(), current_user(), incident_id)


@blp.route("/incidents/<int:incident_id>/grade", methods=["POST"])
@blp.arguments(s.IncidentGradeIn)
@blp.response(200, s.IncidentOut)
@allow(Capability.MANAGE_INCIDENTS)
def confirm_grade(data, incident_id):
    """Confirm (or correct) the grade; the deadline and lateness follow it, grades I-II go to the province."""
    incident = services.incident_for(db.session(), current_user(), incident_id)
    alerted = services.confirm(db.session(), current_user(), incident, data["grade"], settings())
    services.tell_webhook_after_commit(db.session(), settings(), alerted, "")
    return incident


@blp.route("/incidents/<int:incident_id>/updates", methods=["POST"])
@blp.arguments(s.IncidentUpdateIn)
@blp.response(201, s.IncidentOut)
@allow(Capability.REPORT_INCIDENTS)
def add_update(data, incident_id):
    """A follow-up report (续报), appended to the incident's history."""
    incident = services.incident_for(db.session(), current_user(), incident_id)
    incidents.add_update(db.session(), incident, author=current_user(), text=data["text"], now=utcnow())
    return incident


@blp.route("/incidents/<int:incident_id>/close", methods=["POST"])
@blp.arguments(s.IncidentCloseIn)
@blp.response(200, s.IncidentOut)
@allow(Capability.MANAGE_INCIDENTS)
def close_incident(data, incident_id):
    """Close the incident with its summary (status ``closed``); its grade must be confirmed first."""
    incident = services.incident_for(db.session(), current_user(), incident_id)
    return incidents.close_incident(db.session(), incident, by=current_user(), summary=data["summary"], now=utcnow())


@blp.route("/incidents/<int:incident_id>/report.pdf", methods=["GET"])
@blp.response(200, BINARY, description="突发事件专报 (A4 PDF)", content_type="application/pdf")
@allow(Capability.READ_INCIDENTS)
def incident_report_pdf(incident_id):
    """The incident's special report (专报): facts, grade, follow-ups and summary, printable."""
    incident = services.incident_for(db.session(), current_user(), incident_id)
    return Response(render_incident_report(incident, settings()), mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=\"incident-{incident.id}.pdf\""})


@blp.route("/incidents/<int:incident_id>/attachments", methods=["POST"])
@blp.arguments(s.IncidentFileIn, location="files")
@blp.response(201, s.IncidentAttachmentOut)
@allow(Capability.REPORT_INCIDENTS)
def add_attachment(files, incident_id):
    """A photo (JPEG, PNG) or PDF document of the incident, at most 10 MiB."""
    incident = services.incident_for(db.session(), current_user(), incident_id)
    return services.attach(db.session(), current_user(), incident, storage(), files["file"].stream,
                           files["file"].filename)


@blp.route("/incidents/<int:incident_id>/attachments/<int:attachment_id>", methods=["GET"])
@blp.response(200, BINARY, description="The file as sent", content_type="image/jpeg")
@blp.alt_response(200, schema=BINARY, description="The file as sent", content_type="image/png")
@blp.alt_response(200, schema=BINARY, description="The file as sent", content_type="application/pdf")
@allow(Capability.READ_INCIDENTS)
def get_attachment(incident_id, attachment_id):
    incident = services.incident_for(db.session(), current_user(), incident_id)
    found = services.attachment_of(incident, attachment_id)
    return Response(storage().get(found.storage_key), mimetype=found.content_type)


# --- emergency plans and drills --------------------------------------------------------------------------------


@blp.route("/emergency-plans", methods=["GET"])
@blp.response(200, s.EmergencyPlanOut(many=True))
@allow(Capability.RECORD_EMERGENCY_PLANS)
def list_plans():
    """Emergency plans of the enterprises in scope, latest first."""
    ids = [e.id for e in services.enterprises_in_scope(db.session(), current_user())]
    return db.session().scalars(select(EmergencyPlan).where(EmergencyPlan.enterprise_id.in_(ids))
                                .order_by(EmergencyPlan.id.desc()).limit(1000)).all()


@blp.route("/emergency-plans", methods=["POST"])
@blp.arguments(s.EmergencyPlanIn)
@blp.response(201, s.EmergencyPlanOut)
@allow(Capability.RECORD_EMERGENCY_PLANS)
def file_plan(data):
    """File a version of an enterprise's emergency plan (its document follows at ``/emergency-plans/<id>/document``)."""
    return services.file_plan(db.session(), current_user(), data, storage())


@blp.route("/emergency-plans/<int:emergency_plan_id>/document", methods=["POST"])
@blp.arguments(s.IncidentFileIn, location="files")
@blp.response(200, s.EmergencyPlanOut)
@allow(Capability.RECORD_EMERGENCY_PLANS)
def put_plan_document(files, emergency_plan_id):
    """The plan's document: a PDF or a scan (JPEG, PNG), at most 10 MiB."""
    plan = services.plan_for(db.session(), current_user(), emergency_plan_id)
    plan.storage_key, _sha, plan.content_type, _size = services.store_file(storage(), files["file"].stream,
                                                                         "emergency-plans")
    plan.filename = (files["file"].filename or "plan")[-255:]
    return plan


@blp.route("/emergency-plans/<int:emergency_plan_id>/document", methods=["GET"])
@blp.response(200, BINARY, description="The plan's document", content_type="application/pdf")
@blp.alt_response(200, schema=BINARY, description="The plan's document (a scan)", content_type="image/jpeg")
@blp.alt_response(200, schema=BINARY, description="The plan's document (a scan)", content_type="image/png")
@allow(Capability.RECORD_EMERGENCY_PLANS)
def get_plan_document(emergency_plan_id):
    plan = services.plan_for(db.session(), current_user(), emergency_plan_id)
    if plan.storage_key is None:
        raise services.NotFound("not_found.emergency_plan", id=emergency_plan_id)
    return Response(storage().get(plan.storage_key), mimetype=plan.content_type)


@blp.route("/emergency-drills", methods=["GET"])
@blp.response(200, s.EmergencyDrillOut(many=True))
@allow(Capability.RECORD_EMERGENCY_PLANS)
def list_drills():
    ids = [e.id for e in services.enterprises_in_scope(db.session(), current_user())]
    return db.session().scalars(select(EmergencyDrill).where(EmergencyDrill.enterprise_id.in_(ids))
                                .order_by(EmergencyDrill.held_on.desc()).limit(1000)).all()


@blp.route("/emergency-drills", methods=["POST"])
@blp.arguments(s.EmergencyDrillIn)
@blp.response(201, s.EmergencyDrillOut)
@allow(Capability.RECORD_EMERGENCY_PLANS)
def record_drill(data):
    """A drill an enterprise held: date, scenario, number of participants, findings."""
    return services.record_drill(db.session(), current_user(), data, today=today())


@blp.route("/emergency-readiness", methods=["GET"])
@blp.response(200, s.EmergencyReadinessOut(many=True))
@allow(Capability.READ_EMERGENCY_READINESS)
def readiness():
    """Every enterprise with outlets in scope: its valid plan, its last drill in 12 months, late incident
    reports; those with no valid plan or no drill first."""
    return emergency.readiness(db.session(), today(), region_prefix(current_user()) or "")


# --- the daily safety report -------------------------------------------------------------------------------------


@blp.route("/daily-safety-report", methods=["GET"])
@blp.arguments(s.DailyReportArgs, location="query")
@blp.response(200, s.DailyReportOut)
@allow(Capability.READ_EMERGENCY_READINESS)
def daily_report(args):
    """One region's day (default: the caller's region, yesterday): rates, verified screening, alerts, X-ray flags
    and seizures, incidents by grade."""
    return daily.for_user(db.session(), current_user(), args, settings())


@blp.route("/daily-safety-report.pdf", methods=["GET"])
@blp.arguments(s.DailyReportArgs, location="query")
@blp.response(200, BINARY, description="The daily safety report (A4 PDF)", content_type="application/pdf")
@allow(Capability.READ_EMERGENCY_READINESS)
def daily_report_pdf(args):
    report = daily.for_user(db.session(), current_user(), args, settings())
    name = f"daily-safety-{report.region_code}-{report.day.isoformat()}.pdf"
    return Response(render_daily_report(report, settings()), mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=\"{name}\""})
