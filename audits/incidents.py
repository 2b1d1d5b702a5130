"""Safety incidents (突发事件): the grading rule, the first report's deadline, and the use cases from report to
grade confirmation, follow-up reports and closing, with the alerts each step owes people.

The rule is documented in docs/incidents.md; ``suggest_grade`` is it. Functions take a session, flush and never
commit; they know nothing of Flask.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audits.errors import Conflict, Invalid
from models import Incident, IncidentGrade, IncidentStatus, IncidentType, IncidentUpdate, Notification, Outlet, User

G = IncidentGrade
# (casualties at least, grade), gravest first: people dead or seriously injured.
CASUALTY_GRADES = ((30, G.I), (10, G.II), (3, G.III))
# (records at least, grade) for parcels held up (backlog) or personal-data records leaked (data_leak).
RECORD_GRADES = {
    IncidentType.DATA_LEAK: ((10_000_000, G.I), (1_000_000, G.II), (100_000, G.III)),
    IncidentType.BACKLOG: ((5_000_000, G.I), (1_000_000, G.II), (100_000, G.III)),
}
# Any other kind of incident touching this many parcels or records is at least grade III.
OTHER_RECORDS_III = 10_000
# Kinds that are at least grade III whatever their toll: they threaten public safety beyond the outlet.
GRAVE_TYPES = {IncidentType.EXPLOSION: G.III, IncidentType.VIOLENCE_THREAT: G.III}
ORDER = (G.I, G.II, G.III, G.IV)
ESCALATED_GRADES = (G.I, G.II)
REPORTED = "incident_reported"
ESCALATED = "incident_escalated"
GRADE_CONFIRMED = "incident_graded"
CLOSED = "incident_closed"


def gravest(*grades: IncidentGrade) -> IncidentGrade:
    return min(grades, key=ORDER.index)


def suggest_grade(kind: IncidentType, casualties: int = 0, records_affected: int = 0) -> IncidentGrade:
    """The grade the facts suggest (docs/incidents.md): the gravest of the grade of the casualties, of the records
    or parcels affected, and of the kind; grade IV when nothing reaches a threshold."""
    grades = [G.IV]
    grades += [grade for least, grade in CASUALTY_GRADES if casualties >= least][:1]
    steps = RECORD_GRADES.get(kind, ((OTHER_RECORDS_III, G.III),))
    grades += [grade for least, grade in steps if records_affected >= least][:1]
    if kind in GRAVE_TYPES:
        grades.append(GRAVE_TYPES[kind])
    return gravest(*grades)


def report_due(occurred_at: dt.datetime, grade: IncidentGrade, hours: Mapping[IncidentGrade, int]) -> dt.datetime:
    """When the first report of an incident of ``grade`` that occurred at ``occurred_at`` is due."""
    return occurred_at + dt.timedelta(hours=hours[grade])


@dataclass
class Alerted:
    """Whom a step told: the users notified in the app, and whether the province was told (grades I-II)."""

    incident: Incident
    notified: list[int] = field(default_factory=list)
    escalated: bool = False


def notification_data(incident: Incident) -> dict:
    """What a notification (and the webhook) says of an incident: no personal data, no free text."""
    outlet = incident.outlet
    return {"incident_id": incident.id, "outlet_code": outlet.code, "outlet_name": outlet.name,
            "type": incident.type.value, "grade": incident.effective_grade.value}


def _notify(session: Session, users: list[User], kind: str, incident: Incident, message: str) -> list[int]:
    for user in users:
        session.add(Notification(user_id=user.id, kind=kind, data=notification_data(incident), message=message))
    return [u.id for u in users]


def _escalate(session: Session, incident: Incident, alerted: Alerted, now: dt.datetime,
              escalate_to: Sequence[User], actor: User) -> None:
    """Tell the province (``escalate_to``, but not the one who acts) of a grade I or II incident, once."""
    if incident.escalated_at is None and incident.effective_grade in ESCALATED_GRADES:
        incident.escalated_at = now
        alerted.escalated = True
        alerted.notified += _notify(session, [u for u in escalate_to if u.id != actor.id], ESCALATED, incident,
                                    f"Grade {incident.effective_grade.value} incident at {incident.outlet.code}: "
                                    "escalated to the province.")


def report_incident(session: Session, *, outlet: Outlet, reporter: User, kind: IncidentType,
                    occurred_at: dt.datetime, description: str, casualties: int = 0, records_affected: int = 0,
                    measures: str | None = None, now: dt.datetime, hours: Mapping[IncidentGrade, int],
                    alert_to: Sequence[User], escalate_to: Sequence[User]) -> Alerted:
    """Record the first report of an incident; the grade is suggested by the rule and the report is marked late
    when it comes after the deadline of that grade. Tells ``alert_to`` (the region's inspectors) at once, and
    ``escalate_to`` (the province) when the grade is I or II. Raises Invalid for an incident in the future."""
    if occurred_at > now + dt.timedelta(minutes=10):
        raise Invalid("validation_error.incident_in_future", field="occurred_at")
    grade = suggest_grade(kind, casualties, records_affected)
    due = report_due(occurred_at, grade, hours)
    incident = Incident(outlet=outlet, outlet_id=outlet.id, type=kind, occurred_at=occurred_at, reported_at=now,
                        reported_by_id=reporter.id, description=description, casualties=casualties,
                        records_affected=records_affected, measures=measures, grade_suggested=grade,
                        report_due_at=due, late=now > due, status=IncidentStatus.REPORTED)
    session.add(incident)
    session.flush()
    alerted = Alerted(incident)
    alerted.notified += _notify(session, [u for u in alert_to if u.id != reporter.id],
                                REPORTED, incident, f"New incident at {outlet.code}: {kind.value}, "
                                f"suggested grade {grade.value}.")
    _escalate(session, incident, alerted, now, escalate_to, reporter)
    session.flush()
    return alerted


def confirm_grade(session: Session, incident: Incident, *, grade: IncidentGrade, by: User, now: dt.datetime,
                  hours: Mapping[IncidentGrade, int], escalate_to: Sequence[User]) -> Alerted:
    """An inspector confirms (or corrects) the grade: the deadline and lateness follow the confirmed grade, and a
    grade I or II not yet escalated goes to the province. Raises Conflict once the incident is closed."""
    if incident.status is IncidentStatus.CLOSED:
        raise Conflict("conflict.incident_closed")
    incident.grade, incident.grade_confirmed_by_id, incident.grade_confirmed_at = grade, by.id, now
    incident.status = IncidentStatus.CONFIRMED
    incident.report_due_at = report_due(incident.occurred_at, grade, hours)
    incident.late = incident.reported_at > incident.report_due_at
    alerted = Alerted(incident)
    if incident.reported_by_id and incident.reported_by_id != by.id:
        alerted.notified += _notify(session, [session.get(User, incident.reported_by_id)], GRADE_CONFIRMED, incident,
                                    f"Incident {incident.id}: grade {grade.value} confirmed.")
    _escalate(session, incident, alerted, now, escalate_to, by)
    session.flush()
    return alerted


def add_update(session: Session, incident: Incident, *, author: User, text: str, now: dt.datetime) -> IncidentUpdate:
    """Append a follow-up report (续报). Raises Conflict once the incident is closed."""
    if incident.status is IncidentStatus.CLOSED:
        raise Conflict("conflict.incident_closed")
    update = IncidentUpdate(incident_id=incident.id, author_id=author.id, text=text, created_at=now)
    session.add(update)
    session.flush()
    session.refresh(incident, ["updates"])
    return update


def close_incident(session: Session, incident: Incident, *, by: User, summary: str, now: dt.datetime) -> Incident:
    """Close the incident with its summary (总结报告); its reporter is told. Raises Conflict when it is closed
    already or its grade was never confirmed."""
    if incident.status is IncidentStatus.CLOSED:
        raise Conflict("conflict.incident_closed")
    if incident.grade is None:
        raise Conflict("conflict.incident_not_graded")
    incident.status, incident.summary, incident.closed_at, incident.closed_by_id = \
        IncidentStatus.CLOSED, summary, now, by.id
    if incident.reported_by_id and incident.reported_by_id != by.id:
        _notify(session, [session.get(User, incident.reported_by_id)], CLOSED, incident,
                f"Incident {incident.id} closed.")
    session.flush()
    return incident


def late_reports(session: Session, since: dt.datetime, until: dt.datetime) -> dict[int, int]:
    """Late first reports per outlet reported in [since, until)."""
    rows = session.execute(select(Incident.outlet_id, func.count()).where(
        Incident.late.is_(True), Incident.reported_at >= since, Incident.reported_at < until)
        .group_by(Incident.outlet_id))
    return {outlet_id: int(count) for outlet_id, count in rows}
