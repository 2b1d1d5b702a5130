"""Schemas of the daily-log upload and batch routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate


class UploadForm(Schema):
    strict = fields.Boolean(load_default=False, metadata={"description": "all-or-nothing batch"})


class UploadFiles(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class BatchOut(Schema):
    batch_id = fields.Integer(attribute="id")
    status = fields.Function(lambda b: b.status.value)
    rows_total = fields.Integer()
    rows_accepted = fields.Integer()
    rows_rejected = fields.Integer()
    rows_skipped = fields.Integer(metadata={"description": "identical to a stored version, not stored again"})
    rows_corrected = fields.Integer(metadata={"description": "stored as a new version of an earlier record"})
    errors_url = fields.Function(lambda b: f"/api/v1/batches/{b.id}/errors")  # the route of api.batch_errors
    outlet_code = fields.String(attribute="outlet.code")
    filename = fields.String()
    format = fields.String()
    encoding = fields.String(allow_none=True)
    sha256 = fields.String()
    strict = fields.Boolean()
    warnings = fields.List(fields.String())
    source = fields.String()
    created_at = fields.DateTime()


class BatchErrorOut(Schema):
    row = fields.Integer()
    column = fields.String()
    message = fields.String()


class ErrorsArgs(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))


class BatchListArgs(Schema):
    outlet = fields.String()


class RecordVersionOut(Schema):
    waybill_no = fields.String()
    version = fields.Integer()
    is_current = fields.Boolean()
    outlet_code = fields.String()
    collected_at = fields.DateTime()
    sender_name = fields.String(allow_none=True)
    sender_id_type = fields.String(allow_none=True)
    sender_id_no = fields.String(allow_none=True)
    sender_phone = fields.String(allow_none=True)
    item_name = fields.String()
    item_category = fields.String(allow_none=True)
    quantity = fields.Integer()
    real_name_verified = fields.Boolean()
    inspected = fields.Boolean()
    xray_screened = fields.Boolean()
    real_name_compliant = fields.Boolean()
    courier_id = fields.String(allow_none=True)
    contract_customer_code = fields.String(allow_none=True)
    source = fields.Dict()
    stored_at = fields.DateTime()
