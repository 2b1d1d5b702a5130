"""Schemas of the traceability routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate, validates

from greenshield.dumping import Out
from greenshield.fields import Text, cron_expression
from greenshield.web.labels import notification_text
from greenshield.ingest.schemas import RecordVersionOut

ACTIONS = ("trace", "case_view", "export", "case_register", "case_approve", "case_refuse", "watchlist_create",
           "watchlist_run")


class CaseIn(Schema):
    case_no = Text(64, required=True, metadata={"description": "The agency's case number (立案编号)"})
    agency = Text(128, load_default=None, metadata={"description": "Defaults to the investigator's agency"})
    legal_basis = Text(500, required=True)
    purpose = Text(1000, required=True)
    valid_until = fields.Date(required=True, metadata={"description": "Last day of validity (Asia/Shanghai)"})


class RefuseIn(Schema):
    reason = Text(1000, required=True)


class CaseOut(Out):
    id = fields.Integer()
    case_no = fields.String()
    status = fields.String(metadata={"description": "pending | approved | refused | expired"})
    agency = fields.String()
    legal_basis = fields.String()
    purpose = fields.String()
    valid_until = fields.Date()
    investigator = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    refusal_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class CaseListArgs(Schema):
    status = fields.String(validate=validate.OneOf(["pending", "approved", "refused", "expired"]))


class TraceIn(Schema):
    case_no = fields.String(load_default=None, validate=validate.Length(max=64))
    waybill_no = fields.String(validate=validate.Length(max=64))
    sender_id_type = fields.String(validate=validate.Length(max=32))
    sender_id_no = fields.String(validate=validate.Length(max=64))
    sender_phone = fields.String(validate=validate.Length(max=32))
    sender_name = fields.String(validate=validate.Length(max=64))
    recipient_phone = fields.String(validate=validate.Length(max=32))
    recipient_name = fields.String(validate=validate.Length(max=64))
    outlet_code = fields.String(validate=validate.Length(max=32))
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()


class ChainSourceOut(Out):
    batch_id = fields.Integer()
    row = fields.Integer()
    filename = fields.String(allow_none=True)
    uploaded_at = fields.DateTime(allow_none=True)


class ChainVersionOut(RecordVersionOut):
    source = fields.Nested(ChainSourceOut)


class ChainReviewOut(Out):
    decision = fields.String()
    category_code = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    reviewer = fields.String()
    decided_at = fields.DateTime()


class ChainXrayEventOut(Out):
    id = fields.Integer()
    machine_code = fields.String()
    outlet_code = fields.String()
    scanned_at = fields.DateTime()
    operator_id = fields.String()
    screener_on_duty = fields.String(allow_none=True)
    score = fields.Float()
    flagged = fields.Boolean()
    model_version = fields.String()
    status = fields.String()
    evidence_hold = fields.Boolean()
    image_available = fields.Boolean()
    image_url = fields.String()
    heatmap_url = fields.String()
    review = fields.Nested(ChainReviewOut, allow_none=True)


class ChainStepOut(Out):
    at = fields.DateTime()
    kind = fields.String(metadata={"description": "collected | stored | corrected | xray_scanned | xray_reviewed"})
    detail = fields.String()


class ChainOut(ChainVersionOut):
    record_id = fields.Integer()
    outlet_name = fields.String()
    versions = fields.List(fields.Nested(ChainVersionOut))
    xray_events = fields.List(fields.Nested(ChainXrayEventOut))
    timeline = fields.List(fields.Nested(ChainStepOut))


class TraceOut(Out):
    count = fields.Integer()
    truncated = fields.Boolean(metadata={"description": "More items matched than TRACE_MAX_RESULTS"})
    case_no = fields.String(allow_none=True)
    query_type = fields.String()
    results = fields.List(fields.Nested(ChainOut))


class CaseResultsOut(Out):
    case = fields.Nested(CaseOut)
    count = fields.Integer()
    results = fields.List(fields.Nested(ChainOut))


class WatchlistIn(Schema):
    name = Text(128, required=True)
    query = fields.Dict(required=True, metadata={"description": "The fields of a trace query, without case_no"})
    cron = fields.String(required=True, metadata={"description": "5-field crontab, Asia/Shanghai, e.g. '0 * * * *'"})

    @validates("cron")
    def _cron(self, value, **_):
        cron_expression(value)


class WatchlistOut(Out):
    id = fields.Integer()
    case_id = fields.Integer()
    name = fields.String()
    query = fields.Dict(metadata={"description": "query_type and the query's fields, personal data masked"})
    cron = fields.String()
    active = fields.Boolean()
    last_run_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class NotificationArgs(Schema):
    unread = fields.Boolean(load_default=False)


class NotificationOut(Out):
    id = fields.Integer()
    kind = fields.String()
    message = fields.Function(lambda n: notification_text(n.kind, n.data, n.message),
                              metadata={"description": "in the language of Accept-Language"})
    data = fields.Dict()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class AccessLogArgs(Schema):
    user = fields.String(validate=validate.Length(max=64))
    case_no = fields.String(validate=validate.Length(max=64))
    action = fields.String(validate=validate.OneOf(ACTIONS))
    outcome = fields.String(validate=validate.OneOf(["ok", "refused"]))
    from_ = fields.Date(data_key="from")
    to = fields.Date()


class AccessLogOut(Out):
    seq = fields.Integer()
    at = fields.DateTime(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    username = fields.String(allow_none=True, metadata={"description": "None: a caller who was not signed in"})
    role = fields.String(allow_none=True)
    agency = fields.String(allow_none=True)
    action = fields.String()
    case_no = fields.String(allow_none=True)
    query_type = fields.String(allow_none=True)
    subject_hash = fields.String(allow_none=True)
    result_count = fields.Integer(allow_none=True)
    outcome = fields.String()
    client_addr = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    prev_hash = fields.String()
    entry_hash = fields.String()
    verified = fields.Boolean(metadata={"description": "The entry still matches its hash (false: altered)"})


class AccessLogVerifyOut(Out):
    ok = fields.Boolean()
    entries = fields.Integer()
    checkpoints = fields.Integer()
    last_seq = fields.Integer(allow_none=True)
    first_bad_seq = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    newest_checkpoint_seq = fields.Integer(allow_none=True)
    uncovered = fields.Integer(metadata={"description": "Newest entries no checkpoint covers yet"})
