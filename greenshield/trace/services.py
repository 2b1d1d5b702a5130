"""Traceability use cases: who may query under which case, cases and their decisions, traces, evidence and its
export, watchlists, and the access-log entry of every query, view of clear data, export or decision.

Each use case takes the session, the settings and the caller (an ``accesslog.Actor``): it notes on the actor
what the request is about before it may refuse, and writes the access-log entry of what it does; the
traceability blueprints log what is refused before or outside a use case (``greenshield.trace.web``).
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

from greenshield.auth.permissions import Capability, can
from greenshield.auth.policy import region_prefix
from greenshield.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from greenshield.personal import vault
from greenshield.settings import Settings
from greenshield.storage import of as storage_of
from greenshield.trace import accesslog, watchlists
from greenshield.trace.accesslog import Access, Actor
from greenshield.trace.queries import (TraceQuery, add_case_results, case_items, hold_evidence, in_region,
                                       match_items, parcel_chains, parse_query)
from models import (AccessLogEntry, Case, CaseResult, CaseStatus, CollectionRecord, Notification, User, Watchlist,
                    XrayEvent, utcnow)
from models.base import CHINA, china_today as today

SAFE_NAME = re.compile(r'[\\/:*?"<>|\s\x00-\x1f]+')


def refusal(actor: Actor, error: DomainError, outcome: str) -> DomainError:
    """``error``, remembering ``outcome`` as the refusal's access-log outcome."""
    actor.outcome = outcome
    return error


@functools.cache
def _subject_key(instance_path: Path) -> bytes:
    return accesslog.subject_key(instance_path)


def subject_hash_of(settings: Settings, query: TraceQuery) -> str:
    return accesslog.subject_hash(_subject_key(settings.instance_path), query.kind, query.hashed_subject)


def subject_hash(settings: Settings, kind: str, subject: str) -> str:
    """The keyed hash of a subject that is not a valid query (a refused one is logged all the same)."""
    return accesslog.subject_hash(_subject_key(settings.instance_path), kind, subject)


def begin_writing(session: Session) -> None:
    """End the session's transaction and begin one that writes (SQLite: BEGIN IMMEDIATE, so that an append
    waits for other writers instead of failing on a stale snapshot)."""
    session.rollback()
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


# --- cases ------------------------------------------------------------------------------------------------


def visible_case(session: Session, user: User, case_id: int) -> Case:
    """A case the user may see: an investigator's own, any for auditors and admins. Raises NotFound."""
    case = session.get(Case, case_id)
    if case is None or not can(user, Capability.APPROVE_CASES) and case.investigator_id != user.id:
        raise NotFound("not_found.case", id=case_id)
    return case


def usable_case(case: Case, actor: Actor) -> None:
    """Refuse unless the actor is the case's investigator and the case is approved and unexpired. Another
    investigator's case is "not found", exactly as a case that does not exist (its number is not confirmed)."""
    if case.investigator_id != actor.user.id:
        raise refusal(actor, NotFound("not_found.case_no", case_no=case.case_no), "refused: not case investigator")
    status = case.status_on(today())
    if status is not CaseStatus.APPROVED:
        raise refusal(actor, Forbidden(f"case_{status.value}", case_no=case.case_no), f"refused: case {status.value}")


def register_case(session: Session, actor: Actor, data: dict) -> Case:
    """A new pending case of the actor (an investigator). Raises Conflict for a known case number and Invalid
    for a validity that has already ended or an agency that is neither given nor on the account."""
    if session.scalar(select(Case.id).where(Case.case_no == data["case_no"])) is not None:
        raise Conflict("conflict.case_registered", field="case_no", case_no=data["case_no"])
    if data["valid_until"] < today():
        raise Invalid("validation_error.case_validity_ended", field="valid_until")
    agency = data.get("agency") or actor.user.agency
    if not agency:
        raise Invalid("validation_error.agency_required", field="agency")
    case = Case(case_no=data["case_no"], agency=agency, legal_basis=data["legal_basis"], purpose=data["purpose"],
                valid_until=data["valid_until"], status=CaseStatus.PENDING, investigator_id=actor.user.id)
    session.add(case)
    session.flush()
    actor.access = Access("case_register", case.case_no)
    actor.log(session)
    return case


def decide_case(session: Session, actor: Actor, case: Case, *, approve: bool, reason: str | None) -> Case:
    """Approve a pending case, or refuse a pending or approved one with a reason (its watchlists stop).

    The investigator is notified; the decision is in the access log. Raises Conflict when the case is not in a
    state that takes this decision.
    """
    actor.access = Access("case_approve" if approve else "case_refuse", case.case_no)
    status = case.status_on(today())
    if status is CaseStatus.EXPIRED:
        raise refusal(actor, Conflict("conflict.case_expired", case_no=case.case_no), "refused: case expired")
    if approve and status is not CaseStatus.PENDING or not approve and status is CaseStatus.REFUSED:
        raise refusal(actor, Conflict(f"conflict.case_{status.value}", case_no=case.case_no),
                      f"refused: case {status.value}")
    case.status = CaseStatus.APPROVED if approve else CaseStatus.REFUSED
    case.decided_by, case.decided_at = actor.user, utcnow()
    case.refusal_reason = None if approve else reason
    if not approve:
        session.execute(update(Watchlist).where(Watchlist.case_id == case.id).values(active=False))
    session.add(Notification(user_id=case.investigator_id, kind="case_decision",
                             message=f"Case {case.case_no} was {case.status.value}",
                             data={"case_id": case.id, "case_no": case.case_no, "status": case.status.value,
                                   "reason": case.refusal_reason}))
    session.flush()
    actor.log(session)
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


def open_event_evidence(session: Session, settings: Settings, actor: Actor, event_id: int, what: str) -> XrayEvent:
    """An investigator opens an X-ray event's image or heat map (``what``): allowed only when the event's waybill
    is in the evidence of one of their approved, unexpired cases. Logged either way, committed at once (the one
    use case that commits: the entry of a refusal must outlive the refused request)."""
    begin_writing(session)
    event = session.get(XrayEvent, event_id)
    subject = subject_hash(settings, "waybill", event.waybill_no) if event else None
    case = evidence_case_of(session, actor.user, event) if event else None
    actor.access = Access(f"evidence_{what}", case.case_no if case else None, "xray_event", subject)
    if case is None:
        actor.log(session, outcome="refused: not in case evidence")
        session.commit()
        raise NotFound("not_found.evidence_event", id=event_id)
    actor.log(session, result_count=1)
    session.commit()
    return event


# --- trace --------------------------------------------------------------------------------------------------


def trace(session: Session, settings: Settings, actor: Actor, data: dict, *, reader: Session | None = None) -> dict:
    """Run one trace query and return ``{count, truncated, case_no, query_type, results}``.

    Investigators query under their own approved, unexpired case and see personal data in clear; the matches
    join the case's evidence and their X-ray images are held. Inspectors trace a waybill number only, without
    a case, within their region, masked. ``reader`` (default: ``session``) is where the search and the chains
    are read, a read replica's session; the writes go to ``session``. Refusals raise, noted on the actor.
    """
    user = actor.user
    case_no = data.get("case_no")
    query = parse_query(data, today=today())
    actor.access = Access("trace", case_no, query.kind, subject_hash_of(settings, query))
    case = None
    if not can(user, Capability.TRACE):
        if case_no:
            raise refusal(actor, Forbidden("forbidden.inspector_case"), "refused: inspector has no case")
        if query.kind != "waybill":
            raise refusal(actor, Forbidden("forbidden.inspector_waybill_only"), "refused: inspector waybill only")
    else:
        if not case_no:
            raise refusal(actor, Invalid("validation_error.case_no_required", field="case_no"), "refused: no case")
        case = session.scalar(select(Case).where(Case.case_no == case_no).options(lazyload("*")))
        if case is None:
            raise refusal(actor, NotFound("not_found.case_no", case_no=case_no), "refused: unknown case")
        usable_case(case, actor)
    prefix = region_prefix(user)
    reader = reader or session
    v = vault(session, settings)
    items, truncated = match_items(reader, query, v, limit=settings.trace_max_results)
    if prefix is not None:
        items = in_region(reader, items, prefix)
    chains = parcel_chains(reader, items, v, clear=case is not None, region_prefix=prefix)
    if case is not None:
        add_case_results(session, case.id, chains)
        hold_evidence(session, chains)
    actor.log(session, result_count=len(chains))
    return {"count": len(chains), "truncated": truncated, "case_no": case_no, "query_type": query.kind,
            "results": chains}


def case_results(session: Session, settings: Settings, case: Case) -> list[dict]:
    """The chains of a case's evidence set, in clear (for its investigator; the caller logs the view)."""
    return parcel_chains(session, case_items(session, case.id), vault(session, settings), clear=True)


def view_case_results(session: Session, settings: Settings, actor: Actor, case: Case) -> list[dict]:
    """The case's evidence set in clear for its investigator (approved, unexpired case): a logged view."""
    actor.access = Access("case_view", case.case_no)
    usable_case(case, actor)
    chains = case_results(session, settings, case)
    actor.log(session, result_count=len(chains))
    return chains


# --- watchlists and notifications ---------------------------------------------------------------------------


def create_watchlist(session: Session, settings: Settings, actor: Actor, case: Case, data: dict) -> Watchlist:
    """A saved query of ``case``; it reports records stored from now on. Only the case's investigator, while
    the case is approved and unexpired; logged like a query (its subject hashed)."""
    query = parse_query(data["query"], today=today())
    actor.access = Access("watchlist_create", case.case_no, query.kind, subject_hash_of(settings, query))
    usable_case(case, actor)
    watchlist = Watchlist(case_id=case.id, owner_id=actor.user.id, name=data["name"],
                          query=watchlists.stored_query(query, vault(session, settings)), cron=data["cron"],
                          active=True, last_record_id=watchlists.baseline(session))
    session.add(watchlist)
    session.flush()
    actor.log(session)
    return watchlist


def watchlist_view(session: Session, settings: Settings, watchlist: Watchlist) -> dict:
    """A watchlist with its query masked (the owner typed it; nobody needs it echoed in clear)."""
    query = watchlists.loaded_query(watchlist.query, vault(session, settings))
    return {"id": watchlist.id, "case_id": watchlist.case_id, "name": watchlist.name,
            "query": {"query_type": query.kind, **query.described(clear=False)}, "cron": watchlist.cron,
            "active": watchlists.alive(watchlist, today()), "last_run_at": watchlist.last_run_at,
            "created_at": watchlist.created_at}


def case_watchlists(session: Session, settings: Settings, case: Case) -> list[dict]:
    return [watchlist_view(session, settings, w) for w in session.scalars(
        select(Watchlist).where(Watchlist.case_id == case.id).order_by(Watchlist.id)).unique()]


def notifications(session: Session, user: User, *, unread: bool = False, limit: int = 200) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)))


# --- the access log for auditors ------------------------------------------------------------------------------


def verifying_key_path(settings: Settings) -> Path:
    """The key checkpoints are verified with: the operator's copy outside the instance folder
    (``ACCESS_LOG_PUBLIC_KEY``, the anchor) when configured, else the public half beside the signing key."""
    if settings.access_log_public_key:
        return Path(settings.access_log_public_key)
    accesslog.signing_key_at(settings.signing_key_path)
    return accesslog.public_key_beside(settings.signing_key_path)


def verify_log(session: Session, settings: Settings) -> accesslog.Verification:
    """Verify the whole log against the checkpoints with the verifying key (see ``verifying_key_path``)."""
    key = accesslog.load_public_key(verifying_key_path(settings))
    return accesslog.verify(session, settings.checkpoints_dir, key)


def checkpointer(settings: Settings) -> accesslog.Checkpointer:
    return accesslog.Checkpointer.of(settings)


def log_page(session: Session, stmt, *, limit: int, offset: int) -> list[dict]:
    """One page of access-log entries selected by ``stmt`` (``filtered_log``), as dicts, each marked
    ``verified``: whether it still matches its hash. An entry altered in the database is shown, marked, and
    never makes the page fail."""
    seqs = list(session.scalars(stmt.with_only_columns(AccessLogEntry.seq).limit(limit).offset(offset)))
    if not seqs:
        return []
    rows = session.execute(select(*accesslog.raw_columns()).where(AccessLogEntry.seq.in_(seqs))).mappings()
    by_seq = {}
    for row in rows:
        entry = accesslog.lenient(row)
        entry["verified"] = accesslog.entry_intact(entry)
        by_seq[entry["seq"]] = entry
    return [by_seq[seq] for seq in seqs if seq in by_seq]


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


def export_case(session: Session, settings: Settings, actor: Actor, case: Case) -> tuple[BinaryIO, str]:
    """The evidence zip of ``case`` for its investigator (approved, unexpired), and its file name.

    The export is logged before the zip is written, so that ``access_log.json`` holds the export's own entry.
    """
    from greenshield.trace.export import log_entries, write_export

    actor.access = Access("export", case.case_no)
    usable_case(case, actor)
    chains = case_results(session, settings, case)
    hold_evidence(session, chains)
    actor.log(session, result_count=len(chains))
    entries = session.scalars(select(AccessLogEntry).where(AccessLogEntry.case_no == case.case_no)
                              .order_by(AccessLogEntry.seq))
    unavailable: list[str] = []
    stream = tempfile.SpooledTemporaryFile(max_size=32 * 2**20)
    write_export(stream, case=case_view(case), chains=chains, entries=log_entries(entries),
                 media=_evidence_media(session, settings, chains, unavailable), generated_by=actor.user.username,
                 key=accesslog.signing_key_at(settings.signing_key_path), unavailable=unavailable)
    stream.seek(0)
    return stream, f"evidence-{SAFE_NAME.sub('_', case.case_no)}.zip"


def _evidence_media(session: Session, settings: Settings, chains: list[dict],
                    unavailable: list[str]) -> Iterator[tuple[str, bytes]]:
    """Images and heat maps of the chains' X-ray events, where the X-ray feature keeps them."""
    try:
        from greenshield.xray.services import heatmap_png, read_image
    except ImportError:
        unavailable.append("xray images: the X-ray feature is not installed")
        return
    store = storage_of(settings)
    for event_view in (e for c in chains for e in c["xray_events"]):
        event = session.get(XrayEvent, event_view["id"])
        if event.image_purged_at is not None:
            unavailable.append(f"xray/{event.id}: image purged after the retention period")
            continue
        try:
            image = read_image(store, event)
        except OSError:
            unavailable.append(f"xray/{event.id}: image file missing")
            continue
        yield f"xray/{event.id}-image.{event.image_format}", image
        try:
            yield f"xray/{event.id}-heatmap.png", heatmap_png(session, settings, event, overlay=False)
        except (OSError, ValueError, DomainError) as exc:
            unavailable.append(f"xray/{event.id}: heat map unavailable ({type(exc).__name__})")
