"""Traceability in the app: who may query under which case, the case and trace use cases, and the access-log
entry of every request that queries, views clear data, exports or decides on a case — refused ones included."""
from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar
from zoneinfo import ZoneInfo

from flask import Response, current_app, g, request
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, lazyload

from greenshield import db
from greenshield.auth.permissions import Capability, can
from greenshield.auth.policy import current_user, region_prefix
from greenshield.errors import Conflict, DomainError, Invalid, NotFound
from greenshield.observability import request_id
from greenshield.personal import vault
from greenshield.trace import accesslog, watchlists
from greenshield.trace.queries import (TraceQuery, add_case_results, case_items, hold_evidence, in_region,
                                       match_items, parcel_chains, parse_query)
from inspection.identity import normalise_id_no, normalise_text
from models import (AccessLogEntry, Case, CaseResult, CaseStatus, CollectionRecord, Notification, User, Watchlist,
                    XrayEvent, utcnow)

F = TypeVar("F", bound=Callable)
CHINA = ZoneInfo("Asia/Shanghai")
SAFE_NAME = re.compile(r'[\\/:*?"<>|\s\x00-\x1f]+')
QUERY_FIELDS = (("waybill_no", "waybill"), ("sender_id_no", "sender_id"), ("sender_phone", "sender_phone"),
                ("sender_name", "sender_name"), ("outlet_code", "outlet"))
STATUS_OUTCOMES = {401: "refused: unauthenticated", 403: "refused: role", 404: "refused: not found",
                   409: "refused: conflict", 422: "refused: invalid input", 429: "refused: rate limit"}


def today() -> dt.date:
    """Today in Asia/Shanghai: cases are valid through their ``valid_until`` day there."""
    return dt.datetime.now(CHINA).date()


def refusal(message: str, outcome: str, *, status: int = 403, code: str = "forbidden") -> DomainError:
    """An error for a refused query, export or decision, remembering ``outcome`` for its access-log entry."""
    g.access_outcome = outcome
    return DomainError(message, status=status, code=code)


# --- the access-log entry of a request --------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What the current request's access-log entry is about."""

    action: str
    case_no: str | None = None
    query_type: str | None = None
    subject_hash: str | None = None


def logged(action: str) -> Callable[[F], F]:
    """Mark a view whose requests are logged as ``action`` (refused ones by ``close_access``)."""
    def mark(fn: F) -> F:
        fn.__gs_logged__ = action
        return fn
    return mark


def subject_hash_of(query: TraceQuery) -> str:
    return accesslog.subject_hash(_subject_key(), query.kind, query.hashed_subject)


def _subject_key() -> bytes:
    key = current_app.extensions.get("greenshield.trace.subject_key")
    if key is None:
        key = current_app.extensions["greenshield.trace.subject_key"] = accesslog.subject_key(
            current_app.config["INSTANCE_PATH"])
    return key


def log_access(session: Session, access: Access, *, result_count: int = 0, outcome: str = "ok") -> AccessLogEntry:
    """Append the request's entry (user, role, agency, client address, request id come from the request)."""
    entry = accesslog.append(session, user=current_user(), action=access.action, case_no=access.case_no,
                             query_type=access.query_type, subject_hash=access.subject_hash,
                             result_count=result_count, outcome=outcome, client_addr=request.remote_addr,
                             request_id=request_id())
    g.access_logged = True
    return entry


def begin_writing(session: Session) -> None:
    """End the session's transaction and begin one that writes (SQLite: BEGIN IMMEDIATE, so that an append
    waits for other writers instead of failing on a stale snapshot)."""
    session.rollback()
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def close_access(response: Response) -> Response:
    """``after_request`` of the traceability blueprints: a logged view answers with its ``X-Request-ID``, and
    a refused query, export or decision is logged too.

    For a refusal, the request's own work is rolled back and the entry alone is committed, although the response
    is an error: refused by role before the view ran, by the rate limit, for an invalid query, or by the case rules.
    """
    view = current_app.view_functions.get(request.endpoint or "")
    action = getattr(view, "__gs_logged__", None)
    if action is None:
        return response
    response.headers["X-Request-ID"] = request_id()
    user = current_user()
    if user is None or response.status_code < 400 or g.get("access_logged"):
        return response
    outcome = g.get("access_outcome") or (
        "error" if response.status_code >= 500 else STATUS_OUTCOMES.get(response.status_code, "refused"))
    session = db.session()
    try:
        begin_writing(session)
        access = g.get("access") or describe_request(session, action)
        log_access(session, access, outcome=outcome)
        session.commit()
    except SQLAlchemyError:
        current_app.logger.exception("could not log a refused %s by %s", action, user.username)
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
        parsed = parse_query(query, today=today())
    except Invalid:
        for field, kind in QUERY_FIELDS:
            value = normalise_text(str(query.get(field) or ""))[:256]
            if value:
                if kind == "sender_id":
                    value = f"{str(query.get('sender_id_type') or '').strip().upper()}:{normalise_id_no(value)}"
                return Access(action, case_no, kind, accesslog.subject_hash(_subject_key(), kind, value))
        return Access(action, case_no)
    return Access(action, case_no, parsed.kind, subject_hash_of(parsed))


# --- cases ------------------------------------------------------------------------------------------------


def visible_case(session: Session, user: User, case_id: int) -> Case:
    """A case the user may see: an investigator's own, any for auditors and admins. Raises NotFound."""
    case = session.get(Case, case_id)
    if case is None or not can(user, Capability.APPROVE_CASES) and case.investigator_id != user.id:
        raise NotFound(f"No case {case_id}.")
    return case


def usable_case(case: Case, user: User, *, action: str) -> None:
    """Refuse unless ``user`` is the case's investigator and the case is approved and unexpired."""
    if case.investigator_id != user.id:
        raise refusal(f"Case {case.case_no} is another investigator's.", "refused: not case investigator")
    status = case.status_on(today())
    if status is not CaseStatus.APPROVED:
        raise refusal(f"Case {case.case_no} is {status.value}: it allows no {action}.", f"refused: case {status.value}",
                      code=f"case_{status.value}")


def register_case(session: Session, user: User, data: dict) -> Case:
    """A new pending case of ``user`` (an investigator). Raises Conflict for a known case number and Invalid
    for a validity that has already ended or an agency that is neither given nor on the account."""
    if session.scalar(select(Case.id).where(Case.case_no == data["case_no"])) is not None:
        raise Conflict(f"Case {data['case_no']} is registered already.", details={"case_no": ["already registered"]})
    if data["valid_until"] < today():
        raise Invalid("The validity of this case has already ended.", details={"valid_until": ["in the past"]})
    agency = data.get("agency") or user.agency
    if not agency:
        raise Invalid("Name the agency that runs the investigation.", details={"agency": ["required"]})
    case = Case(case_no=data["case_no"], agency=agency, legal_basis=data["legal_basis"], purpose=data["purpose"],
                valid_until=data["valid_until"], status=CaseStatus.PENDING, investigator_id=user.id)
    session.add(case)
    session.flush()
    g.access = Access("case_register", case.case_no)
    log_access(session, g.access)
    return case


def decide_case(session: Session, case: Case, user: User, *, approve: bool, reason: str | None) -> Case:
    """Approve a pending case, or refuse a pending or approved one with a reason (its watchlists stop).

    The investigator is notified; the decision is in the access log. Raises Conflict when the case is not in a
    state that takes this decision.
    """
    action = "case_approve" if approve else "case_refuse"
    g.access = Access(action, case.case_no)
    status = case.status_on(today())
    if status is CaseStatus.EXPIRED:
        raise refusal(f"Case {case.case_no} has expired.", "refused: case expired", status=409, code="conflict")
    if approve and status is not CaseStatus.PENDING or not approve and status is CaseStatus.REFUSED:
        raise refusal(f"Case {case.case_no} is {status.value} already.", f"refused: case {status.value}",
                      status=409, code="conflict")
    case.status = CaseStatus.APPROVED if approve else CaseStatus.REFUSED
    case.decided_by, case.decided_at = user, utcnow()
    case.refusal_reason = None if approve else reason
    if not approve:
        session.execute(update(Watchlist).where(Watchlist.case_id == case.id).values(active=False))
    session.add(Notification(user_id=case.investigator_id, kind="case_decision",
                             message=f"Case {case.case_no} was {case.status.value}",
                             data={"case_id": case.id, "case_no": case.case_no, "status": case.status.value,
                                   "reason": case.refusal_reason}))
    session.flush()
    log_access(session, g.access)
    return case


def cases_for(session: Session, user: User, limit: int = 1000) -> list[dict]:
    """The cases ``user`` may see (an investigator's own, all for auditors and admins), pending first, then
    newest first."""
    stmt = select(Case)
    if not can(user, Capability.APPROVE_CASES):
        stmt = stmt.where(Case.investigator_id == user.id)
    cases = [case_view(c) for c in session.scalars(stmt.order_by(Case.id.desc()).limit(limit)).unique()]
    return sorted(cases, key=lambda c: c["status"] != CaseStatus.PENDING.value)


def case_view(case: Case) -> dict:
    """A case as the API and pages show it, its status as of today (an approved case past its day: expired)."""
    return {"id": case.id, "case_no": case.case_no, "status": case.status_on(today()).value, "agency": case.agency,
            "legal_basis": case.legal_basis, "purpose": case.purpose, "valid_until": case.valid_until,
            "investigator": case.investigator.username,
            "decided_by": case.decided_by.username if case.decided_by else None, "decided_at": case.decided_at,
            "refusal_reason": case.refusal_reason, "created_at": case.created_at}


def evidence_case_of(session: Session, user: User, event: XrayEvent) -> Case | None:
    """The investigator's approved, unexpired case whose evidence holds ``event``'s waybill, if any."""
    if not can(user, Capability.TRACE):
        return None
    return session.scalar(
        select(Case).join(CaseResult, CaseResult.case_id == Case.id)
        .join(CollectionRecord, CollectionRecord.id == CaseResult.record_id)
        .where(Case.investigator_id == user.id, Case.status == CaseStatus.APPROVED, Case.valid_until >= today(),
               CollectionRecord.waybill_no == event.waybill_no)
        .order_by(Case.id).limit(1))


def open_event_evidence(session: Session, user: User, event_id: int, what: str) -> XrayEvent:
    """An investigator opens an X-ray event's image or heat map (``what``): allowed only when the event's waybill
    is in the evidence of one of their approved, unexpired cases. Logged either way, committed at once."""
    begin_writing(session)
    event = session.get(XrayEvent, event_id)
    subject = accesslog.subject_hash(_subject_key(), "waybill", event.waybill_no) if event else None
    case = evidence_case_of(session, user, event) if event else None
    access = Access(f"evidence_{what}", case.case_no if case else None, "xray_event", subject)
    if case is None:
        log_access(session, access, outcome="refused: not in case evidence")
        session.commit()
        raise NotFound(f"No X-ray event {event_id} in your cases' evidence.")
    log_access(session, access, result_count=1)
    session.commit()
    return event


# --- trace --------------------------------------------------------------------------------------------------


def trace(session: Session, user: User, data: dict) -> dict:
    """Run one trace query and return ``{count, truncated, case_no, query_type, results}``.

    Investigators query under their own approved, unexpired case and see personal data in clear; the matches
    join the case's evidence and their X-ray images are held. Inspectors trace a waybill number only, without
    a case, within their region, masked. Refusals raise (and are logged by ``log_refusal``).
    """
    case_no = data.get("case_no")
    query = parse_query(data, today=today())
    g.access = Access("trace", case_no, query.kind, subject_hash_of(query))
    case = None
    if not can(user, Capability.TRACE):
        if case_no:
            raise refusal("Inspectors trace without a case.", "refused: inspector has no case")
        if query.kind != "waybill":
            raise refusal("Inspectors may trace a waybill number only.", "refused: inspector waybill only")
    else:
        if not case_no:
            raise refusal("An investigator traces under a case: give case_no.", "refused: no case", status=422,
                          code="validation_error")
        case = session.scalar(select(Case).where(Case.case_no == case_no).options(lazyload("*")))
        if case is None:
            raise refusal(f"No case {case_no}.", "refused: unknown case", status=404, code="not_found")
        usable_case(case, user, action="query")
    prefix = region_prefix(user)
    reader = db.read_session()  # the search and the chains may come from a read replica; the writes below do not
    v = vault(session)
    items, truncated = match_items(reader, query, v, limit=current_app.config["TRACE_MAX_RESULTS"])
    if prefix is not None:
        items = in_region(reader, items, prefix)
    chains = parcel_chains(reader, items, v, clear=case is not None, region_prefix=prefix)
    if case is not None:
        add_case_results(session, case.id, chains)
        hold_evidence(session, chains)
    log_access(session, g.access, result_count=len(chains))
    return {"count": len(chains), "truncated": truncated, "case_no": case_no, "query_type": query.kind,
            "results": chains}


def case_results(session: Session, case: Case) -> list[dict]:
    """The chains of a case's evidence set, in clear (for its investigator; the caller logs the view)."""
    return parcel_chains(session, case_items(session, case.id), vault(session), clear=True)


def view_case_results(session: Session, case: Case, user: User) -> list[dict]:
    """The case's evidence set in clear for its investigator (approved, unexpired case): a logged view."""
    g.access = Access("case_view", case.case_no)
    usable_case(case, user, action="view")
    chains = case_results(session, case)
    log_access(session, g.access, result_count=len(chains))
    return chains


# --- watchlists and notifications ---------------------------------------------------------------------------


def create_watchlist(session: Session, case: Case, user: User, data: dict) -> Watchlist:
    """A saved query of ``case``; it reports records stored from now on. Only the case's investigator, while
    the case is approved and unexpired; logged like a query (its subject hashed)."""
    query = parse_query(data["query"], today=today())
    g.access = Access("watchlist_create", case.case_no, query.kind, subject_hash_of(query))
    usable_case(case, user, action="watchlist")
    watchlist = Watchlist(case_id=case.id, owner_id=user.id, name=data["name"],
                          query=watchlists.stored_query(query, vault(session)), cron=data["cron"], active=True,
                          last_record_id=watchlists.baseline(session))
    session.add(watchlist)
    session.flush()
    log_access(session, g.access)
    return watchlist


def watchlist_view(session: Session, watchlist: Watchlist) -> dict:
    """A watchlist with its query masked (the owner typed it; nobody needs it echoed in clear)."""
    query = watchlists.loaded_query(watchlist.query, vault(session))
    return {"id": watchlist.id, "case_id": watchlist.case_id, "name": watchlist.name,
            "query": {"query_type": query.kind, **query.described(clear=False)}, "cron": watchlist.cron,
            "active": watchlists.alive(watchlist, today()), "last_run_at": watchlist.last_run_at,
            "created_at": watchlist.created_at}


def case_watchlists(session: Session, case: Case) -> list[dict]:
    return [watchlist_view(session, w) for w in session.scalars(
        select(Watchlist).where(Watchlist.case_id == case.id).order_by(Watchlist.id)).unique()]


def notifications(session: Session, user: User, *, unread: bool = False, limit: int = 200) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))


# --- the access log for auditors ------------------------------------------------------------------------------


def checkpoints_dir() -> Path:
    """Where checkpoints are kept: ``ACCESS_LOG_CHECKPOINTS``, else ``<instance>/access-log/checkpoints``."""
    configured = current_app.config.get("ACCESS_LOG_CHECKPOINTS")
    return Path(configured) if configured else Path(current_app.config["INSTANCE_PATH"]) / "access-log" / "checkpoints"


def verify_log(session: Session) -> accesslog.Verification:
    """Verify the whole log against the checkpoints with the instance's public key."""
    accesslog.signing_key(current_app.config["INSTANCE_PATH"])
    key = accesslog.load_public_key(accesslog.public_key_path(current_app.config["INSTANCE_PATH"]))
    return accesslog.verify(session, checkpoints_dir(), key)


def filtered_log(args: dict):
    """A select of log entries filtered by user, case, action, outcome and period (days in Asia/Shanghai),
    newest first."""
    stmt = select(AccessLogEntry)
    if args.get("user"):
        stmt = stmt.where(AccessLogEntry.username == args["user"])
    if args.get("case_no"):
        stmt = stmt.where(AccessLogEntry.case_no == args["case_no"])
    if args.get("action"):
        stmt = stmt.where(AccessLogEntry.action == args["action"])
    if args.get("outcome") == "ok":
        stmt = stmt.where(AccessLogEntry.outcome == "ok")
    elif args.get("outcome") == "refused":
        stmt = stmt.where(AccessLogEntry.outcome != "ok")
    if args.get("from_"):
        stmt = stmt.where(AccessLogEntry.at >= dt.datetime.combine(args["from_"], dt.time(), CHINA))
    if args.get("to"):
        stmt = stmt.where(AccessLogEntry.at < dt.datetime.combine(args["to"] + dt.timedelta(days=1), dt.time(), CHINA))
    return stmt.order_by(AccessLogEntry.seq.desc())


# --- evidence export ----------------------------------------------------------------------------------------------


def export_case(session: Session, case: Case, user: User) -> tuple[BinaryIO, str]:
    """The evidence zip of ``case`` for its investigator (approved, unexpired), and its file name.

    The export is logged before the zip is written, so that ``access_log.json`` holds the export's own entry.
    """
    from greenshield.trace.export import log_entries, write_export

    g.access = Access("export", case.case_no)
    usable_case(case, user, action="export")
    chains = case_results(session, case)
    hold_evidence(session, chains)
    log_access(session, g.access, result_count=len(chains))
    entries = session.scalars(select(AccessLogEntry).where(AccessLogEntry.case_no == case.case_no)
                              .order_by(AccessLogEntry.seq))
    unavailable: list[str] = []
    stream = tempfile.SpooledTemporaryFile(max_size=32 * 2**20)
    write_export(stream, case=case_view(case), chains=chains, entries=log_entries(entries),
                 media=_evidence_media(session, chains, unavailable), generated_by=user.username,
                 key=accesslog.signing_key(current_app.config["INSTANCE_PATH"]), unavailable=unavailable)
    stream.seek(0)
    return stream, f"evidence-{SAFE_NAME.sub('_', case.case_no)}.zip"


def _evidence_media(session: Session, chains: list[dict], unavailable: list[str]) -> Iterator[tuple[str, bytes]]:
    """Images and heat maps of the chains' X-ray events, where the X-ray feature keeps them."""
    try:
        from greenshield.xray.services import heatmap_png, read_image
    except ImportError:
        unavailable.append("xray images: the X-ray feature is not installed")
        return
    for event_view in (e for c in chains for e in c["xray_events"]):
        event = session.get(XrayEvent, event_view["id"])
        if event.image_purged_at is not None:
            unavailable.append(f"xray/{event.id}: image purged after the retention period")
            continue
        try:
            image = read_image(event)
        except OSError:
            unavailable.append(f"xray/{event.id}: image file missing")
            continue
        yield f"xray/{event.id}-image.{event.image_format}", image
        try:
            yield f"xray/{event.id}-heatmap.png", heatmap_png(session, event, overlay=False)
        except (OSError, ValueError, DomainError) as exc:
            unavailable.append(f"xray/{event.id}: heat map unavailable ({type(exc).__name__})")
