"""Compliance routes: per-outlet series, league table, roll-ups, findings and alerts."""
from __future__ import annotations


from flask_smorest import Blueprint
from sqlalchemy import select

from greenshield import db
from greenshield.auth.permissions import Capability
from greenshield.context import settings
from greenshield.auth.policy import allow, current_user, outlet_for, scope_outlets
from greenshield.compliance import queries, schemas as s
from models import Alert, AlertStatus, Finding, Outlet

blp = Blueprint("compliance", __name__, url_prefix="/api/v1", description="Rates, alerts and abnormal real-name findings")


def _threshold() -> float:
    return settings().real_name_threshold


@blp.route("/compliance/outlets/<code>", methods=["GET"])
@blp.arguments(s.RangeArgs, location="query")
@blp.response(200, s.DayOut(many=True))
@allow(Capability.READ_COMPLIANCE)
def outlet_compliance(args, code):
    """Per day: parcels, real-name (declared and adjusted), inspection and X-ray rates, below threshold."""
    outlet = outlet_for(current_user(), code)
    return queries.outlet_series(db.read_session(), outlet, args["from_"], args["to"], _threshold())


@blp.route("/compliance/summary", methods=["GET"])
@blp.arguments(s.SummaryArgs, location="query")
@blp.response(200, s.SummaryRowOut(many=True))
@allow(Capability.READ_COMPLIANCE)
def summary(args):
    """One row per outlet in scope for a day, worst real-name rate first."""
    scoped = queries.scoped_outlets(current_user(), region=args.get("region"), enterprise=args.get("enterprise"))
    return queries.league_table(db.read_session(), scoped, args["date"], _threshold())


@blp.route("/compliance/rollup", methods=["GET"])
@blp.arguments(s.RollupArgs, location="query")
@blp.response(200, s.RollupOut(many=True))
@allow(Capability.READ_COMPLIANCE)
def rollup(args):
    """Rates summed by enterprise, league/city or month over a period."""
    scoped = queries.scoped_outlets(current_user(), region=args.get("region"), enterprise=args.get("enterprise"))
    return queries.rollup(db.read_session(), scoped, args["by"], args["from_"], args["to"])


@blp.route("/compliance/machine-coverage", methods=["GET"])
@blp.arguments(s.CoverageArgs, location="query")
@blp.response(200, s.CoverageOut)
@allow(Capability.READ_COMPLIANCE)
def machine_coverage(args):
    """X-ray machine coverage of the sorting centres and outlets in scope (分拨中心、营业网点安检机配备): a site is
    covered by an active machine of its own or of its designated screening site; by league/city and enterprise,
    with the uncovered sites listed."""
    scoped = queries.scoped_outlets(current_user(), region=args.get("region"), enterprise=args.get("enterprise"))
    return queries.machine_coverage(db.read_session(), scoped)


def _scoped(model, args):
    stmt = scope_outlets(select(model).join(Outlet, model.outlet_id == Outlet.id), current_user())
    if args.get("outlet"):
        stmt = stmt.where(Outlet.code == args["outlet"].upper())
    return stmt


@blp.route("/findings", methods=["GET"])
@blp.arguments(s.FindingArgs, location="query")
@blp.response(200, s.FindingOut(many=True))
@allow(Capability.READ_FINDINGS)
def findings(args):
    """Findings in scope, newest day first: abnormal real-name data (personal data masked) and what the machines
    contradict (``declared_not_scanned`` with its waybills, ``scanned_while_powered_off``,
    ``scanned_without_screener`` with their events); ``kind`` keeps one kind."""
    stmt = _scoped(Finding, args)
    if args.get("kind"):
        stmt = stmt.where(Finding.kind == args["kind"])
    if args.get("from_"):
        stmt = stmt.where(Finding.day >= args["from_"])
    if args.get("to"):
        stmt = stmt.where(Finding.day <= args["to"])
    return db.read_session().scalars(stmt.order_by(Finding.day.desc(), Finding.id).limit(1000)).all()


@blp.route("/alerts", methods=["GET"])
@blp.arguments(s.AlertArgs, location="query")
@blp.response(200, s.AlertOut(many=True))
@allow(Capability.READ_COMPLIANCE)
def alerts(args):
    """Outlet-days under threshold; ``status=open`` for the ones still standing."""
    stmt = _scoped(Alert, args)
    if args.get("status"):
        stmt = stmt.where(Alert.status == AlertStatus(args["status"]))
    if args.get("metric"):
        stmt = stmt.where(Alert.metric == args["metric"])
    return db.read_session().scalars(stmt.order_by(Alert.day.desc(), Alert.id).limit(1000)).all()
