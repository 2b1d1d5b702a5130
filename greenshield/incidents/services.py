"""Glue between the incident use cases and the app: scope, who is alerted, attachments and plan documents in the
storage, the webhook, emergency plans and drills of the enterprises in scope."""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import Select, event, select
from sqlalchemy.orm import Session

from audits import incidents
from greenshield.auth.permissions import Capability, Scope, can, scope_of
from greenshield.auth.policy import outlet_in_scope, region_prefix, scope_outlets
from greenshield.errors import Forbidden, Invalid, NotFound
from greenshield.settings import Settings
from greenshield.storage import Storage
from models import (EmergencyDrill, EmergencyPlan, Enterprise, Incident, IncidentAttachment, IncidentGrade,
                    IncidentStatus, IncidentType, Outlet, Region, User, utcnow)
from models.registry import prefix_of

MAX_ATTACHMENT_BYTES = 10 * 2**20
# What an attachment or a plan document may be, by its first bytes: photos and scans, PDF documents.
FILE_TYPES = {b"\x89PNG\r\n\x1a\n": ("image/png", "png"), b"\xff\xd8\xff": ("image/jpeg", "jpg"),
              b"%PDF-": ("application/pdf", "pdf")}


def incident_for(session: Session, user: User, incident_id: int) -> Incident:
    """An incident of an outlet the user may see (NotFound otherwise: its existence is not told)."""
    incident = session.get(Incident, incident_id)
    if incident is None or not outlet_in_scope(user, incident.outlet):
        raise NotFound("not_found.incident", id=incident_id)
    return incident


def outlet_to_report(session: Session, user: User, code: str) -> Outlet:
    """The outlet an incident is reported at: known (Invalid otherwise) and in the user's scope (Forbidden)."""
    outlet = session.scalar(select(Outlet).where(Outlet.code == code.strip().upper()))
    if outlet is None:
        raise Invalid("validation_error.unknown_outlet", field="outlet_code", code=code)
    if not outlet_in_scope(user, outlet):
        raise Forbidden("forbidden.outlet_scope", field="outlet_code", code=outlet.code)
    return outlet


def region_in(session: Session, user: User, code: str) -> Region:
    region = session.get(Region, code)
    if region is None:
        raise Invalid("validation_error.unknown_region", field="region", code=code)
    prefix = region_prefix(user)
    if prefix is not None and not region.code.startswith(prefix):
        raise Forbidden("forbidden.region_scope", code=code)
    return region


def incidents_in_scope(session: Session, user: User, *, region: str | None = None, status: str | None = None,
                       outlet: str | None = None) -> Select:
    """The incidents the user may see, newest first, filtered by region, status and outlet."""
    stmt = scope_outlets(select(Incident).join(Outlet, Incident.outlet_id == Outlet.id), user)
    if region:
        stmt = stmt.where(Outlet.region_code.startswith(prefix_of(region_in(session, user, region).code)))
    if status:
        stmt = stmt.where(Incident.status == IncidentStatus(status))
    if outlet:
        stmt = stmt.where(Outlet.code == outlet.strip().upper())
    return stmt.order_by(Incident.reported_at.desc(), Incident.id.desc())


def _active_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)))


def alert_recipients(session: Session, outlet: Outlet) -> list[User]:
    """Who is told of a new incident at once: the inspectors (those who confirm grades) whose scope holds the
    outlet — its league's and the province's — never the administrators (told of grades I-II only)."""
    return [u for u in _active_users(session) if can(u, Capability.MANAGE_INCIDENTS)
            and scope_of(u) is Scope.REGION and outlet_in_scope(u, outlet)]


def escalation_recipients(session: Session, outlet: Outlet) -> list[User]:
    """Province-level users a grade I or II incident escalates to: those who confirm grades and whose scope is the
    whole province of the outlet (or everything: the administrators)."""
    province = prefix_of(outlet.region_code[:2] + "0000")
    return [u for u in _active_users(session) if can(u, Capability.MANAGE_INCIDENTS) and outlet_in_scope(u, outlet)
            and (region_prefix(u) or "") in ("", province)]


def report(session: Session, user: User, data: dict, settings: Settings, *, now: dt.datetime | None = None
           ) -> incidents.Alerted:
    """The first report of an incident at an outlet in the user's scope (``schemas.IncidentIn``)."""
    outlet = outlet_to_report(session, user, data["outlet_code"])
    return incidents.report_incident(
        session, outlet=outlet, reporter=user, kind=IncidentType(data["type"]), occurred_at=data["occurred_at"],
        description=data["description"], casualties=data.get("casualties") or 0,
        records_affected=data.get("records_affected") or 0, measures=data.get("measures"), now=now or utcnow(),
        hours=settings.incident_report_hours, alert_to=alert_recipients(session, outlet),
        escalate_to=escalation_recipients(session, outlet))


def confirm(session: Session, user: User, incident: Incident, grade: str, settings: Settings) -> incidents.Alerted:
    return incidents.confirm_grade(session, incident, grade=IncidentGrade(grade), by=user, now=utcnow(),
                                   hours=settings.incident_report_hours,
                                   escalate_to=escalation_recipients(session, incident.outlet))


def sniff(data: bytes) -> tuple[str, str]:
    """(content type, extension) of a photo, scan or PDF by its first bytes. Raises Invalid for other files."""
    kind = next((v for magic, v in FILE_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise Invalid("validation_error.attachment_type", field="file")
    return kind


def store_file(store: Storage, stream, folder: str) -> tuple[str, str, str, int]:
    """Keep a photo, scan or PDF of at most 10 MiB content-addressed under ``folder``: (key, sha256, content type,
    size). Raises Invalid for an empty, too large or other file."""
    data = stream.read(MAX_ATTACHMENT_BYTES + 1)
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise Invalid("payload_too_large.attachment", field="file", max_mib=MAX_ATTACHMENT_BYTES // 2**20)
    if not data:
        raise Invalid("validation_error.attachment_empty", field="file")
    content_type, ext = sniff(data)
    sha = hashlib.sha256(data).hexdigest()
    key = f"{folder}/{sha[:2]}/{sha}.{ext}"
    store.put(key, data)
    return key, sha, content_type, len(data)


def attach(session: Session, user: User, incident: Incident, store: Storage, stream, filename: str
           ) -> IncidentAttachment:
    """Keep a photo, scan or PDF with the incident (content-addressed in the storage)."""
    key, sha, content_type, size = store_file(store, stream, "incidents")
    row = IncidentAttachment(incident_id=incident.id, storage_key=key, sha256=sha, content_type=content_type,
                             filename=(filename or f"{sha[:12]}")[-255:], size_bytes=size, uploaded_by_id=user.id)
    session.add(row)
    session.flush()
    session.refresh(incident, ["attachments"])
    return row


def attachment_of(incident: Incident, attachment_id: int) -> IncidentAttachment:
    found = next((a for a in incident.attachments if a.id == attachment_id), None)
    if found is None:
        raise NotFound("not_found.attachment", id=attachment_id)
    return found


# --- emergency plans and drills ------------------------------------------------------------------------------


def enterprise_in_scope(session: Session, user: User, code: str) -> Enterprise:
    """An enterprise the user may keep plans and drills of: any for the centre; an outlet manager's own outlets'
    enterprises. Raises Invalid (unknown) or Forbidden."""
    enterprise = session.scalar(select(Enterprise).where(Enterprise.code == code.strip().upper()))
    if enterprise is None:
        raise Invalid("validation_error.unknown_enterprise", field="enterprise_code", code=code)
    if scope_of(user) is Scope.OUTLETS and enterprise.id not in {o.enterprise_id for o in user.outlets}:
        raise Forbidden("forbidden.enterprise_scope", field="enterprise_code", code=enterprise.code)
    return enterprise


def enterprises_in_scope(session: Session, user: User) -> list[Enterprise]:
    stmt = select(Enterprise).where(Enterprise.active.is_(True)).order_by(Enterprise.code)
    if scope_of(user) is Scope.OUTLETS:
        stmt = stmt.where(Enterprise.id.in_({o.enterprise_id for o in user.outlets}))
    return list(session.scalars(stmt))


def file_plan(session: Session, user: User, data: dict, store: Storage, document=None,
              filename: str | None = None) -> EmergencyPlan:
    """File a version of an enterprise's emergency plan, with its document (PDF or scan) when given."""
    enterprise = enterprise_in_scope(session, user, data["enterprise_code"])
    plan = EmergencyPlan(enterprise=enterprise, enterprise_id=enterprise.id, title=data["title"],
                         version=data["version"], valid_until=data["valid_until"], filed_by_id=user.id)
    if document is not None:
        plan.storage_key, _sha, plan.content_type, _size = store_file(store, document, "emergency-plans")
        plan.filename = (filename or "plan")[-255:]
    session.add(plan)
    session.flush()
    return plan


def record_drill(session: Session, user: User, data: dict, *, today: dt.date) -> EmergencyDrill:
    """Record a drill an enterprise held (not in the future)."""
    enterprise = enterprise_in_scope(session, user, data["enterprise_code"])
    if data["held_on"] > today:
        raise Invalid("validation_error.date_in_future", field="held_on")
    drill = EmergencyDrill(enterprise=enterprise, enterprise_id=enterprise.id, held_on=data["held_on"],
                           scenario=data["scenario"], participants=data["participants"],
                           findings=data.get("findings"), recorded_by_id=user.id)
    session.add(drill)
    session.flush()
    return drill


def plan_for(session: Session, user: User, plan_id: int) -> EmergencyPlan:
    plan = session.get(EmergencyPlan, plan_id)
    if plan is None:
        raise NotFound("not_found.emergency_plan", id=plan_id)
    enterprise_in_scope(session, user, plan.enterprise.code)
    return plan


# --- the webhook ------------------------------------------------------------------------------------------------


def webhook_text(kind: str, data: dict) -> str:
    """What a chat bot shows: a sentence in Chinese (the centre's language; a webhook has no reader)."""
    from flask_babel import force_locale

    from greenshield.web.labels import notification_text

    with force_locale("zh"):
        return notification_text(kind, data)


def tell_webhook_after_commit(session: Session, settings: Settings, alerted: incidents.Alerted,
                             kind: str) -> None:
    """Tell the webhook once ``session`` has committed what it announces (never of a report rolled back)."""
    if settings.incident_webhook_url and (kind or alerted.escalated):
        event.listen(session, "after_commit", lambda _session: tell_webhook(settings, alerted, kind), once=True)


def tell_webhook(settings: Settings, alerted: incidents.Alerted, kind: str) -> list[bool]:
    """Tell the configured webhook (``INCIDENT_WEBHOOK_URL``) of a new incident (``kind``) and of its escalation
    to the province; no personal data, only the incident's kind, grade and outlet. Failures are logged by
    ``notify_webhook``, never raised: the in-app notifications are stored already."""
    from greenshield.trace.jobs import notify_webhook

    if not settings.incident_webhook_url:
        return []
    incident = alerted.incident
    kinds = [kind] if kind else []
    if alerted.escalated:
        kinds.append(incidents.ESCALATED)
    data = incidents.notification_data(incident)
    return [notify_webhook(settings.incident_webhook_url, {
        "kind": k, "text": webhook_text(k, data), **data, "status": incident.status.value,
        "late": incident.late, "at": utcnow().isoformat()}) for k in kinds]
