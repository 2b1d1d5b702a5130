"""Traceability pages: cases and their decisions, the trace form and the parcel-chain timeline, a case's
evidence, watchlists, notifications, and the access log with its verification for auditors."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select

from greenshield import db
from greenshield.auth.permissions import Capability, can
from greenshield.auth.policy import allow, current_user
from greenshield.context import actor, settings
from greenshield.errors import DomainError, form_errors, status_of
from greenshield.extensions import limiter
from greenshield.trace import schemas as s, services
from greenshield.trace.api import per_user, trace_limit
from greenshield.trace.queries import case_items
from greenshield.trace.web import close_access, logged
from inspection.identity import ID_TYPES
from greenshield.web.labels import ACTION_LABELS, CASE_STATUS, QUERY_TYPE_LABELS
from models import AccessLogEntry, Case, CaseStatus

bp = Blueprint("trace_pages", __name__)
bp.after_request(close_access)

STEP_LABELS = {"collected": _l("Collected"), "stored": _l("Record stored"), "corrected": _l("Record corrected"),
               "xray_scanned": _l("X-ray scan"), "xray_reviewed": _l("X-ray review")}

QUERY_FIELDS = ("waybill_no", "sender_id_type", "sender_id_no", "sender_phone", "sender_name", "recipient_phone",
                "recipient_name", "outlet_code",
                "from", "to")
PAGE_SIZE = 100


@bp.context_processor
def _labels() -> dict:
    def label(table: dict):
        return lambda code: str(table.get(code, code or ""))

    return {"id_types": ID_TYPES, "case_status_label": label(CASE_STATUS), "action_label": label(ACTION_LABELS),
            "query_type_label": label(QUERY_TYPE_LABELS), "step_label": label(STEP_LABELS),
            "id_type_label": _id_type_label}


def _id_type_label(code: str | None) -> str:
    kind = ID_TYPES.get(code or "")
    if kind is None:
        return code or ""
    return kind.name_zh if str(get_locale() or "zh").startswith("zh") else kind.name_en


def _form(*names: str) -> dict:
    return {k: request.form.get(k, "").strip() for k in names if request.form.get(k, "").strip()}


def _status(exc: Exception) -> int:
    return 422 if isinstance(exc, ValidationError) else status_of(exc.code)


@bp.route("/cases")
@allow(Capability.REGISTER_CASES, Capability.APPROVE_CASES)
def cases():
    """An investigator's cases, or every case for auditors and admins (pending first)."""
    return render_template("trace/cases.html", cases=services.cases_for(db.session(), current_user()))


@bp.route("/cases/new")
@allow(Capability.REGISTER_CASES)
def new_case():
    return render_template("trace/case_new.html", values={"agency": current_user().agency or ""}, errors={})


@bp.route("/cases/new", methods=["POST"])
@logged("case_register")
@allow(Capability.REGISTER_CASES)
def create_case():
    """Register a case: number, agency, legal basis, purpose, last day of validity."""
    values = _form("case_no", "agency", "legal_basis", "purpose", "valid_until")
    try:
        case = services.register_case(db.session(), actor(), s.CaseIn().load(values))
    except (ValidationError, DomainError) as exc:
        return render_template("trace/case_new.html", values=values, errors=form_errors(exc)), _status(exc)
    flash(_("Case registered; it allows queries once an auditor approves it."))
    return redirect(url_for(".case", case_id=case.id))


@bp.route("/cases/<int:case_id>")
@allow(Capability.REGISTER_CASES, Capability.APPROVE_CASES)
def case(case_id):
    """A case: its facts and decision, the decision form (auditors, admins), its watchlists, the waybills of
    its evidence (no personal data here: the evidence itself is a logged view) and the export."""
    return _case_page(services.visible_case(db.session(), current_user(), case_id))


def _case_page(case: Case, errors: dict | None = None, status: int = 200, values: dict | None = None):
    session, user = db.session(), current_user()
    return render_template("trace/case.html", case=services.case_view(case),
                           watchlists=services.case_watchlists(session, settings(), case),
                           waybills=[w for _, w in case_items(session, case.id)],
                           is_owner=case.investigator_id == user.id, may_decide=can(user, Capability.APPROVE_CASES),
                           values=values or {}, errors=errors or {}), status


def _decide(case_id: int, approve: bool):
    session, user = db.session(), current_user()
    case = services.visible_case(session, user, case_id)
    values = _form("reason")
    try:
        reason = None if approve else s.RefuseIn().load(values)["reason"]
        services.decide_case(session, actor(), case, approve=approve, reason=reason)
    except (ValidationError, DomainError) as exc:
        return _case_page(case, form_errors(exc), _status(exc), values)
    flash(_("Case approved.") if approve else _("Case refused."))
    return redirect(url_for(".case", case_id=case_id))


@bp.route("/cases/<int:case_id>/approve", methods=["POST"])
@logged("case_approve")
@allow(Capability.APPROVE_CASES)
def approve(case_id):
    return _decide(case_id, True)


@bp.route("/cases/<int:case_id>/refuse", methods=["POST"])
@logged("case_refuse")
@allow(Capability.APPROVE_CASES)
def refuse(case_id):
    return _decide(case_id, False)


@bp.route("/cases/<int:case_id>/watchlists", methods=["POST"])
@logged("watchlist_create")
@allow(Capability.TRACE)
def add_watchlist(case_id):
    """Save a query of the case as a watchlist."""
    session = db.session()
    case = services.visible_case(session, current_user(), case_id)
    values = _form("name", "cron", *QUERY_FIELDS)
    try:
        data = s.WatchlistIn().load({"name": values.get("name", ""), "cron": values.get("cron", ""),
                                     "query": {k: v for k, v in values.items() if k in QUERY_FIELDS}})
        services.create_watchlist(session, settings(), actor(), case, data)
    except (ValidationError, DomainError) as exc:
        return _case_page(case, form_errors(exc), _status(exc), values)
    flash(_("Watchlist saved."))
    return redirect(url_for(".case", case_id=case_id))


@bp.route("/cases/<int:case_id>/results")
@logged("case_view")
@allow(Capability.TRACE)
def case_results(case_id):
    """The case's evidence as a timeline per item, personal data in clear: a logged view."""
    session = db.session()
    services.begin_writing(session)
    case = session.get(Case, case_id)
    if case is None:
        abort(404)
    chains = services.view_case_results(session, settings(), actor(), case)
    return render_template("trace/results.html", results=chains, case=services.case_view(case), truncated=False,
                           clear=True)


@bp.route("/trace")
@allow(Capability.TRACE, Capability.TRACE_WAYBILL)
def trace_form():
    return render_template("trace/trace.html", values={"case_no": request.args.get("case_no", "")}, errors={},
                           cases=_usable_cases())


@bp.route("/trace", methods=["POST"])
@limiter.shared_limit(trace_limit, scope="trace", key_func=per_user)
@logged("trace")
@allow(Capability.TRACE, Capability.TRACE_WAYBILL)
def trace_run():
    """Run a trace query and show each item's chain as a timeline (or the form with what is wrong)."""
    values = _form("case_no", *QUERY_FIELDS)
    try:
        outcome = services.trace(db.session(), settings(), actor(), values, reader=db.read_session())
    except DomainError as exc:
        return render_template("trace/trace.html", values=values, errors=form_errors(exc),
                               cases=_usable_cases()), _status(exc)
    case = outcome["case_no"] and db.session().scalar(select(Case).where(Case.case_no == outcome["case_no"]))
    return render_template("trace/results.html", results=outcome["results"], truncated=outcome["truncated"],
                           case=services.case_view(case) if case else None, case_no=outcome["case_no"], clear=outcome["case_no"] is not None,
                           limit=settings().trace_max_results)


def _usable_cases() -> list[Case]:
    user = current_user()
    if not can(user, Capability.TRACE):
        return []
    rows = db.session().scalars(select(Case).where(Case.investigator_id == user.id).order_by(Case.id.desc())).unique()
    return [c for c in rows if c.status_on(services.today()) is CaseStatus.APPROVED]


@bp.route("/notifications")
@allow(Capability.SIGN_IN)
def notifications():
    """The signed-in user's notifications: new watchlist matches, decisions on their cases."""
    return render_template("trace/notifications.html",
                           notifications=services.notifications(db.session(), current_user()))


@bp.route("/access-log")
@allow(Capability.READ_ACCESS_LOG)
def access_log():
    """The access log, newest first, filtered by user, case, action, outcome and period."""
    try:
        args = s.AccessLogArgs().load({k: v for k, v in request.args.items() if v and k not in ("page", "format")})
    except ValidationError as exc:
        args, errors = {}, form_errors(exc)
    else:
        errors = {}
    if request.args.get("format") == "xlsx" and not errors:
        from greenshield.trace.export import access_log_xlsx, log_entries
        from greenshield.spreadsheets import download

        chosen = db.session().scalars(services.filtered_log(args).limit(100_000)).all()
        return download(access_log_xlsx(log_entries(chosen)), _("access-log") + ".xlsx", "xlsx")
    page = max(1, request.args.get("page", 1, type=int))
    entries = services.log_page(db.session(), services.filtered_log(args), limit=PAGE_SIZE + 1,
                                offset=(page - 1) * PAGE_SIZE)
    kept = {k: v for k, v in request.args.items() if k not in ("page", "format") and v}
    return render_template(
        "trace/access_log.html", entries=entries[:PAGE_SIZE], values=request.args, errors=errors, actions=s.ACTIONS,
        xlsx_url=url_for(".access_log", format="xlsx", **kept),
        newer_url=url_for(".access_log", page=page - 1, **kept) if page > 1 else None,
        older_url=url_for(".access_log", page=page + 1, **kept) if len(entries) > PAGE_SIZE else None,
    ), 422 if errors else 200


@bp.route("/access-log/verify")
@allow(Capability.READ_ACCESS_LOG)
def verify_access_log():
    """Verify the whole chain and the signed checkpoints now, and say where it breaks if it does."""
    result = services.verify_log(db.session(), settings())
    newest = db.session().scalar(select(AccessLogEntry).order_by(AccessLogEntry.seq.desc()).limit(1))
    return render_template("trace/verify.html", result=result, newest=newest)
