"""Schemas of the X-ray routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from flask_babel import lazy_gettext as _l

from greenshield.dumping import Out
from greenshield.fields import Code, Text, not_in_future_time

WAYBILL_FORMAT = _l('8-32 letters, digits or "-".')

DECISIONS = ("cleared", "seized", "referred")


class EventForm(Schema):
    machine_code = Code(required=True)
    waybill_no = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9-]{8,32}$", error=WAYBILL_FORMAT))
    scanned_at = fields.AwareDateTime(required=True, default_timezone=None, validate=not_in_future_time,
                                      metadata={"description": "ISO 8601 with offset, e.g. 2026-11-28T09:15:00+08:00"})
    operator_id = Text(32, required=True)


class EventFiles(Schema):
    image = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ImportFiles(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "A zip with manifest.csv and the images it names"})


class ImportedOut(Out):
    imported = fields.Integer()
    flagged = fields.Integer()


class EventCreated(Out):
    id = fields.Integer()
    score = fields.Float()
    flagged = fields.Boolean()
    model_version = fields.String()
    threshold = fields.Float(allow_none=True, metadata={
        "description": "the operating threshold it was flagged against (flagged = score ≥ threshold): the "
                       "machine's calibrated one, else the model's"})


class ReviewOut(Out):
    decision = fields.String()
    category = fields.Integer(attribute="category_code", allow_none=True)
    note = fields.String(allow_none=True)
    reviewer = fields.String(attribute="reviewer.username")
    decided_at = fields.DateTime()


class EventOut(EventCreated):
    machine_code = fields.String(attribute="machine.code")
    outlet_code = fields.String(attribute="outlet.code")
    waybill_no = fields.String()
    scanned_at = fields.DateTime()
    operator_id = fields.String()
    screener_on_duty = fields.String(allow_none=True)
    width = fields.Integer()
    height = fields.Integer()
    image_format = fields.String()
    status = fields.Function(lambda e: e.status.value)
    image_available = fields.Function(lambda e: e.image_purged_at is None)
    review = fields.Nested(ReviewOut, allow_none=True)


class EventListArgs(Schema):
    flagged = fields.Boolean()
    status = fields.String(validate=validate.OneOf(["pending", "reviewed", "not_flagged"]))
    outlet = fields.String(validate=validate.Length(max=32))
    waybill_no = fields.String(validate=validate.Length(max=32))


class HeatmapArgs(Schema):
    overlay = fields.Boolean(load_default=False)


class ReviewIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    category = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=19))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ReviewResult(ReviewOut):
    event_id = fields.Integer()
    tip_outcome = fields.String(allow_none=True, metadata={
        "description": "for a projected test image (TIP): hit, miss, false_alarm or correct_reject"})


class StatusIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["power_on", "power_off", "check_in", "check_out"]))
    at = fields.AwareDateTime(required=True, default_timezone=None, validate=not_in_future_time)
    staff_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))


class StatusOut(Out):
    id = fields.Integer()
    kind = fields.String()
    at = fields.DateTime()
    staff_id = fields.String(allow_none=True)


class PowerArgs(Schema):
    from_ = fields.AwareDateTime(data_key="from", required=True, default_timezone=None)
    to = fields.AwareDateTime(required=True, default_timezone=None)


class PowerOut(Out):
    machine_code = fields.String()
    from_ = fields.DateTime(data_key="from", attribute="from")
    to = fields.DateTime()
    powered_seconds = fields.Integer()
    power_on_rate = fields.Float()


class ModelOut(Out):
    version = fields.String()
    active = fields.Boolean()
    threshold = fields.Float()
    target_recall = fields.Float(allow_none=True)
    false_flag_budget = fields.Float(allow_none=True)
    metrics = fields.Dict()
    training_summary = fields.Dict()
    created_at = fields.DateTime()
    activated_at = fields.DateTime(allow_none=True)
    machines = fields.List(fields.String(), dump_default=[], metadata={
        "description": "codes of the machines whose events it scores now"})


class CalibrationOut(Out):
    model_version = fields.String()
    threshold = fields.Float()
    scans_used = fields.Integer(metadata={"description": "0: not calibrated yet, the model's own threshold applies"})
    false_flag_budget = fields.Float(allow_none=True)
    calibrated_at = fields.DateTime(allow_none=True)
    calibration_pending = fields.Boolean(metadata={
        "description": "the machine's model changed and its calibration for it runs in the background; until then "
                       "the threshold answered applies (the model's own, or an earlier calibration for it)"})


class ReviewerStatsOut(Out):
    reviewer = fields.String()
    reviews = fields.Integer()
    tip_hits = fields.Integer()
    tip_misses = fields.Integer()
    tip_false_alarms = fields.Integer()
    tip_correct_rejects = fields.Integer()
    tip_hit_rate = fields.Float(allow_none=True)
    mean_review_minutes = fields.Float(allow_none=True, metadata={"description": "from the flag to the decision"})
    median_review_minutes = fields.Float(allow_none=True)
    reviews_after_sla = fields.Integer(metadata={"description": "decisions later than XRAY_REVIEW_SLA_HOURS"})
    machines = fields.List(fields.Dict(), metadata={
        "description": "per machine: machine_code, reviews, mean/median_review_minutes, reviews_after_sla"})


class ClueArgs(Schema):
    status = fields.String(validate=validate.OneOf(["open", "handed_over", "closed"]))
    outlet = fields.String(validate=validate.Length(max=32))


class ClueOut(Out):
    id = fields.Integer()
    event_id = fields.Integer()
    waybill_no = fields.String()
    outlet_code = fields.String(attribute="outlet.code")
    decision = fields.String()
    category = fields.Integer(attribute="category_code", allow_none=True)
    status = fields.Function(lambda c: c.status.value)
    agency = fields.String(allow_none=True)
    agency_case_no = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    created_at = fields.DateTime()
    handed_over_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)


class HandOverIn(Schema):
    agency = fields.String(required=True, validate=validate.Length(max=128))
    agency_case_no = fields.String(required=True, validate=validate.Length(max=64))


class CloseClueIn(Schema):
    outcome = fields.String(required=True, validate=validate.Length(max=4000))


class SeizureStatsArgs(Schema):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    region = fields.String(validate=validate.Regexp(r"^\d{6}$"))
    enterprise = fields.String(validate=validate.Length(max=16))


class SeizureStatsOut(Out):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    total = fields.Integer()
    by_category = fields.List(fields.Dict(), metadata={"description": "the 19 categories: code, name_zh, name_en, count"})
    by_region = fields.List(fields.Dict(), metadata={"description": "league/city: key, name, count"})
    by_enterprise = fields.List(fields.Dict())
    by_month = fields.List(fields.Dict(), metadata={"description": "month (YYYY-MM), count"})


class MachineModelIn(Schema):
    version = fields.String(required=True, validate=validate.Length(min=1, max=64))
