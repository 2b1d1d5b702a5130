"""Schemas of the account and token routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from greenshield.dumping import Out
from greenshield.fields import Code, Text
from models import Role


class UserIn(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_.-]{2,63}$",
                                                                      error="3-64 of a-z 0-9 _ . -, starting with a letter"))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=256))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    display_name = Text(64, load_default="")
    region_code = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^\d{6}$"))
    outlet_codes = fields.List(Code(), load_default=list)
    agency = Text(128, load_default=None, allow_none=True)


class UserPatch(Schema):
    display_name = Text(64)
    active = fields.Boolean()
    password = fields.String(load_only=True, validate=validate.Length(min=10, max=256))
    unlock = fields.Boolean(load_only=True)


class UserOut(Out):
    username = fields.String()
    display_name = fields.String()
    role = fields.Function(lambda u: u.role.value)
    region_code = fields.String(allow_none=True)
    outlet_codes = fields.Function(lambda u: sorted(o.code for o in u.outlets))
    agency = fields.String(allow_none=True)
    active = fields.Boolean()
    locked = fields.Function(lambda u: bool(getattr(u, "throttled", False)),
                             metadata={"description": "Sign-ins to this account wait after failed attempts"})
    must_change_password = fields.Boolean()
    last_login_at = fields.DateTime(allow_none=True)


class TokenIn(Schema):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=3660),
                          metadata={"description": "Days of validity, at most TOKEN_MAX_DAYS (90 by default)"})
    password = fields.String(load_only=True, validate=validate.Length(max=1024), metadata={
        "description": "The caller's password: required when the caller is signed in with a browser session"})


class TokenOut(Out):
    id = fields.Integer()
    prefix = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class NewTokenOut(TokenOut):
    token = fields.String(metadata={"description": "The bearer token; shown only once."})


class AdminActionArgs(Schema):
    user = fields.String(validate=validate.Length(max=64), metadata={"description": "The account acted on"})
    actor = fields.String(validate=validate.Length(max=64), metadata={"description": "The administrator"})
    action = fields.String(validate=validate.Length(max=32))


class AdminActionOut(Out):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String(attribute="actor_username")
    action = fields.String()
    user = fields.String(attribute="target_username")
    detail = fields.Dict()
    client_addr = fields.String(allow_none=True)
