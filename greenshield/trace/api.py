"""Traceability routes: cases and decisions, trace queries, a case's evidence and its export, watchlists,
notifications, and the access log for auditors."""
from __future__ import annotations

from flask import request, send_file
from flask_smorest import Blueprint

from greenshield import db
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user
from greenshield.context import actor, settings
from greenshield.errors import NotFound
from greenshield.extensions import limiter
from greenshield.pagination import page_window
from greenshield.trace import schemas as s, services
from greenshield.trace.web import close_access, logged
from models import Case, Notification, Watchlist, utcnow

blp = Blueprint("trace", __name__, url_prefix="/api/v1", description="Traceability (溯源追查): cases, queries, access log")
blp.after_request(close_access)


def trace_limit() -> str:
    return settings().trace_rate_limit


def per_user() -> str:
    user = current_user()
    return f"user:{user.id}" if user else f"addr:{request.remote_addr}"


@blp.route("/cases", methods=["POST"])
@blp.arguments(s.CaseIn)
@blp.response(201, s.CaseOut)
@logged("case_register")
@allow(Capability.REGISTER_CASES)
def create_case(data):
    """Register an investigation case; it allows queries once an auditor or admin approves it."""
    return services.case_view(services.register_case(db.session(), actor(), data))


@blp.route("/cases", methods=["GET"])
@blp.arguments(s.CaseListArgs, location="query")
@blp.response(200, s.CaseOut(many=True))
@allow(Capability.REGISTER_CASES, Capability.APPROVE_CASES)
def list_cases(args):
    """An investigator's own cases; every case for auditors and admins. Pending first, then newest."""
    cases = services.cases_for(db.session(), current_user())
    return [c for c in cases if c["status"] == args["status"]] if args.get("status") else cases


@blp.route("/cases/<int:case_id>", methods=["GET"])
@blp.response(200, s.CaseOut)
@allow(Capability.REGISTER_CASES, Capability.APPROVE_CASES)
def get_case(case_id):
    return services.case_view(services.visible_case(db.session(), current_user(), case_id))


@blp.route("/cases/<int:case_id>/approve", methods=["POST"])
@blp.response(200, s.CaseOut)
@logged("case_approve")
@allow(Capability.APPROVE_CASES)
def approve_case(case_id):
    """Approve a pending case (auditors and admins)."""
    case = services.visible_case(db.session(), current_user(), case_id)
    return services.case_view(services.decide_case(db.session(), actor(), case, approve=True, reason=None))


@blp.route("/cases/<int:case_id>/refuse", methods=["POST"])
@blp.arguments(s.RefuseIn)
@blp.response(200, s.CaseOut)
@logged("case_refuse")
@allow(Capability.APPROVE_CASES)
def refuse_case(data, case_id):
    """Refuse a pending case, or withdraw an approval, with a reason; its watchlists stop."""
    case = services.visible_case(db.session(), current_user(), case_id)
    return services.case_view(services.decide_case(db.session(), actor(), case, approve=False,
                                                   reason=data["reason"]))


@blp.route("/trace", methods=["POST"])
@blp.arguments(s.TraceIn)
@blp.response(200, s.TraceOut)
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
@limiter.shared_limit(trace_limit, scope="trace", key_func=per_user)
@logged("trace")
@allow(Capability.TRACE, Capability.TRACE_WAYBILL)
def trace(data):
    """Trace items by waybill number, sender ID (type and number), sender phone, sender name in a period, or
    outlet in a period: each result is the parcel's whole chain.

    Investigators under their own approved, unexpired case (personal data in clear); inspectors a waybill number
    only, without a case (masked). Every query, refused ones included, is in the access log.
    """
    return services.trace(db.session(), settings(), actor(), data, reader=db.read_session())


def _own_case(case_id: int) -> Case:
    """The caller's own case ``case_id``: anyone else's is "not found" like one that does not exist."""
    case = db.session().get(Case, case_id)
    if case is None:
        raise services.refusal(actor(), NotFound("not_found.case", id=case_id), "refused: unknown case")
    if case.investigator_id != current_user().id:
        raise services.refusal(actor(), NotFound("not_found.case", id=case_id), "refused: not case investigator")
    return case


@blp.route("/cases/<int:case_id>/results", methods=["GET"])
@blp.response(200, s.CaseResultsOut)
@logged("case_view")
@allow(Capability.TRACE)
def case_results(case_id):
    """The case's evidence set (every item its queries and watchlists found), in clear: a logged view."""
    session = db.session()
    services.begin_writing(session)
    case = _own_case(case_id)
    chains = services.view_case_results(session, settings(), actor(), case)
    return {"case": services.case_view(case), "count": len(chains), "results": chains}


@blp.route("/cases/<int:case_id>/export", methods=["GET"])
@blp.response(200, {"type": "string", "format": "binary"},
              description="The evidence zip: records.csv, records.json, xray/, access_log.json, manifest.json",
              content_type="application/zip")
@logged("export")
@allow(Capability.TRACE)
def export_case(case_id):
    """The case's evidence as a zip with a manifest of SHA-256 sums (a logged export)."""
    session = db.session()
    services.begin_writing(session)
    stream, name = services.export_case(session, settings(), actor(), _own_case(case_id))
    return send_file(stream, mimetype="application/zip", as_attachment=True, download_name=name)


@blp.route("/cases/<int:case_id>/watchlists", methods=["POST"])
@blp.arguments(s.WatchlistIn)
@blp.response(201, s.WatchlistOut)
@logged("watchlist_create")
@allow(Capability.TRACE)
def create_watchlist(data, case_id):
    """Save a query under the case: the scheduler runs it on ``cron`` and notifies of new matches."""
    session = db.session()
    watchlist = services.create_watchlist(session, settings(), actor(), _own_case(case_id), data)
    return services.watchlist_view(session, settings(), watchlist)


@blp.route("/cases/<int:case_id>/watchlists", methods=["GET"])
@blp.response(200, s.WatchlistOut(many=True))
@allow(Capability.REGISTER_CASES, Capability.APPROVE_CASES)
def list_watchlists(case_id):
    session = db.session()
    return services.case_watchlists(session, settings(), services.visible_case(session, current_user(), case_id))


@blp.route("/cases/<int:case_id>/watchlists/<int:watchlist_id>", methods=["DELETE"])
@blp.response(204)
@allow(Capability.TRACE)
def stop_watchlist(case_id, watchlist_id):
    """Stop a watchlist of one of the investigator's cases."""
    session = db.session()
    case = services.visible_case(session, current_user(), case_id)
    watchlist = session.get(Watchlist, watchlist_id)
    if watchlist is None or watchlist.case_id != case.id:
        raise NotFound("not_found.watchlist", id=watchlist_id, case_no=case.case_no)
    watchlist.active = False


@blp.route("/notifications", methods=["GET"])
@blp.arguments(s.NotificationArgs, location="query")
@blp.response(200, s.NotificationOut(many=True))
@allow(Capability.SIGN_IN)
def list_notifications(args):
    """The caller's notifications, newest first (``unread=true`` for the unread ones)."""
    return services.notifications(db.session(), current_user(), unread=args["unread"])


@blp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@blp.response(200, s.NotificationOut)
@allow(Capability.SIGN_IN)
def read_notification(notification_id):
    notification = db.session().get(Notification, notification_id)
    if notification is None or notification.user_id != current_user().id:
        raise NotFound("not_found.notification", id=notification_id)
    notification.read_at = notification.read_at or utcnow()
    return notification


@blp.route("/access-log", methods=["GET"])
@blp.arguments(s.AccessLogArgs, location="query")
@blp.response(200, s.AccessLogOut(many=True))
@blp.paginate()
@allow(Capability.READ_ACCESS_LOG)
def access_log(args, pagination_parameters):
    """Access-log entries, newest first, filtered by ``user``, ``case_no``, ``action``, ``outcome`` (ok|refused)
    and a period ``from``/``to`` (days in Asia/Shanghai). Each entry says whether it still matches its hash
    (``verified``): an entry altered in the database is listed, marked false."""
    stmt = services.filtered_log(args)
    window = page_window(stmt, pagination_parameters)
    if window is None:
        return []
    return services.log_page(db.session(), stmt, limit=window[0], offset=window[1])


@blp.route("/access-log/verify", methods=["GET"])
@blp.response(200, s.AccessLogVerifyOut)
@allow(Capability.READ_ACCESS_LOG)
def verify_access_log():
    """Check the whole chain and the signed checkpoints; names the first bad entry."""
    return services.verify_log(db.session(), settings()).as_dict()
