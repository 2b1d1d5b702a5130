import csv
import io
import random
import zipfile
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest

from inspection.dailylog import (
    COLUMNS,
    ROW_ERROR_KEY,
    InvalidLogFile,
    LogRecord,
    RepeatedWaybills,
    RowError,
    column_for_header,
    open_daily_log,
    sniff_format,
    validate_row,
    write_errors_csv,
)
from inspection.identity import gb11643_check_char

UTC = timezone.utc
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
OUTLET = "NM-HHHT-001"


def resident_id(body: str = "15010219900101123") -> str:
    return body + gb11643_check_char(body)


ID_NO = resident_id()
EN_HEADER = "waybill_no,collected_at,sender_name,sender_id_type,sender_id_no,sender_phone,item_name,quantity,real_name_verified,inspected,xray_screened"
ZH_HEADER = "运单号,收寄时间,寄件人姓名,证件类型,证件号码,寄件人电话,物品名称,数量,是否实名,是否验视,是否过机"
ROW_1 = f"SF1234567890,2026-11-28 09:15:00,张三,居民身份证,{ID_NO},13812345678,衣服,1,是,是,是"
ROW_2 = "YT9876543210,2026-11-28 10:00:00,李四,,,,书籍,2,否,是,否"


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(path, **kwargs):
    with open_daily_log(path, **kwargs) as reader:
        return reader, list(reader.rows())


def raises_code(code, path, **kwargs):
    with pytest.raises(InvalidLogFile) as info:
        read_all(path, **kwargs)
    assert info.value.code == code
    return info.value


def row(**values):
    raw = {"waybill_no": "SF1234567890", "collected_at": "2026-11-28 09:15:00", "item_name": "衣服"}
    raw.update(values)
    return raw


def check(raw, row_no=2, outlet_code=OUTLET):
    return validate_row(row_no, raw, outlet_code=outlet_code, now=NOW)


def errors_of(raw, row_no=2):
    """{(row, column): code} of the row's errors."""
    result = check(raw, row_no)
    assert isinstance(result, list), result
    return {(e.row, e.column): e.code for e in result}


def error_of(raw, column, row_no=2):
    result = check(raw, row_no)
    assert isinstance(result, list), result
    (error,) = [e for e in result if e.column == column]
    return error


# --- columns and format sniffing ----------------------------------------------------------------------------


def test_columns_cover_the_contract():
    contract = [
        "waybill_no", "collected_at", "outlet_code", "sender_name", "sender_id_type", "sender_id_no",
        "sender_phone", "item_name", "item_category", "quantity", "real_name_verified", "inspected",
        "xray_screened", "courier_id", "contract_customer_code",
    ]  # fmt: skip
    assert [key for key in COLUMNS if key in contract] == contract  # in the contract's order
    assert {k for k, c in COLUMNS.items() if c.required} == {"waybill_no", "collected_at", "item_name"}
    assert COLUMNS["contract_customer_code"].alias_zh == "协议客户编号"


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("waybill_no", "waybill_no"),
        ("Waybill No", "waybill_no"),
        ("WAYBILL-NO", "waybill_no"),
        ("运单号", "waybill_no"),
        (" 运单号* ", "waybill_no"),
        ("收寄时间（必填）", "collected_at"),
        ("*物品名称", "item_name"),
        ("ｓｅｎｄｅｒ＿ｐｈｏｎｅ", "sender_phone"),
        ("备注", None),
        ("", None),
    ],
)
def test_column_for_header(header, key):
    assert column_for_header(header) == key


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"PK\x03\x04rest", "xlsx"),
        (b"waybill_no,collected_at\n", "csv"),
        ("运单号,收寄时间\n".encode("gbk"), "csv"),
        (b"\xef\xbb\xbf\xe8\xbf\x90,x\n", "csv"),
        (b'\n  {"waybill_no": "x"}\n', "jsonl"),
        (b'\xef\xbb\xbf{"a": 1}', "jsonl"),
        ("运单号\t收寄时间\r\n".encode("utf-16"), "csv"),
    ],
)
def test_sniff_format_by_content(head, fmt):
    assert sniff_format(head) == fmt


@pytest.mark.parametrize(
    ("head", "code"),
    [
        (b"", "empty_file"),
        (b" \r\n\t\n", "empty_file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "encrypted_xlsx"),
        (b"%PDF-1.7\n", "unsupported_format.pdf"),
        (b"\x89PNG\r\n\x1a\n", "unsupported_format.png"),
        (b"\xff\xd8\xff\xe0", "unsupported_format.jpeg"),
        (b"<html><table>", "unsupported_format.html"),
        (b'[{"waybill_no": 1}]', "unsupported_format.json_array"),
        (b"abc\x00\x01\x02def", "unsupported_format.binary"),
    ],
)
def test_sniff_format_rejects(head, code):
    with pytest.raises(InvalidLogFile) as info:
        sniff_format(head)
    assert info.value.code == code
    assert info.value.api_code == code.partition(".")[0]


# --- CSV ----------------------------------------------------------------------------------------------------


def test_utf8_csv_with_english_headers(tmp_path):
    path = write(tmp_path, "log.csv", f"{EN_HEADER}\n{ROW_1}\n{ROW_2}\n".encode())
    reader, rows = read_all(path)
    assert (reader.format, reader.encoding, reader.header_row) == ("csv", "utf-8", 1)
    assert reader.missing == [] and reader.warnings == []
    assert reader.columns["waybill_no"] == "waybill_no"
    assert [n for n, _ in rows] == [2, 3]
    assert rows[0][1]["sender_id_no"] == ID_NO
    assert rows[1][1]["sender_phone"] == ""
    assert "outlet_code" not in rows[0][1]


def test_utf8_bom_csv_with_chinese_headers(tmp_path):
    path = write(tmp_path, "log.csv", f"{ZH_HEADER}\r\n{ROW_1}\r\n".encode("utf-8-sig"))
    reader, rows = read_all(path)
    assert reader.encoding == "utf-8-sig"
    assert reader.columns["waybill_no"] == "运单号"
    assert rows == [(2, dict(zip([column_for_header(h) for h in ZH_HEADER.split(",")], ROW_1.split(","))))]


def test_gbk_csv_with_chinese_headers(tmp_path):
    path = write(tmp_path, "log.csv", f"{ZH_HEADER}\r\n{ROW_1}\r\n{ROW_2}\r\n".encode("gbk"))
    reader, rows = read_all(path)
    assert reader.encoding == "gb18030"
    assert rows[0][1]["sender_name"] == "张三"
    assert rows[1][1]["item_name"] == "书籍"
    assert isinstance(validate_row(*rows[0], outlet_code=OUTLET, now=NOW), LogRecord)


def test_gbk_first_met_deep_in_an_ascii_file(tmp_path):
    filler = "".join(f"AB{i:010d},2026-11-28 09:15:00,pen\n" for i in range(4000))  # > 64 KiB of ASCII
    data = ("waybill_no,collected_at,item_name\n" + filler + "CD0000000001,2026-11-28 09:15:00,书籍\n").encode("gbk")
    reader, rows = read_all(write(tmp_path, "log.csv", data))
    assert reader.encoding == "gb18030"
    assert rows[-1] == (4002, {"waybill_no": "CD0000000001", "collected_at": "2026-11-28 09:15:00", "item_name": "书籍"})


def test_mixed_encodings_name_the_line(tmp_path):
    head = f"{ZH_HEADER}\n".encode()
    body = b"".join(f"AB{i:010d},2026-11-28 09:15:00,,,,,pen\n".encode() for i in range(5000))
    tail = "CD0000000001,2026-11-28 09:15:00,王五,,,,书籍\n".encode("gbk")
    path = write(tmp_path, "log.csv", head + body + tail)
    with open_daily_log(path) as reader:
        assert reader.encoding == "utf-8"
        rows = reader.rows()
        with pytest.raises(InvalidLogFile) as info:
            for _ in rows:
                pass
    assert info.value.code == "undecodable_text.mixed"
    assert info.value.params == {"line": 5002, "encoding": "UTF-8"}
    assert info.value.details["line"] == 5002


def test_undecodable_text_at_the_start(tmp_path):
    exc = raises_code("undecodable_text", write(tmp_path, "log.csv", b"waybill_no,item_name\n\xff\xfe\xff,x\n"))
    assert exc.params == {"line": 2} and exc.details == {"line": 2}


@pytest.mark.parametrize("delimiter", ["\t", ";", "|"])
def test_other_delimiters(tmp_path, delimiter):
    text = f"{ZH_HEADER}\n{ROW_1}\n".replace(",", delimiter)
    reader, rows = read_all(write(tmp_path, "log.txt", text.encode()))
    assert reader.delimiter == delimiter
    assert rows[0][1]["waybill_no"] == "SF1234567890"


def test_utf16_tab_separated_text_from_excel(tmp_path):
    text = f"{ZH_HEADER}\r\n{ROW_1}\r\n".replace(",", "\t")
    reader, rows = read_all(write(tmp_path, "log.txt", text.encode("utf-16")))
    assert reader.encoding == "utf-16"
    assert rows[0][1]["sender_name"] == "张三"


def test_row_numbers_count_blank_and_multiline_rows_like_a_spreadsheet(tmp_path):
    text = (
        "收寄日志 2026-11-28\n"
        "\n"
        "运单号,收寄时间,物品名称,备注\n"
        "SF00000001,2026-11-28 09:15:00,衣服,\n"
        ",,,\n"
        '  ,  ,,\n'
        'SF00000002,2026-11-28 09:16:00,"书籍\n两本",note\n'
        "SF00000003,2026-11-28 09:17:00,鞋\n"
    )
    reader, rows = read_all(write(tmp_path, "log.csv", text.encode()))
    assert reader.header_row == 3
    assert [n for n, _ in rows] == [4, 7, 8]
    assert rows[1][1]["item_name"] == "书籍\n两本"
    assert rows[2][1]["item_name"] == "鞋"


def test_header_only_file_has_no_rows(tmp_path):
    reader, rows = read_all(write(tmp_path, "log.csv", f"{EN_HEADER}\n".encode()))
    assert rows == [] and reader.missing == []


def test_unrecognised_and_duplicate_columns_are_warnings(tmp_path):
    text = "运单号,收寄时间,物品名称,备注,waybill_no,\nSF00000001,2026-11-28 09:15:00,衣服,hello,SF99999999,x\n"
    reader, rows = read_all(write(tmp_path, "log.csv", text.encode()))
    assert reader.warnings == [
        {"code": "warning.unrecognised_column", "params": {"header": "备注"}},
        {"code": "warning.duplicate_column", "params": {"header": "waybill_no", "key": "waybill_no"}},
    ]
    assert rows[0][1] == {"waybill_no": "SF00000001", "collected_at": "2026-11-28 09:15:00", "item_name": "衣服"}


def test_missing_required_columns(tmp_path):
    reader, rows = read_all(write(tmp_path, "log.csv", "运单号,寄件人姓名\nSF00000001,张三\n".encode()))
    assert reader.missing == ["collected_at", "item_name"]


def test_no_recognisable_header(tmp_path):
    exc = raises_code("no_header.file", write(tmp_path, "log.csv", "姓名,年龄\n张三,30\n".encode()))
    assert exc.params == {"columns": "运单号 (waybill_no), 收寄时间 (collected_at), 物品名称 (item_name)"}


def test_empty_and_blank_files(tmp_path):
    raises_code("empty_file", write(tmp_path, "empty.csv", b""))
    raises_code("empty_file", write(tmp_path, "blank.csv", b"\xef\xbb\xbf\r\n\r\n"))


def test_binary_junk_named_csv(tmp_path):
    raises_code("unsupported_format.binary", write(tmp_path, "log.csv", random.Random(7).randbytes(4096)))


def test_file_size_limit(tmp_path):
    exc = raises_code("too_large", write(tmp_path, "log.csv", f"{EN_HEADER}\n{ROW_1}\n".encode()), max_bytes=10)
    assert exc.details["limit"] == 10 and exc.params["limit_mib"] == 0.0


def test_unclosed_quote_is_a_file_error(tmp_path):
    text = 'waybill_no,collected_at,item_name\nSF00000001,2026-11-28 09:15:00,"x' + "y" * 200_000 + "\n"
    assert raises_code("malformed_csv", write(tmp_path, "log.csv", text.encode())).params == {"line": 2}


def test_close_stops_iteration(tmp_path):
    path = write(tmp_path, "log.csv", f"{EN_HEADER}\n{ROW_1}\n{ROW_2}\n".encode())
    reader = open_daily_log(path)
    rows = reader.rows()
    assert next(rows)[0] == 2
    reader.close()
    assert list(rows) == []


# --- XLSX ---------------------------------------------------------------------------------------------------


def make_xlsx(path, rows, *, hidden_first=False):
    book = openpyxl.Workbook()
    sheet = book.active
    if hidden_first:
        sheet.title = "lists"
        sheet.append(["运单号", "收寄时间", "物品名称"])
        sheet.sheet_state = "hidden"
        sheet = book.create_sheet("log")
    for values in rows:
        sheet.append(values)
    book.save(path)
    return path


def test_xlsx_with_title_row_numbers_and_dates(tmp_path):
    path = make_xlsx(
        tmp_path / "log.xlsx",
        [
            ["收寄日志 2026-11-28"],
            [],
            ["运单号", "收寄时间", "物品名称", "数量", "寄件人电话", "是否实名", "是否验视", "是否过机", None, "备注"],
            [1234567890123456.0, datetime(2026, 11, 28, 9, 15), "衣服", 2, 13812345678, True, 1, "否"],
            [None, None, None],
            ["SF00000002", datetime(2026, 11, 28, 9, 14, 59, 999_999), "书", 2.0, None, False, 0, "是"],
        ],
    )
    reader, rows = read_all(path)
    assert (reader.format, reader.encoding, reader.header_row) == ("xlsx", None, 3)
    assert reader.warnings == [{"code": "warning.unrecognised_column", "params": {"header": "备注"}}]
    assert [n for n, _ in rows] == [4, 6]
    first = rows[0][1]
    assert first["waybill_no"] == "1234567890123456"
    assert first["collected_at"] == "2026-11-28 09:15:00"
    assert first["quantity"] == "2"
    assert first["sender_phone"] == "13812345678"
    assert (first["real_name_verified"], first["inspected"], first["xray_screened"]) == ("true", "1", "否")
    assert rows[1][1]["collected_at"] == "2026-11-28 09:15:00"
    assert rows[1][1]["quantity"] == "2"
    assert rows[1][1]["sender_phone"] == ""
    record = validate_row(*rows[0], outlet_code=OUTLET, now=NOW)
    assert record.collected_at == datetime(2026, 11, 28, 1, 15, tzinfo=UTC)
    assert record.real_name_verified and record.inspected and not record.xray_screened


def test_xlsx_is_told_by_content_and_uses_first_visible_sheet(tmp_path):
    path = make_xlsx(
        tmp_path / "upload.bin",
        [["waybill_no", "collected_at", "item_name"], ["SF00000001", "2026-11-28 09:15", "衣服"]],
        hidden_first=True,
    )
    reader, rows = read_all(path)
    assert reader.format == "xlsx"
    assert rows == [(2, {"waybill_no": "SF00000001", "collected_at": "2026-11-28 09:15", "item_name": "衣服"})]


def test_xlsx_header_only(tmp_path):
    reader, rows = read_all(make_xlsx(tmp_path / "log.xlsx", [["运单号", "收寄时间", "寄件人姓名"]]))
    assert rows == [] and reader.missing == ["item_name"]


def test_xlsx_without_header(tmp_path):
    raises_code("no_header.worksheet", make_xlsx(tmp_path / "log.xlsx", [["hello"], [1, 2, 3]]))


def test_truncated_xlsx(tmp_path):
    full = make_xlsx(tmp_path / "full.xlsx", [["运单号", "收寄时间", "物品名称"]] * 50).read_bytes()
    raises_code("corrupt_xlsx.not_zip", write(tmp_path, "log.xlsx", full[: len(full) // 2]))


def test_ole2_file_is_encrypted_or_legacy_xls(tmp_path):
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    raises_code("encrypted_xlsx", write(tmp_path, "log.xlsx", data))


def test_zip_bomb(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("xl/worksheets/sheet1.xml", "w") as member:
        for _ in range(16):
            member.write(bytes(2**20))
    assert path.stat().st_size < 100_000
    raises_code("zip_bomb", path)


def test_uncompressed_size_limit(tmp_path):
    path = make_xlsx(tmp_path / "log.xlsx", [["运单号", "收寄时间", "物品名称"]])
    raises_code("zip_bomb", path, max_xlsx_uncompressed=1000)


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "log.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("log.csv", f"{EN_HEADER}\n")
    raises_code("unsupported_format.zip", path)


# --- JSON Lines ---------------------------------------------------------------------------------------------


def test_jsonl_with_a_bad_line(tmp_path):
    lines = [
        '{"waybill_no": "SF00000001", "collected_at": "2026-11-28T09:15:00+08:00", "item_name": "衣服", "quantity": 2}',
        "",
        '{"运单号": "SF00000002", "收寄时间": "2026-11-28 09:16", "物品名称": "书", "是否实名": true, "备注": "x"}',
        "not json",
        "[1, 2]",
        '{"waybill_no": 1234567890123, "collected_at": "2026-11-28 09:17:00", "item_name": "鞋", "sender_phone": null}',
    ]
    reader, rows = read_all(write(tmp_path, "log.jsonl", "\n".join(lines).encode()))
    assert (reader.format, reader.encoding, reader.missing) == ("jsonl", "utf-8", [])
    assert reader.warnings == [{"code": "warning.unrecognised_key", "params": {"header": "备注"}}]
    assert [n for n, _ in rows] == [1, 3, 4, 5, 6]
    assert rows[0][1]["quantity"] == "2"
    assert rows[1][1] == {
        "waybill_no": "SF00000002", "collected_at": "2026-11-28 09:16", "item_name": "书", "real_name_verified": "true",
    }  # fmt: skip
    assert rows[4][1]["waybill_no"] == "1234567890123" and rows[4][1]["sender_phone"] == ""
    results = [validate_row(n, raw, outlet_code=OUTLET, now=NOW) for n, raw in rows]
    assert [type(r) for r in results] == [LogRecord, LogRecord, list, list, LogRecord]
    assert results[2] == [RowError(4, "", "validation_error.invalid_json")]
    assert results[3] == [RowError(5, "", "validation_error.not_json_object")]


def test_jsonl_missing_required_keys_and_no_known_keys(tmp_path):
    reader, _ = read_all(write(tmp_path, "a.jsonl", b'{"waybill_no": "SF00000001"}\n'))
    assert reader.missing == ["collected_at", "item_name"]
    raises_code("no_header.jsonl", write(tmp_path, "b.jsonl", b'{"name": "x"}\n'))


def test_row_error_marker():
    marked = check({ROW_ERROR_KEY: "validation_error.not_json_object"}, row_no=9)
    assert marked == [RowError(9, "", "validation_error.not_json_object")]


# --- validate_row -------------------------------------------------------------------------------------------


def test_valid_row_is_normalised():
    raw = {
        "waybill_no": " sf1234567890 ",
        "collected_at": "2026-11-28 09:15:00",
        "outlet_code": "nm-hhht-001",
        "sender_name": "  张  三 ",
        "sender_id_type": "居民身份证",
        "sender_id_no": ID_NO[:-1] + ID_NO[-1].lower(),
        "sender_phone": "+86 138-1234-5678",
        "item_name": "衣服",
        "item_category": "日用品",
        "quantity": "3",
        "real_name_verified": "是",
        "inspected": "Y",
        "xray_screened": "√",
        "courier_id": "C001",
        "contract_customer_code": "",
    }
    record = check(raw, row_no=7)
    expected = dict(
        row=7,
        waybill_no="SF1234567890",
        collected_at=datetime(2026, 11, 28, 1, 15, tzinfo=UTC),
        outlet_code=OUTLET,
        sender_name="张 三",
        sender_id_type="RESIDENT_ID",
        sender_id_no=ID_NO,
        sender_phone="13812345678",
        item_name="衣服",
        item_category="日用品",
        quantity=3,
        real_name_verified=True,
        inspected=True,
        xray_screened=True,
        courier_id="C001",
        contract_customer_code=None,
    )
    assert {key: getattr(record, key) for key in expected} == expected
    assert all(getattr(record, key) == COLUMNS[key].default for key in COLUMNS if key not in expected)


def test_minimal_row_defaults():
    record = check(row())
    assert (record.quantity, record.real_name_verified, record.inspected, record.xray_screened) == (1, False, False, False)
    assert record.sender_id_type is record.sender_id_no is record.sender_phone is record.item_category is None
    assert record.sender_name == ""  # the column's default: stored as the empty name
    assert record.outlet_code == OUTLET


@pytest.mark.parametrize(
    ("value", "expected"),
    [("SF-1234-5678", "SF-1234-5678"), ("ｓｆ１２３４５６７８", "SF12345678"), ("A" * 32, "A" * 32)],
)
def test_waybill_ok(value, expected):
    assert check(row(waybill_no=value)).waybill_no == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [("", "required"), ("  ", "required"), ("SF12345", "waybill_format"), ("A" * 33, "waybill_format"),
     ("SF 1234 5678", "waybill_format"), ("SF_12345678", "waybill_format")],
)
def test_waybill_errors(value, code):
    error = error_of(row(waybill_no=value), "waybill_no", row_no=5)
    assert (error.row, error.code) == (5, f"validation_error.{code}")
    if code == "waybill_format":  # the limits of the column table
        assert error.params == {"min": COLUMNS["waybill_no"].min_length, "max": COLUMNS["waybill_no"].max_length}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-28 09:15:00", datetime(2026, 11, 28, 1, 15)),
        ("2026-11-28 09:15", datetime(2026, 11, 28, 1, 15)),
        ("2026/11/28 09:15:30", datetime(2026, 11, 28, 1, 15, 30)),
        ("2026/11/28 09:15", datetime(2026, 11, 28, 1, 15)),
        ("2026/1/5 9:05", datetime(2026, 1, 5, 1, 5)),
        ("2026-11-28T09:15:00", datetime(2026, 11, 28, 1, 15)),
        ("2026-11-28T09:15:00Z", datetime(2026, 11, 28, 9, 15)),
        ("2026-11-28T09:15:00+08:00", datetime(2026, 11, 28, 1, 15)),
        ("2026-11-28T09:15:00.250-05:00", datetime(2026, 11, 28, 14, 15, 0, 250000)),
        ("2026-11-28 09:15:00+0800", datetime(2026, 11, 28, 1, 15)),
        ("20261128T091500Z", datetime(2026, 11, 28, 9, 15)),
        ("２０２６－１１－２８　０９：１５", datetime(2026, 11, 28, 1, 15)),
        ("2026-11-29 00:30:00", datetime(2026, 11, 28, 16, 30)),
        ("2000-01-01 00:00:00", datetime(1999, 12, 31, 16, 0)),
    ],
)
def test_collected_at_formats(value, expected):
    later = NOW + timedelta(days=1)  # some examples are a few hours after NOW
    collected_at = validate_row(2, row(collected_at=value), outlet_code=OUTLET, now=later).collected_at
    assert collected_at.tzinfo is UTC
    assert collected_at == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "required"),
        ("2026-11-28", "no_time_of_day"),
        ("yesterday", "not_datetime"),
        ("2026-02-30 10:00:00", "impossible_datetime"),
        ("2026-11-28 25:00:00", "impossible_datetime"),
        ("1999-12-31 23:59:59", "before_2000"),
        ("1999-12-31T23:00:00Z", "before_2000"),
        ("2026-11-28 20:10:01", "in_future"),  # NOW + 10 minutes = 2026-11-28 20:10 in Shanghai
        ("2026-11-29 20:00:00", "in_future"),
    ],
)
def test_collected_at_errors(value, code):
    assert errors_of(row(collected_at=value)) == {(2, "collected_at"): f"validation_error.{code}"}


def test_collected_at_up_to_ten_minutes_ahead_is_accepted():
    assert isinstance(check(row(collected_at="2026-11-28 20:10:00")), LogRecord)


def test_a_future_time_names_the_allowed_clock_skew():
    (error,) = check(row(collected_at="2026-11-28 20:10:01"))
    assert error.params == {"minutes": 10}


def test_a_waybill_repeated_inside_a_file_is_an_error_of_the_later_rows():
    repeated = RepeatedWaybills()
    first, second, third = (check(row(waybill_no="sf12345678"), row_no=n) for n in (2, 5, 9))
    assert repeated.check(first) is None
    assert repeated.check(second) == RowError(5, "waybill_no", "validation_error.waybill_repeated", {"first_row": 2})
    assert repeated.check(third).params == {"first_row": 2}


def test_outlet_code_must_match_the_upload():
    assert check(row(outlet_code=" nm-hhht-001 ")).outlet_code == OUTLET
    error = error_of(row(outlet_code="NM-BT-002"), "outlet_code", row_no=4)
    assert (error.row, error.code, error.params) == (4, "validation_error.other_outlet", {"outlet": OUTLET})
    assert "NM-BT-002" not in repr(error)  # the cell is never echoed: a shifted column may hold an ID number


def test_sender_name_length():
    assert check(row(sender_name="张" * 64)).sender_name == "张" * 64
    error = error_of(row(sender_name="张" * 65), "sender_name")
    assert (error.code, error.params) == ("validation_error.too_long", {"max": COLUMNS["sender_name"].max_length})


def test_id_type_and_number():
    assert check(row(sender_id_type="PASSPORT", sender_id_no="e1234567")).sender_id_no == "E1234567"
    assert check(row(sender_id_type="", sender_id_no="")).sender_id_type is None
    assert errors_of(row(sender_id_type="驾驶证", sender_id_no=ID_NO)) == {
        (2, "sender_id_type"): "validation_error.unknown_id_type"}
    assert errors_of(row(sender_id_no=ID_NO)) == {(2, "sender_id_no"): "validation_error.id_no_without_type"}
    assert errors_of(row(sender_id_type="RESIDENT_ID")) == {(2, "sender_id_no"): "validation_error.id_type_without_no"}


def test_id_number_errors_do_not_leak_the_number():
    bad = ID_NO[:-1] + ("0" if ID_NO[-1] != "0" else "1")
    error = error_of(row(sender_id_type="居民身份证", sender_id_no=bad), "sender_id_no")
    assert error.code == "validation_error.id_check_digit"
    assert bad not in repr(error) and bad[6:14] not in repr(error)


def test_phone():
    assert check(row(sender_phone="")).sender_phone is None
    assert check(row(sender_phone="138 1234 5678")).sender_phone == "13812345678"
    error = error_of(row(sender_phone="1381234567"), "sender_phone")
    assert error.code == "validation_error.mobile_shape"
    assert "1381234567" not in repr(error)


def test_item_name_and_category():
    assert check(row(item_name="书" * 128)).item_name == "书" * 128
    assert errors_of(row(item_name=" ")) == {(2, "item_name"): "validation_error.required"}
    assert error_of(row(item_name="书" * 129), "item_name").params == {"max": 128}
    assert check(row(item_category="")).item_category is None
    assert error_of(row(item_category="x" * 65), "item_category").code == "validation_error.too_long"


@pytest.mark.parametrize(("value", "expected"), [("", 1), ("1", 1), ("2", 2), (" 3 ", 3), ("2.0", 2), ("１２", 12), ("+4", 4)])
def test_quantity_ok(value, expected):
    assert check(row(quantity=value)).quantity == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [("0", "not_positive_whole_number"), ("-1", "not_positive_whole_number"), ("abc", "not_positive_whole_number"),
     ("2.5", "not_positive_whole_number"), ("1e3", "not_positive_whole_number"), ("9" * 5000, "too_large"),
     (str(2**31), "too_large")],
)
def test_quantity_errors(value, code):
    assert errors_of(row(quantity=value)) == {(2, "quantity"): f"validation_error.{code}"}


def test_quantity_limit_comes_from_the_column_table():
    largest = COLUMNS["quantity"].max_value
    assert check(row(quantity=str(largest))).quantity == largest
    assert error_of(row(quantity=str(largest + 1)), "quantity").params == {"max": largest}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(v, True) for v in ("是", "Y", "y", "yes", "YES", "True", "true", "1", "√", " 是 ", "Yes")],
        *[(v, False) for v in ("否", "N", "n", "no", "NO", "FALSE", "false", "0", "×", "", " ")],
    ],
)
def test_booleans(value, expected):
    record = check(row(real_name_verified=value, inspected=value, xray_screened=value))
    assert (record.real_name_verified, record.inspected, record.xray_screened) == (expected,) * 3


def test_boolean_error_names_its_column():
    assert errors_of(row(inspected="maybe", xray_screened="2")) == {
        (2, "inspected"): "validation_error.not_yes_no", (2, "xray_screened"): "validation_error.not_yes_no"}


def test_codes_length():
    assert check(row(courier_id=" C01 ", contract_customer_code="XY-01")).courier_id == "C01"
    result = check(row(courier_id="C" * 33, contract_customer_code="K" * 33))
    assert [(e.column, e.code, e.params) for e in result] == [
        ("courier_id", "validation_error.too_long", {"max": 32}),
        ("contract_customer_code", "validation_error.too_long", {"max": 32})]


def test_all_errors_of_a_row_are_reported():
    raw = {
        "waybill_no": "x",
        "collected_at": "soon",
        "outlet_code": "OTHER-01",
        "sender_id_type": "RESIDENT_ID",
        "sender_id_no": "123",
        "sender_phone": "abc",
        "item_name": "",
        "quantity": "0",
        "real_name_verified": "maybe",
    }
    result = check(raw, row_no=12)
    assert [e.column for e in result] == [
        "waybill_no", "collected_at", "outlet_code", "sender_id_no", "sender_phone", "item_name", "quantity",
        "real_name_verified",
    ]  # fmt: skip
    assert {e.row for e in result} == {12}


def test_row_numbers_flow_from_reader_to_errors(tmp_path):
    text = f"{ZH_HEADER}\n{ROW_1}\n{ROW_2.replace('YT9876543210', 'bad')}\n\n{ROW_2.replace('2026-11-28', '2026-13-28')}\n"
    _, rows = read_all(write(tmp_path, "log.csv", text.encode()))
    errors = [e for n, raw in rows for e in (lambda r: r if isinstance(r, list) else [])(check(raw, n))]
    assert [(e.row, e.column) for e in errors] == [(3, "waybill_no"), (5, "collected_at")]


# --- error report -------------------------------------------------------------------------------------------


def test_write_errors_csv_escapes_formulas():
    errors = [
        (2, "waybill_no", "waybill number is required"),
        (3, "=HYPERLINK(\"http://x\")", "+1"),
        (4, "-2", "@SUM(A1)"),
        (5, "\tx", "\rcarriage"),
        (6, "sender_name", 'with "quotes", commas'),
    ]
    stream = io.StringIO(newline="")
    write_errors_csv(("行号", "列", "原因"), errors, stream)
    assert stream.getvalue().startswith("行号,列,原因\r\n")
    parsed = list(csv.reader(io.StringIO(stream.getvalue(), newline="")))
    assert parsed == [
        ["行号", "列", "原因"],
        ["2", "waybill_no", "waybill number is required"],
        ["3", "'=HYPERLINK(\"http://x\")", "'+1"],
        ["4", "'-2", "'@SUM(A1)"],
        ["5", "'\tx", "'\rcarriage"],
        ["6", "sender_name", 'with "quotes", commas'],
    ]


def test_collected_at_default_now_is_current_time():
    future = (datetime.now(UTC) + timedelta(days=3)).astimezone(timezone(timedelta(hours=8)))
    raw = row(collected_at=f"{future:%Y-%m-%d %H:%M:%S}")
    assert validate_row(2, raw, outlet_code=OUTLET)[0].code == "validation_error.in_future"
