"""Input and output schemas of the registry routes."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from flask_babel import lazy_gettext as _l

from greenshield.dumping import Out
from greenshield.fields import REGION_CODE, Code, Text, not_in_future
from models.base import china_today as _today

OUTLET_KINDS = ("outlet", "sorting_centre")
STAFF_ROLES = ("courier", "screener")


class OutletIn(Schema):
    code = Code(required=True)
    name = Text(128, required=True)
    enterprise_code = Code(r"^[A-Z0-9]{2,16}$", required=True)
    region_code = fields.String(required=True, validate=REGION_CODE)
    kind = fields.String(load_default="outlet", validate=validate.OneOf(OUTLET_KINDS))


class OutletPatch(Schema):
    name = Text(128)
    enterprise_code = Code(r"^[A-Z0-9]{2,16}$")
    region_code = fields.String(validate=REGION_CODE)
    kind = fields.String(validate=validate.OneOf(OUTLET_KINDS))
    active = fields.Boolean()
    screening_site_code = fields.String(allow_none=True, validate=validate.Length(max=32))


class OutletOut(Out):
    code = fields.String()
    name = fields.String()
    enterprise_code = fields.String(attribute="enterprise.code")
    enterprise_name = fields.String(attribute="enterprise.name")
    region_code = fields.String()
    region_name = fields.String(attribute="region.name")
    kind = fields.Function(lambda o: o.kind.value)
    active = fields.Boolean()
    screening_site_code = fields.Function(lambda o: o.screening_site.code if o.screening_site else None)


class MachineIn(Schema):
    code = Code(required=True)
    outlet_code = Code(required=True)
    model = Text(64, required=True)
    installed_on = fields.Date(required=True, validate=not_in_future)


class MachinePatch(Schema):
    outlet_code = Code()
    model = Text(64)
    installed_on = fields.Date(validate=not_in_future)
    active = fields.Boolean()


class MachineOut(Out):
    code = fields.String()
    outlet_code = fields.String(attribute="outlet.code")
    model = fields.String()
    installed_on = fields.Date()
    active = fields.Boolean()


class StaffIn(Schema):
    staff_id = Code(r"^[A-Z0-9-]{2,32}$", required=True)
    name = Text(64, required=True)
    outlet_code = Code(required=True)
    role = fields.String(required=True, validate=validate.OneOf(STAFF_ROLES))
    certificate_no = Text(64, load_default=None, allow_none=True)
    id_no = fields.String(load_default=None, allow_none=True, load_only=True,
                          metadata={"description": "resident ID number; stored encrypted, used to spot staff IDs "
                                                   "typed in as senders'"})

    @validates_schema
    def _screeners_need_certificate(self, data, **_):
        if data.get("role") == "screener" and not data.get("certificate_no"):
            raise ValidationError(_l("A screener needs a certificate number."), "certificate_no")


class StaffPatch(Schema):
    name = Text(64)
    outlet_code = Code()
    role = fields.String(validate=validate.OneOf(STAFF_ROLES))
    certificate_no = Text(64, allow_none=True)
    id_no = fields.String(allow_none=True, load_only=True)
    active = fields.Boolean()


class StaffOut(Out):
    staff_id = fields.String()
    name = fields.String()
    outlet_code = fields.String(attribute="outlet.code")
    role = fields.Function(lambda s: s.role.value)
    certificate_no = fields.String(allow_none=True)
    id_no_on_file = fields.Function(lambda s: s.id_no_hmac is not None)
    active = fields.Boolean()


class ContractCustomerIn(Schema):
    code = Code(r"^[A-Z0-9-]{2,32}$", required=True)
    name = Text(128, required=True)
    credit_code = fields.String(required=True)
    outlet_code = Code(required=True)
    filed_on = fields.Date(required=True, validate=not_in_future)
    valid_until = fields.Date(required=True)

    @validates_schema
    def _dates_in_order(self, data, **_):
        if data.get("filed_on") and data.get("valid_until") and data["valid_until"] < data["filed_on"]:
            raise ValidationError(_l("May not be before the filing date."), "valid_until")


class ContractCustomerPatch(Schema):
    name = Text(128)
    credit_code = fields.String()
    filed_on = fields.Date(validate=not_in_future)
    valid_until = fields.Date()
    active = fields.Boolean()


class ContractCustomerOut(Out):
    code = fields.String()
    name = fields.String()
    credit_code = fields.String()
    outlet_code = fields.String(attribute="outlet.code")
    filed_on = fields.Date()
    valid_until = fields.Date()
    active = fields.Boolean()
    valid_today = fields.Function(lambda c: c.valid_on(_today()))


class EnterpriseIn(Schema):
    code = Code(r"^[A-Z0-9]{2,16}$", required=True)
    name = Text(64, required=True)


class EnterpriseOut(Out):
    code = fields.String()
    name = fields.String()
    active = fields.Boolean()


class RegionOut(Out):
    code = fields.String()
    name = fields.String()
    name_en = fields.String()
    parent_code = fields.String(allow_none=True)
    level = fields.Integer()


class IdTypeOut(Out):
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()


class CategoryOut(Out):
    code = fields.Integer()
    name_zh = fields.String()
    name_en = fields.String()


class ListArgs(Schema):
    q = fields.String(validate=validate.Length(max=64))
    region = fields.String(validate=validate.Regexp(r"^\d{6}$"))
    enterprise = fields.String(validate=validate.Length(max=16))
    outlet = fields.String(validate=validate.Length(max=32))
    include_inactive = fields.Boolean(load_default=False)
