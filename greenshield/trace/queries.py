"""Trace queries and the parcel chain: which items match, and each item's whole story as a role may see it.

Functions here take a session and a vault and neither commit nor know about requests, so the API, the pages,
the watchlist job and the benchmark share them.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.orm import Session, joinedload

from greenshield.errors import Invalid, on_field
from greenshield.personal.records import record_view
from greenshield.personal import mask_name
from greenshield.personal.keyring import ID_NO, PHONE, Vault
from inspection.columns import COLUMNS, purpose
from inspection.identity import (InvalidIdentity, mask_id_no, mask_phone, normalise_text, normalise_phone,
                                 parse_id_type, validate_id_no)
from models import CaseResult, CollectionRecord, Outlet, UploadBatch, XrayEvent, XrayReview, utcnow

RECIPIENT_PHONE = purpose(COLUMNS["recipient_phone"])
QUERY_TYPES = ("waybill", "sender_id", "sender_phone", "sender_name", "recipient_phone", "recipient_name", "outlet")
PHONE_QUERIES = {"sender_phone": ("sender_phone", PHONE), "recipient_phone": ("recipient_phone", RECIPIENT_PHONE)}
"""Phone queries: the record column searched (its blind index) and the purpose of that index."""
NAME_QUERIES = ("sender_name", "recipient_name")
MAX_PERIOD_DAYS = 366
# What a chain needs of the related rows, and no more (the models' default eager loads reach much further).
RECORD_LOADING = (joinedload(CollectionRecord.outlet).lazyload("*"),)
EVENT_LOADING = (joinedload(XrayEvent.machine).lazyload("*"), joinedload(XrayEvent.outlet).lazyload("*"),
                 joinedload(XrayEvent.review).joinedload(XrayReview.reviewer).lazyload("*"))


@dataclass(frozen=True)
class TraceQuery:
    """One trace query with its subject normalised: a waybill number, an ID number (with ``id_type``), a phone
    number (sender's or recipient's), a sender or recipient name or an outlet code; names and outlets come with a
    period of collection days."""

    kind: str
    subject: str
    id_type: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    @property
    def hashed_subject(self) -> str:
        """The text whose keyed hash the access log keeps (the ID type belongs to an ID's identity)."""
        return f"{self.id_type}:{self.subject}" if self.kind == "sender_id" else self.subject

    def described(self, *, clear: bool) -> dict:
        """The query as input fields, personal data masked unless ``clear``."""
        period = {"from": self.start.isoformat(), "to": self.end.isoformat()} if self.start else {}
        if self.kind == "waybill":
            return {"waybill_no": self.subject}
        if self.kind == "sender_id":
            return {"sender_id_type": self.id_type,
                    "sender_id_no": self.subject if clear else mask_id_no(self.subject)}
        if self.kind in PHONE_QUERIES:
            return {self.kind: self.subject if clear else mask_phone(self.subject)}
        if self.kind in NAME_QUERIES:
            return {self.kind: self.subject if clear else mask_name(self.subject), **period}
        return {"outlet_code": self.subject, **period}


def parse_query(data: dict, *, today: dt.date) -> TraceQuery:
    """The one query in ``data`` (API, form or stored watchlist fields), normalised.

    Exactly one of: ``waybill_no``; ``sender_id_type`` + ``sender_id_no``; ``sender_phone``; ``recipient_phone``;
    ``sender_name`` or ``recipient_name`` + ``from`` + ``to``; ``outlet_code`` + ``from`` + ``to``. Raises
    Invalid (422) otherwise; messages never repeat an ID or phone number.
    """
    given = {k for k in ("waybill_no", "sender_id_no", *PHONE_QUERIES, *NAME_QUERIES, "outlet_code")
             if str(data.get(k) or "").strip()}
    if len(given) != 1:
        raise Invalid("validation_error.one_query" if not given else "validation_error.several_queries",
                      field="query", fields=sorted(given))
    field = given.pop()
    value = normalise_text(str(data[field]))
    if field == "waybill_no":
        waybill = value.upper()
        if not (8 <= len(waybill) <= 32 and all(c.isalnum() and c.isascii() or c == "-" for c in waybill)):
            raise Invalid("validation_error.waybill_format", field="waybill_no")
        return TraceQuery("waybill", waybill)
    if field == "sender_id_no":
        try:
            id_type = parse_id_type(str(data.get("sender_id_type") or ""))
            if id_type is None:
                raise Invalid("validation_error.id_type_missing", field="sender_id_type")
        except InvalidIdentity as exc:
            raise on_field(exc, "sender_id_type") from None
        try:
            number = validate_id_no(id_type, value, today=today)
        except InvalidIdentity as exc:
            raise on_field(exc, "sender_id_no") from None
        return TraceQuery("sender_id", number, id_type=id_type)
    if field in PHONE_QUERIES:
        try:
            return TraceQuery(field, normalise_phone(value))
        except InvalidIdentity as exc:
            raise on_field(exc, field) from None
    start, end = _period(data)
    if field in NAME_QUERIES:
        if len(value) > 64:
            raise Invalid("validation_error.too_long", field=field, max=64)
        return TraceQuery(field, value, start=start, end=end)
    return TraceQuery("outlet", value.upper(), start=start, end=end)


def _period(data: dict) -> tuple[dt.date, dt.date]:
    days = {}
    for key in ("from", "to"):
        value = data.get(key)
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value.strip())
            except ValueError:
                raise Invalid("validation_error.not_a_date", field=key) from None
        if not isinstance(value, dt.date):
            raise Invalid("validation_error.period_required", field=key)
        days[key] = value
    if days["from"] > days["to"]:
        raise Invalid("validation_error.period_reversed", field="to")
    if (days["to"] - days["from"]).days >= MAX_PERIOD_DAYS:
        raise Invalid("validation_error.period_too_long", field="to", max_days=MAX_PERIOD_DAYS)
    return days["from"], days["to"]


def _condition(session: Session, query: TraceQuery, vault: Vault):
    if query.kind == "waybill":
        return CollectionRecord.waybill_no == query.subject
    if query.kind == "sender_id":
        return (CollectionRecord.sender_id_hmac == vault.index(query.subject, ID_NO)) & (
            CollectionRecord.sender_id_type == query.id_type)
    if query.kind in PHONE_QUERIES:
        column, purpose_ = PHONE_QUERIES[query.kind]
        return getattr(CollectionRecord, f"{column}_hmac") == vault.index(query.subject, purpose_)
    period = CollectionRecord.collected_on.between(query.start, query.end)
    if query.kind in NAME_QUERIES:
        return (getattr(CollectionRecord, query.kind) == query.subject) & period
    outlet_id = session.scalar(select(Outlet.id).where(Outlet.code == query.subject))
    return (CollectionRecord.outlet_id == (outlet_id or -1)) & period


def match_items(session: Session, query: TraceQuery, vault: Vault, *, limit: int,
                after_record_id: int = 0) -> tuple[list[tuple[int, str]], bool]:
    """The items (outlet id, waybill number) with any record version matching ``query``, earliest collected
    first, at most ``limit``; and whether there were more. ``after_record_id`` keeps to records stored after
    that one (watchlists)."""
    stmt = select(CollectionRecord.outlet_id, CollectionRecord.waybill_no).where(_condition(session, query, vault))
    if after_record_id:
        stmt = stmt.where(CollectionRecord.id > after_record_id)
    stmt = (stmt.group_by(CollectionRecord.outlet_id, CollectionRecord.waybill_no)
            .order_by(func.min(CollectionRecord.collected_at), CollectionRecord.outlet_id, CollectionRecord.waybill_no)
            .limit(limit + 1))
    items = [(row.outlet_id, row.waybill_no) for row in session.execute(stmt)]
    return items[:limit], len(items) > limit


def in_region(session: Session, items: list[tuple[int, str]], region_prefix: str) -> list[tuple[int, str]]:
    """The items collected at outlets of a region. (Filtering after the match keeps a waybill lookup on the
    waybill index: in SQL the region's outlet list would steer it to one probe per outlet.)"""
    if not items:
        return items
    inside = set(session.scalars(select(Outlet.id).where(Outlet.id.in_({o for o, _ in items}),
                                                         Outlet.region_code.startswith(region_prefix))))
    return [item for item in items if item[0] in inside]


def parcel_chains(session: Session, items: list[tuple[int, str]], vault: Vault, *, clear: bool,
                  region_prefix: str | None = None) -> list[dict]:
    """Each item's chain: its current record, every version (corrections), the source batch and row, and the
    X-ray events of its waybill with score, flag, model and review decision, plus a timeline of all of it.

    Personal data is in clear only with ``clear``. Test images (TIP) are not part of a parcel's chain.
    """
    if not items:
        return []
    wanted = set(items)
    waybills = sorted({waybill for _, waybill in items})
    by_item: dict[tuple[int, str], list[CollectionRecord]] = defaultdict(list)
    for record in session.scalars(select(CollectionRecord).where(CollectionRecord.waybill_no.in_(waybills))
                                  .options(*RECORD_LOADING)
                                  .order_by(CollectionRecord.version)):
        if (record.outlet_id, record.waybill_no) in wanted:
            by_item[(record.outlet_id, record.waybill_no)].append(record)
    batch_ids = {r.batch_id for records in by_item.values() for r in records}
    batches = {row.id: row for row in session.execute(
        select(UploadBatch.id, UploadBatch.filename, UploadBatch.created_at).where(UploadBatch.id.in_(batch_ids)))}
    events_stmt = (select(XrayEvent).where(XrayEvent.waybill_no.in_(waybills), XrayEvent.is_tip.is_(False))
                   .options(*EVENT_LOADING)
                   .order_by(XrayEvent.scanned_at, XrayEvent.id))
    if region_prefix is not None:
        events_stmt = events_stmt.where(XrayEvent.outlet_id.in_(
            select(Outlet.id).where(Outlet.region_code.startswith(region_prefix))))
    events: dict[str, list[XrayEvent]] = defaultdict(list)
    for event in session.scalars(events_stmt).unique():
        events[event.waybill_no].append(event)
    return [_chain(by_item[item], batches, events[item[1]], vault, clear) for item in items if by_item[item]]


def _chain(records: list[CollectionRecord], batches: dict[int, Row], events: list[XrayEvent], vault: Vault,
           clear: bool) -> dict:
    versions = [record_view(r, vault, clear=clear) for r in records]
    for view, record in zip(versions, records):
        view["source"] = _source(record, batches.get(record.batch_id))
    position = next((i for i in range(len(records) - 1, -1, -1) if records[i].is_current), len(records) - 1)
    current = records[position]
    xray = [event_view(e) for e in events]
    result = {**versions[position], "record_id": current.id, "outlet_name": current.outlet.name,
              "versions": versions, "xray_events": xray}
    result["timeline"] = _timeline(current, records, xray)
    return result


def _source(record: CollectionRecord, batch: Row | None) -> dict:
    return {"batch_id": record.batch_id, "row": record.row_no, "filename": batch.filename if batch else None,
            "uploaded_at": batch.created_at if batch else None}


def event_view(event: XrayEvent) -> dict:
    """An X-ray event in a chain, with links to its image and heat map."""
    review = event.review
    return {
        "id": event.id, "machine_code": event.machine.code, "outlet_code": event.outlet.code,
        "scanned_at": event.scanned_at, "operator_id": event.operator_id, "screener_on_duty": event.screener_on_duty,
        "score": event.score, "flagged": event.flagged, "model_version": event.model_version,
        "status": event.status.value, "evidence_hold": event.evidence_hold,
        "image_available": event.image_purged_at is None,
        "image_url": f"/api/v1/xray-events/{event.id}/image", "heatmap_url": f"/api/v1/xray-events/{event.id}/heatmap",
        "review": None if review is None else {
            "decision": review.decision, "category_code": review.category_code, "note": review.note,
            "reviewer": review.reviewer.username, "decided_at": review.decided_at},
    }


def _timeline(current: CollectionRecord, records: list[CollectionRecord], xray: list[dict]) -> list[dict]:
    # "detail" is a short text for programs; the other keys let pages say it in the reader's language
    steps = [{"at": current.collected_at, "kind": "collected", "detail": current.outlet.code,
              "outlet_code": current.outlet.code, "outlet_name": current.outlet.name}]
    for r in records:
        steps.append({"at": r.created_at, "kind": "stored" if r.version == 1 else "corrected",
                      "detail": f"v{r.version} · batch {r.batch_id} row {r.row_no}", "version": r.version,
                      "batch_id": r.batch_id, "row": r.row_no})
    for e in xray:
        steps.append({"at": e["scanned_at"], "kind": "xray_scanned",
                      "detail": f"{e['machine_code']} · score {e['score']:.3f}" + (" · flagged" if e["flagged"] else ""),
                      "machine_code": e["machine_code"], "score": e["score"], "flagged": e["flagged"]})
        if e["review"]:
            steps.append({"at": e["review"]["decided_at"], "kind": "xray_reviewed", "detail": e["review"]["decision"],
                          "decision": e["review"]["decision"]})
    return sorted(steps, key=lambda s: s["at"])


def add_case_results(session: Session, case_id: int, chains: list[dict]) -> int:
    """Put the chains' current records in the case's evidence set (once each); returns how many were new."""
    ids = {c["record_id"] for c in chains}
    if not ids:
        return 0
    known = set(session.scalars(select(CaseResult.record_id).where(CaseResult.case_id == case_id,
                                                                    CaseResult.record_id.in_(ids))))
    new = sorted(ids - known)
    if new:
        now = utcnow()
        session.execute(insert(CaseResult), [{"case_id": case_id, "record_id": i, "added_at": now} for i in new])
    return len(new)


def hold_evidence(session: Session, chains: list[dict]) -> None:
    """Keep the X-ray images of these chains past the retention period: they are a case's evidence."""
    events = [e for c in chains for e in c["xray_events"] if not e["evidence_hold"]]
    if events:
        session.execute(update(XrayEvent).where(XrayEvent.id.in_({e["id"] for e in events}))
                        .values(evidence_hold=True).execution_options(synchronize_session=False))
        for event in events:
            event["evidence_hold"] = True


def case_items(session: Session, case_id: int) -> list[tuple[int, str]]:
    """The items in a case's evidence set, earliest collected first."""
    rows = session.execute(
        select(CollectionRecord.outlet_id, CollectionRecord.waybill_no)
        .join(CaseResult, CaseResult.record_id == CollectionRecord.id).where(CaseResult.case_id == case_id)
        .group_by(CollectionRecord.outlet_id, CollectionRecord.waybill_no)
        .order_by(func.min(CollectionRecord.collected_at), CollectionRecord.outlet_id, CollectionRecord.waybill_no))
    return [(r.outlet_id, r.waybill_no) for r in rows]
