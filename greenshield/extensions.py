"""Third-party extensions: the API/OpenAPI generator, i18n, CSRF and rate limits."""
from __future__ import annotations

import http

from apispec import BasePlugin
from flask import Flask, has_request_context, request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api
from flask_smorest.pagination import PaginationMetadataSchema
from marshmallow import Schema, fields
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, Rule

from greenshield.auth.policy import csrf

babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"description": "Stable machine-readable code"})
    message = fields.String(required=True, metadata={"description": "What went wrong, for a person"})
    details = fields.Raw(required=True, metadata={"description": "Field messages or other specifics"})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBody, required=True)


WRITES = ("post", "put", "patch", "delete")


class StandardErrors(BasePlugin):
    """Documents on every operation the errors every route can answer, each with the one error shape.

    401 (no or a bad token), 403 (role or scope) and 422 (invalid fields; text with a NUL character, even in a query
    the route ignores) everywhere; 404 where the path names an object; 400 (not JSON, not multipart) where there is
    a body; 409 (a duplicate or a state that does not allow it) on writes; 413 and 415 (too large, not a file type the route takes) on uploads. Routes add what is
    theirs alone (429 where rate-limited) with ``@blp.alt_response``.
    """

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = [401, 403, 422]
            if "{" in path:
                codes.append(404)
            body = operation.get("requestBody", {}).get("content", {})
            if body:
                codes.append(400)
            if method in WRITES:
                codes.append(409)
            if "multipart/form-data" in body:
                codes += [413, 415]
            responses = operation["responses"]
            for code in codes:
                responses.setdefault(str(code), http.HTTPStatus(code).name)


class GreenShieldApi(Api):
    """flask-smorest's Api, documenting GreenShield's error shape instead of its own, and each operation's error
    statuses instead of a catch-all ``default`` (so that an undocumented status is a finding)."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_pagination_header(self):
        # The header carries JSON; a bare ``schema`` would mean OpenAPI's ``k,v,k,v`` header serialisation.
        self.spec.components.header("PAGINATION", {
            "description": "Pagination metadata as JSON",
            "content": {"application/json": {"schema": PaginationMetadataSchema}},
        }, lazy=True)


class Identifier(IntegerConverter):
    """``<int:...>`` in routes names a row, so it is at most the largest key of its column (INTEGER unless
    ``IdentifierRule`` says BIGINT): a larger number is a 404, not an out-of-range error from the database. (A
    converter's ValidationError would make werkzeug answer 405 when a sibling route takes another method, so the
    refusal is NotFound itself.) The OpenAPI document shows the bound."""

    def __init__(self, map, *args, max: int = 2**31 - 1, **kwargs):
        super().__init__(map, *args, **kwargs)
        self.max = max

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > self.max:
            raise NotFound()
        return number


class IdentifierRule(Rule):
    """Routes whose ``<int:...>`` names a row of a BIGINT key (``models.base.BigId``) accept up to 2**63 - 1."""

    BIGINT_IDS = frozenset({"batch_id", "event_id"})

    def get_converter(self, variable_name, converter_name, args, kwargs):
        if converter_name == "int" and variable_name in self.BIGINT_IDS:
            kwargs = {"max": 2**63 - 1, **kwargs}
        return super().get_converter(variable_name, converter_name, args, kwargs)


def select_locale() -> str:
    """The language chosen in the session, else the browser's best match, else Simplified Chinese."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]  # the CLI and jobs speak the default language
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> GreenShieldApi:
    """Set up the extensions; returns the API, on which the factory registers the features' blueprints."""
    app.url_map.converters["int"] = Identifier
    app.url_rule_class = IdentifierRule
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.config.setdefault("API_SPEC_OPTIONS", {
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    })
    api = GreenShieldApi(app, spec_kwargs={"extra_plugins": [StandardErrors()]})
    app.extensions["greenshield.api"] = api
    return api
