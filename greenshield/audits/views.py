"""Audit pages: draw a plan (seed shown), my audits by day, the audit form (tablet-sized) with joint members,
absences, rectification orders and their history for both sides, what is due for publication, the public list of
published results, the admins' checklist and holiday-calendar pages, and enterprise credit."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from audits import calendar as cal, checklist, plans, workflow
from audits.credit import enterprise_credits
from greenshield import db
from greenshield.audits import schemas as s
from greenshield.audits.services import (absence_for, audit_for, calendar_year, flagged_xray_counts, order_for,
                                         plan_settings, record_absence, region_for, save_calendar_year, store_photo,
                                         today, update_checklist_item)
from greenshield.auth.permissions import SCOPES, Capability, Scope, can, scope_of
from greenshield.auth.policy import allow, current_user, public, scope_outlets
from greenshield.context import settings, storage
from greenshield.errors import DomainError, Invalid, NotFound, form_errors
from models import (Audit, AuditKind, AuditMember, AuditPhoto, AuditPlan, AuditResult, AuditStatus, CalendarYear,
                    ChecklistItem,
                    Enterprise, InspectorAbsence, OrderStatus, Outlet, PenaltyCase, RectificationOrder, Region, User)

bp = Blueprint("audit_pages", __name__)


@bp.route("/audits")
@allow(Capability.WORK_AUDITS)
def index():
    """Audits by due date: an inspector's own, or everyone's for admins (``?all=1`` for inspectors)."""
    user = current_user()
    stmt = scope_outlets(select(Audit).join(Outlet, Audit.outlet_id == Outlet.id), user)
    if not can(user, Capability.WORK_ANY_AUDIT) and request.args.get("all") != "1":
        stmt = stmt.where(Audit.inspectors.any(id=user.id))
    audits = db.session().scalars(stmt.order_by(Audit.scheduled_on, Audit.due_date, Audit.id).limit(500)).all()
    by_day: dict[dt.date, list[Audit]] = {}
    for audit in sorted(audits, key=lambda a: (a.day, a.id)):
        by_day.setdefault(audit.day, []).append(audit)
    return render_template("audits/index.html", by_day=by_day, today=today())


@bp.route("/audits/plan", methods=["GET", "POST"])
@allow(Capability.PLAN_AUDITS)
def plan_new():
    """Draw a plan: region, number of outlets, inspectors per audit, the period (start and due date), the kind
    (routine or safety-production), optional seed."""
    values, errors = {"inspectors_per_audit": "2", "due_date": (today() + dt.timedelta(days=14)).isoformat()}, {}
    if request.method == "POST":
        values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token" and v.strip()}
        try:
            data = s.PlanIn().load(values)
            region_for(db.session(), current_user(), data["region_code"])
            plan, _created = plans.create_plan(
                db.session(), region_code=data["region_code"], outlets=data["outlets"],
                per_audit=data["inspectors_per_audit"], start_date=data["start_date"], due_date=data["due_date"],
                seed=data["seed"], kind=AuditKind(data["kind"]), created_by=current_user(), as_of=today(),
                flagged_xray=flagged_xray_counts(db.session(), today()), **plan_settings(settings()))
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            return redirect(url_for(".plan", plan_id=plan.id))
    regions = [r for r in db.session().scalars(select(Region).order_by(Region.code))
               if scope_of(current_user()) is Scope.EVERYTHING
               or r.code.startswith((current_user().region_code or "")[:2])]
    return render_template("audits/plan_new.html", values=values, errors=errors, regions=regions,
                           capacity=settings().audit_daily_capacity), 422 if errors else 200


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
    settles = workflow.order_of_follow_up(db.session(), audit) if audit.kind is AuditKind.FOLLOW_UP else None
    from audits import emergency

    evidence = (emergency.evidence(db.session(), audit.outlet.enterprise_id, today())
                if any(e.item in emergency.EVIDENCE_ITEMS for e in audit.items) else None)
    return render_template("audits/audit.html", audit=audit, errors=errors, can_edit=can_edit, settles=settles,
                           publication=workflow.publication_status(audit, today()), today=today(),
                           evidence=evidence, evidence_items=emergency.EVIDENCE_ITEMS), \
        422 if errors else 200


def _save_form(audit: Audit) -> None:
    session, form = db.session(), request.form
    action = form.get("action", "save")
    if action == "publish":
        workflow.publish(session, audit)
        return
    if action == "add_member":
        data = s.MemberIn().load({k: form.get(k, "").strip() for k in ("name", "agency", "title")
                                  if form.get(k, "").strip()})
        workflow.add_member(session, audit, **data)
        return
    if action.startswith("remove_member:"):
        member = session.get(AuditMember, int(action.partition(":")[2] or 0))
        if member is not None and member.audit_id == audit.id and audit.status is not AuditStatus.CLOSED:
            audit.members.remove(member)
        return
    if audit.status is not AuditStatus.CLOSED:
        for item in list(audit.items):
            verdict = form.get(f"{item.item}-compliant")
            finding = form.get(f"{item.item}-finding", "").strip() or None
            photo = request.files.get(f"{item.item}-photo")
            if verdict is None and finding is None and not (photo and photo.filename):
                continue
            compliant = None if verdict in (None, "") else verdict == "1"
            entry = workflow.record_item(session, audit, item.item, compliant=compliant, finding=finding)
            if photo and photo.filename:
                try:
                    sha, content_type = store_photo(storage(), photo.stream)
                except DomainError as exc:
                    exc.field = f"{item.code}-photo"  # shown beside this item's photo input
                    raise
                entry.photos.append(AuditPhoto(sha256=sha, content_type=content_type, filename=photo.filename[:255]))
    if action == "close":
        data = s.CloseIn().load({k: form[k] for k in ("result", "summary", "deadline", "requirements")
                                 if form.get(k, "").strip()})
        workflow.close_audit(session, audit, result=data["result"], summary=data["summary"], today=today(),
                             deadline=data["deadline"], requirements=data["requirements"], actor=current_user(),
                             document_prefix=settings().document_prefix)


@bp.route("/orders")
@allow(Capability.READ_AUDITS)
def orders():
    """Rectification orders in scope, those waiting for someone first; ``?status=`` filters."""
    session, user = db.session(), current_user()
    stmt = scope_outlets(select(RectificationOrder).join(Outlet, RectificationOrder.outlet_id == Outlet.id), user)
    status = request.args.get("status")
    if status in {o.value for o in OrderStatus}:
        stmt = stmt.where(RectificationOrder.status == OrderStatus(status))
    rank = {OrderStatus.ANSWERED: 0, OrderStatus.OPEN: 1, OrderStatus.REINSPECTING: 2, OrderStatus.ESCALATED: 3,
            OrderStatus.CLOSED: 4}
    rows = sorted(session.scalars(stmt.limit(1000)).all(), key=lambda o: (rank[o.status], o.deadline, o.id))
    return render_template("audits/orders.html", orders=rows, today=today(), status=status)


@bp.route("/orders/<int:order_id>", methods=["GET", "POST"])
@allow(Capability.READ_AUDITS)
def order(order_id):
    """One order: the requirements, the dated history, the manager's answer with photos, the inspector's
    acceptance, rejection (reason, new deadline) or re-inspection, and the notice to print."""
    session, user = db.session(), current_user()
    order = order_for(session, user, order_id)
    errors, values = {}, {}
    if request.method == "POST":
        action = request.form.get("action", "")
        values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
        try:
            _order_action(order, action)
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            flash(_("Saved."))
            return redirect(url_for(".order", order_id=order.id))
    may_answer = can(user, Capability.ANSWER_RECTIFICATION) and order.status in workflow.OPEN_ORDERS
    try:
        order_for(session, user, order_id, decide=True)
        may_decide = can(user, Capability.DECIDE_RECTIFICATION)
    except DomainError:
        may_decide = False
    case = session.scalar(select(PenaltyCase).where(PenaltyCase.order_id == order.id))
    return render_template("audits/order.html", order=order, errors=errors, values=values, today=today(),
                           may_answer=may_answer, may_decide=may_decide, case=case), 422 if errors else 200


def _order_action(order: RectificationOrder, action: str) -> None:
    session, user, form = db.session(), current_user(), request.form
    if action == "respond":
        if not can(user, Capability.ANSWER_RECTIFICATION):
            abort(403)
        data = s.ResponseIn().load({"response": form.get("response", "").strip()})
        photos = []
        for photo in request.files.getlist("photos"):
            if photo and photo.filename:
                sha, content_type = store_photo(storage(), photo.stream)
                photos.append((sha, content_type, photo.filename))
        workflow.respond(session, order, data["response"], today=today(), actor=user, photos=photos)
        return
    order = order_for(session, user, order.id, decide=True)
    if action == "accept":
        data = s.AcceptIn().load({"note": form.get("note", "").strip() or None})
        workflow.accept(session, order, today=today(), actor=user, note=data["note"])
    elif action == "reject":
        data = s.RejectIn().load({k: form.get(k, "").strip() for k in ("reason", "deadline") if form.get(k, "").strip()})
        workflow.reject(session, order, reason=data["reason"], deadline=data["deadline"], today=today(), actor=user)
    elif action == "reinspect":
        data = s.ReinspectIn().load({"scheduled_on": form.get("scheduled_on", "").strip() or None})
        workflow.schedule_follow_up(session, order, on=data["scheduled_on"] or today(), today=today(), actor=user)
    else:
        abort(400)


@bp.route("/absences", methods=["GET", "POST"])
@allow(Capability.RECORD_ABSENCES)
def absences():
    """Days of leave, training or other duties: draws schedule nobody on them."""
    session, user = db.session(), current_user()
    errors, values = {}, {}
    if request.method == "POST":
        values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token" and v.strip()}
        try:
            if values.get("delete"):
                session.delete(absence_for(session, user, int(values["delete"])))
                session.flush()
            else:
                record_absence(session, user, s.AbsenceIn().load({k: v for k, v in values.items()
                                                                   if k in ("username", "start_date", "end_date",
                                                                            "reason", "note")}))
        except (ValidationError, DomainError, ValueError) as exc:
            errors = form_errors(exc) if not isinstance(exc, ValueError) else {"_": [str(exc)]}
        else:
            flash(_("Saved."))
            return redirect(url_for(".absences"))
    stmt = select(InspectorAbsence).where(InspectorAbsence.end_date >= today() - dt.timedelta(days=30))
    anyone = can(user, Capability.RECORD_ANY_ABSENCE)
    if not anyone:
        stmt = stmt.where(InspectorAbsence.user_id == user.id)
    rows = session.scalars(stmt.order_by(InspectorAbsence.start_date, InspectorAbsence.id)).all()
    regional = [role for role, scope in SCOPES.items() if scope is Scope.REGION]  # whom draws assign
    inspectors = session.scalars(select(User).where(User.role.in_(regional), User.active.is_(True))
                                 .order_by(User.username)).all() if anyone else []
    return render_template("audits/absences.html", absences=rows, errors=errors, values=values, anyone=anyone,
                           inspectors=inspectors), 422 if errors else 200


@bp.route("/admin/checklists", methods=["GET", "POST"])
@allow(Capability.MANAGE_CHECKLISTS)
def checklists():
    """Each audit kind's checklist: add items, reword, retire; audits under way keep what they started with."""
    session = db.session()
    errors, values = {}, {}
    if request.method == "POST":
        values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
        try:
            if values.get("item_id"):
                update_checklist_item(session, int(values["item_id"]), s.ChecklistItemPatch().load(
                    {"active": values.get("active") == "1"}))
            else:
                data = s.ChecklistItemIn().load({k: values[k] for k in ("kind", "code", "name_zh", "name_en")
                                                 if values.get(k)} | {"serious": values.get("serious") == "1"})
                checklist.add_item(session, kind=AuditKind(data["kind"]), code=data["code"], name_zh=data["name_zh"],
                                   name_en=data["name_en"], serious=data["serious"])
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            flash(_("Saved."))
            return redirect(url_for(".checklists"))
    items = session.scalars(select(ChecklistItem).order_by(ChecklistItem.kind, ChecklistItem.position,
                                                           ChecklistItem.id)).all()
    by_kind = {kind.value: [i for i in items if i.kind is kind] for kind in AuditKind}
    return render_template("audits/checklists.html", by_kind=by_kind, errors=errors, values=values), \
        422 if errors else 200


@bp.route("/admin/calendar", methods=["GET", "POST"])
@allow(Capability.MANAGE_CALENDAR)
def calendar():
    """The holiday calendar: which years are loaded, and a year's holidays and make-up working days to enter as
    the State Council published them (one day a line: ``2027-01-01 休 元旦`` or ``2027-02-07 班 春节调休``)."""
    session = db.session()
    year = request.values.get("year", type=int) or today().year + 1
    errors, text = {}, None
    if request.method == "POST":
        text = request.form.get("days", "")
        try:
            days = _parse_days(text)
            save_calendar_year(session, current_user(), year, days)
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            flash(_("Saved."))
            return redirect(url_for(".calendar", year=year))
    shown = calendar_year(session, year)
    if text is None:
        text = "\n".join(f"{d.day.isoformat()} {'班' if d.working else '休'} {d.name}" for d in shown["days"])
    years = session.scalars(select(CalendarYear).order_by(CalendarYear.year.desc())).all()
    return render_template("audits/calendar.html", year=year, shown=shown, text=text, errors=errors, years=years,
                           library=cal.library_years(), today=today()), 422 if errors else 200


def _parse_days(text: str) -> list[dict]:
    """``2027-01-01 休 元旦`` lines (休/holiday or 班/working) as calendar days; Invalid naming a bad line."""
    days = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split(None, 2)
        if not parts:
            continue
        try:
            day = dt.date.fromisoformat(parts[0])
            kind = parts[1] if len(parts) > 1 else ""
            if kind not in ("休", "班", "holiday", "working"):
                raise ValueError(kind)
        except (ValueError, IndexError):
            raise Invalid("validation_error.calendar_line", field="days", line=number, text=line[:40]) from None
        days.append({"date": day, "working": kind in ("班", "working"), "name": parts[2] if len(parts) > 2 else ""})
    return days


@bp.route("/enterprises/<code>")
@allow(Capability.READ_CREDIT)
def enterprise(code):
    """An enterprise's credit (信用) level over the last 12 months, and its outlets' in scope."""
    session = db.read_session()
    found = session.scalar(select(Enterprise).where(Enterprise.code == code.upper()))
    if found is None:
        raise NotFound("not_found.enterprise", code=code)
    credit, outlet_credits = enterprise_credits(session, [found.id], today(), settings().thresholds)[found.id]
    outlets = session.scalars(scope_outlets(select(Outlet), current_user()).where(
        Outlet.id.in_(list(outlet_credits))).order_by(Outlet.code)).all()
    return render_template("audits/enterprise.html", enterprise=found, credit=credit,
                           outlets=[(o, outlet_credits[o.id]) for o in outlets])


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
    return render_template("audits/public.html", audits=audits, AuditResult=AuditResult)
