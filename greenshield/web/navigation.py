"""The navigation: each entry is shown to whoever holds one of its capabilities."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from greenshield.auth.permissions import Capability as C, can
from models import Role, User


@dataclass(frozen=True)
class NavItem:
    capabilities: tuple[C, ...]
    endpoint: str
    label: object
    hint: object
    args: tuple[tuple[str, str], ...] = ()


NAV = (
    NavItem((C.READ_COMPLIANCE,), "dashboard.league", _l("Compliance"), _l("League table, trends, alerts, findings")),
    NavItem((C.UPLOAD_DAILY_LOG,), "ingest_pages.upload", _l("Upload"), _l("Upload a daily log")),
    NavItem((C.REVIEW_XRAY,), "xray_pages.queue", _l("X-ray review"), _l("Flagged images waiting for a decision")),
    NavItem((C.REVIEW_XRAY,), "xray_pages.models", _l("X-ray models"),
            _l("Model versions, their ROC and false-flag budget, the machines using each")),
    NavItem((C.FOLLOW_CLUES,), "xray_pages.clues", _l("Clues"), _l("Seizures followed through to other agencies")),
    NavItem((C.FOLLOW_CLUES,), "xray_pages.seizures", _l("Seizure statistics"),
            _l("Seizures by prohibited-item category, region, enterprise and month")),
    NavItem((C.WORK_AUDITS,), "audit_pages.index", _l("Audits"), _l("Draws, my audits, the audit form")),
    NavItem((C.READ_AUDITS,), "audit_pages.orders", _l("Rectification"), _l("Rectification orders and responses")),
    NavItem((C.PUBLISH_AUDITS,), "audit_pages.publication", _l("Publication"),
            _l("Results due or overdue for publication")),
    NavItem((C.READ_PENALTIES,), "penalty_pages.cases", _l("Penalties"), _l("Penalty cases and their decisions")),
    NavItem((C.READ_INCIDENTS,), "incident_pages.index", _l("Incidents"),
            _l("Safety incidents: report, grade, follow-up, closing")),
    NavItem((C.RECORD_EMERGENCY_PLANS,), "incident_pages.emergency_plans", _l("Emergency plans"),
            _l("Emergency plans and drills of the enterprises, and who lacks them")),
    NavItem((C.READ_EMERGENCY_READINESS,), "incident_pages.daily_report", _l("Daily safety report"),
            _l("A region's day: rates, alerts, X-ray flags and seizures, incidents by grade")),
    NavItem((C.RECORD_ABSENCES,), "audit_pages.absences", _l("Absences"), _l("Leave and other days off audits")),
    NavItem((C.REGISTER_CASES, C.APPROVE_CASES), "trace_pages.cases", _l("Cases"), _l("Investigation cases and their approval")),
    NavItem((C.TRACE, C.TRACE_WAYBILL), "trace_pages.trace_form", _l("Trace"), _l("Trace a parcel's chain")),
    NavItem((C.READ_ACCESS_LOG,), "trace_pages.access_log", _l("Access log"), _l("Who looked at what, and its integrity")),
    NavItem((C.REGISTER_CASES, C.MANAGE_USERS, C.MANAGE_CALENDAR, C.READ_INCIDENTS), "trace_pages.notifications",
            _l("Notifications"), _l("New watchlist matches, case decisions, incidents, daily safety reports, repeated "
                                    "failed sign-ins, holiday years to load")),
    NavItem((C.READ_REGISTRY,), "registry_pages.index", _l("Outlets"), _l("Outlets and sorting centres"), (("kind", "outlets"),)),
    NavItem((C.READ_REGISTRY,), "registry_pages.index", _l("X-ray machines"), _l("Machines per outlet"), (("kind", "xray-machines"),)),
    NavItem((C.READ_REGISTRY,), "registry_pages.index", _l("Staff"), _l("Couriers and screeners"), (("kind", "staff"),)),
    NavItem((C.READ_REGISTRY,), "registry_pages.index", _l("Contract customers"), _l("Filed bulk senders"),
            (("kind", "contract-customers"),)),
    NavItem((C.MANAGE_USERS,), "admin_pages.users", _l("Users"), _l("Accounts, roles, scope, passwords and tokens")),
    NavItem((C.READ_ADMIN_LOG,), "admin_pages.actions", _l("Administration log"),
            _l("Who changed which account, and when")),
    NavItem((C.MANAGE_CHECKLISTS,), "audit_pages.checklists", _l("Checklists"), _l("Checklist items of each audit kind")),
    NavItem((C.MANAGE_PROVISIONS,), "penalty_pages.provisions", _l("Provisions"), _l("Legal provisions and fine ranges")),
    NavItem((C.MANAGE_CALENDAR,), "audit_pages.calendar", _l("Holidays"), _l("Holidays and make-up working days")),
)

ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.INSPECTOR: _l("Inspector"),
    Role.OUTLET_MANAGER: _l("Outlet manager"),
    Role.INVESTIGATOR: _l("Investigator"),
    Role.AUDITOR: _l("Auditor"),
}


def nav_items(user: User) -> list[dict]:
    """The navigation entries ``user`` may follow, of the pages this app has."""
    return [{"url": url_for(item.endpoint, **dict(item.args)), "label": item.label, "hint": item.hint}
            for item in NAV if can(user, *item.capabilities) and item.endpoint in current_app.view_functions]


def role_label(role: Role | str | None) -> str:
    """A role's name for people (a role's value, as the access log keeps it, too)."""
    if role is None or role == "":
        return ""
    try:
        return str(ROLE_LABELS[Role(getattr(role, "value", role))])
    except ValueError:
        return str(role)
