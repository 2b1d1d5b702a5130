"""The review queue page: one flagged image at a time, heat-map overlay, keyboard shortcuts."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from greenshield import db
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user, scope_outlets
from greenshield.context import settings
from greenshield.errors import DomainError, form_errors
from greenshield.xray import services
from greenshield.xray.api import event_in_scope
from models import Outlet, ProhibitedCategory, ReviewStatus, XrayEvent

bp = Blueprint("xray_pages", __name__, url_prefix="/xray")


def _queue():
    return scope_outlets(select(XrayEvent).join(Outlet, XrayEvent.outlet_id == Outlet.id), current_user()).where(
        XrayEvent.flagged.is_(True), XrayEvent.status == ReviewStatus.PENDING)


@bp.route("/review")
@allow(Capability.REVIEW_XRAY)
def queue():
    """The oldest pending flagged event in scope, or a note that the queue is empty."""
    session = db.session()
    event = session.scalar(_queue().order_by(XrayEvent.scanned_at, XrayEvent.id).limit(1))
    return _review_page(event)


def _review_page(event: XrayEvent | None, errors: dict | None = None, values: dict | None = None):
    """The review page of ``event``; a refused decision comes back with its message beside its field."""
    session = db.session()
    waiting = session.scalar(select(func.count()).select_from(_queue().subquery()))
    categories = session.scalars(select(ProhibitedCategory).order_by(ProhibitedCategory.code)).all()
    return render_template("xray/review.html", event=event, waiting=waiting, categories=categories,
                           stats=services.reviewer_stats(session, current_user(), settings().xray_review_sla_hours), errors=errors or {},
                           values=values or {}), 422 if errors else 200


@bp.route("/review/<int:event_id>", methods=["POST"])
@allow(Capability.REVIEW_XRAY)
def decide(event_id):
    event = event_in_scope(event_id)
    if event.status is not ReviewStatus.PENDING:
        abort(409)
    category = request.form.get("category", type=int)
    try:
        row = services.review(db.session(), event, current_user(), decision=request.form.get("decision", ""),
                              category=category, note=request.form.get("note") or None)
    except DomainError as exc:
        if exc.code == "validation_error.seizure_category":
            exc.field = exc.field or "category"
        return _review_page(event, form_errors(exc), request.form)
    if row.decision not in ("cleared", "seized", "referred"):
        abort(422)
    if row.tip_outcome == "hit":
        flash(_("That was a projected test threat (TIP): well spotted."))
    elif row.tip_outcome == "miss":
        flash(_("That was a projected test threat (TIP) and it was missed."), "warning")
    elif row.tip_outcome == "false_alarm":
        flash(_("That was a clean test image (TIP): a false alarm."), "warning")
    else:
        flash(_("Decision saved."))
    return redirect(url_for(".queue"))
