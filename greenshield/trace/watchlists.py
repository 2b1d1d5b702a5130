"""Watchlists: a case's saved query, stored encrypted, run on its cron for matches the case does not have yet."""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from greenshield.personal.keyring import Vault
from greenshield.trace import accesslog
from greenshield.trace.queries import (TraceQuery, add_case_results, case_items, hold_evidence, match_items,
                                       parcel_chains)
from models import CaseStatus, CollectionRecord, Notification, User, Watchlist, utcnow

ACTION = "watchlist_run"


def _purpose(kind: str) -> bytes:
    return b"watchlist:" + kind.encode()


def stored_query(query: TraceQuery, vault: Vault) -> dict:
    """What a watchlist keeps of its query: the subject encrypted like any personal data, never in clear."""
    return {"kind": query.kind, "id_type": query.id_type,
            "subject": base64.b64encode(vault.encrypt(query.subject, _purpose(query.kind))).decode(),
            "from": query.start.isoformat() if query.start else None,
            "to": query.end.isoformat() if query.end else None}


def loaded_query(stored: dict, vault: Vault) -> TraceQuery:
    """The query a watchlist keeps, decrypted."""
    subject = vault.decrypt(base64.b64decode(stored["subject"]), _purpose(stored["kind"]))
    day = lambda key: dt.date.fromisoformat(stored[key]) if stored.get(key) else None  # noqa: E731
    return TraceQuery(stored["kind"], subject, id_type=stored.get("id_type"), start=day("from"), end=day("to"))


def baseline(session: Session) -> int:
    """The newest record id: a new watchlist reports records stored after it."""
    return session.scalar(select(func.max(CollectionRecord.id))) or 0


def alive(watchlist: Watchlist, today: dt.date) -> bool:
    """A watchlist runs only while it is active and its case approved and unexpired."""
    return watchlist.active and watchlist.case.status_on(today) is CaseStatus.APPROVED


@dataclass(frozen=True)
class WatchRun:
    watchlist_id: int
    case_no: str
    new_waybills: list[str]
    notification_id: int | None
    name: str = ""


def run_watchlist(session: Session, watchlist: Watchlist, vault: Vault, *, subject_key: bytes, limit: int,
                  at: dt.datetime | None = None, request_id: str | None = None) -> WatchRun:
    """Run a watchlist's query once on behalf of its owner. Items that are not yet in the case's evidence join
    it, their X-ray images are held, the owner gets an in-app notification, and the run is in the access log
    (as every query is). ``at`` is when it runs (default: now). Flushes; the caller commits."""
    query = loaded_query(watchlist.query, vault)
    case = watchlist.case
    items, _ = match_items(session, query, vault, limit=limit, after_record_id=watchlist.last_record_id)
    known = set(case_items(session, case.id))
    chains = parcel_chains(session, [i for i in items if i not in known], vault, clear=True)
    add_case_results(session, case.id, chains)
    hold_evidence(session, chains)
    accesslog.append(session, user=session.get(User, watchlist.owner_id), action=ACTION, case_no=case.case_no, query_type=query.kind,
                     subject_hash=accesslog.subject_hash(subject_key, query.kind, query.hashed_subject),
                     result_count=len(chains), outcome="ok", client_addr="scheduler", request_id=request_id)
    watchlist.last_run_at = at or utcnow()
    waybills = [c["waybill_no"] for c in chains]
    notification = None
    if chains:
        notification = Notification(
            user_id=watchlist.owner_id, kind="watchlist_match",
            message=f"{len(chains)} new match(es) for watchlist {watchlist.name} of case {case.case_no}",
            data={"watchlist_id": watchlist.id, "watchlist": watchlist.name, "case_id": case.id,
                  "case_no": case.case_no, "count": len(chains), "waybills": waybills})
        session.add(notification)
    session.flush()
    return WatchRun(watchlist.id, case.case_no, waybills, notification.id if notification else None, watchlist.name)
