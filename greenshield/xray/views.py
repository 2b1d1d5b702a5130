"""X-ray pages: the review queue (one flagged image at a time, heat-map overlay, keyboard shortcuts), a machine's
operating point and flag rate, the models and each model's quality."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select

from greenshield import db
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user, outlet_in_scope, scope_outlets
from greenshield.context import settings
from greenshield.errors import DomainError, NotFound, form_errors
from greenshield.xray import services
from greenshield.xray.api import clue_in_scope, event_in_scope, scoped_clues
from greenshield.xray.charts import flag_rate_svg, roc_svg
from models import (Outlet, ProhibitedCategory, Region, ReviewStatus, XrayCalibration, XrayEvent, XrayMachine,
                    XrayModelVersion)

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


@bp.route("/machines/<code>")
@allow(Capability.READ_COMPLIANCE)
def machine(code):
    """A machine's operating point (model, calibrated threshold, scans used, budget) and its daily flag rate."""
    session = db.session()
    row = session.scalar(select(XrayMachine).where(XrayMachine.code == code.upper()))
    if row is None or not outlet_in_scope(current_user(), row.outlet):
        raise NotFound("not_found.machine", code=code)
    calibration = services.calibration_of(session, settings(), row)
    days = services.flag_rates(session, row, days=30)
    budget = calibration["false_flag_budget"] or settings().xray_false_flag_budget
    chart = Markup(flag_rate_svg(days, budget, {"title": _("Flag rate per day"), "budget": _("False-flag budget")})) \
        if days else None
    history = session.scalars(select(XrayCalibration).where(XrayCalibration.machine_id == row.id)
                              .order_by(XrayCalibration.calibrated_at.desc(), XrayCalibration.id.desc()).limit(10)).all()
    scans = sum(d["scans"] for d in days)
    flagged = sum(d["flagged"] for d in days)
    return render_template("xray/machine.html", machine=row, calibration=calibration, days=days, chart=chart,
                           history=history, scans=scans, flagged=flagged,
                           min_scans=settings().xray_calibration_min_scans)


@bp.route("/models")
@allow(Capability.REVIEW_XRAY)
def models():
    """The model versions: which is active, which machines use each, threshold, budget, recall at the threshold."""
    session = db.session()
    rows = session.scalars(select(XrayModelVersion).order_by(XrayModelVersion.created_at.desc())).all()
    if not rows:
        rows = [services.ensure_default_model(session, settings())]
    return render_template("xray/models.html", rows=rows, usage=services.model_usage(session))


@bp.route("/models/<version>")
@allow(Capability.REVIEW_XRAY)
def model(version):
    """One model version: ROC with its operating point, budget, recall at the threshold, per-machine flag rates and
    how it does on test images (TIP)."""
    session = db.session()
    row = session.scalar(select(XrayModelVersion).where(XrayModelVersion.version == version))
    if row is None:
        raise NotFound("not_found.model_version", version=version)
    validation = (row.metrics or {}).get("validation") or {}
    labels = {"title": _("ROC curve on held-back scans"), "budget": _("False-flag budget"),
              "operating": _("Operating point"), "fpr": _("Share of clean scans flagged"),
              "tpr": _("Share of projected threats flagged")}
    chart = None
    if validation.get("roc"):
        operating = (validation.get("false_flag_rate", 0.0), validation.get("recall", 0.0))
        chart = Markup(roc_svg(validation["roc"], labels, operating=operating, budget=row.false_flag_budget))
    quality = services.model_quality(session, row, current_user())
    return render_template("xray/model.html", row=row, validation=validation, chart=chart, quality=quality,
                           machines=services.model_usage(session).get(row.version, []))
# --- clues and seizure statistics -------------------------------------------------------------------------------

@bp.route("/clues")
@allow(Capability.FOLLOW_CLUES)
def clues():
    """Clues in scope with their state; open ones can be handed over, any but closed ones closed."""
    status = request.args.get("status") or None
    if status not in (None, "open", "handed_over", "closed"):
        status = None
    rows = db.session().scalars(scoped_clues({"status": status}).limit(500)).all()
    return _clues_page(rows, status)


def _clues_page(rows, status, errors: dict | None = None, failed: int | None = None, values: dict | None = None):
    session = db.session()
    categories = {c.code: c for c in session.scalars(select(ProhibitedCategory))}
    return render_template("xray/clues.html", clues=rows, status=status, categories=categories, errors=errors or {},
                           failed=failed, values=values or {}), 422 if errors else 200


@bp.route("/clues/<int:clue_id>/<action>", methods=["POST"])
@allow(Capability.FOLLOW_CLUES)
def clue_action(clue_id, action):
    from greenshield.xray import clues as clue_services

    clue = clue_in_scope(clue_id)
    try:
        if action == "hand-over":
            clue_services.hand_over(db.session(), clue, current_user(), agency=request.form.get("agency", ""),
                                    agency_case_no=request.form.get("agency_case_no", ""))
            flash(_("Clue handed over."))
        elif action == "close":
            clue_services.close(db.session(), clue, current_user(), outcome=request.form.get("outcome", ""))
            flash(_("Clue closed."))
        else:
            abort(404)
    except DomainError as exc:
        rows = db.session().scalars(scoped_clues({}).limit(500)).all()
        return _clues_page(rows, None, form_errors(exc), clue_id, request.form)
    return redirect(url_for(".clues"))


@bp.route("/seizures")
@allow(Capability.FOLLOW_CLUES)
def seizures():
    """Seizures over a period by category (table and bar chart), league/city, enterprise and month."""
    import datetime as dt

    from greenshield.compliance.queries import scoped_outlets
    from greenshield.xray.clues import seizure_stats
    from models.base import china_today

    def day(name: str, default: dt.date) -> dt.date:
        try:
            return dt.date.fromisoformat(request.args.get(name, ""))
        except ValueError:
            return default

    end = day("to", china_today())
    start = day("from", end.replace(day=1) - dt.timedelta(days=334))
    start = min(start, end)
    region = request.args.get("region") or None
    scoped = scoped_outlets(current_user(), region=region if region and region.isdigit() else None, enterprise=None)
    stats = seizure_stats(db.session(), scoped, start, end)
    peak = max([c["count"] for c in stats["by_category"]] + [1])
    regions = db.session().scalars(select(Region).order_by(Region.code)).all()
    return render_template("xray/seizures.html", stats=stats, peak=peak, start=start, end=end, region=region,
                           regions=regions)
