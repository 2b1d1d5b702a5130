"""A collection record as a role sees it: every column of the daily log by its key, personal data in clear only
for those who may read it (investigators on their cases), masked for everyone else."""
from __future__ import annotations

from greenshield.personal import mask_name, shown_address, shown_id, shown_phone
from inspection.columns import COLUMNS, Column, Personal, Type, purpose
from models import CollectionRecord

_SHOWN = {Personal.ID_NO: shown_id, Personal.PHONE: shown_phone, Personal.ADDRESS: shown_address}


def _shown(column: Column, record: CollectionRecord, v, clear: bool):
    if column.type is Type.OUTLET:
        return record.outlet.code
    if column.personal.encrypted:
        return _SHOWN[column.personal](v.decrypt(getattr(record, column.stored_in[0]), purpose(column)), clear)
    value = getattr(record, column.key)
    return mask_name(value) if column.personal is Personal.NAME and not clear else value


def record_view(record: CollectionRecord, v, *, clear: bool) -> dict:
    """A record as a role sees it, every column of the daily log by its key: personal data in clear only when
    ``clear``, masked otherwise."""
    return {
        "waybill_no": record.waybill_no, "version": record.version, "is_current": record.is_current,
        **{key: _shown(column, record, v, clear) for key, column in COLUMNS.items()},
        "real_name_compliant": record.real_name_compliant,
        "source": {"batch_id": record.batch_id, "row": record.row_no}, "stored_at": record.created_at,
    }
