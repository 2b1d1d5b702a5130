"""Read side of compliance: per-day series, the league table, roll-ups. Reads the kept counts only."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, String, cast, func, select
from sqlalchemy.orm import Session

from greenshield.auth.policy import scope_outlets
from inspection.rates import DayCounts, below, rate
from models import Alert, AlertStatus, Enterprise, Outlet, OutletDay, Region, User
from models.registry import prefix_of


def _counts(day: OutletDay) -> DayCounts:
    return DayCounts(day.parcels, day.real_name_ok, day.real_name_adjusted_ok, day.inspected_ok, day.xray_ok,
                     day.xray_verified_ok)


def day_row(day: dt.date, counts: DayCounts | None, threshold: float) -> dict:
    if counts is None:
        return {"date": day, "parcels": 0, "real_name_rate": None, "adjusted_real_name_rate": None,
                "inspection_rate": None, "xray_rate": None, "xray_rate_verified": None, "below_threshold": False}
    return {"date": day, "parcels": counts.parcels, "real_name_rate": counts.real_name_rate,
            "adjusted_real_name_rate": counts.adjusted_real_name_rate, "inspection_rate": counts.inspection_rate,
            "xray_rate": counts.xray_rate, "xray_rate_verified": counts.xray_rate_verified,
            "below_threshold": below(counts.real_name_rate, threshold)}


def outlet_series(session: Session, outlet: Outlet, start: dt.date, end: dt.date, threshold: float) -> list[dict]:
    """One row per day with parcels between ``start`` and ``end`` (inclusive)."""
    days = session.scalars(select(OutletDay).where(OutletDay.outlet_id == outlet.id, OutletDay.day >= start,
                                                   OutletDay.day <= end).order_by(OutletDay.day))
    return [day_row(d.day, _counts(d), threshold) for d in days]


def league_table(session: Session, scoped: Select, day: dt.date, threshold: float) -> list[dict]:
    """Every active outlet of ``scoped`` (a select of Outlet) on ``day``, worst real-name rate first; outlets
    that reported nothing come last. One query of plain columns: no ORM objects for thousands of outlets."""
    outlets = scoped.where(Outlet.active.is_(True)).subquery()
    alerts = (select(Alert.outlet_id, func.count().label("n")).where(Alert.status == AlertStatus.OPEN)
              .group_by(Alert.outlet_id).subquery())
    stmt = (select(outlets.c.code, outlets.c.name, Enterprise.code, outlets.c.region_code, OutletDay.parcels,
                   OutletDay.real_name_ok, OutletDay.real_name_adjusted_ok, OutletDay.inspected_ok, OutletDay.xray_ok,
                   OutletDay.xray_verified_ok, alerts.c.n)
            .join(Enterprise, Enterprise.id == outlets.c.enterprise_id)
            .outerjoin(OutletDay, (OutletDay.outlet_id == outlets.c.id) & (OutletDay.day == day))
            .outerjoin(alerts, alerts.c.outlet_id == outlets.c.id))
    rows = []
    for code, name, enterprise, region, parcels, rn, rna, ins, xr, xv, open_alerts in session.execute(stmt):
        counts = DayCounts(parcels, rn, rna, ins, xr, xv) if parcels is not None else None
        row = day_row(day, counts, threshold)
        row.update(outlet_code=code, outlet_name=name, enterprise_code=enterprise, region_code=region,
                   reported=counts is not None, open_alerts=open_alerts or 0)
        rows.append(row)
    rows.sort(key=lambda r: (not r["reported"], r["real_name_rate"] if r["real_name_rate"] is not None else 2,
                             r["outlet_code"]))
    return rows


def machine_coverage(session: Session, scoped: Select) -> dict:
    """Which active outlets and sorting centres of ``scoped`` a machine covers (an active machine of their own or
    of their designated screening site), in all and by league/city and enterprise, with the uncovered listed."""
    from greenshield.compliance.verification import covering_outlets

    outlets = scoped.where(Outlet.active.is_(True)).subquery()
    covered = set(session.scalars(covering_outlets()))
    names = {r.code: r.name for r in session.scalars(select(Region).where(Region.level <= 2))}
    rows = session.execute(select(outlets.c.id, outlets.c.code, outlets.c.name, outlets.c.kind, outlets.c.region_code,
                                  Enterprise.code, Enterprise.name)
                           .join(Enterprise, Enterprise.id == outlets.c.enterprise_id)).all()
    groups: dict[str, dict[str, dict]] = {"region": {}, "enterprise": {}}
    uncovered = []
    for outlet_id, code, name, kind, region_code, enterprise_code, enterprise_name in rows:
        league = region_code[:4] + "00"
        is_covered = outlet_id in covered
        for by, key, label in (("region", league, names.get(league, league)),
                               ("enterprise", enterprise_code, enterprise_name)):
            group = groups[by].setdefault(key, {"key": key, "name": label, "sites_total": 0, "sites_covered": 0})
            group["sites_total"] += 1
            group["sites_covered"] += is_covered
        if not is_covered:
            uncovered.append({"code": code, "name": name, "kind": getattr(kind, "value", kind),
                              "region_code": region_code, "enterprise_code": enterprise_code})
    for by in groups.values():
        for group in by.values():
            group["coverage"] = rate(group["sites_covered"], group["sites_total"])
    total = len(rows)
    return {"sites_total": total, "sites_covered": total - len(uncovered),
            "coverage": rate(total - len(uncovered), total),
            "by_region": sorted(groups["region"].values(), key=lambda g: g["key"]),
            "by_enterprise": sorted(groups["enterprise"].values(), key=lambda g: g["key"]),
            "uncovered": sorted(uncovered, key=lambda u: u["code"])}


def scoped_outlets(user: User, *, region: str | None, enterprise: str | None) -> Select:
    """The outlets ``user`` may see, narrowed to a region and/or an enterprise."""
    stmt = scope_outlets(select(Outlet), user)
    if region:
        stmt = stmt.where(Outlet.region_code.startswith(prefix_of(region)))
    if enterprise:
        stmt = stmt.join(Enterprise, Outlet.enterprise_id == Enterprise.id).where(Enterprise.code == enterprise.upper())
    return stmt.order_by(Outlet.code)


def rollup(session: Session, scoped: Select, by: str, start: dt.date, end: dt.date) -> list[dict]:
    """Counts summed by enterprise, league/city, or month, over the outlets of ``scoped``."""
    ids = select(scoped.subquery().c.id)
    sums = (func.count(func.distinct(OutletDay.outlet_id)), func.sum(OutletDay.parcels),
            func.sum(OutletDay.real_name_ok), func.sum(OutletDay.real_name_adjusted_ok),
            func.sum(OutletDay.inspected_ok), func.sum(OutletDay.xray_ok), func.sum(OutletDay.xray_verified_ok))
    base = select().select_from(OutletDay).join(Outlet, OutletDay.outlet_id == Outlet.id).where(
        OutletDay.outlet_id.in_(ids), OutletDay.day >= start, OutletDay.day <= end)
    if by == "enterprise":
        stmt = base.join(Enterprise, Outlet.enterprise_id == Enterprise.id).add_columns(
            Enterprise.code, Enterprise.name, *sums).group_by(Enterprise.code, Enterprise.name)
    elif by == "region":
        league = func.substr(Outlet.region_code, 1, 4)
        stmt = base.add_columns(league, league, *sums).group_by(league)
    else:
        month = func.substr(cast(OutletDay.day, String), 1, 7)
        stmt = base.add_columns(month, month, *sums).group_by(month)
    names = {}
    if by == "region":
        names = {r.code[:4]: r.name for r in session.scalars(select(Region).where(Region.level == 2))}
    result = []
    for key, name, outlets, parcels, rn, rna, ins, xr, xv in session.execute(stmt):
        parcels = int(parcels or 0)
        result.append({"key": key + ("00" if by == "region" else ""), "name": names.get(key, name),
                       "outlets": outlets, "parcels": parcels,
                       "real_name_rate": rate(int(rn or 0), parcels), "adjusted_real_name_rate": rate(int(rna or 0), parcels),
                       "inspection_rate": rate(int(ins or 0), parcels), "xray_rate": rate(int(xr or 0), parcels),
                       "xray_rate_verified": rate(int(xv or 0), parcels)})
    return sorted(result, key=lambda r: r["key"])
