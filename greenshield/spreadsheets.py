"""Tables for people: CSV that Excel opens (UTF-8 with BOM) and XLSX, with headers and cells in the reader's language.

Cells are written as people read them: times in China time (``YYYY-MM-DD HH:MM:SS``), booleans 是/否 (Yes/No in
English), ``None`` empty. Text that a spreadsheet would run as a formula is prefixed with ``'`` (CSV) or stored as
text (XLSX). Machines get JSON or the API's CSV instead.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from flask import Response
from flask_babel import gettext as _

from inspection.dailylog import safe_cell
from models.base import CHINA

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def cell(value: object) -> object:
    """A value as a person reads it in a spreadsheet cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return value
    return str(value)


def csv_bytes(header: Sequence[object], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with BOM, CRLF lines: what Excel opens as Unicode text."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([str(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(c) if isinstance(c, str) else c for c in map(cell, row)])
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def xlsx_bytes(header: Sequence[object], rows: Iterable[Sequence[object]], *, title: str = "Sheet1",
               widths: Sequence[int] | None = None) -> bytes:
    """One worksheet: a bold, frozen header row, then the rows; text cells stay text (never formulas)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "Sheet1")
    sheet.freeze_panes = "A2"
    for index, width in enumerate(widths or [max(10, min(40, 2 * len(str(h)) + 4)) for h in header]):
        sheet.column_dimensions[_column_letter(index)].width = width
    head = []
    for h in header:
        c = WriteOnlyCell(sheet, value=str(h))
        c.font = Font(bold=True)
        head.append(c)
    sheet.append(head)
    for row in rows:
        out = []
        for value in map(cell, row):
            c = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                c.data_type = "s"  # text, even when it starts with "="
            out.append(c)
        sheet.append(out)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def download(data: bytes, filename: str, fmt: str) -> Response:
    """``data`` as a file download named ``filename`` (UTF-8 names allowed, RFC 5987)."""
    mimetype = XLSX_MIMETYPE if fmt == "xlsx" else "text/csv; charset=utf-8"
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return Response(data, content_type=mimetype, headers={
        "Content-Disposition": f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(filename)}"})


def table_response(header: Sequence[object], rows: Iterable[Sequence[object]], *, filename: str, fmt: str,
                   title: str = "Sheet1") -> Response:
    """A CSV (``fmt='csv'``) or XLSX download of a table for people."""
    if fmt == "xlsx":
        return download(xlsx_bytes(header, rows, title=title), f"{filename}.xlsx", "xlsx")
    return download(csv_bytes(header, rows), f"{filename}.csv", "csv")
