"""The domain's error vocabulary: what went wrong as a stable code and parameters, never a sentence or a status.

Every package below the web app raises these (``inspection`` and ``audits`` subclass them); the web app's one
table (``greenshield.errors.MESSAGES``) turns a code into an HTTP status and a message in the reader's language,
for the API, the pages, the CLI and the daily-log error report alike.

A code reads ``<api code>.<reason>``: the part before the first dot is what the API shows as ``error.code``
(``not_found``, ``validation_error``, ``conflict``, ``forbidden``, or a code of its own such as
``missing_columns``), the whole code chooses the message. ``not_found.outlet`` → 404, "没有网点 …".
"""
from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """A refusal the rules foresee.

    ``code`` names it (see the module); ``params`` fill its message; ``field`` names the input at fault, if one
    is (the message is then shown beside it); ``details`` is structured data for programs (a line number, the
    missing columns), shown as the API's ``error.details`` instead of the field's message.
    """

    code = "bad_request"

    def __init__(self, code: str | None = None, /, *, field: str | None = None, details: Mapping | None = None,
                 **params: object) -> None:
        if code is not None:
            self.code = code
        self.field = field
        self.details = dict(details) if details else {}
        self.params = params
        super().__init__(self.code, params)

    @property
    def api_code(self) -> str:
        """The stable code the API answers with: the code up to its first dot."""
        return self.code.partition(".")[0]

    def __str__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{self.code}({params})" if params else self.code


class NotFound(DomainError):
    """The object does not exist, or the caller may not know that it does."""

    code = "not_found"


class Conflict(DomainError):
    """The object's state does not allow this, or the name is taken."""

    code = "conflict"


class Invalid(DomainError):
    """An input breaks a rule."""

    code = "validation_error"


class Forbidden(DomainError):
    """The caller's role or scope does not allow this."""

    code = "forbidden"
