"""Keeping outlet-day counts, alerts and findings current as batches land (only the days a batch touches)."""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import String, and_, any_, bindparam, case, delete, exists, func, insert, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from greenshield.compliance.verification import (DEFAULT_WINDOW, SCANNED_WHILE_POWERED_OFF, SCANNED_WITHOUT_SCREENER,
                                                 Window, add_to_finding, declared_not_scanned, powered_off,
                                                 verified)
from greenshield.personal.keyring import ID_NO, Vault
from inspection import screening
from inspection.identity import mask_id_no
from inspection.rates import METRICS, DayCounts, below
from models import (Alert, AlertStatus, CollectionRecord, Finding, FindingRecord, Outlet, OutletDay, ScreeningSite, Staff,
                    XrayEvent, utcnow)

Pair = tuple[int, dt.date]


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def refresh_outlet_days(session: Session, pairs: Iterable[Pair], thresholds: dict[str, float], *,
                        window: Window = DEFAULT_WINDOW, now: dt.datetime | None = None) -> None:
    """Recount the given outlet-days from their current records (the X-ray declarations against what the
    machines saw in ``window``), then open or close their alerts and ``declared_not_scanned`` findings."""
    by_outlet: dict[int, set[dt.date]] = defaultdict(set)
    for outlet_id, day in pairs:
        by_outlet[outlet_id].add(day)
    flagged = exists().where(FindingRecord.record_id == CollectionRecord.id)
    for outlet_id, days in by_outlet.items():
        seen = verified(session, window, days)
        rows = session.execute(
            select(CollectionRecord.collected_on, func.count(),
                   _count(CollectionRecord.real_name_compliant),
                   _count(CollectionRecord.real_name_compliant & ~flagged),
                   _count(CollectionRecord.inspected), _count(CollectionRecord.xray_screened),
                   _count(CollectionRecord.xray_screened & seen))
            .where(CollectionRecord.outlet_id == outlet_id, CollectionRecord.collected_on.in_(days),
                   CollectionRecord.is_current.is_(True))
            .group_by(CollectionRecord.collected_on))
        counted = {day: DayCounts(*(int(v or 0) for v in values)) for day, *values in rows}
        for day in days:
            counts = counted.get(day)
            outlet_day = session.get(OutletDay, (outlet_id, day))
            if counts is None:
                if outlet_day is not None:
                    session.delete(outlet_day)
                _set_alerts(session, outlet_id, day, None, thresholds)
                declared_not_scanned(session, outlet_id, day, 0, 0, window, now)
                continue
            if outlet_day is None:
                outlet_day = OutletDay(outlet_id=outlet_id, day=day)
                session.add(outlet_day)
            outlet_day.parcels = counts.parcels
            outlet_day.real_name_ok = counts.real_name_ok
            outlet_day.real_name_adjusted_ok = counts.real_name_adjusted_ok
            outlet_day.inspected_ok = counts.inspected_ok
            outlet_day.xray_ok = counts.xray_ok
            outlet_day.xray_verified_ok = counts.xray_verified_ok
            outlet_day.real_name_rate = counts.real_name_rate
            _set_alerts(session, outlet_id, day, counts, thresholds)
            declared_not_scanned(session, outlet_id, day, counts.xray_ok, counts.xray_verified_ok, window, now)
    session.flush()


def _set_alerts(session: Session, outlet_id: int, day: dt.date, counts: DayCounts | None,
                thresholds: dict[str, float]) -> None:
    existing = {a.metric: a for a in session.scalars(
        select(Alert).where(Alert.outlet_id == outlet_id, Alert.day == day))}
    for metric in METRICS:
        threshold = thresholds[metric]
        value = counts.metric_rate(metric) if counts else None
        alert = existing.get(metric)
        if below(value, threshold):
            if alert is None:
                session.add(Alert(outlet_id=outlet_id, day=day, metric=metric, rate=value, threshold=threshold,
                                  status=AlertStatus.OPEN))
            else:
                alert.rate, alert.threshold = value, threshold
                if alert.status is AlertStatus.CLOSED:
                    alert.status, alert.closed_at = AlertStatus.OPEN, None
        elif alert is not None and alert.status is AlertStatus.OPEN:
            alert.status, alert.closed_at = AlertStatus.CLOSED, utcnow()
            if value is not None:
                alert.rate = value


USAGE_KINDS = (screening.SHARED_ID, screening.MANY_OUTLETS, screening.MANY_ITEMS)


def screen(session: Session, batch: screening.BatchScreening, thresholds: screening.Thresholds,
           vault: Vault) -> set[Pair]:
    """Look for abnormal real-name data around the IDs a batch brought in or corrected away (across all outlets
    on those days): create or refresh findings, tie them to their records, and drop findings whose pattern no
    longer holds. The batch's own IDs are read back from its stored records, set-based in SQL, so a batch of
    millions of rows is screened in bounded memory; ``vault`` decrypts the few IDs a finding shows masked.

    Returns the outlet-days whose adjusted rate may change.
    """
    if batch.batch_id is None and not batch.superseded:
        return set()
    clear = _ClearIds(session, batch.batch_id, vault)
    hits: list[tuple[str, str, dt.date, dict, list[str]]] = []  # kind, subject, day, detail, hmacs
    usage = list(_usage_of_batch(session, batch.batch_id, thresholds)) if batch.batch_id is not None else []
    covered = {(day, h) for day, h, *_ in usage}
    again: dict[dt.date, set[str]] = defaultdict(set)
    for h, day in batch.superseded:
        if (day, h) not in covered:
            again[day].add(h)
    for day, hmacs in again.items():
        usage.extend((day, *counts) for counts in _usage(session, day, sorted(hmacs)))
    for day, h, items, names, outlets in usage:
        for kind in screening.id_usage_kinds(items, names, outlets, thresholds):
            detail = {"id": clear.masked(h), "items": items, "names": names, "outlets": outlets}
            hits.append((kind, h, day, detail, [h]))
    if batch.batch_id is not None:
        for day, h, staff_id, name in session.execute(
                select(CollectionRecord.collected_on, CollectionRecord.sender_id_hmac, Staff.staff_id, Staff.name)
                .join(Staff, Staff.id_no_hmac == CollectionRecord.sender_id_hmac)
                .where(CollectionRecord.batch_id == batch.batch_id).distinct()):
            hits.append((screening.STAFF_ID, h, day, {"id": clear.masked(h), "staff_id": staff_id,
                                                      "staff_name": name}, [h]))
    for (h, day), (number, problem) in batch.problems.items():
        hits.append((screening.BIRTH_DATE, h, day, {"id": mask_id_no(number), "problem": problem}, [h]))
    for day, numbers in batch.numbers.items():
        for run in numbers.runs(thresholds.sequential_run):
            members = [vault.index(n, ID_NO) for n in run]
            subject = hashlib.sha256("".join(sorted(members)).encode()).hexdigest()
            hits.append((screening.SEQUENTIAL, subject, day,
                         {"first": mask_id_no(run[0]), "last": mask_id_no(run[-1]), "count": len(run)}, members))
    touched: set[Pair] = set()
    for kind, subject, day, detail, hmacs in hits:
        touched |= _record_finding(session, kind, subject, day, detail, hmacs)
    still = {(kind, subject, day) for kind, subject, day, _, _ in hits}
    for finding in _usage_findings_of(session, batch.batch_id, again):
        if (finding.kind, finding.subject, finding.day) not in still:
            touched.add((finding.outlet_id, finding.day))
            session.delete(finding)
    session.flush()
    return touched


class _ClearIds:
    """The masked ID behind a blind index: decrypted from one of the batch's records, else as an earlier
    finding showed it (a superseded record's ID)."""

    def __init__(self, session: Session, batch_id: int | None, vault: Vault):
        self.session, self.batch_id, self.vault = session, batch_id, vault

    def masked(self, h: str) -> str:
        if self.batch_id is not None:
            blob = self.session.scalar(select(CollectionRecord.sender_id_enc).where(
                _filter_only(CollectionRecord.batch_id) == self.batch_id, CollectionRecord.sender_id_hmac == h)
                .limit(1))
            if blob is not None:
                return mask_id_no(self.vault.decrypt(blob, ID_NO))
        earlier = self.session.scalar(select(Finding.detail).where(Finding.subject == h).limit(1))
        return (earlier or {}).get("id", "")


def _filter_only(column):
    """``column + 0``: a condition the database checks on the rows another index found, never its way in.

    Screening looks up a sender's records by the blind index (a handful of rows) and also names the batch or the
    outlet. SQLite, with no statistics, prefers the batch's or the outlet-day's index for an equality on them,
    and walks every record of the batch for each ID it screens: at 5 M rows a day, hours instead of seconds.
    Adding zero keeps the meaning and takes that index out of the choice (PostgreSQL plans on statistics)."""
    return column + 0


NOT_A_COMPANY = or_(CollectionRecord.sender_id_type.is_(None), CollectionRecord.sender_id_type != "CREDIT_CODE")
"""A company's credit code serves many senders: not screened as a personal ID."""
USAGE_STEP = 50_000  # records of the batch per usage query: bounds the database's sort and grouping memory


def _usage_of_batch(session: Session, batch_id: int, t: screening.Thresholds):
    """(day, blind index, items, distinct sender names, distinct outlets) of each ID the batch brought in, over
    every current record of that day at any outlet, for the IDs that reach a threshold. Set-based, one query
    per ``USAGE_STEP`` of the batch's record ids, so the database's temporary sorts stay bounded whatever the
    batch's size (SQLite keeps them in this process); an ID in several steps is reported once."""
    low, high = session.execute(select(func.min(CollectionRecord.id), func.max(CollectionRecord.id))
                                .where(CollectionRecord.batch_id == batch_id)).one()
    if low is None:
        return
    record = aliased(CollectionRecord)
    items, names, outlets = (func.count(), func.count(func.distinct(record.sender_name)),
                             func.count(func.distinct(record.outlet_id)))
    seen: set[tuple[dt.date, str]] = set()
    for start in range(low, high + 1, USAGE_STEP):
        ours = (select(CollectionRecord.collected_on.label("day"), CollectionRecord.sender_id_hmac.label("h"))
                .where(CollectionRecord.batch_id == batch_id, CollectionRecord.id >= start,
                       CollectionRecord.id < start + USAGE_STEP, CollectionRecord.sender_id_hmac.is_not(None),
                       NOT_A_COMPANY)
                .distinct().subquery())
        for day, h, *counts in session.execute(
                select(ours.c.day, ours.c.h, items, names, outlets)
                .join(record, and_(record.sender_id_hmac == ours.c.h, record.collected_on == ours.c.day,
                                   record.is_current.is_(True)))
                .group_by(ours.c.day, ours.c.h)
                .having(or_(items >= t.items_per_id, names >= t.names_per_id, outlets >= t.outlets_per_id))):
            if (day, h) not in seen:
                seen.add((day, h))
                yield day, h, *counts


def _usage_findings_of(session: Session, batch_id: int | None, again: dict[dt.date, set[str]]):
    """The usage findings (shared ID, many outlets, many items) on an ID and day of the batch, or of ``again``."""
    if batch_id is not None:
        yield from session.scalars(select(Finding).where(Finding.kind.in_(USAGE_KINDS), exists().where(
            _filter_only(CollectionRecord.batch_id) == batch_id, CollectionRecord.sender_id_hmac == Finding.subject,
            CollectionRecord.collected_on == Finding.day)))
    for day, hmacs in again.items():
        stale = session.scalars(select(Finding).where(Finding.day == day, Finding.kind.in_(USAGE_KINDS))).all()
        yield from (f for f in stale if f.subject in hmacs)


def _usage(session: Session, day: dt.date, hmacs: list[str]):
    """(blind index, items, distinct sender names, distinct outlets) of each ID's current records on ``day``.

    PostgreSQL takes 5,000 IDs a query as one array parameter; SQLite 500 binds a query.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    step = 5000 if postgres else 500
    for start in range(0, len(hmacs), step):
        some = hmacs[start:start + step]
        if postgres:
            matches = CollectionRecord.sender_id_hmac == any_(bindparam("hmacs", some, type_=ARRAY(String)))
        else:
            matches = CollectionRecord.sender_id_hmac.in_(some)
        yield from session.execute(
            select(CollectionRecord.sender_id_hmac, func.count(),
                   func.count(func.distinct(CollectionRecord.sender_name)),
                   func.count(func.distinct(CollectionRecord.outlet_id)))
            .where(CollectionRecord.is_current.is_(True), CollectionRecord.collected_on == day, matches)
            .group_by(CollectionRecord.sender_id_hmac))


def _record_finding(session: Session, kind: str, subject: str, day: dt.date, detail: dict,
                    hmacs: list[str]) -> set[Pair]:
    """Create or refresh the finding at each outlet with records of ``hmacs`` on ``day``, tying its records
    set-based (``INSERT … SELECT``): a busy sender's finding may cover hundreds of thousands of records."""
    behind = and_(CollectionRecord.is_current.is_(True), CollectionRecord.collected_on == day,
                  CollectionRecord.sender_id_hmac.in_(hmacs))
    by_outlet: dict[int, int] = dict(session.execute(
        select(CollectionRecord.outlet_id, func.count()).where(behind).group_by(CollectionRecord.outlet_id)).all())
    if kind == screening.SEQUENTIAL:
        by_outlet = {o: n for o, n in by_outlet.items() if n >= 2}
    for gone in session.scalars(select(Finding).where(Finding.kind == kind, Finding.day == day,
                                                      Finding.subject == subject,
                                                      Finding.outlet_id.not_in(list(by_outlet) or [0]))):
        session.delete(gone)
        by_outlet.setdefault(gone.outlet_id, 0)
    for outlet_id, count in by_outlet.items():
        if not count:
            continue
        finding = session.scalar(select(Finding).where(Finding.kind == kind, Finding.outlet_id == outlet_id,
                                                       Finding.day == day, Finding.subject == subject))
        if finding is None:
            finding = Finding(kind=kind, outlet_id=outlet_id, day=day, subject=subject, records=0, detail={})
            session.add(finding)
            session.flush()
        finding.records = count
        finding.detail = detail
        session.execute(delete(FindingRecord).where(FindingRecord.finding_id == finding.id))
        session.execute(insert(FindingRecord).from_select(
            ["finding_id", "record_id"],
            select(literal(finding.id), CollectionRecord.id).where(
                behind, _filter_only(CollectionRecord.outlet_id) == outlet_id)))
    return {(outlet_id, day) for outlet_id in by_outlet}


def event_recorded(session: Session, event: XrayEvent, thresholds: dict[str, float], window: Window, *,
                   recount: bool = True) -> set[tuple[int, dt.date]]:
    """After an X-ray event is stored: its machine-side findings (a scan while the machine reported itself off,
    a scan with no screener checked in), and the verified counts of the records it may verify (a log that came
    before its scans). Test images (TIP) are neither. Returns the outlet-days to recount; with ``recount``
    (default) recounts them now — a bulk import passes False and recounts the union once at the end."""
    if event.is_tip:
        return set()
    if powered_off(session, event):
        add_to_finding(session, SCANNED_WHILE_POWERED_OFF, event)
    if event.screener_on_duty is None:
        add_to_finding(session, SCANNED_WITHOUT_SCREENER, event)
    served = select(Outlet.id).where(or_(Outlet.id == event.outlet_id, Outlet.id.in_(
        select(ScreeningSite.outlet_id).where(ScreeningSite.site_id == event.outlet_id))))
    pairs = {(outlet_id, day) for outlet_id, day in session.execute(
        select(CollectionRecord.outlet_id, CollectionRecord.collected_on)
        .where(CollectionRecord.waybill_no == event.waybill_no, CollectionRecord.is_current.is_(True),
               CollectionRecord.outlet_id.in_(served)))}
    if pairs and recount:
        refresh_outlet_days(session, pairs, thresholds, window=window)
    session.flush()
    return pairs


def refresh_outlet(session: Session, outlet: Outlet, thresholds: dict[str, float], window: Window) -> None:
    """Recount every day of an outlet (its screening site changed: which scans verify its records changed)."""
    days = session.scalars(select(OutletDay.day).where(OutletDay.outlet_id == outlet.id)).all()
    refresh_outlet_days(session, {(outlet.id, day) for day in days}, thresholds, window=window)
