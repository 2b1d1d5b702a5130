"""marshmallow fields shared by the feature schemas."""
from __future__ import annotations

import unicodedata

from marshmallow import fields, validate

BINARY = {"type": "string", "format": "binary"}  # the schema of a file in a response (image, zip, CSV)


class Code(fields.String):
    """An identifier code: NFKC-normalised, stripped, upper-cased, then matched against ``pattern``."""

    def __init__(self, pattern: str = r"^[A-Z0-9-]{4,32}$", **kwargs):
        kwargs.setdefault("validate", validate.Regexp(pattern, error="must match {regex}"))
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return unicodedata.normalize("NFKC", text).strip().upper()


class Text(fields.String):
    """Free text: stripped, non-empty, at most ``max_length`` characters."""

    def __init__(self, max_length: int, min_length: int = 1, **kwargs):
        kwargs.setdefault("validate", validate.Length(min=min_length, max=max_length))
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()
