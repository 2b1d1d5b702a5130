"""Audit pages: draw a plan (seed shown), my audits by day, the audit form (tablet-sized), rectification
orders for outlet managers, what is due for publication, and the public list of published results."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from audits import plans, workflow
from audits.checklist import CHECKLIST
from greenshield import db
from greenshield.audits import schemas as s
from greenshield.audits.services import (audit_for, flagged_xray_counts, plan_settings, region_for, store_photo,
                                         today)
from greenshield.auth.permissions import Capability, Scope, can, scope_of
from greenshield.auth.policy import allow, current_user, outlet_in_scope, public, scope_outlets
from greenshield.context import settings, storage
from greenshield.errors import DomainError, form_errors
from models import (Audit, AuditPhoto, AuditPlan, AuditResult, AuditStatus, OrderStatus, Outlet, RectificationOrder,
                    Region)

bp = Blueprint("audit_pages", __name__)


@bp.route("/audits")
@allow(Capability.WORK_AUDITS)
def index():
    """Audits by due date: an inspector's own, or everyone's for admins (``?all=1`` for inspectors)."""
    user = current_user()
    stmt = scope_outlets(select(Audit).join(Outlet, Audit.outlet_id == Outlet.id), user)
    if not can(user, Capability.WORK_ANY_AUDIT) and request.args.get("all") != "1":
        stmt = stmt.where(Audit.inspectors.any(id=user.id))
    audits = db.session().scalars(stmt.order_by(Audit.due_date, Audit.id).limit(500)).all()
    by_day: dict[dt.date, list[Audit]] = {}
    for audit in audits:
        by_day.setdefault(audit.due_date, []).append(audit)
    return render_template("audits/index.html", by_day=by_day, today=today())


@bp.route("/audits/plan", methods=["GET", "POST"])
@allow(Capability.PLAN_AUDITS)
def plan_new():
    """Draw a plan: region, number of outlets, inspectors per audit, due date, optional seed."""
    values, errors = {"inspectors_per_audit": "2", "due_date": (today() + dt.timedelta(days=14)).isoformat()}, {}
    if request.method == "POST":
        values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token" and v.strip()}
        try:
            data = s.PlanIn().load(values)
            region_for(db.session(), current_user(), data["region_code"])
            plan, _created = plans.create_plan(
                db.session(), region_code=data["region_code"], outlets=data["outlets"],
                per_audit=data["inspectors_per_audit"], due_date=data["due_date"], seed=data["seed"],
                created_by=current_user(), as_of=today(), flagged_xray=flagged_xray_counts(db.session(), today()),
                **plan_settings(settings()))
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            return redirect(url_for(".plan", plan_id=plan.id))
    regions = [r for r in db.session().scalars(select(Region).order_by(Region.code))
               if scope_of(current_user()) is Scope.EVERYTHING
               or r.code.startswith((current_user().region_code or "")[:2])]
    return render_template("audits/plan_new.html", values=values, errors=errors, regions=regions), \
        422 if errors else 200


@bp.route("/audits/plans/<int:plan_id>")
@allow(Capability.VERIFY_AUDIT_PLANS)
def plan(plan_id):
    """A plan with its seed, the risk weights it drew from, and whether re-running it gives the same audits."""
    plan = db.session().get(AuditPlan, plan_id)
    if plan is None:
        abort(404)
    region_for(db.session(), current_user(), plan.region_code)
    reproducible, differences = plans.verify_plan(db.session(), plan.id)
    candidates = sorted(plan.inputs["draw"]["candidates"], key=lambda c: -c["weight"])
    return render_template("audits/plan.html", plan=plan, candidates=candidates, risk=plan.inputs.get("risk", {}),
                           reproducible=reproducible, differences=differences)


@bp.route("/audits/<int:audit_id>", methods=["GET", "POST"])
@allow(Capability.READ_AUDITS)
def audit(audit_id):
    """The audit form: one card per checklist item (verdict, finding, photo), then the result."""
    audit = audit_for(db.session(), current_user(), audit_id)
    errors = {}
    if request.method == "POST":
        audit = audit_for(db.session(), current_user(), audit_id, write=True)
        try:
            _save_form(audit)
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            flash(_("Saved."))
            return redirect(url_for(".audit", audit_id=audit.id))
    can_edit = can(current_user(), Capability.WORK_ANY_AUDIT) or current_user() in audit.inspectors
    return render_template("audits/audit.html", audit=audit, checklist=CHECKLIST, errors=errors, can_edit=can_edit,
                           publication=workflow.publication_status(audit, today()), today=today()), \
        422 if errors else 200


def _save_form(audit: Audit) -> None:
    session, form = db.session(), request.form
    action = form.get("action", "save")
    if action == "publish":
        workflow.publish(session, audit)
        return
    if audit.status is not AuditStatus.CLOSED:
        for item in CHECKLIST:
            verdict = form.get(f"{item.code}-compliant")
            finding = form.get(f"{item.code}-finding", "").strip() or None
            photo = request.files.get(f"{item.code}-photo")
            if verdict is None and finding is None and not (photo and photo.filename):
                continue
            compliant = None if verdict in (None, "") else verdict == "1"
            entry = workflow.record_item(session, audit, item.code, compliant=compliant, finding=finding)
            if photo and photo.filename:
                sha, content_type = store_photo(storage(), photo.stream)
                entry.photos.append(AuditPhoto(sha256=sha, content_type=content_type, filename=photo.filename[:255]))
    if action == "close":
        data = s.CloseIn().load({k: form[k] for k in ("result", "summary", "deadline", "requirements")
                                 if form.get(k, "").strip()})
        workflow.close_audit(session, audit, result=data["result"], summary=data["summary"], today=today(),
                             deadline=data["deadline"], requirements=data["requirements"])


@bp.route("/orders", methods=["GET", "POST"])
@allow(Capability.READ_AUDITS)
def orders():
    """Rectification orders in scope; outlet managers answer theirs here."""
    session, user = db.session(), current_user()
    errors = {}
    if request.method == "POST":
        order = session.get(RectificationOrder, request.form.get("order_id", type=int) or 0)
        if not can(user, Capability.ANSWER_RECTIFICATION) or order is None or not outlet_in_scope(user, order.outlet):
            abort(404)
        try:
            data = s.ResponseIn().load({"response": request.form.get("response", "").strip()})
            workflow.respond(session, order, data["response"])
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            flash(_("Saved."))
            return redirect(url_for(".orders"))
    rows = session.scalars(scope_outlets(select(RectificationOrder).join(
        Outlet, RectificationOrder.outlet_id == Outlet.id), user).order_by(RectificationOrder.deadline)).all()
    return render_template("audits/orders.html", orders=rows, errors=errors, today=today(),
                           OrderStatus=OrderStatus), 422 if errors else 200


@bp.route("/publication")
@allow(Capability.PUBLISH_AUDITS)
def publication():
    """Closed audits whose results are due or overdue for publication, and those published."""
    audits = db.session().scalars(scope_outlets(select(Audit).join(Outlet, Audit.outlet_id == Outlet.id),
                                                current_user()).where(Audit.status == AuditStatus.CLOSED)
                                  .order_by(Audit.publish_by)).all()
    groups = {"overdue": [], "due": [], "published": []}
    for a in audits:
        groups[workflow.publication_status(a, today())].append(a)
    return render_template("audits/publication.html", groups=groups, today=today())


@bp.route("/public/audits")
@public
def public_results():
    """Published audit results (公开): outlet, date, result, unmet items. No personal data."""
    audits = db.session().scalars(select(Audit).where(Audit.published_at.is_not(None))
                                  .order_by(Audit.closed_on.desc()).limit(500)).all()
    names = {item.code: item for item in CHECKLIST}
    return render_template("audits/public.html", audits=audits, names=names, AuditResult=AuditResult)
