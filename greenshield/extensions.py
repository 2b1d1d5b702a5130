"""Third-party extensions: the API/OpenAPI generator, i18n, CSRF and rate limits."""
from __future__ import annotations

from flask import Flask, request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api
from marshmallow import Schema, fields

from greenshield.auth.policy import csrf

babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"description": "Stable machine-readable code"})
    message = fields.String(required=True, metadata={"description": "What went wrong, for a person"})
    details = fields.Raw(required=True, metadata={"description": "Field messages or other specifics"})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBody, required=True)


class GreenShieldApi(Api):
    """flask-smorest's Api, documenting GreenShield's error shape instead of its own."""

    ERROR_SCHEMA = ErrorSchema


def select_locale() -> str:
    """The language chosen in the session, else the browser's best match, else Simplified Chinese."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    from greenshield import api_v1

    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.config.setdefault("API_SPEC_OPTIONS", {
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    })
    api = GreenShieldApi(app)
    app.extensions["greenshield.api"] = api
    api_v1.register(api)
