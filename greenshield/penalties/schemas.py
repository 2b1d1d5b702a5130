"""Schemas of the penalty routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from greenshield.dumping import Out

STATUSES = ["registered", "notified", "decided", "published"]
ID = validate.Range(min=1, max=2**31 - 1)  # the database's integer keys
YUAN = validate.Range(min=0, max=2**31 - 1)


class ProvisionIn(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9-]{2,32}$", error="2-32 of A-Z, 0-9, -"))
    law = fields.String(required=True, validate=validate.Length(min=1, max=128))
    article = fields.String(required=True, validate=validate.Length(min=1, max=64))
    violation = fields.String(required=True, validate=validate.Length(min=1, max=200))
    text = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    verbatim = fields.Boolean(load_default=False, metadata={"description": "the text is quoted from the law"})
    fine_min = fields.Integer(load_default=None, allow_none=True, validate=YUAN)
    fine_max = fields.Integer(load_default=None, allow_none=True, validate=YUAN)


class ProvisionPatch(Schema):
    law = fields.String(validate=validate.Length(min=1, max=128))
    article = fields.String(validate=validate.Length(min=1, max=64))
    violation = fields.String(validate=validate.Length(min=1, max=200))
    text = fields.String(validate=validate.Length(min=1, max=4000))
    verbatim = fields.Boolean()
    fine_min = fields.Integer(allow_none=True, validate=YUAN)
    fine_max = fields.Integer(allow_none=True, validate=YUAN)
    active = fields.Boolean()


class ProvisionOut(Out):
    id = fields.Integer()
    code = fields.String()
    law = fields.String()
    article = fields.String()
    citation = fields.String()
    violation = fields.String()
    text = fields.String()
    verbatim = fields.Boolean()
    fine_min = fields.Integer(allow_none=True, metadata={"description": "元"})
    fine_max = fields.Integer(allow_none=True, metadata={"description": "元"})
    active = fields.Boolean()


class PenaltyCaseIn(Schema):
    order_id = fields.Integer(load_default=None, allow_none=True, validate=ID,
                              metadata={"description": "an escalated rectification order"})
    audit_id = fields.Integer(load_default=None, allow_none=True, validate=ID,
                              metadata={"description": "a closed audit with a serious finding"})
    provision_id = fields.Integer(required=True, validate=ID)
    facts = fields.String(required=True, validate=validate.Length(min=1, max=8000))


class PenaltyNoticeIn(Schema):
    served_on = fields.Date(required=True)
    hearing_requested = fields.Boolean(load_default=False)
    rights_waived = fields.Boolean(load_default=False, metadata={
        "description": "the party waived in writing its rights to state its case and to a hearing"})


class PenaltyHearingIn(Schema):
    held_on = fields.Date(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))


class PenaltyDecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["warning", "fine", "other"]))
    fine_amount = fields.Integer(load_default=None, allow_none=True, validate=YUAN,
                                 metadata={"description": "元, within the provision's range"})
    text = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    decided_on = fields.Date(required=True)


class PenaltyCaseListArgs(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    outlet = fields.String(validate=validate.Length(max=32))


class PenaltyCaseOut(Out):
    id = fields.Integer()
    case_no = fields.String()
    status = fields.Function(lambda c: c.status.value)
    outlet_code = fields.String(attribute="outlet.code")
    enterprise_code = fields.String(attribute="outlet.enterprise.code")
    order_id = fields.Integer(allow_none=True)
    audit_id = fields.Integer(allow_none=True)
    provision = fields.Nested(ProvisionOut)
    facts = fields.String()
    registered_on = fields.Date()
    notice_served_on = fields.Date(allow_none=True)
    hearing_requested = fields.Boolean()
    rights_waived = fields.Boolean()
    hearing_deadline = fields.Date(allow_none=True)
    provisional = fields.Boolean(attribute="hearing_deadline_provisional", metadata={
        "description": "the hearing deadline runs into a year whose holidays are not loaded"})
    hearing_held_on = fields.Date(allow_none=True)
    decision = fields.Function(lambda c: c.decision.value if c.decision else None)
    fine_amount = fields.Integer(allow_none=True, metadata={"description": "元"})
    decision_text = fields.String(allow_none=True)
    decided_on = fields.Date(allow_none=True)
    decision_no = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
