"""Domain exceptions and the one error shape: {"error": {"code", "message", "details"}} (HTML for browsers)."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """An expected failure with a status, a stable code and a message a person understands."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict | list | None = None, code: str | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code:
            self.code = code
        if status:
            self.status = status


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Invalid(DomainError):
    status = 422
    code = "validation_error"


class OutOfScope(DomainError):
    status = 403
    code = "forbidden"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


HTTP_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error",
    429: "too_many_requests", 500: "internal_error",
}


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _json_safe(details):
    """``details`` with every mapping key a string: a multipart part whose name cannot be decoded is a ``None``
    field, and JSON (with sorted keys) has no place for it."""
    if isinstance(details, dict):
        return {"" if key is None else str(key): _json_safe(value) for key, value in details.items()}
    if isinstance(details, (list, tuple)):
        return [_json_safe(value) for value in details]
    return details


def error_response(status: int, code: str, message: str, details=None, headers=None):
    if wants_json():
        response = jsonify({"error": {"code": code, "message": message, "details": _json_safe(details) or {}}})
    else:
        response = render_template("error.html", status=status, code=code, message=message, details=details)
    return response, status, headers or {}


NUL = "\x00"
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def refuse_nul_characters() -> None:
    """``before_request``: text with a NUL character never reaches the database (PostgreSQL can neither store nor
    compare it). Raises NotFound for one in the path, Invalid (422) for one in the query, a form field or JSON."""
    if _has_nul(request.view_args or {}):
        raise NotFound("Nothing has a name with a NUL character.")
    fields = [name for name, value in request.args.items(multi=True) if _has_nul([name, value])]
    if request.mimetype in FORM_TYPES:
        fields += [name for name, value in request.form.items(multi=True) if _has_nul([name, value])]
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        fields += [str(key) for key, value in body.items() if _has_nul([key, value])]
    elif _has_nul(body):
        fields.append("_body")
    if fields:
        raise Invalid("Text may not contain NUL characters.",
                      details={name: ["contains a NUL character"] for name in fields})


def _validation_details(exc_data) -> dict:
    """webargs puts messages under their location ('json', 'form', 'query'); flatten for the user."""
    messages = (exc_data or {}).get("messages", {})
    if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in (
        "json", "form", "query", "files", "headers", "view_args",
    ):
        messages = next(iter(messages.values()))
    return messages


def init_app(app: Flask) -> None:
    from audits.errors import AuditError, NotFoundError, StateError

    app.before_request(refuse_nul_characters)

    @app.errorhandler(AuditError)
    def _audit(exc: AuditError):
        status, code = ((404, "not_found") if isinstance(exc, NotFoundError) else
                        (409, "conflict") if isinstance(exc, StateError) else (422, "validation_error"))
        details = {exc.field: [exc.message]} if exc.field else {}
        return error_response(status, code, exc.message, details)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        return error_response(422, "validation_error", "Some fields are invalid.", exc.messages)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        if status == 422:
            return error_response(422, "validation_error", "Some fields are invalid.",
                                  _validation_details(getattr(exc, "data", None)))
        message = exc.description or exc.name
        details = _validation_details(getattr(exc, "data", None)) if status == 400 else None
        if details and "Invalid JSON body." in str(details):
            message = "The request body is not valid JSON."
        headers = dict(exc.get_headers()) if status in (405, 429) else None
        if headers:
            headers.pop("Content-Type", None)
        return error_response(status, HTTP_CODES.get(status, exc.name.lower().replace(" ", "_")), message,
                              details, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "An unexpected error occurred; it has been logged.")
