"""Keeping outlet-day counts, alerts and findings current as batches land (only the days a batch touches)."""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import String, any_, bindparam, case, delete, exists, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from greenshield.compliance.verification import DEFAULT_WINDOW, Window, declared_not_scanned, verified
from inspection import screening
from inspection.identity import mask_id_no
from inspection.rates import METRICS, DayCounts, below
from models import (Alert, AlertStatus, CollectionRecord, Finding, FindingRecord, OutletDay, Staff, utcnow)

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


def screen(session: Session, screen_rows: list[tuple[str, str | None, dt.date, str]],
           thresholds: screening.Thresholds) -> set[Pair]:
    """Look for abnormal real-name data around the IDs a batch brought in or corrected away (across all outlets
    on those days): create or refresh findings, tie them to their records, and drop findings whose pattern no
    longer holds. ``screen_rows`` are (blind index, clear ID or None, day, birth-date problem).

    Returns the outlet-days whose adjusted rate may change.
    """
    if not screen_rows:
        return set()
    clear_of = {h: clear for h, clear, _, _ in screen_rows if clear}
    by_day: dict[dt.date, set[str]] = defaultdict(set)
    for h, _, day, _ in screen_rows:
        by_day[day].add(h)
    hits: list[tuple[str, str, dt.date, dict, list[str]]] = []  # kind, subject, day, detail, hmacs
    for day, hmacs in by_day.items():
        for h, items, names, outlets in _usage(session, day, sorted(hmacs)):
            for kind in screening.id_usage_kinds(items, names, outlets, thresholds):
                detail = {"id": _masked(session, h, clear_of), "items": items, "names": names, "outlets": outlets}
                hits.append((kind, h, day, detail, [h]))
    staff = {h: (sid, name) for h, sid, name in session.execute(
        select(Staff.id_no_hmac, Staff.staff_id, Staff.name).where(Staff.id_no_hmac.is_not(None)))
        if h in clear_of}
    seen = set()
    for h, clear, day, problem in screen_rows:
        if clear is None:
            continue
        if h in staff and (screening.STAFF_ID, h, day) not in seen:
            seen.add((screening.STAFF_ID, h, day))
            hits.append((screening.STAFF_ID, h, day, {"id": mask_id_no(clear), "staff_id": staff[h][0],
                                                      "staff_name": staff[h][1]}, [h]))
        if problem and (screening.BIRTH_DATE, h, day) not in seen:
            seen.add((screening.BIRTH_DATE, h, day))
            hits.append((screening.BIRTH_DATE, h, day, {"id": mask_id_no(clear), "problem": problem}, [h]))
    clear_by_day: dict[dt.date, dict[str, str]] = defaultdict(dict)
    for h, clear, day, _ in screen_rows:
        if clear:
            clear_by_day[day][clear] = h
    for day, ids in clear_by_day.items():
        for run in screening.sequential_runs(ids, thresholds.sequential_run):
            members = [ids[n] for n in run]
            subject = hashlib.sha256("".join(sorted(members)).encode()).hexdigest()
            hits.append((screening.SEQUENTIAL, subject, day,
                         {"first": mask_id_no(run[0]), "last": mask_id_no(run[-1]), "count": len(run)}, members))
    touched: set[Pair] = set()
    for kind, subject, day, detail, hmacs in hits:
        touched |= _record_finding(session, kind, subject, day, detail, hmacs)
    still = {(kind, subject, day) for kind, subject, day, _, _ in hits}
    for day, hmacs in by_day.items():
        stale = session.scalars(select(Finding).where(Finding.day == day, Finding.kind.in_(USAGE_KINDS))).all()
        for finding in (f for f in stale if f.subject in hmacs):
            if (finding.kind, finding.subject, finding.day) not in still:
                touched.add((finding.outlet_id, finding.day))
                session.delete(finding)
    session.flush()
    return touched


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


def _masked(session: Session, h: str, clear_of: dict[str, str]) -> str:
    """The masked ID of a blind index: from the batch when it brought the ID, else from an earlier finding."""
    if h in clear_of:
        return mask_id_no(clear_of[h])
    earlier = session.scalar(select(Finding.detail).where(Finding.subject == h).limit(1))
    return (earlier or {}).get("id", "")


def _record_finding(session: Session, kind: str, subject: str, day: dt.date, detail: dict,
                    hmacs: list[str]) -> set[Pair]:
    records = session.execute(
        select(CollectionRecord.id, CollectionRecord.outlet_id)
        .where(CollectionRecord.is_current.is_(True), CollectionRecord.collected_on == day,
               CollectionRecord.sender_id_hmac.in_(hmacs))).all()
    by_outlet: dict[int, list[int]] = defaultdict(list)
    for record_id, outlet_id in records:
        by_outlet[outlet_id].append(record_id)
    if kind == screening.SEQUENTIAL:
        by_outlet = {o: ids for o, ids in by_outlet.items() if len(ids) >= 2}
    for gone in session.scalars(select(Finding).where(Finding.kind == kind, Finding.day == day,
                                                      Finding.subject == subject,
                                                      Finding.outlet_id.not_in(list(by_outlet) or [0]))):
        session.delete(gone)
        by_outlet.setdefault(gone.outlet_id, [])
    for outlet_id, ids in by_outlet.items():
        if not ids:
            continue
        finding = session.scalar(select(Finding).where(Finding.kind == kind, Finding.outlet_id == outlet_id,
                                                       Finding.day == day, Finding.subject == subject))
        if finding is None:
            finding = Finding(kind=kind, outlet_id=outlet_id, day=day, subject=subject, records=0, detail={})
            session.add(finding)
            session.flush()
        finding.records = len(ids)
        finding.detail = detail
        session.execute(delete(FindingRecord).where(FindingRecord.finding_id == finding.id))
        session.execute(insert(FindingRecord), [{"finding_id": finding.id, "record_id": i} for i in ids])
    return {(outlet_id, day) for outlet_id in by_outlet}
