"""Daily-log upload (收寄日志) as users see it: formats, row errors, idempotency and corrections, bad files,
scope, personal data at rest, and ``greenshield ingest``."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import stat
import unicodedata
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from greenshield import create_app
from greenshield.personal import archive
from greenshield.context import settings_of
from greenshield.personal import vault
from greenshield.personal.keyring import ID_NO, PHONE
from greenshield.context import storage
from inspection import synth
from inspection.columns import COLUMNS
from inspection.identity import mask_id_no, mask_phone
from models import BatchError, CollectionRecord, UploadBatch
from tests.helpers import DAY, csv_bytes, log_row, resident_id, upload, upload_rows

FLAGS = ("real_name_verified", "inspected", "xray_screened")
TRUE_WORDS = ("是", "y", "yes", "true", "1")


# --- helpers shared with test_compliance.py and test_keys.py -------------------------------------------------


def counts(session) -> tuple[int, int, int]:
    """(batches, records, row errors) in the database."""
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(model))
                 for model in (UploadBatch, CollectionRecord, BatchError))


def archived_files(instance: Path) -> set[Path]:
    return set((instance / "archive").glob("*/*.gsa"))


@pytest.fixture
def admin(make_user, bearer):
    return bearer(make_user("admin"))


@pytest.fixture
def outlet(make_outlet):
    return make_outlet("SF-HH-0001")


@pytest.fixture
def instance(app) -> Path:
    return Path(app.config["INSTANCE_PATH"])


# --- formats ------------------------------------------------------------------------------------------------

def _xlsx_with_title(rows: list[dict[str, str]], headers: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "收寄日志"
    sheet.append(["呼和浩特顺丰营业部 收寄日志 2025-03-10"])
    keys = list(rows[0])
    sheet.append([synth.ZH_ALIASES[k] if headers == "zh" else k for k in keys])
    for row in rows:
        sheet.append([row[k] or None for k in keys])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _jsonl(rows: list[dict[str, str]], headers: str) -> bytes:
    return b"".join(json.dumps({synth.ZH_ALIASES[k] if headers == "zh" else k: v for k, v in row.items()},
                               ensure_ascii=False).encode() + b"\n" for row in rows)


FORMATS = {
    # name: (how to write the rows, filename, stored format, stored encoding, row number of the first data row)
    "csv-utf8-en": (lambda rows: csv_bytes(rows), "log.csv", "csv", "utf-8", 2),
    "csv-utf8-bom-zh": (lambda rows: b"\xef\xbb\xbf" + csv_bytes(rows, headers="zh"), "日志.csv", "csv", "utf-8-sig", 2),
    "csv-gbk-zh": (lambda rows: csv_bytes(rows, encoding="gbk", headers="zh"), "log.csv", "csv", "gb18030", 2),
    "xlsx-title-row-zh": (lambda rows: _xlsx_with_title(rows, "zh"), "log.xlsx", "xlsx", None, 3),
    "xlsx-title-row-en": (lambda rows: _xlsx_with_title(rows, "en"), "log.xlsx", "xlsx", None, 3),
    "jsonl-en": (lambda rows: _jsonl(rows, "en"), "log.jsonl", "jsonl", "utf-8", 1),
    "jsonl-zh": (lambda rows: _jsonl(rows, "zh"), "log.jsonl", "jsonl", "utf-8", 1),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_stores_the_valid_rows_with_their_spreadsheet_row(fmt, client, session, admin, outlet):
    write, filename, stored_format, encoding, first_row = FORMATS[fmt]
    rows = list(synth.generate_rows(40, outlet_code=outlet.code, day=DAY, seed=7, invalid_ratio=0.1,
                                    noncompliant_ratio=0.05))
    response = upload(client, admin, outlet.code, write(rows), filename=filename)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "partial"
    assert (body["rows_total"], body["rows_accepted"], body["rows_rejected"]) == (40, 36, 4)
    assert body["format"] == stored_format and body["encoding"] == encoding
    assert body["errors_url"] == f"/api/v1/batches/{body['batch_id']}/errors"
    assert body["filename"] == filename and body["outlet_code"] == outlet.code

    by_row = {first_row + i: row for i, row in enumerate(rows)}
    errors = client.get(body["errors_url"], headers=admin).get_json()
    bad_rows = {e["row"] for e in errors}
    assert len(bad_rows) == 4 and bad_rows <= set(by_row)
    records = session.scalars(select(CollectionRecord).where(CollectionRecord.outlet_id == outlet.id)).all()
    assert len(records) == 36
    for record in records:  # provenance: every record points at its own row of the file
        assert record.batch_id == body["batch_id"]
        assert record.row_no not in bad_rows
        assert by_row[record.row_no]["waybill_no"].upper() == record.waybill_no
        assert record.item_name == unicodedata.normalize("NFKC", by_row[record.row_no]["item_name"])


def test_typed_xlsx_cells_are_read_as_text(client, session, admin, outlet, tmp_path):
    rows = list(synth.generate_rows(12, outlet_code=outlet.code, day=DAY, seed=3, noncompliant_ratio=0))
    path = tmp_path / "typed.xlsx"
    synth.write_xlsx(rows, path, typed=True)
    body = upload(client, admin, outlet.code, path.read_bytes(), filename="typed.xlsx").get_json()
    assert (body["status"], body["rows_accepted"]) == ("accepted", 12)
    stored = {r.waybill_no: r for r in session.scalars(select(CollectionRecord))}
    for row in rows:
        record = stored[row["waybill_no"]]
        assert record.quantity == int(row["quantity"])
        local = dt.datetime.fromisoformat(row["collected_at"].replace("/", "-"))
        assert record.collected_at == local.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _x_id() -> str:
    return next(resident_id(n) for n in range(1, 1000) if resident_id(n).endswith("X"))


def test_full_width_digits_and_lower_case_x_are_normalised(app, client, session, admin, outlet):
    x_id, other = _x_id(), resident_id(2)
    full_width = other.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    rows = [log_row("sf00000001", sender_id_no=x_id.lower(), sender_id_type="居民身份证"),
            log_row("SF00000002", sender_id_no=full_width, sender_phone="１３９ ８７６５ ４３２１", quantity="２"),
            log_row("SF00000003", sender_phone="+86 138-0000-1111", real_name_verified="y", inspected="TRUE",
                    xray_screened="1", collected_at="2025/03/10 09:05", outlet_code=outlet.code.lower())]
    body = upload_rows(client, admin, outlet.code, rows)
    assert (body["status"], body["rows_accepted"]) == ("accepted", 3)

    first = client.get(f"/api/v1/outlets/{outlet.code}/records/sf00000001", headers=admin).get_json()
    assert len(first) == 1
    assert first[0]["waybill_no"] == "SF00000001"
    assert first[0]["sender_id_type"] == "RESIDENT_ID"
    assert first[0]["sender_id_no"] == mask_id_no(x_id) and first[0]["sender_id_no"].endswith("X")
    assert first[0]["sender_name"] == "张*"
    second = client.get(f"/api/v1/outlets/{outlet.code}/records/SF00000002", headers=admin).get_json()[0]
    assert second["sender_id_no"] == mask_id_no(other)
    assert second["sender_phone"] == "139****4321" and second["quantity"] == 2
    third = client.get(f"/api/v1/outlets/{outlet.code}/records/SF00000003", headers=admin).get_json()[0]
    assert third["sender_phone"] == mask_phone("13800001111")
    assert third["collected_at"].startswith("2025-03-10T01:05:00")  # 09:05 Asia/Shanghai
    assert all(third[flag] for flag in FLAGS)

    with app.app_context():
        v = vault(session, settings_of(app))
        stored = {r.waybill_no: r for r in session.scalars(select(CollectionRecord))}
        assert v.decrypt(stored["SF00000001"].sender_id_enc, ID_NO) == x_id
        assert v.decrypt(stored["SF00000002"].sender_id_enc, ID_NO) == other
        assert v.decrypt(stored["SF00000002"].sender_phone_enc, PHONE) == "13987654321"
        assert v.decrypt(stored["SF00000003"].sender_phone_enc, PHONE) == "13800001111"
        assert stored["SF00000001"].sender_id_hmac == v.index(x_id, ID_NO)


def test_unknown_columns_are_ignored_and_listed_in_warnings(client, session, admin, outlet):
    rows = [{**log_row("SF00000011"), "备注": "易碎", "operator": "li"}]
    body = upload_rows(client, admin, outlet.code, rows)
    assert body["status"] == "accepted"
    assert len(body["warnings"]) == 2
    assert any("备注" in w for w in body["warnings"]) and any("operator" in w for w in body["warnings"])
    assert client.get(f"/api/v1/batches/{body['batch_id']}", headers=admin).get_json()["warnings"] == body["warnings"]


# --- row errors ---------------------------------------------------------------------------------------------

def _file_with_errors() -> tuple[bytes, str]:
    bad_checksum = resident_id(5)[:17] + ("0" if resident_id(5)[17] != "0" else "1")
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    rows = [log_row("SF00000021"),                                            # row 2
            log_row("SF00000022", sender_id_no=bad_checksum),                 # row 3: bad check digit
            log_row("SF00000023", item_name="羊绒衫\n两件"),                    # row 4: one cell on two lines
            None,                                                            # row 5: blank
            log_row("SF00000025", collected_at="2025-02-30 10:00:00", quantity="0"),  # row 6: two errors
            log_row("SF00000026", outlet_code="YTO-BT-0009"),                 # row 7: another outlet
            log_row("SF00000027", inspected="maybe")]                         # row 8
    writer.writerow(list(rows[0]) + ["outlet_code"])
    for row in rows:
        if row is None:
            text.write("\r\n")
            continue
        writer.writerow([row[k] for k in rows[0]] + [row.get("outlet_code", "")])
    return text.getvalue().encode(), bad_checksum


def test_row_errors_name_the_spreadsheet_row_and_column(client, session, admin, outlet):
    data, bad_id = _file_with_errors()
    response = upload(client, admin, outlet.code, data)
    body = response.get_json()
    assert response.status_code == 201
    assert (body["status"], body["rows_total"], body["rows_accepted"], body["rows_rejected"]) == ("partial", 6, 2, 4)
    errors = client.get(body["errors_url"], headers={**admin, "Accept-Language": "en"}).get_json()
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [
        (3, "sender_id_no", "validation_error.id_check_digit"),
        (6, "collected_at", "validation_error.impossible_datetime"),
        (6, "quantity", "validation_error.not_positive_whole_number"),
        (7, "outlet_code", "validation_error.other_outlet"),
        (8, "inspected", "validation_error.not_yes_no")]
    assert errors[3]["params"] == {"outlet": outlet.code}
    assert "check digit" in errors[0]["message"]
    assert errors[1]["message"] == '"Collected at" is not a real date and time.'
    assert "another outlet" in errors[3]["message"] and outlet.code in errors[3]["message"]
    assert all(e["message"] for e in errors)
    assert bad_id not in json.dumps(errors, ensure_ascii=False)
    chinese = client.get(body["errors_url"], headers=admin).get_json()  # Simplified Chinese by default
    assert [(e["row"], e["column"], e["code"]) for e in chinese] == [(e["row"], e["column"], e["code"]) for e in errors]
    assert chinese[0]["message"] == "证件号码的校验码错误。"
    assert chinese[1]["message"] == "“收寄时间”不是真实存在的日期时间。"
    assert outlet.code in chinese[3]["message"] and "其他网点" in chinese[3]["message"]
    assert bad_id not in json.dumps(chinese, ensure_ascii=False)
    assert {r.waybill_no: r.row_no for r in session.scalars(select(CollectionRecord))} == {
        "SF00000021": 2, "SF00000023": 4}


def test_errors_as_csv_for_excel(client, session, admin, outlet):
    data, bad_id = _file_with_errors()
    body = upload(client, admin, outlet.code, data).get_json()
    session.add(BatchError(batch_id=body["batch_id"], row=9, column="-x", code="legacy",
                           params={"message": '=HYPERLINK("http://evil")'}))  # as stored before error codes
    session.flush()
    response = client.get(f"{body['errors_url']}?format=csv", headers={**admin, "Accept-Language": "en"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert bad_id.encode() not in raw and b"13812345678" not in raw  # personal data masked for every role
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert table[0][:4] == ["Row", "Columns at fault", "Reasons", "waybill_no"]
    assert [(r[0], r[1]) for r in table[1:]] == [
        ("3", "ID number"), ("6", "Collected at; Quantity"), ("7", "Outlet code"), ("8", "Inspected"), ("9", "'-x")]
    assert table[-1][2] == "'=HYPERLINK(\"http://evil\")"
    assert table[1][2] == "The ID number's check digit is wrong."
    assert table[2][2] == '"Collected at" is not a real date and time.; "Quantity" must be a positive whole number.'
    by_key = dict(zip(table[0], table[1]))  # the row's own cells beside its reasons
    assert by_key["waybill_no"] == "SF00000022" and by_key["sender_name"] == "张*"
    assert by_key["sender_id_no"] == bad_id[:4] + "*" * 10 + bad_id[-4:]
    assert by_key["sender_phone"] == "138****5678"
    in_chinese = list(csv.reader(io.StringIO(client.get(f"{body['errors_url']}?format=csv", headers=admin)
                                              .get_data(as_text=True).lstrip("\ufeff"), newline="")))
    assert in_chinese[0][:5] == ["行号", "出错的列", "错误原因", "运单号", "收寄时间"]
    assert in_chinese[2][:3] == ["6", "收寄时间；数量", "“收寄时间”不是真实存在的日期时间。；“数量”必须是正整数。"]
    assert in_chinese[2][4] == "2025-02-30 10:00:00"
    assert client.get(f"{body['errors_url']}?format=xls", headers=admin).status_code == 422


def test_errors_as_xlsx_with_chinese_headers_and_the_rows_values(client, session, admin, outlet):
    data, bad_id = _file_with_errors()
    body = upload(client, admin, outlet.code, data).get_json()
    response = client.get(f"{body['errors_url']}?format=xlsx", headers=admin)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    rows = [[c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][:4] == ["行号", "出错的列", "错误原因", "运单号"]
    assert [r[0] for r in rows[1:]] == [3, 6, 7, 8]
    assert rows[1][2] == "证件号码校验位错误。" or "校验" in rows[1][2]
    assert rows[4][3] == "SF00000027" and bad_id not in str(rows)


def test_a_corrected_error_report_can_be_uploaded_again(client, session, admin, outlet):
    """The report's value columns are the daily log's own: fix the cells, upload it, the extra columns are
    ignored with a warning."""
    body = upload_rows(client, admin, outlet.code, [log_row("SF00000031"), log_row("SF00000032", quantity="0")])
    report = client.get(f"{body['errors_url']}?format=csv", headers=admin).get_data(as_text=True).lstrip("\ufeff")
    table = list(csv.reader(io.StringIO(report, newline="")))
    table[1][table[0].index("数量")] = "2"
    table[1][table[0].index("证件号码")] = resident_id(1)  # masked in the report: the uploader types them again
    table[1][table[0].index("寄件人电话")] = "13812345678"
    text = io.StringIO(newline="")
    csv.writer(text).writerows(table)
    again = upload(client, admin, outlet.code, text.getvalue().encode()).get_json()
    assert (again["rows_accepted"], again["rows_rejected"]) == (1, 0)
    assert len(again["warnings"]) == 3 and "行号" in again["warnings"][0]


def test_error_messages_never_repeat_an_id_number_typed_in_the_wrong_column(client, admin, outlet):
    leaked = resident_id(9)
    body = upload_rows(client, admin, outlet.code, [log_row("SF00000031", outlet_code=leaked)])
    errors = client.get(body["errors_url"], headers=admin).get_data(as_text=True)
    assert body["rows_rejected"] == 1
    assert leaked not in errors


@pytest.mark.parametrize("chunk", [5000, 1], ids=["in memory", "rejected rows on a temporary file"])
def test_strict_batch_is_all_or_nothing(client, session, admin, outlet, monkeypatch, chunk):
    from greenshield.ingest import services

    monkeypatch.setattr(services, "CHUNK_ROWS", chunk)  # past a chunk, rejected rows wait on a temporary file
    data, _ = _file_with_errors()
    before = counts(session)
    response = upload(client, admin, outlet.code, data, strict=True)
    assert response.status_code == 201
    body = response.get_json()
    assert (body["status"], body["strict"], body["rows_total"]) == ("rejected", True, 6)
    assert (body["rows_accepted"], body["rows_rejected"]) == (0, 6)
    assert counts(session)[:2] == (before[0] + 1, before[1])  # the batch is kept to show why; no record is
    assert len(client.get(body["errors_url"], headers=admin).get_json()) == 5
    assert client.get(f"/api/v1/outlets/{outlet.code}/records/SF00000021", headers=admin).status_code == 404

    partial = upload(client, admin, outlet.code, data + b"\r\n", strict=False).get_json()
    assert (partial["status"], partial["rows_accepted"]) == ("partial", 2)
    assert counts(session)[1] == before[1] + 2


def test_strict_batch_without_errors_is_accepted(client, session, admin, outlet):
    body = upload_rows(client, admin, outlet.code, [log_row("SF00000041"), log_row("SF00000042")], strict=True)
    assert (body["status"], body["rows_accepted"], body["rows_rejected"]) == ("accepted", 2, 0)
    assert counts(session)[1] == 2


def test_a_file_whose_rows_are_all_invalid_is_rejected(client, session, admin, outlet):
    body = upload_rows(client, admin, outlet.code, [log_row("SF00000051", item_name=""),
                                                    log_row("SHORT")])
    assert (body["status"], body["rows_accepted"], body["rows_rejected"]) == ("rejected", 0, 2)
    assert counts(session)[1] == 0


def test_invalid_json_lines_are_row_errors(client, session, admin, outlet):
    lines = [json.dumps(log_row("SF00000061"), ensure_ascii=False), "{not json", "[1, 2]",
             json.dumps(log_row("SF00000064"), ensure_ascii=False)]
    body = upload(client, admin, outlet.code, "\n".join(lines).encode(), filename="log.jsonl").get_json()
    assert (body["status"], body["rows_accepted"], body["rows_rejected"]) == ("partial", 2, 2)
    errors = client.get(body["errors_url"], headers=admin).get_json()
    assert [(e["row"], e["column"]) for e in errors] == [(2, ""), (3, "")]


# --- idempotency and corrections ----------------------------------------------------------------------------

def test_the_same_file_again_is_a_no_op(client, session, admin, outlet):
    data = csv_bytes([log_row("SF00000101"), log_row("SF00000102", item_name="")])
    first = upload(client, admin, outlet.code, data)
    assert first.status_code == 201
    stored = counts(session)
    again = upload(client, admin, outlet.code, data, filename="renamed.csv")
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert counts(session) == stored


def test_the_same_file_for_another_outlet_is_a_new_batch(client, session, admin, make_outlet):
    a, b = make_outlet("SF-HH-0002"), make_outlet("SF-HH-0003")
    data = csv_bytes([log_row("SF00000111")])
    first = upload(client, admin, a.code, data)
    second = upload(client, admin, b.code, data)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["batch_id"] != second.get_json()["batch_id"]
    assert counts(session)[1] == 2


def test_identical_rows_are_skipped_and_changed_rows_are_corrections(client, session, admin, outlet):
    first = upload_rows(client, admin, outlet.code, [log_row("SF00000121"), log_row("SF00000122")])
    second = upload_rows(client, admin, outlet.code, [log_row("sf00000121"),
                                                      log_row("SF00000122", item_name="羽绒服"),
                                                      log_row("SF00000123")])
    assert (second["rows_total"], second["rows_skipped"], second["rows_corrected"]) == (3, 1, 1)
    assert counts(session)[1] == 4  # two first versions, one correction, one new record

    history = client.get(f"/api/v1/outlets/{outlet.code}/records/SF00000122", headers=admin).get_json()
    assert [(v["version"], v["is_current"], v["item_name"]) for v in history] == [
        (1, False, "羊绒衫"), (2, True, "羽绒服")]
    assert [v["source"] for v in history] == [{"batch_id": first["batch_id"], "row": 3},
                                             {"batch_id": second["batch_id"], "row": 3}]
    unchanged = client.get(f"/api/v1/outlets/{outlet.code}/records/SF00000121", headers=admin).get_json()
    assert [(v["version"], v["source"]["batch_id"]) for v in unchanged] == [(1, first["batch_id"])]

    third = upload_rows(client, admin, outlet.code, [log_row("SF00000122", item_name="羊绒衫")])
    assert third["rows_corrected"] == 1
    history = client.get(f"/api/v1/outlets/{outlet.code}/records/SF00000122", headers=admin).get_json()
    assert [(v["version"], v["is_current"]) for v in history] == [(1, False), (2, False), (3, True)]
    assert session.scalar(select(func.count()).select_from(CollectionRecord).where(
        CollectionRecord.waybill_no == "SF00000122", CollectionRecord.is_current.is_(True))) == 1


def test_a_waybill_twice_in_one_file_is_a_row_error(client, session, admin, outlet):
    body = upload_rows(client, admin, outlet.code, [log_row("SF00000131"), log_row("SF00000131"),
                                                    log_row("SF00000131", quantity="3")])
    assert (body["rows_accepted"], body["rows_rejected"], body["rows_skipped"], body["rows_corrected"]) == (1, 2, 0, 0)
    errors = client.get(body["errors_url"], headers=admin).get_json()
    assert [(e["row"], e["column"], e["code"], e["params"]) for e in errors] == [
        (3, "waybill_no", "validation_error.waybill_repeated", {"first_row": 2}),
        (4, "waybill_no", "validation_error.waybill_repeated", {"first_row": 2})]
    assert errors[0]["message"] == "运单号在文件中重复：第 2 行已有该运单号。"
    history = client.get(f"/api/v1/outlets/{outlet.code}/records/SF00000131", headers=admin).get_json()
    assert [(v["version"], v["quantity"], v["source"]["row"]) for v in history] == [(1, 1, 2)]


def test_a_repeated_waybill_is_found_across_chunks_and_after_an_unchanged_first_row(client, session, admin, outlet,
                                                                                   monkeypatch):
    """Repeats are found against what the batch already stored (and the rows it skipped as unchanged), not a
    list of every waybill of the file: the error names the first row however far back it was."""
    from greenshield.ingest import services

    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    upload_rows(client, admin, outlet.code, [log_row("SF00000151")])
    body = upload_rows(client, admin, outlet.code, [
        log_row("SF00000151"), log_row("SF00000152"), log_row("SF00000153"), log_row("SF00000152", quantity="2"),
        log_row("SF00000154"), log_row("SF00000151", quantity="5"), log_row("SF00000153")])
    assert (body["rows_accepted"], body["rows_rejected"], body["rows_skipped"], body["rows_corrected"]) == \
        (4, 3, 1, 0)
    errors = client.get(body["errors_url"], headers=admin).get_json()
    assert [(e["row"], e["code"], e["params"]) for e in errors] == [
        (5, "validation_error.waybill_repeated", {"first_row": 3}),
        (7, "validation_error.waybill_repeated", {"first_row": 2}),
        (8, "validation_error.waybill_repeated", {"first_row": 4})]
    history = client.get(f"/api/v1/outlets/{outlet.code}/records/SF00000151", headers=admin).get_json()
    assert [(v["version"], v["quantity"]) for v in history] == [(1, 1)]


def test_the_same_waybill_at_two_outlets_is_two_records(client, session, admin, make_outlet):
    a, b = make_outlet("SF-HH-0004"), make_outlet("SF-HH-0005")
    upload_rows(client, admin, a.code, [log_row("SF00000141")])
    body = upload_rows(client, admin, b.code, [log_row("SF00000141"), log_row("SF00000142")])
    assert (body["rows_skipped"], body["rows_corrected"]) == (0, 0)
    assert len(client.get(f"/api/v1/outlets/{b.code}/records/SF00000141", headers=admin).get_json()) == 1


def test_history_of_an_unknown_waybill_is_404(client, admin, outlet):
    response = client.get(f"/api/v1/outlets/{outlet.code}/records/SF99999999", headers=admin)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


# --- files that are not usable daily logs ------------------------------------------------------------------

def _xlsx_bytes(rows) -> bytes:
    out = io.BytesIO()
    book = Workbook()
    sheet = book.active
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append(list(row.values()))
    book.save(out)
    return out.getvalue()


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        with z.open("xl/worksheets/sheet1.xml", "w") as member:
            block = b"\0" * 2**20
            for _ in range(24):
                member.write(block)
    return out.getvalue()


def _mixed_encodings() -> bytes:
    lines = [",".join(["waybill_no", "collected_at", "sender_name", "item_name"])]
    lines += [f"SF{n:010d},2025-03-10 10:00:00,张伟,羊绒衫" for n in range(1, 5200)]
    head = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    assert len(head) > 64 * 1024
    return head + "SF9999999999,2025-03-10 10:00:00,李娜,奶茶粉\r\n".encode("gbk")


BAD_FILES = {
    # name: (bytes, filename, status, error code)
    "empty": (lambda: b"", "log.csv", 422, "empty_file"),
    "whitespace only": (lambda: b" \r\n\r\n", "log.csv", 422, "empty_file"),
    "header only": (lambda: "运单号,收寄时间,物品名称\r\n".encode(), "log.csv", 422, "no_rows"),
    "binary junk named .csv": (lambda: random.Random(1).randbytes(4096), "log.csv", 415, "unsupported_format"),
    "pdf": (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "log.csv", 415,
            "unsupported_format"),
    "json array": (lambda: json.dumps([log_row("SF00000201")]).encode(), "log.json", 415, "unsupported_format"),
    "truncated xlsx": (lambda: _xlsx_bytes([log_row("SF00000202")])[:1500], "log.xlsx", 422, "corrupt_xlsx"),
    "password-protected xlsx": (lambda: bytes.fromhex("D0CF11E0A1B11AE1") + random.Random(2).randbytes(2048),
                                "log.xlsx", 422, "encrypted_xlsx"),
    "zip bomb": (_zip_bomb, "log.xlsx", 422, "zip_bomb"),
    "no header row": (lambda: b"a,b,c\r\n1,2,3\r\n", "log.csv", 422, "no_header"),
    "mixed encodings": (_mixed_encodings, "log.csv", 422, "undecodable_text"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_unusable_files_are_refused_and_nothing_is_written(case, client, session, admin, outlet, instance):
    make, filename, status, code = BAD_FILES[case]
    data = make()
    before, files_before = counts(session), archived_files(instance)
    response = upload(client, admin, outlet.code, data, filename=filename)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"] and set(error) == {"code", "message", "details"}
    assert counts(session) == before
    assert archived_files(instance) == files_before
    assert not list((instance / "tmp").glob("upload-*"))


def test_file_errors_are_told_in_the_readers_language(client, session, admin, outlet):
    pdf = BAD_FILES["pdf"][0]()
    english = upload(client, {**admin, "Accept-Language": "en"}, outlet.code, pdf).get_json()["error"]
    assert english["code"] == "unsupported_format"
    assert english["message"] == ("The file is a PDF document, not a daily log. Upload the daily log as CSV, XLSX "
                                  "(Excel workbook) or JSON Lines.")
    chinese = upload(client, admin, outlet.code, pdf).get_json()["error"]
    assert chinese["code"] == "unsupported_format" and chinese["message"].startswith("文件是 PDF 文档，不是收寄日志。")
    header_only = upload(client, admin, outlet.code, BAD_FILES["header only"][0]()).get_json()["error"]
    assert header_only == {"code": "no_rows", "message": "文件只有表头，没有数据行。", "details": {}}


def test_the_batch_page_shows_each_problem_in_the_readers_language(client, session, admin, outlet, make_user,
                                                                 login):
    body = upload(client, admin, outlet.code, _file_with_errors()[0]).get_json()
    login(client, make_user("admin", username="page-reader"))
    page = client.get(f"/batches/{body['batch_id']}").get_data(as_text=True)
    assert "<td>收寄时间</td><td>“收寄时间”不是真实存在的日期时间。</td>" in page
    assert "证件号码的校验码错误。" in page and "其他网点" in page
    english = client.get(f"/batches/{body['batch_id']}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<td>Collected at</td><td>&#34;Collected at&#34; is not a real date and time.</td>" in english


def test_zip_bomb_is_small_on_disk():
    assert len(_zip_bomb()) < 200 * 1024


def test_mixed_encodings_name_the_line(client, session, admin, outlet):
    error = upload(client, admin, outlet.code, _mixed_encodings()).get_json()["error"]
    assert error["details"]["line"] == 5201
    assert "5201" in error["message"]


def test_missing_required_columns_are_named(client, session, admin, outlet):
    data = ("运单号,寄件人姓名,是否实名\r\n" + "SF00000211,张伟,是\r\n").encode()
    before = counts(session)
    response = upload(client, admin, outlet.code, data)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "missing_columns"
    assert error["details"]["missing"] == ["collected_at", "item_name"]
    assert "collected_at" in error["message"] and "收寄时间" in error["message"] and "物品名称" in error["message"]
    assert counts(session) == before


def test_missing_file_field_is_422(client, admin, outlet):
    response = client.post(f"/api/v1/outlets/{outlet.code}/daily-logs", data={"strict": "true"}, headers=admin,
                           content_type="multipart/form-data")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and "file" in error["details"]


def test_upload_to_an_unknown_outlet_is_404(client, admin):
    assert upload(client, admin, "NOPE-0001", csv_bytes([log_row("SF00000221")])).status_code == 404


def _small_app(app_config, db, **limits):
    small = create_app({**app_config, **limits})
    small.extensions["greenshield.db"].bind_to(db.sessionmaker.kw["bind"])
    return small


@pytest.mark.parametrize("limits,code", [({"MAX_CONTENT_LENGTH": 4096}, "payload_too_large"),
                                         ({"MAX_UPLOAD_BYTES": 4096}, "too_large")])
def test_upload_over_the_size_limit_is_413(limits, code, app_config, db, session, admin, outlet, instance):
    small = _small_app(app_config, db, **limits)
    data = csv_bytes([log_row(f"SF{n:08d}") for n in range(100)])
    assert len(data) > 4096
    before, files_before = counts(session), archived_files(instance)
    response = upload(small.test_client(), admin, outlet.code, data)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == code
    assert counts(session) == before
    assert archived_files(instance) == files_before
    assert not list((instance / "tmp").glob("upload-*"))
    fits = upload(small.test_client(), admin, outlet.code, csv_bytes([log_row("SF00000231")]))
    assert fits.status_code == 201


def test_a_deactivated_outlet_takes_no_uploads(client, session, admin, outlet):
    outlet.active = False
    session.flush()
    response = upload(client, admin, outlet.code, csv_bytes([log_row("SF00000241")]))
    assert response.status_code == 409
    assert counts(session)[0] == 0


# --- scope --------------------------------------------------------------------------------------------------

def test_managers_upload_and_read_for_their_own_outlets_only(client, session, make_user, make_outlet, bearer,
                                                             admin):
    own, other = make_outlet("SF-HH-0011"), make_outlet("SF-HH-0012")
    manager = bearer(make_user("outlet_manager", outlets=[own.code]))
    mine = upload(client, manager, own.code, csv_bytes([log_row("SF00000301")]))
    assert mine.status_code == 201
    refused = upload(client, manager, other.code, csv_bytes([log_row("SF00000302")]))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    assert counts(session)[:2] == (1, 1)

    theirs = upload_rows(client, admin, other.code, [log_row("SF00000303", item_name="")])
    assert client.get(f"/api/v1/batches/{theirs['batch_id']}", headers=manager).status_code == 404
    assert client.get(theirs["errors_url"], headers=manager).status_code == 404
    assert client.get(f"{theirs['errors_url']}?format=csv", headers=manager).status_code == 404
    assert client.get(f"/api/v1/batches/{mine.get_json()['batch_id']}", headers=manager).status_code == 200
    listed = client.get("/api/v1/batches", headers=manager).get_json()
    assert [b["batch_id"] for b in listed] == [mine.get_json()["batch_id"]]
    assert client.get(f"/api/v1/outlets/{other.code}/records/SF00000303", headers=manager).status_code == 403
    assert client.get(f"/api/v1/outlets/{own.code}/records/SF00000301", headers=manager).status_code == 200


def test_inspectors_and_others_cannot_upload(client, session, make_user, bearer, outlet):
    for role in ("inspector", "investigator", "auditor"):
        headers = bearer(make_user(role))
        response = upload(client, headers, outlet.code, csv_bytes([log_row("SF00000311")]))
        assert response.status_code == 403, role
    assert upload(client, {}, outlet.code, csv_bytes([log_row("SF00000311")])).status_code == 401
    assert counts(session)[0] == 0


def test_inspectors_read_batches_in_their_region_only(client, session, make_user, make_outlet, bearer, admin):
    hohhot, baotou = make_outlet("SF-HH-0021"), make_outlet("SF-BT-0021", region="150200")
    in_region = upload_rows(client, admin, hohhot.code, [log_row("SF00000321")])
    elsewhere = upload_rows(client, admin, baotou.code, [log_row("SF00000322")])
    inspector = bearer(make_user("inspector", region="150100"))
    assert client.get(f"/api/v1/batches/{in_region['batch_id']}", headers=inspector).status_code == 200
    assert client.get(f"/api/v1/batches/{elsewhere['batch_id']}", headers=inspector).status_code == 404
    assert client.get(f"/api/v1/outlets/{baotou.code}/records/SF00000322", headers=inspector).status_code == 403


# --- personal data at rest ----------------------------------------------------------------------------------

def test_no_clear_id_or_phone_in_the_database_or_the_archive(app, client, session, admin, outlet, instance):
    rows = list(synth.generate_rows(30, outlet_code=outlet.code, day=DAY, seed=11, noncompliant_ratio=0))
    data = csv_bytes(rows)
    body = upload(client, admin, outlet.code, data).get_json()
    assert body["rows_accepted"] == 30
    with app.app_context():
        v = vault(session, settings_of(app))
        secrets = set()
        for r in session.scalars(select(CollectionRecord)):
            secrets |= {v.decrypt(r.sender_id_enc, ID_NO), v.decrypt(r.sender_phone_enc, PHONE)}
        secrets.discard(None)
    assert len(secrets) >= 40
    for row in session.execute(select(CollectionRecord.__table__)).all():
        for value in row:
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            assert not any(secret in text for secret in secrets), value

    with app.app_context():
        stored = storage().get(archive.archive_key(body["sha256"]))
    assert b"waybill_no" not in stored and rows[0]["sender_name"].encode() not in stored
    assert not any(secret.encode() in stored for secret in secrets)
    restored = io.BytesIO()
    with app.app_context():
        archive.restore(storage(), archive.archive_key(body["sha256"]), restored, vault(session, settings_of(app)))
    assert restored.getvalue() == data


def test_history_masks_personal_data(client, admin, outlet):
    id_no = resident_id(21)
    upload_rows(client, admin, outlet.code, [log_row("SF00000401", sender_id_no=id_no, sender_name="欧阳娜娜")])
    response = client.get(f"/api/v1/outlets/{outlet.code}/records/SF00000401", headers=admin)
    text = response.get_data(as_text=True)
    assert id_no not in text and "13812345678" not in text and "欧阳娜娜" not in text
    version = response.get_json()[0]
    assert (version["sender_id_no"], version["sender_phone"], version["sender_name"]) == (
        mask_id_no(id_no), "138****5678", "欧***")


# --- greenshield ingest -------------------------------------------------------------------------------------

def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_cli_ingest_accepts_and_is_idempotent(runner, session, outlet, tmp_path):
    path = tmp_path / "收寄日志.csv"
    path.write_bytes(csv_bytes([log_row("SF00000501"), log_row("SF00000502")], headers="zh"))
    first = runner.invoke(args=["ingest", outlet.code.lower(), str(path)])
    assert first.exit_code == 0, first.output
    body = _last_json(first.output)
    assert (body["status"], body["rows_accepted"], body["source"]) == ("accepted", 2, "cli")
    again = runner.invoke(args=["ingest", outlet.code, str(path)])
    assert again.exit_code == 0, again.output
    assert _last_json(again.output)["batch_id"] == body["batch_id"]
    assert counts(session)[:2] == (1, 2)


def test_cli_ingest_partial_exits_0_and_strict_rejection_exits_1(runner, session, outlet, tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes(csv_bytes([log_row("SF00000511"), log_row("SF00000512", item_name="")]))
    strict = runner.invoke(args=["ingest", outlet.code, str(path), "--strict"])
    assert strict.exit_code == 1
    assert (_last_json(strict.output)["status"], _last_json(strict.output)["rows_accepted"]) == ("rejected", 0)
    assert counts(session)[1] == 0
    path.write_bytes(path.read_bytes() + b"\r\n")
    partial = runner.invoke(args=["ingest", outlet.code, str(path)])
    assert partial.exit_code == 0, partial.output
    assert (_last_json(partial.output)["status"], _last_json(partial.output)["rows_accepted"]) == ("partial", 1)


def test_cli_ingest_bad_file_exits_1_with_the_error(runner, session, outlet, tmp_path):
    path = tmp_path / "log.xlsx"
    path.write_bytes(b"%PDF-1.4\n")
    before = counts(session)
    result = runner.invoke(args=["ingest", outlet.code, str(path)])
    assert result.exit_code == 1
    error = _last_json(result.output)["error"]
    assert error["code"] == "unsupported_format" and error["message"].startswith("文件是 PDF 文档")
    assert counts(session) == before
    unknown = runner.invoke(args=["ingest", "NOPE-0001", str(path)])
    assert unknown.exit_code != 0 and "NOPE-0001" in unknown.output


def test_spooled_uploads_are_private_from_the_first_byte(tmp_path):
    target = tmp_path / "upload-spool"
    modes = []

    class Watched(io.BytesIO):
        def read(self, size=-1):
            if target.exists():
                modes.append(stat.S_IMODE(target.stat().st_mode))
            return super().read(size)

    sha, size = archive.spool(Watched(b"waybill_no\r\n" * 10), target, max_bytes=1000)
    assert size == 120 and modes and set(modes) == {0o600}
    with pytest.raises(archive.TooLarge):
        archive.spool(io.BytesIO(b"x" * 1001), target, max_bytes=1000)
    assert not target.exists()


# --- the bulk path ------------------------------------------------------------------------------------------

RAW_COLUMNS = ("waybill_no", "version", "is_current", "batch_id", "row_no", "collected_at", "collected_on",
               "sender_name", "sender_id_type", "sender_id_hmac", "sender_phone_hmac", "item_name", "item_category",
               "quantity", "real_name_verified", "inspected", "xray_screened", "real_name_compliant", "courier_id",
               "contract_customer_code", "content_hash")


def test_bulk_written_records_are_stored_as_the_orm_stores_them(app, client, session, admin, outlet):
    """The bulk writer (executemany of tuples on SQLite, COPY on PostgreSQL) leaves the same column values as an
    ORM insert of the same record, and reads back through the ORM as written."""
    rows = [log_row("BULK00000001", at="23:59:58", item_category="服装", courier_id="C007", quantity="3"),
            log_row("BULK00000002", at="00:00:01", sender_id_type="", sender_id_no="", sender_phone="",
                    real_name_verified="否", inspected="否", xray_screened="是")]
    body = upload_rows(client, admin, outlet.code, rows)
    session.expire_all()
    stored = {r.waybill_no: r for r in session.scalars(select(CollectionRecord).where(
        CollectionRecord.batch_id == body["batch_id"]))}
    first, second = stored["BULK00000001"], stored["BULK00000002"]
    with app.app_context():
        v = vault(session, settings_of(app))
    assert first.collected_at == dt.datetime(2025, 3, 10, 15, 59, 58, tzinfo=dt.UTC)
    assert first.collected_on == DAY and second.collected_on == DAY
    assert (first.row_no, first.version, first.is_current, first.quantity) == (2, 1, True, 3)
    assert (first.item_category, first.courier_id, first.contract_customer_code) == ("服装", "C007", None)
    assert v.decrypt(first.sender_id_enc, ID_NO) == resident_id(1)
    assert v.decrypt(first.sender_phone_enc, PHONE) == "13812345678"
    assert first.sender_id_hmac == v.index(resident_id(1), ID_NO)
    assert (first.real_name_verified, first.inspected, first.xray_screened, first.real_name_compliant) == \
        (True, True, True, True)
    assert (second.sender_id_type, second.sender_id_enc, second.sender_id_hmac, second.sender_phone_enc) == \
        (None, None, None, None)
    assert (second.real_name_verified, second.inspected, second.real_name_compliant) == (False, False, False)
    assert first.created_at.tzinfo is not None
    assert abs(first.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)

    # The same values written by the ORM: every column the driver hands back is identical.
    for original in (first, second):
        twin = CollectionRecord(**{c: getattr(original, c) for c in RAW_COLUMNS if c != "waybill_no"},
                                waybill_no=original.waybill_no + "T", outlet_id=outlet.id,
                                sender_id_enc=original.sender_id_enc, sender_phone_enc=original.sender_phone_enc,
                                created_at=original.created_at)
        session.add(twin)
    session.flush()
    raw = {r[0]: r[1:] for r in session.connection().exec_driver_sql(
        f"SELECT {', '.join(RAW_COLUMNS)}, sender_id_enc, sender_phone_enc, created_at FROM collection_records "
        f"WHERE substr(waybill_no, 1, 4) = 'BULK'")}
    assert raw["BULK00000001"] == raw["BULK00000001T"]
    assert raw["BULK00000002"] == raw["BULK00000002T"]


def test_the_bulk_writer_names_every_column_of_the_records_table():
    """The bulk writer bypasses the ORM's defaults: a column added to the model must be added to it too."""
    from greenshield.ingest.services import RECORD_COLUMNS

    assert set(CollectionRecord.__table__.columns.keys()) == {"id", *RECORD_COLUMNS}


def test_a_failure_after_the_records_are_written_rolls_back_the_whole_batch(client, session, admin, outlet,
                                                                             monkeypatch):
    """Records already written in bulk (two chunks, COPY on PostgreSQL) go when the upload fails later on."""
    from greenshield.ingest import pipeline, services

    monkeypatch.setattr(services, "CHUNK_ROWS", 3)

    def broken(*_args, **_kwargs):
        raise RuntimeError("recount failed")

    monkeypatch.setattr(pipeline, "refresh_outlet_days", broken)
    before = counts(session)
    rows = [log_row(f"ROLL{n:08d}", sender_id_no=resident_id(n)) for n in range(1, 8)]
    assert upload(client, admin, outlet.code, csv_bytes(rows)).status_code == 500
    assert counts(session) == before
    assert client.get(f"/api/v1/outlets/{outlet.code}/records/ROLL00000001", headers=admin).status_code == 404


def test_corrections_across_chunks_keep_their_versions(client, session, admin, outlet, monkeypatch):
    """A waybill corrected in a later chunk of the same file, and in a later file, gets the next version."""
    from greenshield.ingest import services

    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    rows = [log_row("CHNK00000001"), log_row("CHNK00000002"), log_row("CHNK00000004"), log_row("CHNK00000005"),
            log_row("CHNK00000003")]
    body = upload_rows(client, admin, outlet.code, rows)
    assert (body["rows_accepted"], body["rows_skipped"], body["rows_corrected"]) == (5, 0, 0)
    for fillers, expected in ((("CHNK00000006", "CHNK00000007"), (0, 1)), (("CHNK00000008", "CHNK00000009"), (1, 0))):
        again = upload_rows(client, admin, outlet.code, [*map(log_row, fillers),  # the correction in chunk 2
                                                         log_row("CHNK00000001", item_name="手机")])
        assert (again["rows_skipped"], again["rows_corrected"]) == expected
    again = upload_rows(client, admin, outlet.code, [log_row("CHNK00000001", item_name="书"),
                                                     log_row("CHNK00000002", quantity="2")])
    assert (again["rows_skipped"], again["rows_corrected"]) == (0, 2)
    history = client.get(f"/api/v1/outlets/{outlet.code}/records/CHNK00000001", headers=admin).get_json()
    assert [(h["version"], h["is_current"], h["item_name"]) for h in history] == \
        [(1, False, "羊绒衫"), (2, False, "手机"), (3, True, "书")]
    assert [h["source"]["row"] for h in history] == [2, 4, 2]


def test_uploads_do_not_wait_for_another_transactions_lock_on_the_records_table(app, client, session, admin, outlet):
    """PostgreSQL: an upload never queues behind another transaction's SHARE UPDATE EXCLUSIVE lock (what an
    ANALYZE or VACUUM of the records table holds), so uploads of different outlets do not serialise."""
    database = app.extensions["greenshield.db"]
    if database.dialect != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has one writer at a time by design")
    from greenshield.db import make_engine

    session.connection().exec_driver_sql("SET LOCAL statement_timeout = '20s'")  # fail, not hang, if it waits
    other = make_engine(database.url)
    try:
        with other.connect() as holder:
            holder.exec_driver_sql("SET lock_timeout = '5s'")
            holder.exec_driver_sql("LOCK TABLE collection_records IN SHARE UPDATE EXCLUSIVE MODE")
            started = dt.datetime.now()
            body = upload_rows(client, admin, outlet.code, [log_row(f"LOCK{n:08d}") for n in range(1, 4)])
            assert body["rows_accepted"] == 3
            assert dt.datetime.now() - started < dt.timedelta(seconds=10)
            holder.rollback()
    finally:
        other.dispose()


def test_a_batch_into_rows_without_statistics_analyses_them(app, client, session, admin, outlet):
    """PostgreSQL: after a batch's first chunk, every part of the records table holding rows has statistics
    (so the per-chunk look-ups are planned on the indexes), whether or not the table is partitioned."""
    if app.extensions["greenshield.db"].dialect != "postgresql":
        pytest.skip("PostgreSQL only: SQLite plans these look-ups on the indexes without statistics")
    # The parts this batch's rows went to (other tests' rolled-back rows may leave dead tuples, and no
    # statistics, in other partitions: ANALYZE of a part without live rows writes no column statistics).
    landed = ("SELECT DISTINCT tableoid::regclass::text FROM collection_records WHERE waybill_no LIKE 'STAT%%'")
    unplanned = ("SELECT part FROM unnest(%s::text[]) part WHERE NOT EXISTS (SELECT FROM pg_stats s "
                 "WHERE s.schemaname = current_schema() AND s.tablename = part AND s.attname = 'waybill_no')")
    upload_rows(client, admin, outlet.code, [log_row(f"STAT{n:08d}") for n in range(1, 4)])
    connection = session.connection()
    parts = [row[0] for row in connection.exec_driver_sql(landed)]
    assert parts
    assert connection.exec_driver_sql(unplanned, (parts,)).all() == []


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_daily_log_template_has_the_chinese_headers_and_example_rows_that_upload(client, session, admin, outlet,
                                                                                      fmt):
    response = client.get(f"/api/v1/daily-log-template?format={fmt}", headers=admin)
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    data = response.get_data()
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
        rows = [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == [c.alias_zh for c in COLUMNS.values()]
    assert len(rows) == 3 and rows[1][0] == "SF1234567890"
    body = upload(client, admin, outlet.code, data, filename=f"template.{fmt}").get_json()
    assert (body["rows_accepted"], body["rows_rejected"], body["warnings"]) == (2, 0, [])


def test_the_template_format_is_checked(client, admin):
    assert client.get("/api/v1/daily-log-template?format=pdf", headers=admin).status_code == 422
    assert client.get("/api/v1/daily-log-template", headers=admin).mimetype.endswith("spreadsheetml.sheet")


def test_the_upload_page_lists_the_columns_from_the_table_and_links_the_templates(client, session, make_user, login,
                                                                                  outlet):
    login(client, make_user("admin"))
    page = client.get("/upload").get_data(as_text=True)
    for column in COLUMNS.values():
        assert column.alias_zh in page and f"<code>{column.key}</code>" in page
    assert "/api/v1/daily-log-template?format=xlsx" in page and "/api/v1/daily-log-template?format=csv" in page
    assert "必填" in page and "选填" in page


def _stored(session, outlet) -> list[tuple]:
    return [tuple(r) for r in session.execute(
        select(CollectionRecord.waybill_no, CollectionRecord.version, CollectionRecord.is_current,
               CollectionRecord.row_no, CollectionRecord.content_hash, CollectionRecord.sender_id_hmac,
               CollectionRecord.collected_on, CollectionRecord.real_name_compliant)
        .where(CollectionRecord.outlet_id == outlet.id).order_by(CollectionRecord.waybill_no,
                                                                 CollectionRecord.version))]


def test_a_file_read_by_a_second_process_is_stored_as_when_read_here(client, session, admin, make_outlet, configure,
                                                                   monkeypatch):
    """Large files are read, validated and sealed by a child process (INGEST_PARALLEL_BYTES): the records,
    versions, rejected rows and their cells come out exactly as from the same file read in this process."""
    from greenshield.ingest import reading, services

    monkeypatch.setattr(services, "CHUNK_ROWS", 3)
    monkeypatch.setattr(reading, "CHUNK_ROWS", 2)  # several messages from the child
    rows = [log_row(f"SF0000030{n}", sender_id_no=resident_id(n)) for n in range(1, 8)]
    rows[2]["collected_at"] = "yesterday"
    rows[5]["waybill_no"] = "SF00000301"
    rows.append(log_row("SF00000302", quantity="4"))
    correction = [log_row("SF00000301", sender_id_no=resident_id(1)),  # unchanged: skipped
                  log_row("SF00000304", sender_id_no=resident_id(4), item_name="手机")]  # corrected
    results = []
    for code, parallel_bytes in (("SF-PP-0001", 2**30), ("SF-PP-0002", 0)):
        outlet = make_outlet(code)
        configure(ingest_parallel_bytes=parallel_bytes)
        first = upload_rows(client, admin, outlet.code, rows)
        again = upload_rows(client, admin, outlet.code, correction)
        errors = client.get(first["errors_url"], headers=admin).get_json()
        results.append(([first[k] for k in ("rows_total", "rows_accepted", "rows_rejected", "status")],
                        [again[k] for k in ("rows_skipped", "rows_corrected")],
                        [(e["row"], e["column"], e["code"], e["params"], e.get("values")) for e in errors],
                        [r[:4] + r[6:] for r in _stored(session, outlet)]))
    here, child = results
    assert child == here
    assert here[0] == [8, 5, 3, "partial"] and here[1] == [1, 1]
    assert [e[:3] for e in here[2]] == [(4, "collected_at", "validation_error.not_datetime"),
                                        (7, "waybill_no", "validation_error.waybill_repeated"),
                                        (9, "waybill_no", "validation_error.waybill_repeated")]


def test_a_file_unreadable_half_way_in_the_second_process_stores_nothing(client, session, admin, outlet, configure):
    configure(ingest_parallel_bytes=0)
    before = counts(session)
    response = upload(client, admin, outlet.code, _mixed_encodings())
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "undecodable_text" and error["details"]["line"] == 5201
    assert counts(session) == before
