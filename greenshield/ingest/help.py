"""What the upload page and the templates say about the daily log's columns, read from the column table.

``column_help()`` describes each column of ``inspection.columns.COLUMNS`` (Chinese name, label, required or
optional, accepted values, the value of an empty cell, an example) in the reader's language; ``template()``
is an empty daily log with the columns' Chinese names and example rows (PRODUCT.md:
``GET /api/v1/daily-log-template``).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from greenshield.errors import _chinese
from greenshield.web.labels import column_label
from inspection.columns import COLUMNS, Column, Type
from inspection.dailylog import CLOCK_SKEW
from inspection.identity import ID_TYPES


@dataclass(frozen=True)
class ColumnHelp:
    key: str
    alias_zh: str
    label: str
    required: bool
    accepted: str
    empty: str
    example: str


def _accepted(column: Column) -> str:
    kind = column.type
    if kind is Type.WAYBILL:
        return _("%(min)s-%(max)s letters, digits or \"-\"; stored in capitals", min=column.min_length,
                 max=column.max_length)
    if kind is Type.DATETIME:
        return _("Date and time, e.g. 2026-11-28 09:15:00, 2026/11/28 09:15 or ISO 8601; China time; at most "
                 "%(minutes)s minutes in the future", minutes=int(CLOCK_SKEW.total_seconds() // 60))
    if kind is Type.OUTLET:
        return _("The code of the outlet the file is uploaded for")
    if kind is Type.TEXT:
        return _("Text, at most %(max)s characters", max=column.max_length)
    if kind is Type.CODE:
        return _("A code, at most %(max)s characters", max=column.max_length)
    if kind is Type.INT:
        return _("A positive whole number")
    if kind is Type.BOOL:
        return _("是/否, Y/N, true/false or 1/0")
    if kind is Type.ID_TYPE:
        separator = "、" if _chinese() else ", "
        return _("One of: %(types)s (the name or its code)",
                 types=separator.join(t.name_zh for t in ID_TYPES.values()))
    if kind is Type.ID_NO:
        return _("Checked by the ID type: a resident ID is 18 characters with a correct check digit (a final x "
                 "is read as X); needs an ID type")
    if kind is Type.PHONE:
        return _("Digits, +, - and spaces; a mainland mobile number has 11 digits")
    if kind is Type.REGION:
        return _("A GB/T 2260 region code (e.g. 110000) or a region's name (e.g. 北京市, 北京)")
    return ""


def _empty(column: Column) -> str:
    if column.type is Type.OUTLET:
        return _("the outlet of the upload")
    if column.type is Type.BOOL:
        return _("No") if column.default is False else ""
    if column.default not in (None, ""):
        return str(column.default)
    return ""


def column_help() -> list[ColumnHelp]:
    """Every column of the daily log, required ones first as in the table's order."""
    return [ColumnHelp(c.key, c.alias_zh, column_label(c.key), c.required, _accepted(c), _empty(c), c.example)
            for c in COLUMNS.values()]


# A second example row: a letter whose sender showed no ID document (letters are exempt from the real-name
# check, so it counts as compliant), beside the first row's complete example.
_SECOND_ROW = {"waybill_no": "SF1234567891", "collected_at": "2026-11-28 10:30:00", "sender_name": "李四",
               "sender_id_type": "", "sender_id_no": "", "sender_phone": "13912345678", "item_name": "文件",
               "item_category": "文件", "quantity": "2", "real_name_verified": "否", "sender_address": "",
               "recipient_name": "王五", "recipient_phone": "13712345678", "recipient_address": "上海市浦东新区世纪大道1号",
               "destination_region": "上海", "is_letter": "是"}


def template() -> tuple[list[str], list[list[str]]]:
    """The header (the columns' Chinese names) and two example rows of an empty daily log."""
    header = [c.alias_zh for c in COLUMNS.values()]
    first = [c.example for c in COLUMNS.values()]
    second = [_SECOND_ROW.get(c.key, c.example) for c in COLUMNS.values()]
    return header, [first, second]
