"""Dashboard pages: league table, per-outlet trend, alerts and findings."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select

from audits.credit import outlet_credits
from greenshield import db
from greenshield.auth.permissions import Capability, can
from greenshield.context import settings
from greenshield.auth.policy import allow, current_user, outlet_for
from greenshield.compliance import queries
from greenshield.compliance.charts import trend_svg
from models import Alert, AlertStatus, Enterprise, Finding, Region, UploadBatch
from models.base import china_today

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def _date_arg(name: str, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default


ALERTS_PER_PAGE = 20


def last_complete_day() -> dt.date:
    """Yesterday in China: the last day whose logs are complete (today's are still coming in)."""
    return china_today() - dt.timedelta(days=1)


@bp.route("/")
@allow(Capability.READ_COMPLIANCE)
def league():
    """The league table of outlets for a day, worst real-name rate first, with open alerts and findings."""
    session, user = db.read_session(), current_user()
    day = _date_arg("date", last_complete_day())
    region, enterprise = request.args.get("region") or None, request.args.get("enterprise") or None
    scoped = queries.scoped_outlets(user, region=region, enterprise=enterprise)
    threshold = settings().real_name_threshold
    rows = queries.league_table(session, scoped, day, threshold)
    if request.args.get("format") == "xlsx":
        return _league_sheet(rows, day)
    shown = select(scoped.subquery().c.id)  # alerts and findings of the outlets the table shows
    open_alerts = select(Alert).where(Alert.status == AlertStatus.OPEN, Alert.outlet_id.in_(shown))
    alert_count = session.scalar(select(func.count()).select_from(open_alerts.subquery()))
    pages = max(1, -(-alert_count // ALERTS_PER_PAGE))
    page = min(max(1, request.args.get("alerts_page", 1, type=int)), pages)
    alerts = session.scalars(open_alerts.order_by(Alert.day.desc(), Alert.id.desc()).limit(ALERTS_PER_PAGE)
                             .offset((page - 1) * ALERTS_PER_PAGE)).all()
    findings = []
    if can(user, Capability.READ_FINDINGS):
        findings = session.scalars(select(Finding).where(Finding.outlet_id.in_(shown))
                                   .order_by(Finding.day.desc(), Finding.id).limit(50)).all()
    coverage = queries.machine_coverage(session, scoped)
    kept = {k: v for k, v in request.args.items() if k != "alerts_page" and v}
    enterprises = session.scalars(select(Enterprise).order_by(Enterprise.code)).all()
    return render_template("dashboard/league.html", rows=rows, day=day, threshold=threshold, alerts=alerts,
                           alert_count=alert_count, alert_page=page, alert_pages=pages,
                           alert_page_url=lambda n: url_for(".league", alerts_page=n, **kept),
                           default_day=day == last_complete_day(),
                           findings=findings, region=region, enterprise=enterprise, coverage=coverage,
                           regions=session.scalars(select(Region).order_by(Region.code)).all(),
                           enterprises=enterprises, enterprise_names={e.code: e.name for e in enterprises})


def _league_sheet(rows: list[dict], day: dt.date):
    """The league table as an Excel workbook: rates as percentages, names beside codes, 是/否."""
    from greenshield.spreadsheets import table_response
    from greenshield.web.labels import pct

    header = [_("Outlet code"), _("Outlet"), _("Enterprise"), _("Reported"), _("Parcels"), _("Real-name rate"),
              _("Adjusted"), _("Inspection rate"), _("X-ray rate"), _("X-ray rate (verified)"), _("Under threshold"),
              _("Open alerts")]
    body = [[r["outlet_code"], r["outlet_name"], r["enterprise_code"], r["reported"], r["parcels"],
             pct(r["real_name_rate"]), pct(r["adjusted_real_name_rate"]), pct(r["inspection_rate"]),
             pct(r["xray_rate"]), pct(r["xray_rate_verified"]), r["below_threshold"], r["open_alerts"]] for r in rows]
    return table_response(header, body, filename=_("compliance-%(day)s", day=day.isoformat()), fmt="xlsx",
                          title=day.isoformat())


@bp.route("/outlets/<code>")
@allow(Capability.READ_COMPLIANCE)
def outlet(code):
    """One outlet's trend of the three rates with the threshold line, its days, alerts, findings, batches."""
    session, user = db.read_session(), current_user()
    outlet = outlet_for(user, code)
    end = _date_arg("to", last_complete_day())
    start = _date_arg("from", end - dt.timedelta(days=29))
    threshold = settings().real_name_threshold
    days = queries.outlet_series(session, outlet, start, end, threshold)
    labels = {"title": _("Rates of %(outlet)s", outlet=outlet.code), "threshold": _("Threshold"),
              "real_name_rate": _("Real-name rate"), "inspection_rate": _("Inspection rate"),
              "xray_rate": _("X-ray rate"), "xray_rate_verified": _("X-ray rate (verified)")}
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
