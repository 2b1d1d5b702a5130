"""Schemas of the incident, emergency-plan and daily-report routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from models.base import CHINA
from models import IncidentGrade, IncidentStatus, IncidentType

TYPES = [t.value for t in IncidentType]
GRADES = [g.value for g in IncidentGrade]
STATUSES = [s.value for s in IncidentStatus]
COUNT = validate.Range(min=0, max=2**31 - 1)
from greenshield.dumping import Out
from greenshield.fields import REGION_CODE as REGION


class IncidentIn(Schema):
    outlet_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=CHINA, metadata={
        "description": "ISO 8601; a time without offset is China time"})
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    description = fields.String(required=True, validate=validate.Length(min=1, max=8000))
    casualties = fields.Integer(load_default=0, validate=COUNT,
                                metadata={"description": "people dead or seriously injured"})
    records_affected = fields.Integer(load_default=0, validate=COUNT,
                                      metadata={"description": "parcels or personal-data records affected"})
    measures = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=8000))


class IncidentGradeIn(Schema):
    grade = fields.String(required=True, validate=validate.OneOf(GRADES))


class IncidentUpdateIn(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=8000))


class IncidentCloseIn(Schema):
    summary = fields.String(required=True, validate=validate.Length(min=1, max=8000))


class IncidentListArgs(Schema):
    region = fields.String(validate=REGION)
    status = fields.String(validate=validate.OneOf(STATUSES))
    outlet = fields.String(validate=validate.Length(max=32))


class IncidentUpdateOut(Out):
    id = fields.Integer()
    text = fields.String()
    author = fields.Function(lambda u: u.author.username if u.author else None)
    created_at = fields.DateTime()


class IncidentAttachmentOut(Out):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size_bytes = fields.Integer()
    sha256 = fields.String()
    created_at = fields.DateTime()


def _grade(value):
    return value.value if value is not None else None


class IncidentOut(Out):
    id = fields.Integer()
    outlet_code = fields.String(attribute="outlet.code")
    enterprise_code = fields.String(attribute="outlet.enterprise.code")
    region_code = fields.String(attribute="outlet.region_code")
    type = fields.Function(lambda i: i.type.value)
    occurred_at = fields.DateTime()
    reported_at = fields.DateTime()
    description = fields.String()
    casualties = fields.Integer()
    records_affected = fields.Integer()
    measures = fields.String(allow_none=True)
    grade_suggested = fields.Function(lambda i: i.grade_suggested.value)
    grade = fields.Function(lambda i: _grade(i.grade), metadata={"description": "confirmed by an inspector"})
    grade_confirmed_at = fields.DateTime(allow_none=True)
    report_due_at = fields.DateTime(metadata={"description": "the first report's deadline for the grade"})
    late = fields.Boolean(metadata={"description": "the first report came after its deadline"})
    escalated = fields.Function(lambda i: i.escalated_at is not None,
                                metadata={"description": "grade I or II: the province was told"})
    status = fields.Function(lambda i: i.status.value)
    summary = fields.String(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    updates = fields.List(fields.Nested(IncidentUpdateOut))
    attachments = fields.List(fields.Nested(IncidentAttachmentOut))


class EmergencyPlanIn(Schema):
    enterprise_code = fields.String(required=True, validate=validate.Length(min=1, max=16))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    version = fields.String(required=True, validate=validate.Length(min=1, max=32))
    valid_until = fields.Date(required=True)


class EmergencyPlanOut(Out):
    id = fields.Integer()
    enterprise_code = fields.String(attribute="enterprise.code")
    title = fields.String()
    version = fields.String()
    valid_until = fields.Date()
    filename = fields.String(allow_none=True)
    has_document = fields.Function(lambda p: p.storage_key is not None)
    created_at = fields.DateTime()


class EmergencyDrillIn(Schema):
    enterprise_code = fields.String(required=True, validate=validate.Length(min=1, max=16))
    held_on = fields.Date(required=True)
    scenario = fields.String(required=True, validate=validate.Length(min=1, max=200))
    participants = fields.Integer(required=True, validate=validate.Range(min=1, max=100_000))
    findings = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=8000))


class EmergencyDrillOut(Out):
    id = fields.Integer()
    enterprise_code = fields.String(attribute="enterprise.code")
    held_on = fields.Date()
    scenario = fields.String()
    participants = fields.Integer()
    findings = fields.String(allow_none=True)


class EmergencyReadinessOut(Out):
    enterprise_code = fields.String()
    enterprise_name = fields.String()
    plan = fields.Nested(EmergencyPlanOut, allow_none=True, metadata={"description": "the valid plan, latest first"})
    last_drill = fields.Nested(EmergencyDrillOut, allow_none=True)
    plan_missing = fields.Boolean(metadata={"description": "no plan valid today"})
    drill_missing = fields.Boolean(metadata={"description": "no drill in the last 12 months"})
    late_reports = fields.Integer(metadata={"description": "incidents first reported late, last 12 months"})


class DailyReportArgs(Schema):
    region = fields.String(validate=REGION)
    date = fields.Date()


class IncidentFileIn(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class DailyOutletLineOut(Out):
    code = fields.String()
    name = fields.String()
    parcels = fields.Integer()
    real_name_rate = fields.Float()
    inspection_rate = fields.Float()
    xray_rate = fields.Float()


class DailyIncidentLineOut(Out):
    id = fields.Integer()
    outlet_name = fields.String()
    type = fields.String()
    grade = fields.String()
    confirmed = fields.Boolean()
    status = fields.String()
    late = fields.Boolean()


class DailyReportOut(Out):
    region_code = fields.String()
    region_name = fields.String()
    date = fields.Date(attribute="day")
    outlets_reporting = fields.Integer()
    parcels = fields.Integer()
    real_name_rate = fields.Float(allow_none=True)
    inspection_rate = fields.Float(allow_none=True)
    xray_rate = fields.Float(allow_none=True)
    xray_rate_verified = fields.Float(allow_none=True, metadata={"description": "null: not recorded"})
    outlets_below = fields.Integer(metadata={"description": "outlets under a rate threshold that day"})
    alerts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "alerts opened for the day, per metric"})
    open_alerts = fields.Integer()
    scans = fields.Integer()
    flagged = fields.Integer()
    seized = fields.Integer()
    referred = fields.Integer()
    incidents_by_grade = fields.Dict(keys=fields.String(), values=fields.Integer())
    incidents = fields.List(fields.Nested(DailyIncidentLineOut))
    late_reports = fields.Integer()
    worst = fields.List(fields.Nested(DailyOutletLineOut), metadata={"description": "lowest real-name rates"})
