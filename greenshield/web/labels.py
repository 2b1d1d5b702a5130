"""Template filters and labels: rates as percentages, local times, translated names of codes."""
from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l

from models.base import CHINA

METRICS = {"real_name": _l("Real-name rate"), "inspection": _l("Inspection rate"), "xray": _l("X-ray rate")}
FINDINGS = {
    "shared_id": _l("One ID for many senders"),
    "id_many_outlets": _l("One ID at many outlets"),
    "id_many_items": _l("One ID on too many items"),
    "staff_id": _l("Staff ID used as sender's"),
    "implausible_age": _l("Implausible birth date or age"),
    "sequential_ids": _l("Sequential ID numbers"),
}
AUDIT_KINDS = {"random": _l("Routine (random draw)"), "targeted": _l("Targeted"), "follow_up": _l("Follow-up"),
               "safety": _l("Safety-production hazards")}
AUDIT_STATUS = {"planned": _l("Planned"), "in_progress": _l("In progress"), "closed": _l("Closed")}
RESULTS = {"pass": _l("Pass"), "rectify": _l("Rectify")}
ORDER_STATUS = {"open": _l("Waiting for the outlet"), "answered": _l("Answered"), "reinspecting": _l("Re-inspection"),
                "closed": _l("Closed"), "escalated": _l("Escalated")}
ORDER_EVENTS = {
    "issued": _l("Order issued"), "answered": _l("Outlet answered"), "accepted": _l("Answer accepted"),
    "rejected": _l("Answer rejected"), "reinspection": _l("Re-inspection scheduled"),
    "reinspected_pass": _l("Re-inspection passed: closed"), "escalated": _l("Re-inspection failed: escalated"),
    "overdue": _l("Deadline passed without an answer"),
}
PENALTY_STATUS = {"registered": _l("Registered (立案)"), "notified": _l("Notice served"), "decided": _l("Decided"),
                  "published": _l("Published")}
DECISIONS = {"warning": _l("Warning"), "fine": _l("Fine"), "other": _l("Other measure")}
ABSENCE_REASONS = {"leave": _l("Leave"), "training": _l("Training"), "other": _l("Other duties")}
CREDIT_LEVELS = {"A": _l("A · trustworthy"), "B": _l("B · mostly trustworthy"), "C": _l("C · at risk"),
                 "D": _l("D · untrustworthy")}
CREDIT_REASONS = {"audit_findings": _l("Audit findings"), "rectification": _l("Rectification orders"),
                  "penalties": _l("Penalties"), "abnormal_real_name": _l("Abnormal real-name data"),
                  "rates": _l("Days under a rate threshold")}
BATCH_STATUS = {"accepted": _l("Accepted"), "partial": _l("Partly accepted"), "rejected": _l("Rejected")}
# One label per column of the daily log (inspection.columns.COLUMNS, tests/test_columns.py), "" = the whole row.
COLUMNS = {
    "waybill_no": _l("Waybill no."), "collected_at": _l("Collected at"), "outlet_code": _l("Outlet code"),
    "sender_name": _l("Sender name"), "sender_id_type": _l("ID type"), "sender_id_no": _l("ID number"),
    "sender_phone": _l("Sender phone"), "item_name": _l("Item name"), "item_category": _l("Item category"),
    "quantity": _l("Quantity"), "real_name_verified": _l("Real-name verified"), "inspected": _l("Inspected"),
    "xray_screened": _l("X-ray screened"), "courier_id": _l("Courier"),
    "contract_customer_code": _l("Contract customer"), "": _l("Whole row"),
}


def column_label(key: str) -> str:
    """The label of a daily-log column (or of a form field of the same name), in the current language."""
    return str(COLUMNS.get(key, key))


JOB_KINDS = {"daily_log": _l("Daily-log upload"), "xray_import": _l("X-ray import")}
JOB_STATUS = {"queued": _l("Waiting for a worker"), "running": _l("Being processed"), "done": _l("Done"),
              "failed": _l("Refused")}


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def localtime(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def yuan(value: int | None) -> str:
    return "—" if value is None else f"{value:,} 元"


def person(user) -> str:
    """A person as pages show them: their name, never their account key."""
    return "" if user is None else (user.display_name or user.username)


def register(app) -> None:
    app.add_template_filter(pct, "pct")
    app.add_template_filter(yuan, "yuan")
    app.add_template_filter(person, "person")
    app.add_template_filter(localtime, "localtime")
    app.add_template_global(lambda code: str(METRICS.get(code, code)), "metric_label")
    app.add_template_global(lambda code: str(FINDINGS.get(code, code)), "finding_label")
    app.add_template_global(lambda code: str(BATCH_STATUS.get(code, code)), "batch_status_label")
    app.add_template_global(column_label, "column_label")
    for name, table in (("kind_label", AUDIT_KINDS), ("audit_status_label", AUDIT_STATUS), ("result_label", RESULTS),
                        ("order_status_label", ORDER_STATUS), ("order_event_label", ORDER_EVENTS),
                        ("penalty_status_label", PENALTY_STATUS), ("decision_label", DECISIONS),
                        ("absence_label", ABSENCE_REASONS), ("credit_label", CREDIT_LEVELS),
                        ("credit_reason_label", CREDIT_REASONS), ("job_kind_label", JOB_KINDS),
                        ("job_status_label", JOB_STATUS)):
        app.add_template_global(lambda code, table=table: str(table.get(code, code)), name)
