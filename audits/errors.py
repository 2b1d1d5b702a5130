"""Errors of the audit use cases: the domain's vocabulary (``models.errors``), a code and parameters each."""
from __future__ import annotations

from models.errors import Conflict, DomainError, Invalid, NotFound

__all__ = ["Conflict", "DomainError", "DrawImpossible", "Invalid", "NotFound"]


class DrawImpossible(Invalid):
    """The region has too few outlets or free inspectors for the plan asked for."""
