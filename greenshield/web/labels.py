"""Template filters and labels: rates as percentages, local times, translated names of codes."""
from __future__ import annotations

import datetime as dt
import re

from flask_babel import get_locale, gettext as _, lazy_gettext as _l, ngettext

from models.base import CHINA

METRICS = {"real_name": _l("Real-name rate"), "inspection": _l("Inspection rate"), "xray": _l("X-ray rate"),
           "xray_review_overdue": _l("Flagged X-ray images not reviewed in time")}
FINDINGS = {
    "shared_id": _l("One ID for many senders"),
    "id_many_outlets": _l("One ID at many outlets"),
    "id_many_items": _l("One ID on too many items"),
    "staff_id": _l("Staff ID used as sender's"),
    "implausible_age": _l("Implausible birth date or age"),
    "sequential_ids": _l("Sequential ID numbers"),
    "declared_not_scanned": _l("Declared X-ray screened, never scanned"),
    "scanned_while_powered_off": _l("Scanned while the machine reported itself off"),
    "scanned_without_screener": _l("Scanned with no screener checked in"),
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
                  "rates": _l("Days under a rate threshold"),
                  "late_incident_reports": _l("Safety incidents reported late")}
INCIDENT_TYPES = {
    "prohibited_item": _l("Prohibited item found in the channel"), "explosion": _l("Parcel explosion"),
    "leak": _l("Parcel leak"), "fire": _l("Fire"), "violence_threat": _l("Violence or terror threat"),
    "backlog": _l("Mass parcel backlog"), "data_leak": _l("Personal-data leak"),
    "natural_disaster": _l("Natural disaster"), "other": _l("Other incident"),
}
INCIDENT_GRADES = {"I": _l("Grade I (especially serious)"), "II": _l("Grade II (serious)"),
                   "III": _l("Grade III (relatively serious)"), "IV": _l("Grade IV (ordinary)")}
INCIDENT_STATUS = {"reported": _l("Reported, grade to confirm"), "confirmed": _l("Grade confirmed"),
                   "closed": _l("Closed")}
BATCH_STATUS = {"accepted": _l("Accepted"), "partial": _l("Partly accepted"), "rejected": _l("Rejected")}
OUTLET_KINDS = {"outlet": _l("Outlet"), "sorting_centre": _l("Sorting centre")}
STAFF_ROLES = {"courier": _l("Courier"), "screener": _l("Screener")}
ALERT_STATUS = {"open": _l("Open"), "closed": _l("Closed")}
CASE_STATUS = {"pending": _l("Pending"), "approved": _l("Approved"), "refused": _l("Refused"), "expired": _l("Expired")}
ACTION_LABELS = {"trace": _l("Query"), "case_view": _l("View in clear"), "export": _l("Evidence export"),
                 "case_register": _l("Case registered"), "case_approve": _l("Case approved"),
                 "case_refuse": _l("Case refused"), "watchlist_create": _l("Watchlist saved"),
                 "watchlist_run": _l("Watchlist run")}
QUERY_TYPE_LABELS = {"waybill": _l("Waybill no."), "sender_id": _l("Sender ID"), "sender_phone": _l("Sender phone"),
                     "sender_name": _l("Sender name"), "recipient_phone": _l("Recipient phone"),
                     "recipient_name": _l("Recipient name"), "outlet": _l("Outlet")}
# What an access-log entry's outcome says: "ok", "error", or "refused: <reason>".
OUTCOMES = {"ok": _l("Allowed"), "refused": _l("Refused"), "error": _l("Error")}
REFUSAL_REASONS = {
    "unauthenticated": _l("not signed in"), "role": _l("role not allowed"), "not found": _l("not found"),
    "conflict": _l("conflicts with the case's state"), "invalid input": _l("invalid input"),
    "rate limit": _l("too many queries"), "not in case evidence": _l("not in the case's evidence"),
}
# The factors an audit draw weighs (audits.risk.RiskFactors), each with what its number counts.
RISK_FACTORS = {
    "days_below_threshold": _l("Days under threshold (30 days)"), "open_alerts": _l("Open alerts"),
    "findings": _l("Abnormal real-name findings (90 days)"), "flagged_xray": _l("Flagged X-ray images (30 days)"),
    "xray_unverified": _l("Share declared X-ray screened that no machine saw (30 days)"),
    "past_rectifications": _l("Rectification orders (2 years)"), "days_since_last_audit": _l("Days since the last audit"),
    "credit_level": _l("Credit level"),
}
BIRTH_DATE_PROBLEMS = {"impossible birth date": _l("impossible birth date"),
                       "future birth date": _l("birth date in the future")}
WEEKDAYS = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))
# One label per column of the daily log (inspection.columns.COLUMNS, tests/test_columns.py), "" = the whole row.
COLUMNS = {
    "waybill_no": _l("Waybill no."), "collected_at": _l("Collected at"), "outlet_code": _l("Outlet code"),
    "sender_name": _l("Sender name"), "sender_id_type": _l("ID type"), "sender_id_no": _l("ID number"),
    "sender_phone": _l("Sender phone"), "item_name": _l("Item name"), "item_category": _l("Item category"),
    "quantity": _l("Quantity"), "real_name_verified": _l("Real-name verified"), "inspected": _l("Inspected"),
    "xray_screened": _l("X-ray screened"), "courier_id": _l("Courier"),
    "contract_customer_code": _l("Contract customer"), "sender_address": _l("Sender address"),
    "recipient_name": _l("Recipient name"), "recipient_phone": _l("Recipient phone"),
    "recipient_address": _l("Recipient address"), "destination_region": _l("Destination"),
    "is_letter": _l("Letter"), "": _l("Whole row"),
}


# Form and query fields that are not daily-log columns, for messages that name the field at fault.
FIELDS = {
    "from": _l("From"), "to": _l("To"), "date": _l("Date"), "user": _l("User"), "case_no": _l("Case no."),
    "action": _l("Action"), "outcome": _l("Outcome"), "file": _l("File"), "outlet": _l("Outlet"),
    "region": _l("Region"), "enterprise": _l("Enterprise"), "region_code": _l("Region"),
    "enterprise_code": _l("Enterprise"), "code": _l("Code"), "name": _l("Name"), "kind": _l("Kind"),
    "model": _l("Model"), "installed_on": _l("Installed on"), "staff_id": _l("Staff ID"), "role": _l("Role"),
    "certificate_no": _l("Certificate no."), "credit_code": _l("Credit code"), "filed_on": _l("Filed on"),
    "valid_until": _l("Valid until"), "category": _l("Category"), "reason": _l("Reason"),
    "agency": _l("Agency"), "legal_basis": _l("Legal basis"), "purpose": _l("Purpose"), "cron": _l("Schedule"),
    "outlets": _l("Outlets"), "occurred_at": _l("Occurred at"),
    "type": _l("Type of incident"), "description": _l("Description"), "casualties": _l("Casualties"),
    "records_affected": _l("Parcels or records affected"), "measures": _l("Measures taken"), "grade": _l("Grade"),
    "text": _l("Follow-up report"), "summary": _l("Closing summary"), "title": _l("Plan title"),
    "version": _l("Version"), "held_on": _l("Drill date"), "scenario": _l("Scenario"),
    "participants": _l("Participants"),
    "findings": _l("Findings"), "due_date": _l("Due date"), "deadline": _l("Deadline"), "page": _l("Page"),
}


def column_label(key: str) -> str:
    """The label of a daily-log column (or of a form field), in the current language."""
    return str(COLUMNS.get(key) or FIELDS.get(key) or key)


def label(table: dict, code: object) -> str:
    """The label of ``code`` (an enum or its value) in ``table``, else the code itself."""
    value = getattr(code, "value", code)
    return str(table.get(value, value if value is not None else ""))


def outcome_label(outcome: str | None) -> str:
    """An access-log outcome for people: 允许, 拒绝：角色无权 ..."""
    if not outcome:
        return ""
    head, _sep, reason = outcome.partition(":")
    text = label(OUTCOMES, head.strip())
    reason = reason.strip()
    if reason:
        text += ("：" if _chinese() else ": ") + label(REFUSAL_REASONS, reason)
    return text


def _chinese() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "zh"


def birth_date_problem_label(problem: str) -> str:
    match = re.fullmatch(r"age (over|under) (\d+)", problem or "")
    if match:
        return _("age over %(years)s", years=match[2]) if match[1] == "over" else \
            _("age under %(years)s", years=match[2])
    return label(BIRTH_DATE_PROBLEMS, problem)


def finding_detail(kind: str, detail: dict) -> str:
    """A finding's detail as a sentence (``1502**********3327：当日 4 件，4 个寄件人姓名，1 个网点``)."""
    detail = detail or {}
    if kind == "sequential_ids":
        return _("%(count)s consecutive ID numbers from %(first)s to %(last)s", count=detail.get("count", "?"),
                 first=detail.get("first", ""), last=detail.get("last", ""))
    if kind == "declared_not_scanned":
        waybills = detail.get("waybills") or []
        return _("%(missing)s of %(declared)s items declared screened were never scanned: %(waybills)s",
                 missing=(detail.get("declared") or 0) - (detail.get("verified") or 0),
                 declared=detail.get("declared", "?"), waybills=", ".join(waybills[:20]) + ("…" if len(waybills) > 20 else ""))
    if kind in ("scanned_while_powered_off", "scanned_without_screener"):
        return _("Machines %(machines)s, events %(events)s", machines=", ".join(detail.get("machines") or []),
                 events=", ".join(str(e) for e in (detail.get("events") or [])[:20]))
    id_no = detail.get("id", "")
    if kind == "staff_id":
        return _("ID number %(id)s belongs to staff member %(name)s (%(staff_id)s)", id=id_no,
                 name=detail.get("staff_name", ""), staff_id=detail.get("staff_id", ""))
    if kind == "implausible_age":
        return _("ID number %(id)s: %(problem)s", id=id_no, problem=birth_date_problem_label(detail.get("problem", "")))
    if "items" in detail:
        parts = [ngettext("%(num)s item that day", "%(num)s items that day", detail.get("items") or 0),
                 ngettext("%(num)s sender name", "%(num)s sender names", detail.get("names") or 0),
                 ngettext("%(num)s outlet", "%(num)s outlets", detail.get("outlets") or 0)]
        return _("ID number %(id)s: %(usage)s", id=id_no, usage=("，" if _chinese() else ", ").join(parts))
    return "; ".join(f"{value}" for value in detail.values())


def risk_factors(factors: dict) -> list[str]:
    """An outlet's risk factors as "label: value" texts (never audited, when the last audit is unknown)."""
    shown = []
    for key, value in (factors or {}).items():
        if key == "days_since_last_audit" and value is None:
            shown.append(_("Never audited"))
        elif value:
            shown.append(f"{label(RISK_FACTORS, key)}：{value}" if _chinese() else f"{label(RISK_FACTORS, key)}: {value}")
    return shown


def notification_text(kind: str, data: dict | None, fallback: str = "") -> str:
    """A notification (in the app, by API, to the webhook) in the reader's language, from its kind and data."""
    data = data or {}
    if kind == "watchlist_match":
        return ngettext("%(num)s new match for watchlist %(name)s of case %(case_no)s",
                        "%(num)s new matches for watchlist %(name)s of case %(case_no)s", data.get("count") or 0,
                        name=data.get("watchlist", ""), case_no=data.get("case_no", ""))
    if kind in ("incident_reported", "incident_escalated", "incident_graded", "incident_closed"):
        values = {"outlet": data.get("outlet_name") or data.get("outlet_code", ""),
                  "type": label(INCIDENT_TYPES, data.get("type")), "grade": label(INCIDENT_GRADES, data.get("grade"))}
        if kind == "incident_reported":
            return _("New incident at %(outlet)s: %(type)s, suggested %(grade)s", **values)
        if kind == "incident_escalated":
            return _("%(grade)s incident at %(outlet)s (%(type)s): reported to the province", **values)
        if kind == "incident_closed":
            return _("Incident at %(outlet)s (%(type)s, %(grade)s) closed with its summary", **values)
        return _("Incident at %(outlet)s (%(type)s): %(grade)s confirmed", **values)
    if kind == "daily_safety_report":
        return _("Daily safety report of %(region)s for %(date)s: %(incidents)s incidents, %(alerts)s alerts",
                 region=data.get("region_name", ""), date=data.get("date", ""), incidents=data.get("incidents", 0),
                 alerts=data.get("alerts", 0))
    if kind == "xray_review_overdue":
        return ngettext("%(num)s flagged X-ray image of %(outlet)s (%(day)s) not reviewed within %(hours)s h",
                        "%(num)s flagged X-ray images of %(outlet)s (%(day)s) not reviewed within %(hours)s h",
                        data.get("count") or 0, outlet=data.get("outlet_name") or data.get("outlet_code", ""),
                        day=data.get("day", ""),
                        hours=data.get("sla_hours", ""))
    if kind == "case_decision":
        text = _("Case %(case_no)s: %(status)s", case_no=data.get("case_no", ""),
                 status=label(CASE_STATUS, data.get("status")))
        return text + (f" — {data['reason']}" if data.get("reason") else "")
    return fallback


REVIEW_DECISIONS = {"cleared": _l("Cleared"), "seized": _l("Seized"), "referred": _l("Referred")}
CLUE_STATUS = {"open": _l("Open"), "handed_over": _l("Handed over"), "closed": _l("Closed")}
REVIEW_STATUS = {"pending": _l("Waiting for review"), "reviewed": _l("Reviewed"), "not_flagged": _l("Not flagged")}


def provenance(batch_id: int | None, row: int | None, filename: str | None = None) -> str:
    """Where a record came from, as people say it: 第 7 行，上传批次 393（file.csv）."""
    if batch_id is None:
        return ""
    text = _("row %(row)s of upload batch %(batch)s", row=row, batch=batch_id)
    return f"{text}（{filename}）" if filename and _chinese() else f"{text} ({filename})" if filename else text


def step_detail(step: dict) -> str:
    """A parcel chain's timeline step in the reader's language (older results have only ``detail``)."""
    kind = step.get("kind")
    if kind == "collected" and "outlet_name" in step:
        return f"{step['outlet_name']} {step['outlet_code']}"
    if kind in ("stored", "corrected") and "batch_id" in step:
        return _("version %(version)s, %(where)s", version=step["version"],
                 where=provenance(step["batch_id"], step["row"]))
    if kind == "xray_scanned" and "score" in step:
        text = _("machine %(machine)s, score %(score).3f", machine=step["machine_code"], score=step["score"])
        return text + ("，" + _("flagged") if step.get("flagged") else "")
    if kind == "xray_reviewed" and "decision" in step:
        return label(REVIEW_DECISIONS, step["decision"])
    return str(step.get("detail", ""))


def weekday(day: dt.date) -> str:
    return str(WEEKDAYS[day.weekday()])


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
    app.add_template_global(outcome_label, "outcome_label")
    app.add_template_global(provenance, "provenance")
    app.add_template_global(step_detail, "step_detail")
    app.add_template_global(lambda code: label(REVIEW_DECISIONS, code), "decision_label")
    app.add_template_global(lambda code: label(REVIEW_STATUS, code), "review_status_label")
    app.add_template_global(notification_text, "notification_text")
    app.add_template_global(lambda code: label(CLUE_STATUS, code), "clue_status_label")
    app.add_template_global(lambda code: label(REVIEW_DECISIONS, code), "review_decision_label")
    app.add_template_global(finding_detail, "finding_detail")
    app.add_template_global(risk_factors, "risk_factors")
    app.add_template_filter(weekday, "weekday")
    app.add_template_global(lambda code: label(OUTLET_KINDS, code), "outlet_kind_label")
    app.add_template_global(lambda code: label(STAFF_ROLES, code), "staff_role_label")
    app.add_template_global(lambda code: label(ALERT_STATUS, code), "alert_status_label")
    for name, table in (("kind_label", AUDIT_KINDS), ("audit_status_label", AUDIT_STATUS), ("result_label", RESULTS),
                        ("order_status_label", ORDER_STATUS), ("order_event_label", ORDER_EVENTS),
                        ("penalty_status_label", PENALTY_STATUS), ("decision_label", DECISIONS),
                        ("absence_label", ABSENCE_REASONS), ("credit_label", CREDIT_LEVELS),
                        ("credit_reason_label", CREDIT_REASONS), ("job_kind_label", JOB_KINDS),
                        ("job_status_label", JOB_STATUS), ("incident_type_label", INCIDENT_TYPES),
                        ("incident_grade_label", INCIDENT_GRADES), ("incident_status_label", INCIDENT_STATUS)):
        app.add_template_global(lambda code, table=table: str(table.get(code, code)), name)
