"""Exceptions of the audit use cases; the web layer maps them to HTTP answers."""
from __future__ import annotations


class AuditError(Exception):
    """A request the audit rules refuse; ``field`` names the input at fault when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(AuditError):
    """The plan, audit, order or region does not exist."""


class StateError(AuditError):
    """The audit or order is not in a state that allows this (e.g. closing a closed audit)."""
