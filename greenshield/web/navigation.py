"""The navigation of each role: what a person of that role comes to do."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from models import Role

READERS = (Role.ADMIN, Role.INSPECTOR, Role.OUTLET_MANAGER)


@dataclass(frozen=True)
class NavItem:
    roles: tuple[Role, ...]
    endpoint: str
    label: object
    hint: object
    args: tuple[tuple[str, str], ...] = ()


NAV = (
    NavItem(READERS, "dashboard.league", _l("Compliance"), _l("League table, trends, alerts, findings")),
    NavItem((Role.ADMIN, Role.OUTLET_MANAGER), "ingest_pages.upload", _l("Upload"), _l("Upload a daily log")),
    NavItem((Role.ADMIN, Role.INSPECTOR), "xray_pages.queue", _l("X-ray review"), _l("Flagged images waiting for a decision")),
    NavItem((Role.ADMIN, Role.INSPECTOR), "audit_pages.index", _l("Audits"), _l("Draws, my audits, the audit form")),
    NavItem(READERS, "audit_pages.orders", _l("Rectification"), _l("Rectification orders and responses")),
    NavItem((Role.ADMIN, Role.INSPECTOR), "audit_pages.publication", _l("Publication"),
            _l("Results due or overdue for publication")),
    NavItem((Role.INVESTIGATOR, Role.AUDITOR, Role.ADMIN), "trace_pages.cases", _l("Cases"), _l("Investigation cases and their approval")),
    NavItem((Role.INVESTIGATOR, Role.INSPECTOR), "trace_pages.trace_form", _l("Trace"), _l("Trace a parcel's chain")),
    NavItem((Role.AUDITOR, Role.ADMIN), "trace_pages.access_log", _l("Access log"), _l("Who looked at what, and its integrity")),
    NavItem((Role.INVESTIGATOR,), "trace_pages.notifications", _l("Notifications"), _l("New watchlist matches and case decisions")),
    NavItem(READERS, "registry_pages.index", _l("Outlets"), _l("Outlets and sorting centres"), (("kind", "outlets"),)),
    NavItem(READERS, "registry_pages.index", _l("X-ray machines"), _l("Machines per outlet"), (("kind", "xray-machines"),)),
    NavItem(READERS, "registry_pages.index", _l("Staff"), _l("Couriers and screeners"), (("kind", "staff"),)),
    NavItem(READERS, "registry_pages.index", _l("Contract customers"), _l("Filed bulk senders"),
            (("kind", "contract-customers"),)),
)

ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.INSPECTOR: _l("Inspector"),
    Role.OUTLET_MANAGER: _l("Outlet manager"),
    Role.INVESTIGATOR: _l("Investigator"),
    Role.AUDITOR: _l("Auditor"),
}


def nav_items(role: Role) -> list[dict]:
    """The navigation entries of ``role`` whose pages this app has."""
    return [{"url": url_for(item.endpoint, **dict(item.args)), "label": item.label, "hint": item.hint}
            for item in NAV if role in item.roles and item.endpoint in current_app.view_functions]


def role_label(role: Role) -> str:
    return str(ROLE_LABELS[role])
