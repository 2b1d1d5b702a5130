"""Schemas of the audit routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate, validates

from greenshield.dumping import Out
from greenshield.fields import REGION_CODE, cron_expression

REGION = REGION_CODE
KINDS = ["random", "targeted", "follow_up", "safety"]
ORDER_STATUSES = ["open", "answered", "reinspecting", "closed", "escalated"]


class PlanIn(Schema):
    region_code = fields.String(required=True, validate=REGION)
    outlets = fields.Integer(required=True, validate=validate.Range(min=1, max=500))
    inspectors_per_audit = fields.Integer(load_default=2, validate=validate.Range(min=1, max=5))
    start_date = fields.Date(load_default=None, allow_none=True,
                             metadata={"description": "first day of the period (default: the next working day)"})
    due_date = fields.Date(required=True)
    seed = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=2**62))
    kind = fields.String(load_default="random", validate=validate.OneOf(["random", "safety"]),
                         metadata={"description": "routine (random) or safety-production (safety) audits"})


class ScheduleIn(Schema):
    cron = fields.String(required=True, metadata={"description": "5-field crontab, Asia/Shanghai, e.g. '0 8 1 * *'"})
    region_code = fields.String(required=True, validate=REGION)
    outlets = fields.Integer(required=True, validate=validate.Range(min=1, max=500))
    inspectors_per_audit = fields.Integer(load_default=2, validate=validate.Range(min=1, max=5))
    due_in_days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=180))

    @validates("cron")
    def _cron(self, value, **_):
        cron_expression(value)


class SchedulePatch(Schema):
    active = fields.Boolean(required=True)


class ScheduleOut(Out):
    id = fields.Integer()
    cron = fields.String()
    region_code = fields.String()
    outlets = fields.Integer()
    inspectors_per_audit = fields.Integer()
    due_in_days = fields.Integer()
    active = fields.Boolean()
    last_fired_at = fields.DateTime(allow_none=True)


class MemberIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    agency = fields.String(required=True, validate=validate.Length(min=1, max=128))
    title = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class MemberOut(Out):
    id = fields.Integer()
    name = fields.String()
    agency = fields.String()
    title = fields.String(allow_none=True)


class PlannedAuditOut(Out):
    id = fields.Integer()
    outlet_code = fields.String(attribute="outlet.code")
    inspectors = fields.Function(lambda a: [u.username for u in a.inspectors])
    scheduled_on = fields.Date(attribute="day")
    due_date = fields.Date()


class PlanOut(Out):
    id = fields.Integer()
    seed = fields.Integer()
    region_code = fields.String()
    kind = fields.Function(lambda p: p.kind.value)
    outlets = fields.Integer(attribute="outlets_requested")
    inspectors_per_audit = fields.Integer()
    start_date = fields.Date(allow_none=True)
    due_date = fields.Date()
    provisional = fields.Function(lambda p: bool(p.inputs.get("provisional_years")), metadata={
        "description": "the period runs into a year whose holidays are not loaded: its working days are "
                       "Monday-Friday until an admin loads that year"})
    created_at = fields.DateTime()
    audits = fields.List(fields.Nested(PlannedAuditOut))


class VerifyOut(Out):
    id = fields.Integer()
    seed = fields.Integer()
    reproducible = fields.Boolean()
    differences = fields.List(fields.String())


class EntryOut(Out):
    item = fields.String()
    name = fields.Function(lambda e: {"zh": e.name_zh, "en": e.name_en})
    serious = fields.Boolean()
    compliant = fields.Boolean(allow_none=True)
    finding = fields.String(allow_none=True)
    photos = fields.Function(lambda e: [p.id for p in e.photos])


class OrderEventOut(Out):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "issued, answered, accepted, rejected, reinspection, "
                                                  "reinspected_pass, escalated, overdue"})
    at = fields.DateTime()
    date = fields.Date(attribute="day")
    actor = fields.Function(lambda e: e.actor.display_name or e.actor.username if e.actor else None)
    text = fields.String(allow_none=True)
    deadline = fields.Date(allow_none=True)
    audit_id = fields.Integer(allow_none=True)
    photos = fields.Function(lambda e: [p.id for p in e.photos])


class OrderOut(Out):
    id = fields.Integer()
    audit_id = fields.Integer()
    outlet_code = fields.String(attribute="outlet.code")
    notice_no = fields.String(allow_none=True, metadata={"description": "责令限期改正通知书 number"})
    issued_on = fields.Date(allow_none=True)
    deadline = fields.Date()
    requirements = fields.String()
    status = fields.Function(lambda o: o.status.value)
    response = fields.String(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    follow_up_id = fields.Integer(allow_none=True)


class OrderDetailOut(OrderOut):
    history = fields.List(fields.Nested(OrderEventOut), attribute="events")


class AuditOut(PlannedAuditOut):
    kind = fields.Function(lambda a: a.kind.value)
    status = fields.Function(lambda a: a.status.value)
    result = fields.Function(lambda a: a.result.value if a.result else None)
    plan_id = fields.Integer(allow_none=True)
    parent_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    summary = fields.String(allow_none=True)
    closed_on = fields.Date(allow_none=True)
    publish_by = fields.Date(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    publish_by_provisional = fields.Boolean(data_key="publish_by_provisional")
    checklist = fields.List(fields.Nested(EntryOut), attribute="items")
    members = fields.List(fields.Nested(MemberOut))
    order = fields.Nested(OrderOut, allow_none=True)
    emergency_evidence = fields.Method("_emergency_evidence", allow_none=True, metadata={
        "type": "object", "nullable": True,
        "description": "for a checklist with the emergency-plan item: the enterprise's valid emergency plan and its "
                       "last drill in 12 months (null each when missing)"})

    def _emergency_evidence(self, audit):
        from audits import emergency
        from greenshield import db
        from models.base import china_today

        if not any(e.item in emergency.EVIDENCE_ITEMS for e in audit.items):
            return None
        found = emergency.evidence(db.session(), audit.outlet.enterprise_id, china_today())
        plan, drill = found.plan, found.last_drill
        return {"enterprise_code": found.enterprise_code,
                "plan": plan and {"id": plan.id, "title": plan.title, "version": plan.version,
                                  "valid_until": plan.valid_until.isoformat()},
                "last_drill": drill and {"id": drill.id, "held_on": drill.held_on.isoformat(),
                                         "scenario": drill.scenario, "participants": drill.participants}}


class AuditListArgs(Schema):
    status = fields.String(validate=validate.OneOf(["planned", "in_progress", "closed"]))
    outlet = fields.String(validate=validate.Length(max=32))
    mine = fields.Boolean(load_default=False)
    publication = fields.String(validate=validate.OneOf(["due", "overdue", "published"]))


class EntryIn(Schema):
    compliant = fields.Boolean(required=True, allow_none=True)
    finding = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class CloseIn(Schema):
    result = fields.String(required=True, validate=validate.OneOf(["pass", "rectify"]))
    summary = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    deadline = fields.Date(load_default=None, allow_none=True)
    requirements = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))


class ResponseIn(Schema):
    response = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class AcceptIn(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))


class RejectIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    deadline = fields.Date(required=True)


class ReinspectIn(Schema):
    scheduled_on = fields.Date(load_default=None, allow_none=True,
                               metadata={"description": "the day of the follow-up audit (default: today)"})


class OrderListArgs(Schema):
    status = fields.String(validate=validate.OneOf(ORDER_STATUSES))


class AbsenceIn(Schema):
    username = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                             metadata={"description": "whose absence (default: the caller's own)"})
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    reason = fields.String(load_default="leave", validate=validate.OneOf(["leave", "training", "other"]))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class AbsenceOut(Out):
    id = fields.Integer()
    username = fields.String(attribute="user.username")
    name = fields.Function(lambda a: a.user.display_name or a.user.username)
    start_date = fields.Date()
    end_date = fields.Date()
    reason = fields.Function(lambda a: a.reason.value)
    note = fields.String(allow_none=True)


class ChecklistItemIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$",
                                                                 error="2-32 of a-z, 0-9 and _"))
    name_zh = fields.String(required=True, validate=validate.Length(min=1, max=200))
    name_en = fields.String(required=True, validate=validate.Length(min=1, max=200))
    serious = fields.Boolean(load_default=False)


class ChecklistItemPatch(Schema):
    name_zh = fields.String(validate=validate.Length(min=1, max=200))
    name_en = fields.String(validate=validate.Length(min=1, max=200))
    serious = fields.Boolean()
    active = fields.Boolean()
    position = fields.Integer(validate=validate.Range(min=0, max=999))


class ChecklistItemOut(Out):
    id = fields.Integer()
    kind = fields.Function(lambda i: i.kind.value)
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    position = fields.Integer()
    serious = fields.Boolean()
    active = fields.Boolean()


class ChecklistArgs(Schema):
    kind = fields.String(validate=validate.OneOf(KINDS))


class CalendarDayIn(Schema):
    date = fields.Date(required=True)
    working = fields.Boolean(required=True, metadata={"description": "true: a make-up working day (调休上班); "
                                                                      "false: a public holiday"})
    name = fields.String(load_default="", validate=validate.Length(max=64))


class CalendarYearIn(Schema):
    days = fields.List(fields.Nested(CalendarDayIn), required=True)


class CalendarDayOut(Out):
    date = fields.Date(attribute="day")
    working = fields.Boolean()
    name = fields.String()


class CalendarYearOut(Out):
    year = fields.Integer()
    known = fields.Boolean(metadata={"description": "false: deadlines in this year are provisional"})
    source = fields.String(allow_none=True)
    days = fields.List(fields.Nested(CalendarDayOut))


class CreditOut(Out):
    code = fields.String()
    name = fields.String()
    level = fields.String(metadata={"description": "A (守信), B (基本守信), C (失信风险), D (严重失信)"})
    score = fields.Float()
    deductions = fields.Dict(keys=fields.String(), values=fields.Float())
    facts = fields.Dict(keys=fields.String(), values=fields.Integer())
    outlets = fields.List(fields.Dict(), load_default=None)


class PhotoFiles(Schema):
    photo = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})

