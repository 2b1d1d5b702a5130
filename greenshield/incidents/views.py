"""Incident pages: the list in scope, the report form (outlet managers and inspectors), an incident with its grade
confirmation, follow-up reports, files and closing; emergency plans and drills with who lacks them; the daily
safety report with its PDF."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from audits import emergency, incidents
from greenshield import db
from greenshield.audits.services import today
from greenshield.auth.permissions import Capability, can
from greenshield.auth.policy import allow, current_user, region_prefix, scope_outlets
from greenshield.context import settings, storage
from greenshield.errors import DomainError, form_errors
from greenshield.incidents import report as daily, schemas as s, services
from greenshield.incidents.documents import render_daily_report
from models import EmergencyDrill, EmergencyPlan, IncidentGrade, IncidentStatus, IncidentType, Outlet, Region, utcnow
from models.base import CHINA

bp = Blueprint("incident_pages", __name__)


def _form(*names: str) -> dict:
    return {n: request.form[n].strip() for n in names if request.form.get(n, "").strip()}


def _outlets():
    return db.session().scalars(scope_outlets(select(Outlet).where(Outlet.active.is_(True)), current_user())
                                .order_by(Outlet.code)).all()


def _regions():
    prefix = region_prefix(current_user()) or ""
    return db.session().scalars(select(Region).where(Region.code.startswith(prefix), Region.level <= 2)
                                .order_by(Region.code)).all()


@bp.route("/incidents")
@allow(Capability.READ_INCIDENTS)
def index():
    """Incidents in scope, newest first, by status and region."""
    session, user = db.session(), current_user()
    status = request.args.get("status") if request.args.get("status") in s.STATUSES else None
    region = request.args.get("region") or None
    try:
        rows = session.scalars(services.incidents_in_scope(session, user, region=region, status=status)
                               .limit(500)).all()
    except DomainError:
        abort(404)
    return render_template("incidents/index.html", incidents=rows, status=status, region=region,
                           regions=_regions() if region_prefix(user) is not None or can(
                               user, Capability.MANAGE_INCIDENTS) else [],
                           statuses=s.STATUSES)


@bp.route("/incidents/new", methods=["GET", "POST"])
@allow(Capability.REPORT_INCIDENTS)
def new():
    """Report an incident: what, when, where, its toll, the measures taken, a photo or document."""
    session, user = db.session(), current_user()
    outlets = _outlets()
    values = {"occurred_at": dt.datetime.now(CHINA).strftime("%Y-%m-%dT%H:%M"),
              "outlet_code": outlets[0].code if len(outlets) == 1 else ""}
    errors = {}
    if request.method == "POST":
        values = _form("outlet_code", "occurred_at", "type", "description", "casualties", "records_affected",
                       "measures")
        try:
            data = s.IncidentIn().load(values)
            upload = request.files.get("file")
            alerted = services.report(session, user, data, settings())
            if upload and upload.filename:
                services.attach(session, user, alerted.incident, storage(), upload.stream, upload.filename)
        except (ValidationError, DomainError) as exc:
            session.rollback()
            errors = form_errors(exc)
        else:
            services.tell_webhook_after_commit(db.session(), settings(), alerted, incidents.REPORTED)
            flash(_("Incident reported: the inspectors of the region have been told."))
            return redirect(url_for(".incident", incident_id=alerted.incident.id))
    return render_template("incidents/new.html", outlets=outlets, values=values, errors=errors,
                           types=[t.value for t in IncidentType],
                           hours={g.value: h for g, h in settings().incident_report_hours.items()}), \
        422 if errors else 200


@bp.route("/incidents/<int:incident_id>", methods=["GET", "POST"])
@allow(Capability.READ_INCIDENTS)
def incident(incident_id):
    """An incident: the report, its grade, follow-up reports, files, and the forms the reader may use."""
    session, user = db.session(), current_user()
    found = services.incident_for(session, user, incident_id)
    errors, values = {}, {}
    if request.method == "POST":
        action = request.form.get("action", "")
        needed = Capability.MANAGE_INCIDENTS if action in ("grade", "close") else Capability.REPORT_INCIDENTS
        if not can(user, needed):
            abort(403)
        values = _form("grade", "text", "summary")
        try:
            _action(found, action, values)
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            flash(_("Saved."))
            return redirect(url_for(".incident", incident_id=found.id))
    return render_template("incidents/incident.html", incident=found, errors=errors, values=values,
                           grades=[g.value for g in IncidentGrade], closed=found.status is IncidentStatus.CLOSED,
                           may_manage=can(user, Capability.MANAGE_INCIDENTS),
                           may_report=can(user, Capability.REPORT_INCIDENTS)), 422 if errors else 200


def _action(found, action: str, values: dict) -> None:
    session, user = db.session(), current_user()
    if action == "grade":
        data = s.IncidentGradeIn().load(values)
        alerted = services.confirm(session, user, found, data["grade"], settings())
        services.tell_webhook_after_commit(db.session(), settings(), alerted, "")
    elif action == "update":
        data = s.IncidentUpdateIn().load(values)
        incidents.add_update(session, found, author=user, text=data["text"], now=utcnow())
    elif action == "attach":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ValidationError({"file": [_("Choose a file.")]})
        services.attach(session, user, found, storage(), upload.stream, upload.filename)
    elif action == "close":
        data = s.IncidentCloseIn().load(values)
        incidents.close_incident(session, found, by=user, summary=data["summary"], now=utcnow())
    else:
        abort(400)


# --- emergency plans and drills -------------------------------------------------------------------------------


@bp.route("/emergency", methods=["GET", "POST"])
@allow(Capability.RECORD_EMERGENCY_PLANS)
def emergency_plans():
    """Emergency plans and drills of the enterprises in scope; for the centre, who has no valid plan or no drill
    in the last 12 months."""
    session, user = db.session(), current_user()
    errors, values = {}, {}
    if request.method == "POST":
        action = request.form.get("action", "")
        values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
        try:
            if action == "plan":
                data = s.EmergencyPlanIn().load(_form("enterprise_code", "title", "version", "valid_until"))
                upload = request.files.get("file")
                services.file_plan(session, user, data, storage(), upload.stream if upload and upload.filename
                                   else None, upload.filename if upload else None)
            elif action == "drill":
                data = s.EmergencyDrillIn().load(_form("enterprise_code", "held_on", "scenario", "participants",
                                                       "findings"))
                services.record_drill(session, user, data, today=today())
            else:
                abort(400)
        except (ValidationError, DomainError) as exc:
            session.rollback()
            errors = form_errors(exc)
            values["form"] = action
        else:
            flash(_("Saved."))
            return redirect(url_for(".emergency_plans"))
    enterprises = services.enterprises_in_scope(session, user)
    ids = [e.id for e in enterprises]
    plans = session.scalars(select(EmergencyPlan).where(EmergencyPlan.enterprise_id.in_(ids))
                            .order_by(EmergencyPlan.id.desc()).limit(200)).all()
    drills = session.scalars(select(EmergencyDrill).where(EmergencyDrill.enterprise_id.in_(ids))
                             .order_by(EmergencyDrill.held_on.desc()).limit(200)).all()
    readiness = (emergency.readiness(session, today(), region_prefix(user) or "")
                 if can(user, Capability.READ_EMERGENCY_READINESS) else None)
    return render_template("incidents/emergency.html", enterprises=enterprises, plans=plans, drills=drills,
                           readiness=readiness, errors=errors, values=values, today=today()), \
        422 if errors else 200


@bp.route("/emergency/plans/<int:plan_id>/document")
@allow(Capability.RECORD_EMERGENCY_PLANS)
def plan_document(plan_id):
    from flask import Response

    plan = services.plan_for(db.session(), current_user(), plan_id)
    if plan.storage_key is None:
        abort(404)
    return Response(storage().get(plan.storage_key), mimetype=plan.content_type)


# --- the daily safety report ---------------------------------------------------------------------------------


@bp.route("/daily-report")
@allow(Capability.READ_EMERGENCY_READINESS)
def daily_report():
    """The daily safety report of a region and a day (default: one's region, yesterday), with its PDF."""
    session, user = db.session(), current_user()
    args, errors = {}, {}
    try:
        args = s.DailyReportArgs().load({k: v for k, v in request.args.items() if v and k in ("region", "date")})
        report = daily.for_user(session, user, args, settings())
    except (ValidationError, DomainError) as exc:
        errors = form_errors(exc)
        report = daily.for_user(session, user, {}, settings())
    return render_template("incidents/daily.html", report=report, regions=_regions(), errors=errors,
                           max_day=daily.yesterday() + dt.timedelta(days=1)), 422 if errors else 200


@bp.route("/daily-report.pdf")
@allow(Capability.READ_EMERGENCY_READINESS)
def daily_report_pdf():
    from flask import Response

    args = s.DailyReportArgs().load({k: v for k, v in request.args.items() if v and k in ("region", "date")})
    report = daily.for_user(db.session(), current_user(), args, settings())
    return Response(render_daily_report(report, settings()), mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=\"daily-safety-{report.region_code}-{report.day}.pdf\""})
