"""The daily-log column table (inspection.columns) is the one description of a collection record: every
consumer covers every column, and every row or file error code has a message in English and Chinese."""
from __future__ import annotations

import datetime as dt
import re
from hashlib import sha256
from pathlib import Path
from types import SimpleNamespace

import pytest

from greenshield.personal import keyring
from greenshield.errors import MESSAGES, message
from greenshield.ingest import services
from greenshield.personal.records import record_view
from greenshield.ingest.schemas import RecordVersionOut
from greenshield.trace.export import CSV_COLUMNS
from greenshield.web.labels import COLUMNS as LABELS
from inspection import dailylog, synth
from inspection import columns
from inspection.columns import COLUMNS, Column, Personal, Type
from models import CollectionRecord

REPO = Path(__file__).resolve().parents[1]

BOOKKEEPING = {
    "id": "primary key",
    "version": "1 for the first upload of a waybill, +1 for each correction",
    "is_current": "whether this version is the waybill's latest",
    "batch_id": "provenance: the upload batch",
    "row_no": "provenance: the row of the uploaded file",
    "collected_on": "the collection day in China, derived from collected_at",
    "real_name_compliant": "derived by the writer from the real-name rules",
    "content_hash": "derived: what makes two versions identical",
    "created_at": "when the version was stored",
}
"""Columns of ``collection_records`` that no daily-log column is stored in: the system's own bookkeeping."""

STORED_IN = {name: column for column in COLUMNS.values() for name in column.stored_in}


def model_columns() -> set[str]:
    return set(CollectionRecord.__table__.columns.keys())


def test_every_model_column_is_bookkeeping_or_stores_a_daily_log_column():
    assert model_columns() - set(BOOKKEEPING) == set(STORED_IN)
    assert not set(BOOKKEEPING) & set(STORED_IN)


@pytest.mark.parametrize("name", sorted(set(CollectionRecord.__table__.columns.keys()) - {"id"}))
def test_the_bulk_writer_names_every_model_column(name):
    assert name in services.RECORD_COLUMNS
    assert len(services.RECORD_COLUMNS) == len(set(services.RECORD_COLUMNS)) == len(model_columns()) - 1


@pytest.mark.parametrize("name", sorted(set(CollectionRecord.__table__.columns.keys()) - set(BOOKKEEPING)))
def test_exports_views_and_labels_show_every_stored_column(name):
    key = STORED_IN[name].key
    assert key in CSV_COLUMNS  # evidence export (records.csv)
    assert key in RecordVersionOut().fields  # the API's record versions and trace results
    assert key in LABELS and str(LABELS[key])  # batch page, error messages


def test_labels_are_keyed_by_the_table():
    assert set(LABELS) == {*COLUMNS, ""}


def test_synthetic_logs_and_records_follow_the_table():
    assert synth.COLUMNS == tuple(COLUMNS)
    assert synth.ZH_ALIASES == {key: column.alias_zh for key, column in COLUMNS.items()}
    assert list(dailylog.LogRecord.__dataclass_fields__) == ["row", *COLUMNS]
    row = next(synth.generate_rows(1, outlet_code="SF-HH-0001", day=dt.date(2025, 3, 10)))
    assert tuple(row) == tuple(COLUMNS)


def test_personal_data_is_bound_to_its_column():
    """Ciphertexts and blind indexes stored before the table existed used these purposes: they must not move."""
    assert columns.purpose(COLUMNS["sender_id_no"]) == keyring.ID_NO
    assert columns.purpose(COLUMNS["sender_phone"]) == keyring.PHONE
    # the first release's two come first (the content hash reads blind indexes by position); later ones follow
    assert [c.key for c in columns.ENCRYPTED] == ["sender_id_no", "sender_phone", "sender_address",
                                                  "recipient_phone", "recipient_address"]
    assert all(c.stored_in == (f"{c.key.removesuffix('_no')}_enc", f"{c.key.removesuffix('_no')}_hmac")
               for c in columns.ENCRYPTED)
    assert COLUMNS["sender_name"].personal is Personal.NAME
    assert COLUMNS["recipient_name"].personal is Personal.NAME
    assert {c.key for c in columns.ENCRYPTED if c.personal is Personal.ADDRESS} == {"sender_address",
                                                                                   "recipient_address"}


def _record(**values):
    raw = {"waybill_no": "SF12345678", "collected_at": "2025-03-10 10:00:00", "sender_name": "张伟",
           "sender_id_type": "RESIDENT_ID", "sender_id_no": "11010519491231002X", "sender_phone": "13812345678",
           "item_name": "羊绒衫", "item_category": "服装", "quantity": "2", "real_name_verified": "是",
           "inspected": "否", "xray_screened": "是", "courier_id": "C01", **values}
    record = dailylog.validate_row(2, raw, outlet_code="SF-HH-0001", now=dt.datetime(2025, 3, 11, tzinfo=dt.UTC))
    assert isinstance(record, dailylog.LogRecord), record
    return record


LATER = (None,) * (len(columns.ENCRYPTED) - 2)  # the blind indexes of personal data added after the first release


def _first_release_hash(rec, id_hmac, phone_hmac) -> str:
    """The content hash as the first release computed it: stored digests were made this way."""
    text_ = (f"{rec.collected_at.isoformat()}\x1f{rec.sender_name or ''}\x1f{rec.sender_id_type or ''}\x1f"
             f"{id_hmac or ''}\x1f{phone_hmac or ''}\x1f{rec.item_name}\x1f{rec.item_category or ''}\x1f"
             f"{rec.quantity}\x1f{rec.real_name_verified}\x1f{rec.inspected}\x1f{rec.xray_screened}\x1f"
             f"{rec.courier_id or ''}\x1f{rec.contract_customer_code or ''}")
    return sha256(text_.encode()).hexdigest()


@pytest.mark.parametrize("values", [{}, {"sender_name": "", "sender_id_type": "", "sender_id_no": "",
                                         "sender_phone": "", "item_category": "", "courier_id": ""}])
def test_the_content_hash_of_an_unchanged_record_never_changes(values):
    record = _record(**values)
    indexes = ("a" * 64, "b" * 64) if record.sender_id_no else (None, None)
    assert columns.content_hash(record, (*indexes, *LATER)) == _first_release_hash(record, *indexes)


def test_a_column_added_later_changes_the_hash_only_where_it_has_a_value(monkeypatch):
    record = _record()
    before = columns.content_hash(record, ("a" * 64, "b" * 64, *LATER))
    added = {"probe_text": Column("probe_text", "试探文本", Type.TEXT, max_length=32),
             "probe_flag": Column("probe_flag", "试探标志", Type.BOOL, default=False)}
    monkeypatch.setattr(columns, "COLUMNS", {**COLUMNS, **added})
    made = {"sha256": sha256}
    exec(columns._hash_source(), made)

    def digest(**values):
        later = SimpleNamespace(**{**{f: getattr(record, f) for f in record.__dataclass_fields__}, **values})
        return made["content_hash"](later, ("a" * 64, "b" * 64, *LATER))

    assert digest(probe_text=None, probe_flag=False) == before  # stored records keep their digests
    assert len({before, digest(probe_text="纸箱", probe_flag=False), digest(probe_text=None, probe_flag=True),
                digest(probe_text="纸箱", probe_flag=True)}) == 4


def test_the_whole_waybill_changes_the_hash_and_letters_are_compliant_records():
    plain = _record()
    full = _record(recipient_name="王五", recipient_phone="137 1234 5678", destination_region="上海",
                   is_letter="是", sender_address="呼和浩特市新城区1号")
    assert (full.recipient_phone, full.destination_region, full.is_letter) == ("13712345678", "310000", True)
    assert columns.content_hash(plain, ("a" * 64, "b" * 64, *LATER)) != columns.content_hash(
        full, ("a" * 64, "b" * 64, "c" * 64, "d" * 64, None))
    errors = dailylog.validate_row(2, {"waybill_no": "SF12345678", "collected_at": "2025-03-10 10:00:00",
                                       "item_name": "书", "destination_region": "990000"}, outlet_code="SF-HH-0001",
                                   now=dt.datetime(2025, 3, 11, tzinfo=dt.UTC))
    assert [(e.column, e.code) for e in errors] == [("destination_region", "validation_error.unknown_destination")]


def test_record_view_shows_every_column_masked_or_clear(app, session, make_outlet, settings):
    from greenshield.personal import vault

    outlet = make_outlet("SF-HH-0001")
    v = vault(session, settings)
    record = CollectionRecord(outlet=outlet, waybill_no="SF12345678", version=1, is_current=True, batch_id=1,
                              row_no=2, collected_at=dt.datetime(2025, 3, 10, 2, tzinfo=dt.UTC),
                              collected_on=dt.date(2025, 3, 10), sender_name="张伟", sender_id_type="RESIDENT_ID",
                              sender_id_enc=v.encrypt("11010519491231002X", keyring.ID_NO), sender_phone_enc=None,
                              item_name="羊绒衫", quantity=1, real_name_verified=True, inspected=True,
                              xray_screened=True, real_name_compliant=True, content_hash="x",
                              created_at=dt.datetime(2025, 3, 10, 3, tzinfo=dt.UTC))
    clear, masked = record_view(record, v, clear=True), record_view(record, v, clear=False)
    assert set(COLUMNS) <= set(clear) and set(clear) == set(masked)
    assert (clear["sender_id_no"], clear["sender_name"], clear["outlet_code"]) == ("11010519491231002X", "张伟",
                                                                                  "SF-HH-0001")
    assert (masked["sender_id_no"], masked["sender_name"]) == ("1101**********002X", "张*")
    assert clear["sender_phone"] is None and masked["item_name"] == "羊绒衫"


# --- row and file error codes ------------------------------------------------------------------------------

def _sample_params(message: str) -> dict:
    names = set(re.findall(r"%\((\w+)\)", message))
    return {name: 1.5 if name.endswith("_mib") else 7 for name in names}


def _raised_codes() -> set[str]:
    """Every row and file error code the inspection package can raise, read from its source."""
    source = "".join((REPO / "inspection" / name).read_text() for name in ("dailylog.py", "identity.py"))
    codes = set(re.findall(r'"(validation_error\.\w+)"', source))
    codes |= set(re.findall(r'InvalidLogFile\(\s*"([\w.]+)"', source))
    codes |= {f"unsupported_format.{what}" for what in re.findall(r'_unsupported\(\s*"(\w+)"', source)}
    codes |= {f"unsupported_format.{what}" for _, what in dailylog._BINARY_MAGIC}
    codes |= {"unsupported_format.opendocument", "unsupported_format.zip"}  # chosen by a conditional
    codes |= {f"no_header.{what}" for what in re.findall(r'_no_header\(\s*"(\w+)"', source)}
    codes |= {"corrupt_xlsx", *(f"corrupt_xlsx.{what}" for what in re.findall(r'_corrupt\(\s*"(\w+)"', source))}
    codes |= {"missing_columns", "no_rows"}  # raised by the ingest service
    return codes


def _msgid(code: str) -> str:
    return str(MESSAGES[code].message._args[0])


def _codes() -> list[str]:
    return sorted(_raised_codes())


@pytest.mark.parametrize("code", _codes())
def test_every_code_renders_in_english_and_chinese(app, code):
    params = {k: v for k, v in _sample_params(_msgid(code)).items() if k != "column"}
    with app.test_request_context(headers={"Accept-Language": "en"}):
        english = message(code, params, column="collected_at")
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        chinese = message(code, params, column="collected_at")
    assert english and chinese and english != chinese
    assert "%(" not in english and "%(" not in chinese
    if "%(column)s" in _msgid(code):
        assert '"Collected at"' in english and "收寄时间" in chinese


def test_legacy_errors_keep_their_stored_sentence(app):
    with app.test_request_context():
        assert message("legacy", {"message": "waybill number is required"}) == "waybill number is required"


def test_every_raised_code_has_a_message():
    assert _raised_codes() - set(MESSAGES) == set()


def test_row_errors_name_columns_by_key_and_never_echo_the_cell():
    errors = dailylog.validate_row(2, {"waybill_no": "13812345678901234567890123456789X", "collected_at": "x",
                                       "item_name": "书", "outlet_code": "11010519491231002X"},
                                   outlet_code="SF-HH-0001")
    assert {e.column for e in errors} <= set(COLUMNS)
    assert "13812345678901234567890123456789X" not in repr(errors) and "11010519491231002X" not in repr(errors)


def test_types_have_parsers():
    assert {column.type for column in COLUMNS.values()} <= set(Type)
    assert set(dailylog._PARSERS) == set(Type)


def test_every_personal_column_is_masked_in_error_reports_and_record_views():
    from greenshield.ingest import report
    from greenshield.personal.records import _SHOWN

    personal = {c.personal for c in COLUMNS.values() if c.personal is not Personal.NONE}
    assert personal <= set(report._MASKS)
    assert {c.personal for c in columns.ENCRYPTED} <= set(_SHOWN)
    assert report._shown("recipient_address", "北京市海淀区中关村大街27号") == "北京市海淀区********"
    assert report._shown("recipient_phone", "13712345678") == "137****5678"
    assert report._shown("recipient_name", "赵收件") == "赵**"
