"""marshmallow fields shared by the feature schemas."""
from __future__ import annotations

import re
import unicodedata

from flask_babel import gettext as _, lazy_gettext as _l
from marshmallow import ValidationError, fields, validate

from models.base import china_today

BINARY = {"type": "string", "format": "binary"}  # the schema of a file in a response (image, zip, CSV)

REGION_CODE = validate.Regexp(r"^\d{6}$", error=_l("A region is a 6-digit GB/T 2260 code."))


def not_in_future(value) -> None:
    """A date that has happened (an installation, a filing): today (China time) at the latest."""
    if value > china_today():
        raise ValidationError(_("May not be in the future (today is %(today)s).", today=china_today().isoformat()))


def not_in_future_time(value) -> None:
    """A moment that has happened (a scan, a machine's status): at most the allowed clock skew ahead."""
    import datetime as dt

    from inspection.dailylog import CLOCK_SKEW

    if value.tzinfo is not None and value > dt.datetime.now(dt.timezone.utc) + CLOCK_SKEW:
        raise ValidationError(_("May not be more than %(minutes)s minutes in the future.",
                                minutes=int(CLOCK_SKEW.total_seconds() // 60)))


def cron_expression(value: str) -> None:
    """A 5-field crontab expression (minute hour day month weekday), Asia/Shanghai."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError:
        raise ValidationError(_("Not a valid schedule: give 5 fields (minute hour day month weekday), e.g. "
                                "0 8 * * 1.")) from None


class CodePattern(validate.Validator):
    """A code of ``[A-Z0-9-]{min,max}``-like ``pattern``, refused with a message people read (not the pattern)."""

    def __init__(self, pattern: str) -> None:
        self.regex = re.compile(pattern)
        limits = re.search(r"\{(\d+),(\d+)\}", pattern)
        self.min, self.max = (limits[1], limits[2]) if limits else ("", "")
        self.dash = "-]" in pattern

    def __call__(self, value: str) -> str:
        if self.regex.match(value or "") is None:
            if self.dash:
                raise ValidationError(_('%(min)s-%(max)s capital letters, digits or "-".', min=self.min, max=self.max))
            raise ValidationError(_("%(min)s-%(max)s capital letters or digits.", min=self.min, max=self.max))
        return value


class Code(fields.String):
    """An identifier code: NFKC-normalised, stripped, upper-cased, then matched against ``pattern``."""

    def __init__(self, pattern: str = r"^[A-Z0-9-]{4,32}$", **kwargs):
        kwargs.setdefault("validate", CodePattern(pattern))
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
