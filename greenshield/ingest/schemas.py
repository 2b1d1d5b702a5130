"""Schemas of the daily-log upload and batch routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from greenshield.dumping import Out
from greenshield.errors import message
from inspection.columns import COLUMNS, Type


class UploadForm(Schema):
    strict = fields.Boolean(load_default=False, metadata={"description": "all-or-nothing batch"})


class UploadFiles(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


def warning_messages(warnings: list) -> list[str]:
    """A batch's warnings as messages (stored as codes; older batches stored English sentences)."""
    return [message(w["code"], w.get("params"), column=(w.get("params") or {}).get("key"))
            if isinstance(w, dict) else str(w) for w in warnings or []]


class BatchOut(Out):
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
    warnings = fields.Function(lambda b: warning_messages(b.warnings),
                               metadata={"description": "unrecognised or duplicate columns, in the language of "
                                                        "Accept-Language"})
    source = fields.String()
    created_at = fields.DateTime()


class BatchErrorOut(Out):
    row = fields.Integer()
    column = fields.String(metadata={"description": "the column's English key; empty for the whole row"})
    code = fields.String(metadata={"description": "what is wrong, e.g. validation_error.too_long"})
    params = fields.Dict(metadata={"description": "the parameters of the message, e.g. {\"max\": 64}"})
    message = fields.Function(lambda e: message(e.code, e.params, column=e.column),
                              metadata={"description": "in the language of Accept-Language"})


class ErrorsArgs(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "xlsx"]))


class TemplateArgs(Schema):
    format = fields.String(load_default="xlsx", validate=validate.OneOf(["xlsx", "csv"]))


class BatchListArgs(Schema):
    outlet = fields.String()


_FIELDS = {Type.DATETIME: fields.DateTime, Type.INT: fields.Integer, Type.BOOL: fields.Boolean}

RecordVersionOut = Out.from_dict({
    "waybill_no": fields.String(),
    "version": fields.Integer(),
    "is_current": fields.Boolean(),
    **{key: _FIELDS.get(column.type, fields.String)(
        allow_none=not column.required and column.default is None and column.type is not Type.OUTLET)
       for key, column in COLUMNS.items() if key != "waybill_no"},
    "real_name_compliant": fields.Boolean(),
    "source": fields.Dict(),
    "stored_at": fields.DateTime(),
}, name="RecordVersionOut")
"""One version of a record as ``record_view`` shows it: every column of the daily log by its key."""
