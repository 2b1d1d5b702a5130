"""Schemas of the compliance routes."""
from __future__ import annotations

from flask_babel import gettext, lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from greenshield.dumping import Out

MAX_RANGE_DAYS = 731


class RangeArgs(Schema):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)

    @validates_schema
    def _ordered(self, data, **_):
        start, end = data.get("from_"), data.get("to")
        if start and end:
            if end < start:
                raise ValidationError(_l("May not be before the start of the period."), "to")
            if (end - start).days >= MAX_RANGE_DAYS:
                raise ValidationError(gettext("A period covers at most %(days)s days.", days=MAX_RANGE_DAYS), "to")


class OptionalRangeArgs(RangeArgs):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    outlet = fields.String(validate=validate.Length(max=32))


class FindingArgs(OptionalRangeArgs):
    kind = fields.String(validate=validate.Length(max=32))


class SummaryArgs(Schema):
    date = fields.Date(required=True)
    region = fields.String(validate=validate.Regexp(r"^\d{6}$"))
    enterprise = fields.String(validate=validate.Length(max=16))


class RollupArgs(RangeArgs):
    by = fields.String(required=True, validate=validate.OneOf(["enterprise", "region", "month"]))
    region = fields.String(validate=validate.Regexp(r"^\d{6}$"))
    enterprise = fields.String(validate=validate.Length(max=16))


class AlertArgs(Schema):
    status = fields.String(validate=validate.OneOf(["open", "closed"]))
    outlet = fields.String(validate=validate.Length(max=32))
    metric = fields.String(validate=validate.OneOf(["real_name", "inspection", "xray", "xray_review_overdue"]))


class DayOut(Out):
    date = fields.Date()
    parcels = fields.Integer()
    real_name_rate = fields.Float(allow_none=True)
    adjusted_real_name_rate = fields.Float(allow_none=True)
    inspection_rate = fields.Float(allow_none=True)
    xray_rate = fields.Float(allow_none=True)
    xray_rate_verified = fields.Float(allow_none=True, metadata={
        "description": "records declared screened that a networked machine of the outlet or its screening site "
                       "scanned in the window, over all records"})
    below_threshold = fields.Boolean()


class SummaryRowOut(DayOut):
    outlet_code = fields.String()
    outlet_name = fields.String()
    enterprise_code = fields.String()
    region_code = fields.String()
    reported = fields.Boolean(metadata={"description": "false when the outlet uploaded nothing for that day"})
    open_alerts = fields.Integer()


class RollupOut(Out):
    key = fields.String()
    name = fields.String()
    outlets = fields.Integer()
    parcels = fields.Integer()
    real_name_rate = fields.Float(allow_none=True)
    adjusted_real_name_rate = fields.Float(allow_none=True)
    inspection_rate = fields.Float(allow_none=True)
    xray_rate = fields.Float(allow_none=True)
    xray_rate_verified = fields.Float(allow_none=True)


class FindingOut(Out):
    id = fields.Integer()
    kind = fields.String()
    outlet_code = fields.String(attribute="outlet.code")
    date = fields.Date(attribute="day")
    records = fields.Integer()
    detail = fields.Dict()


class AlertOut(Out):
    id = fields.Integer()
    outlet_code = fields.String(attribute="outlet.code")
    date = fields.Date(attribute="day")
    metric = fields.String()
    rate = fields.Float()
    threshold = fields.Float()
    status = fields.Function(lambda a: a.status.value)
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class CoverageArgs(Schema):
    region = fields.String(validate=validate.Regexp(r"^\d{6}$"))
    enterprise = fields.String(validate=validate.Length(max=16))


class CoverageGroupOut(Out):
    key = fields.String()
    name = fields.String()
    sites_total = fields.Integer()
    sites_covered = fields.Integer()
    coverage = fields.Float(allow_none=True)


class UncoveredSiteOut(Out):
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    region_code = fields.String()
    enterprise_code = fields.String()


class CoverageOut(Out):
    sites_total = fields.Integer()
    sites_covered = fields.Integer()
    coverage = fields.Float(allow_none=True, metadata={"description": "sites_covered / sites_total; null without sites"})
    by_region = fields.List(fields.Nested(CoverageGroupOut))
    by_enterprise = fields.List(fields.Nested(CoverageGroupOut))
    uncovered = fields.List(fields.Nested(UncoveredSiteOut))
