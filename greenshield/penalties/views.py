"""Penalty pages: the cases in scope, 立案 from an escalated order or a serious finding, a case with its notice,
hearing, decision and publication and both documents; the public list; the admins' table of provisions."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from audits import penalties
from greenshield import db
from greenshield.audits.services import today
from greenshield.auth.permissions import Capability, can
from greenshield.auth.policy import allow, current_user, outlet_in_scope, public, scope_outlets
from greenshield.context import settings
from greenshield.errors import DomainError, form_errors
from greenshield.penalties import schemas as s, services
from models import Audit, LegalProvision, Outlet, PenaltyCase, PenaltyStatus, RectificationOrder

bp = Blueprint("penalty_pages", __name__)


def _form(*names: str) -> dict:
    return {n: request.form[n].strip() for n in names if request.form.get(n, "").strip()}


@bp.route("/penalties")
@allow(Capability.READ_PENALTIES)
def cases():
    """Penalty cases in scope, newest first."""
    rows = db.session().scalars(scope_outlets(select(PenaltyCase).join(Outlet, PenaltyCase.outlet_id == Outlet.id),
                                              current_user()).order_by(PenaltyCase.id.desc()).limit(500)).all()
    return render_template("penalties/cases.html", cases=rows)


@bp.route("/penalties/new", methods=["GET", "POST"])
@allow(Capability.MANAGE_PENALTIES)
def new_case():
    """立案 from ``?order=ID`` (an escalated order) or ``?audit=ID`` (a serious finding)."""
    session, user = db.session(), current_user()
    order = session.get(RectificationOrder, request.values.get("order", type=int) or 0)
    audit = session.get(Audit, request.values.get("audit", type=int) or 0) if order is None else order.audit
    if audit is None or not outlet_in_scope(user, audit.outlet):
        abort(404)
    failed = [e for e in audit.items if e.compliant is False]
    values = {"facts": "；".join(f"{e.name_zh}：{e.finding or '不符合要求'}" for e in failed)
              + (f"。经责令限期改正（{order.notice_no}），逾期未改正到位。" if order else "。")}
    errors = {}
    if request.method == "POST":
        values = _form("facts", "provision_id")
        try:
            data = s.PenaltyCaseIn().load({**values, "order_id": order.id if order else None,
                                    "audit_id": None if order else audit.id})
            case = services.register(session, user, data, today=today(), document_prefix=settings().document_prefix)
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            flash(_("Case registered."))
            return redirect(url_for(".case", case_id=case.id))
    provisions = session.scalars(select(LegalProvision).where(LegalProvision.active.is_(True))
                                 .order_by(LegalProvision.code)).all()
    return render_template("penalties/new.html", order=order, audit=audit, values=values, errors=errors,
                           provisions=provisions), 422 if errors else 200


@bp.route("/penalties/<int:case_id>", methods=["GET", "POST"])
@allow(Capability.READ_PENALTIES)
def case(case_id):
    """A case: facts and provision, the notice, the hearing, the decision and its publication, the documents."""
    session, user = db.session(), current_user()
    found = services.case_for(session, user, case_id)
    errors, values = {}, {}
    if request.method == "POST":
        if not can(user, Capability.MANAGE_PENALTIES):
            abort(403)
        action = request.form.get("action", "")
        values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
        try:
            _case_action(found, action)
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            flash(_("Saved."))
            return redirect(url_for(".case", case_id=found.id))
    return render_template("penalties/case.html", case=found, errors=errors, values=values, today=today(),
                           may_manage=can(user, Capability.MANAGE_PENALTIES)), 422 if errors else 200


def _case_action(case: PenaltyCase, action: str) -> None:
    session = db.session()
    if action == "notice":
        data = s.PenaltyNoticeIn().load(_form("served_on") | {
            "hearing_requested": request.form.get("hearing") == "requested",
            "rights_waived": request.form.get("hearing") == "waived"})
        penalties.serve_notice(session, case, today=today(), **data)
    elif action == "hearing":
        data = s.PenaltyHearingIn().load(_form("held_on", "note"))
        penalties.record_hearing(session, case, today=today(), **data)
    elif action == "decision":
        data = s.PenaltyDecisionIn().load(_form("decision", "fine_amount", "text", "decided_on"))
        penalties.decide(session, case, decision=data["decision"], decided_on=data["decided_on"], today=today(),
                         decided_by=current_user(), fine_amount=data["fine_amount"], text=data["text"],
                         document_prefix=settings().document_prefix)
    elif action == "publish":
        penalties.publish(session, case)
    else:
        abort(400)


@bp.route("/public/penalties")
@public
def public_penalties():
    """Published penalty decisions (行政处罚信息公示): decision number, enterprise and outlet, provision,
    penalty, date. No personal data and no free-text facts."""
    rows = db.session().scalars(select(PenaltyCase).where(PenaltyCase.status == PenaltyStatus.PUBLISHED)
                                .order_by(PenaltyCase.decided_on.desc(), PenaltyCase.id.desc()).limit(500)).all()
    return render_template("penalties/public.html", cases=rows)


@bp.route("/admin/provisions", methods=["GET", "POST"])
@allow(Capability.MANAGE_PROVISIONS)
def provisions():
    """The legal provisions penalties rest on: law, article, text, fine range (元)."""
    session = db.session()
    errors, values = {}, {}
    if request.method == "POST":
        values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
        try:
            if values.get("provision_id"):
                services.update_provision(session, int(values["provision_id"]), s.ProvisionPatch().load(
                    {"active": values.get("active") == "1"}))
            else:
                data = s.ProvisionIn().load({k: v for k, v in values.items() if v and k in (
                    "code", "law", "article", "violation", "text", "fine_min", "fine_max")}
                    | {"verbatim": values.get("verbatim") == "1"})
                services.create_provision(session, data)
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            flash(_("Saved."))
            return redirect(url_for(".provisions"))
    rows = session.scalars(select(LegalProvision).order_by(LegalProvision.code)).all()
    return render_template("penalties/provisions.html", provisions=rows, errors=errors, values=values), \
        422 if errors else 200
