"""The daily safety report (安全运行日报) of a region and a day: rates, verified screening where known, alerts, X-ray
flags and seizures, incidents by grade. One page; the same figures feed the page, the JSON and the PDF."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from greenshield.errors import Invalid
from greenshield.settings import Settings
from models import Alert, AlertStatus, Incident, IncidentGrade, Outlet, OutletDay, Region, User, XrayEvent, XrayReview
from models.base import CHINA, china_today
from models.registry import prefix_of

WORST_OUTLETS = 5


@dataclass
class OutletLine:
    code: str
    name: str
    parcels: int
    real_name_rate: float
    inspection_rate: float
    xray_rate: float


@dataclass
class IncidentLine:
    id: int
    outlet_name: str
    type: str
    grade: str
    confirmed: bool
    status: str
    late: bool


@dataclass
class DailyReport:
    region_code: str
    region_name: str
    day: dt.date
    outlets_reporting: int = 0
    parcels: int = 0
    real_name_rate: float | None = None
    inspection_rate: float | None = None
    xray_rate: float | None = None
    xray_rate_verified: float | None = None  # None: no verified screening is recorded
    outlets_below: int = 0
    alerts: dict[str, int] = field(default_factory=dict)  # alerts opened for the day, per metric
    open_alerts: int = 0  # alerts of the region still open
    scans: int = 0
    flagged: int = 0
    seized: int = 0
    referred: int = 0
    incidents_by_grade: dict[str, int] = field(default_factory=dict)
    incidents: list[IncidentLine] = field(default_factory=list)
    late_reports: int = 0
    worst: list[OutletLine] = field(default_factory=list)

    @property
    def alerts_total(self) -> int:
        return sum(self.alerts.values())

    @property
    def incidents_total(self) -> int:
        return sum(self.incidents_by_grade.values())


def _rate(ok: int, total: int) -> float | None:
    return round(ok / total, 6) if total else None


def china_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=CHINA)
    return start, start + dt.timedelta(days=1)


def build(session: Session, region: Region, day: dt.date, settings: Settings) -> DailyReport:
    """The report of ``region`` (every outlet under it) for ``day`` (China time)."""
    prefix = prefix_of(region.code)
    in_region = Outlet.region_code.startswith(prefix)
    report = DailyReport(region.code, region.name, day)
    start, end = china_day_bounds(day)
    days = session.scalars(select(OutletDay).join(Outlet, OutletDay.outlet_id == Outlet.id)
                           .where(in_region, OutletDay.day == day, OutletDay.parcels > 0)).all()
    thresholds = settings.thresholds
    lines = []
    for row in days:
        lines.append(OutletLine(row.outlet.code, row.outlet.name, row.parcels, row.real_name_ok / row.parcels,
                                row.inspected_ok / row.parcels, row.xray_ok / row.parcels))
        report.outlets_below += int(row.real_name_ok < thresholds["real_name"] * row.parcels
                                    or row.inspected_ok < thresholds["inspection"] * row.parcels
                                    or row.xray_ok < thresholds["xray"] * row.parcels)
    report.outlets_reporting = len(days)
    report.parcels = total = sum(r.parcels for r in days)
    report.real_name_rate = _rate(sum(r.real_name_ok for r in days), total)
    report.inspection_rate = _rate(sum(r.inspected_ok for r in days), total)
    report.xray_rate = _rate(sum(r.xray_ok for r in days), total)
    report.xray_rate_verified = _rate(sum(r.xray_verified_ok or 0 for r in days), total)
    report.worst = sorted(lines, key=lambda line: (line.real_name_rate, line.code))[:WORST_OUTLETS]
    report.alerts = {metric: int(count) for metric, count in session.execute(
        select(Alert.metric, func.count()).join(Outlet, Alert.outlet_id == Outlet.id)
        .where(in_region, Alert.day == day).group_by(Alert.metric).order_by(Alert.metric))}
    report.open_alerts = int(session.scalar(select(func.count()).select_from(Alert).join(
        Outlet, Alert.outlet_id == Outlet.id).where(in_region, Alert.status == AlertStatus.OPEN)) or 0)
    scans = select(func.count()).select_from(XrayEvent).join(Outlet, XrayEvent.outlet_id == Outlet.id).where(
        in_region, XrayEvent.scanned_at >= start, XrayEvent.scanned_at < end, XrayEvent.is_tip.is_(False))
    report.scans = int(session.scalar(scans) or 0)
    report.flagged = int(session.scalar(scans.where(XrayEvent.flagged.is_(True))) or 0)
    for decision, count in session.execute(
            select(XrayReview.decision, func.count()).join(XrayEvent, XrayReview.event_id == XrayEvent.id)
            .join(Outlet, XrayEvent.outlet_id == Outlet.id)
            .where(in_region, XrayReview.decided_at >= start, XrayReview.decided_at < end,
                   XrayReview.decision.in_(("seized", "referred"))).group_by(XrayReview.decision)):
        setattr(report, decision, int(count))
    found = session.scalars(select(Incident).join(Outlet, Incident.outlet_id == Outlet.id).where(
        in_region, Incident.occurred_at >= start, Incident.occurred_at < end).order_by(Incident.occurred_at)).all()
    report.incidents_by_grade = {g.value: 0 for g in IncidentGrade}
    for incident in found:
        report.incidents_by_grade[incident.effective_grade.value] += 1
        report.incidents.append(IncidentLine(incident.id, incident.outlet.name, incident.type.value,
                                             incident.effective_grade.value, incident.grade is not None,
                                             incident.status.value, incident.late))
    report.late_reports = sum(1 for i in found if i.late)
    return report


def yesterday() -> dt.date:
    return china_today() - dt.timedelta(days=1)


def for_user(session: Session, user: User, args: dict, settings: Settings) -> DailyReport:
    """The report a user asked for: ``region`` (default: their own, or the province), ``date`` (default:
    yesterday). Raises Invalid for an unknown region or a future day, Forbidden outside the user's scope."""
    from greenshield.incidents.services import region_in

    code = args.get("region") or user.region_code or _province(session)
    region = region_in(session, user, code)
    day = args.get("date") or yesterday()
    if day > china_today():
        raise Invalid("validation_error.date_in_future", field="date")
    return build(session, region, day, settings)


def _province(session: Session) -> str:
    return session.scalar(select(Region.code).where(Region.level == 1).order_by(Region.code)) or "150000"
