"""The error report of a batch, for people: one line per rejected row, its reasons beside its own cells.

The cells come from ``rejected_rows`` (stored encrypted); personal data in them (names, ID and phone numbers) is
masked for every role — the roles that read batches (administrators, inspectors, outlet managers) see personal
data masked (PRODUCT.md), and the row number finds the row in the uploader's own file. The value columns are
headed by the daily log's own column names (Chinese aliases; the English keys in English), so a corrected
report can be uploaded again: its extra columns are ignored with a warning.
"""
from __future__ import annotations

from collections import defaultdict

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from greenshield.errors import _chinese, message
from greenshield.ingest.services import decrypt_rejected_row
from greenshield.personal import mask_name, vault as vault_of
from greenshield.settings import Settings
from greenshield.web.labels import column_label
from inspection.columns import COLUMNS, Personal
from inspection.identity import mask_address, mask_id_no, mask_phone
from models import BatchError, RejectedRow, UploadBatch

_MASKS = {Personal.NAME: mask_name, Personal.ID_NO: mask_id_no, Personal.PHONE: mask_phone,
          Personal.ADDRESS: mask_address}


def _shown(key: str, value: str) -> str:
    mask = _MASKS.get(COLUMNS[key].personal)
    return mask(value) if mask and value else value


def header() -> list[str]:
    """Row, columns at fault, reasons, then the daily log's columns as a file names them."""
    names = [c.alias_zh if _chinese() else c.key for c in COLUMNS.values()]
    return [_("Row"), _("Columns at fault"), _("Reasons"), *names]


def report_rows(session: Session, settings: Settings, batch: UploadBatch) -> list[list[object]]:
    """One line per rejected row, in row order (messages in the request's language)."""
    errors = session.scalars(select(BatchError).where(BatchError.batch_id == batch.id)
                             .order_by(BatchError.row, BatchError.id)).all()
    by_row: dict[int, list[BatchError]] = defaultdict(list)
    for error in errors:
        by_row[error.row].append(error)
    cells: dict[int, dict[str, str]] = {}
    stored = session.scalars(select(RejectedRow).where(RejectedRow.batch_id == batch.id)).all()
    if stored:
        v = vault_of(session, settings)
        cells = {r.row: decrypt_rejected_row(v, r.values_enc) for r in stored}
    separator = "；" if _chinese() else "; "
    lines = []
    for row, row_errors in sorted(by_row.items()):
        columns = list(dict.fromkeys(column_label(e.column) for e in row_errors))
        reasons = [message(e.code, e.params, column=e.column) for e in row_errors]
        values = cells.get(row, {})
        lines.append([row, separator.join(columns), separator.join(reasons),
                      *(_shown(key, values.get(key, "")) for key in COLUMNS)])
    return lines
