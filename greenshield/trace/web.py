"""The request side of the traceability blueprints (API and pages): which views are logged, and the access-log
entry of a request refused before or outside its use case (by role, rate limit, invalid input, case rules)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from flask import Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from greenshield import db
from greenshield.context import actor, request_id, settings
from greenshield.errors import DomainError
from greenshield.trace import services
from greenshield.trace.accesslog import Access
from greenshield.trace.queries import parse_query
from inspection.identity import normalise_id_no, normalise_text
from models import Case

F = TypeVar("F", bound=Callable)
QUERY_FIELDS = (("waybill_no", "waybill"), ("sender_id_no", "sender_id"), ("sender_phone", "sender_phone"),
                ("sender_name", "sender_name"), ("recipient_phone", "recipient_phone"),
                ("recipient_name", "recipient_name"), ("outlet_code", "outlet"))
STATUS_OUTCOMES = {400: "refused: bad request", 401: "refused: unauthenticated", 403: "refused: role", 404: "refused: not found",
                   409: "refused: conflict", 422: "refused: invalid input", 429: "refused: rate limit"}


def logged(action: str) -> Callable[[F], F]:
    """Mark a view whose requests are logged as ``action`` (refused ones by ``close_access``)."""
    def mark(fn: F) -> F:
        fn.__gs_logged__ = action
        return fn
    return mark


def close_access(response: Response) -> Response:
    """``after_request`` of the traceability blueprints: a logged view answers with its ``X-Request-ID``, and
    a refused query, export or decision is logged too, also when the caller was not signed in (no session, a bad
    token, a cookie request without its CSRF token): then with no user and the client address.

    For a refusal, the request's own work is rolled back and the entry alone is committed, although the response
    is an error: refused by role before the view ran, by the rate limit, for an invalid query, or by the case rules.
    """
    view = current_app.view_functions.get(request.endpoint or "")
    action = getattr(view, "__gs_logged__", None)
    if action is None:
        return response
    response.headers["X-Request-ID"] = request_id()
    caller = actor()
    anonymous_redirect = caller.user is None and response.status_code in (302, 303)
    if (response.status_code < 400 and not anonymous_redirect) or caller.logged:
        return response
    if g.get("csrf_refused"):
        outcome = "refused: csrf"
    elif anonymous_redirect:
        outcome = "refused: unauthenticated"
    else:
        outcome = caller.outcome or (
            "error" if response.status_code >= 500 else STATUS_OUTCOMES.get(response.status_code, "refused"))
    session = db.session()
    try:
        services.begin_writing(session)
        caller.access = caller.access or describe_request(session, action)
        caller.log(session, outcome=outcome)
        session.commit()
    except SQLAlchemyError:
        current_app.logger.exception("could not log a refused %s by %s", action,
                                     caller.user.username if caller.user else caller.client_addr)
        session.rollback()
    return response


def describe_request(session: Session, action: str) -> Access:
    """The access of a request refused before its view described it: case and query from the raw input, the
    subject hashed even when it is not a valid ID or phone number."""
    payload = request.get_json(silent=True) if request.is_json else request.form
    payload = payload if isinstance(payload, Mapping) else {}
    case_no = str(payload.get("case_no") or "").strip()[:64] or None
    case_id = (request.view_args or {}).get("case_id")
    if case_id is not None:
        case = session.get(Case, case_id)
        case_no = case.case_no if case else None
    query = payload.get("query") if action == "watchlist_create" else payload
    if action not in ("trace", "watchlist_create") or not isinstance(query, Mapping):
        return Access(action, case_no)
    try:
        parsed = parse_query(query, today=services.today())
    except DomainError:
        for field, kind in QUERY_FIELDS:
            value = normalise_text(str(query.get(field) or ""))[:256]
            if value:
                if kind == "sender_id":
                    value = f"{str(query.get('sender_id_type') or '').strip().upper()}:{normalise_id_no(value)}"
                return Access(action, case_no, kind, services.subject_hash(settings(), kind, value))
        return Access(action, case_no)
    return Access(action, case_no, parsed.kind, services.subject_hash_of(settings(), parsed))

