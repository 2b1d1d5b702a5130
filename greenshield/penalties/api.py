"""Penalty routes: cases (立案, notice, hearing, decision, publication), the provisions table, the documents."""
from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint
from sqlalchemy import select

from audits import penalties
from greenshield import db
from greenshield.audits.services import order_for, today
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user, scope_outlets
from greenshield.context import settings
from greenshield.errors import Conflict
from greenshield.fields import BINARY
from greenshield.penalties import schemas as s, services
from greenshield.penalties.documents import render_decision, render_notice
from models import LegalProvision, Outlet, PenaltyCase, PenaltyStatus

blp = Blueprint("penalties", __name__, url_prefix="/api/v1", description="Penalty cases (行政处罚) and documents")


def pdf(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=\"{filename}\"; filename*=UTF-8''{filename}"})


@blp.route("/penalty-cases", methods=["GET"])
@blp.arguments(s.PenaltyCaseListArgs, location="query")
@blp.response(200, s.PenaltyCaseOut(many=True))
@allow(Capability.READ_PENALTIES)
def list_cases(args):
    """Penalty cases of the outlets in scope, newest first."""
    stmt = scope_outlets(select(PenaltyCase).join(Outlet, PenaltyCase.outlet_id == Outlet.id), current_user())
    if args.get("status"):
        stmt = stmt.where(PenaltyCase.status == PenaltyStatus(args["status"]))
    if args.get("outlet"):
        stmt = stmt.where(Outlet.code == args["outlet"].upper())
    return db.session().scalars(stmt.order_by(PenaltyCase.id.desc()).limit(1000)).all()


@blp.route("/penalty-cases", methods=["POST"])
@blp.arguments(s.PenaltyCaseIn)
@blp.response(201, s.PenaltyCaseOut)
@allow(Capability.MANAGE_PENALTIES)
def create_case(data):
    """立案: from an escalated rectification order (``order_id``) or a closed audit with a serious finding
    (``audit_id``), with the facts and the provision it rests on."""
    return services.register(db.session(), current_user(), data, today=today(),
                             document_prefix=settings().document_prefix)


@blp.route("/penalty-cases/<int:case_id>", methods=["GET"])
@blp.response(200, s.PenaltyCaseOut)
@allow(Capability.READ_PENALTIES)
def get_case(case_id):
    return services.case_for(db.session(), current_user(), case_id)


@blp.route("/penalty-cases/<int:case_id>/notice", methods=["POST"])
@blp.arguments(s.PenaltyNoticeIn)
@blp.response(200, s.PenaltyCaseOut)
@allow(Capability.MANAGE_PENALTIES)
def serve_notice(data, case_id):
    """The prior notice (行政处罚事先告知书) served: the party may ask for a hearing within 5 working days."""
    case = services.case_for(db.session(), current_user(), case_id)
    return penalties.serve_notice(db.session(), case, served_on=data["served_on"], today=today(),
                                  hearing_requested=data["hearing_requested"], rights_waived=data["rights_waived"])


@blp.route("/penalty-cases/<int:case_id>/hearing", methods=["POST"])
@blp.arguments(s.PenaltyHearingIn)
@blp.response(200, s.PenaltyCaseOut)
@allow(Capability.MANAGE_PENALTIES)
def record_hearing(data, case_id):
    case = services.case_for(db.session(), current_user(), case_id)
    return penalties.record_hearing(db.session(), case, held_on=data["held_on"], note=data["note"], today=today())


@blp.route("/penalty-cases/<int:case_id>/decision", methods=["POST"])
@blp.arguments(s.PenaltyDecisionIn)
@blp.response(200, s.PenaltyCaseOut)
@allow(Capability.MANAGE_PENALTIES)
def decide(data, case_id):
    """The decision: ``warning``, ``fine`` (元, within the provision's range) or ``other`` (in words)."""
    case = services.case_for(db.session(), current_user(), case_id)
    return penalties.decide(db.session(), case, decision=data["decision"], decided_on=data["decided_on"],
                            today=today(), decided_by=current_user(), fine_amount=data["fine_amount"],
                            text=data["text"], document_prefix=settings().document_prefix)


@blp.route("/penalty-cases/<int:case_id>/publish", methods=["POST"])
@blp.response(200, s.PenaltyCaseOut)
@allow(Capability.MANAGE_PENALTIES)
def publish(case_id):
    """Publish (公示) the decision on the public list (no personal data)."""
    return penalties.publish(db.session(), services.case_for(db.session(), current_user(), case_id))


@blp.route("/penalty-cases/<int:case_id>/decision.pdf", methods=["GET"])
@blp.response(200, BINARY, description="行政处罚决定书 (A4 PDF)", content_type="application/pdf")
@allow(Capability.READ_PENALTIES)
def decision_pdf(case_id):
    case = services.case_for(db.session(), current_user(), case_id)
    if case.decided_on is None:
        raise Conflict("conflict.case_status", status=case.status.value)
    return pdf(render_decision(case, settings()), f"decision-{case.id}.pdf")


@blp.route("/rectification-orders/<int:order_id>/notice.pdf", methods=["GET"])
@blp.response(200, BINARY, description="责令限期改正通知书 (A4 PDF)", content_type="application/pdf")
@allow(Capability.READ_AUDITS)
def notice_pdf(order_id):
    order = order_for(db.session(), current_user(), order_id)
    return pdf(render_notice(order, settings()), f"notice-{order.id}.pdf")


@blp.route("/legal-provisions", methods=["GET"])
@blp.response(200, s.ProvisionOut(many=True))
@allow(Capability.READ_PENALTIES)
def list_provisions():
    return db.session().scalars(select(LegalProvision).order_by(LegalProvision.code)).all()


@blp.route("/legal-provisions", methods=["POST"])
@blp.arguments(s.ProvisionIn)
@blp.response(201, s.ProvisionOut)
@allow(Capability.MANAGE_PROVISIONS)
def create_provision(data):
    """A provision penalties may rest on, with its fine range in 元 (none: no fine under it)."""
    return services.create_provision(db.session(), data)


@blp.route("/legal-provisions/<int:provision_id>", methods=["PATCH"])
@blp.arguments(s.ProvisionPatch)
@blp.response(200, s.ProvisionOut)
@allow(Capability.MANAGE_PROVISIONS)
def update_provision(data, provision_id):
    """Correct a provision, or retire it (``active: false``): cases registered on it keep it."""
    return services.update_provision(db.session(), provision_id, data)
