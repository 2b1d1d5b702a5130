"""Dashboard pages: league table, per-outlet trend, alerts and findings."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select

from audits.credit import outlet_credits
from greenshield import db
from greenshield.auth.permissions import Capability, can
from greenshield.context import settings
from greenshield.auth.policy import allow, current_user, outlet_for, scope_outlets
from greenshield.compliance import queries
from greenshield.compliance.charts import trend_svg
from models.base import china_today
from models import Alert, AlertStatus, Enterprise, Finding, Outlet, OutletDay, Region, UploadBatch

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def _date_arg(name: str, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default


def _latest_day(session, user) -> dt.date:
    stmt = scope_outlets(select(func.max(OutletDay.day)).join(Outlet, OutletDay.outlet_id == Outlet.id), user)
    return session.scalar(stmt) or dt.date.today()


@bp.route("/")
@allow(Capability.READ_COMPLIANCE)
def league():
    """The league table of outlets for a day, worst real-name rate first, with open alerts and findings."""
    session, user = db.read_session(), current_user()
    day = _date_arg("date", _latest_day(session, user))
    region, enterprise = request.args.get("region") or None, request.args.get("enterprise") or None
    scoped = queries.scoped_outlets(user, region=region, enterprise=enterprise)
    threshold = settings().real_name_threshold
    rows = queries.league_table(session, scoped, day, threshold)
    alerts = session.scalars(scope_outlets(select(Alert).join(Outlet, Alert.outlet_id == Outlet.id), user)
                             .where(Alert.status == AlertStatus.OPEN).order_by(Alert.day.desc()).limit(50)).all()
    findings = []
    if can(user, Capability.READ_FINDINGS):
        findings = session.scalars(scope_outlets(select(Finding).join(Outlet, Finding.outlet_id == Outlet.id), user)
                                   .order_by(Finding.day.desc(), Finding.id).limit(50)).all()
    return render_template("dashboard/league.html", rows=rows, day=day, threshold=threshold, alerts=alerts,
                           findings=findings, region=region, enterprise=enterprise,
                           regions=session.scalars(select(Region).order_by(Region.code)).all(),
                           enterprises=session.scalars(select(Enterprise).order_by(Enterprise.code)).all())


@bp.route("/outlets/<code>")
@allow(Capability.READ_COMPLIANCE)
def outlet(code):
    """One outlet's trend of the three rates with the threshold line, its days, alerts, findings, batches."""
    session, user = db.read_session(), current_user()
    outlet = outlet_for(user, code)
    end = _date_arg("to", _latest_day(session, user))
    start = _date_arg("from", end - dt.timedelta(days=29))
    threshold = settings().real_name_threshold
    days = queries.outlet_series(session, outlet, start, end, threshold)
    labels = {"title": _("Rates of %(outlet)s", outlet=outlet.code), "threshold": _("Threshold"),
              "real_name_rate": _("Real-name rate"), "inspection_rate": _("Inspection rate"),
              "xray_rate": _("X-ray rate")}
    chart = Markup(trend_svg(days, threshold, labels)) if days else None
    alerts = session.scalars(select(Alert).where(Alert.outlet_id == outlet.id).order_by(Alert.day.desc())
                             .limit(100)).all()
    findings = []
    if can(user, Capability.READ_FINDINGS):
        findings = session.scalars(select(Finding).where(Finding.outlet_id == outlet.id)
                                   .order_by(Finding.day.desc()).limit(100)).all()
    batches = session.scalars(select(UploadBatch).where(UploadBatch.outlet_id == outlet.id)
                              .order_by(UploadBatch.id.desc()).limit(20)).all()
    credit = outlet_credits(session, [outlet.id], china_today(), settings().thresholds)[outlet.id]
    return render_template("dashboard/outlet.html", outlet=outlet, days=days, chart=chart, start=start, end=end,
                           threshold=threshold, alerts=alerts, findings=findings, batches=batches, credit=credit)
