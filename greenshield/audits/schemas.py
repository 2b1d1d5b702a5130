"""Schemas of the audit routes."""
from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger
from marshmallow import Schema, ValidationError, fields, validate, validates

from audits.checklist import CHECKLIST

REGION = validate.Regexp(r"^\d{6}$", error="must be a 6-digit GB/T 2260 code")


class PlanIn(Schema):
    region_code = fields.String(required=True, validate=REGION)
    outlets = fields.Integer(required=True, validate=validate.Range(min=1, max=500))
    inspectors_per_audit = fields.Integer(load_default=2, validate=validate.Range(min=1, max=5))
    due_date = fields.Date(required=True)
    seed = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=2**62))


class ScheduleIn(Schema):
    cron = fields.String(required=True, metadata={"description": "5-field crontab, Asia/Shanghai, e.g. '0 8 1 * *'"})
    region_code = fields.String(required=True, validate=REGION)
    outlets = fields.Integer(required=True, validate=validate.Range(min=1, max=500))
    inspectors_per_audit = fields.Integer(load_default=2, validate=validate.Range(min=1, max=5))
    due_in_days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=180))

    @validates("cron")
    def _cron(self, value, **_):
        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValidationError(f"not a valid crontab expression: {exc}") from None


class SchedulePatch(Schema):
    active = fields.Boolean(required=True)


class ScheduleOut(Schema):
    id = fields.Integer()
    cron = fields.String()
    region_code = fields.String()
    outlets = fields.Integer()
    inspectors_per_audit = fields.Integer()
    due_in_days = fields.Integer()
    active = fields.Boolean()
    last_fired_at = fields.DateTime(allow_none=True)


class PlannedAuditOut(Schema):
    id = fields.Integer()
    outlet_code = fields.String(attribute="outlet.code")
    inspectors = fields.Function(lambda a: [u.username for u in a.inspectors])
    due_date = fields.Date()


class PlanOut(Schema):
    id = fields.Integer()
    seed = fields.Integer()
    region_code = fields.String()
    outlets = fields.Integer(attribute="outlets_requested")
    inspectors_per_audit = fields.Integer()
    due_date = fields.Date()
    created_at = fields.DateTime()
    audits = fields.List(fields.Nested(PlannedAuditOut))


class VerifyOut(Schema):
    id = fields.Integer()
    seed = fields.Integer()
    reproducible = fields.Boolean()
    differences = fields.List(fields.String())


class EntryOut(Schema):
    item = fields.String()
    name = fields.Function(lambda e: ITEM_NAMES[e.item])
    compliant = fields.Boolean(allow_none=True)
    finding = fields.String(allow_none=True)
    photos = fields.Function(lambda e: [p.id for p in e.photos])


class OrderOut(Schema):
    id = fields.Integer()
    audit_id = fields.Integer()
    outlet_code = fields.String(attribute="outlet.code")
    deadline = fields.Date()
    requirements = fields.String()
    status = fields.Function(lambda o: o.status.value)
    response = fields.String(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    follow_up_id = fields.Integer(allow_none=True)


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
    checklist = fields.List(fields.Nested(EntryOut), attribute="items")
    order = fields.Nested(OrderOut, allow_none=True)


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


class OrderListArgs(Schema):
    status = fields.String(validate=validate.OneOf(["open", "answered", "closed"]))


class PhotoFiles(Schema):
    photo = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


ITEM_NAMES = {item.code: {"zh": item.name_zh, "en": item.name_en} for item in CHECKLIST}
