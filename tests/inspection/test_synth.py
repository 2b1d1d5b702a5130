import collections
import csv
import json
import random
import re
import subprocess
import sys
from datetime import date, datetime, time

import pytest
from openpyxl import load_workbook

from inspection.identity import (
    InvalidIdentity,
    normalise_phone,
    normalise_text,
    parse_id_type,
    validate_credit_code,
    validate_id_no,
)
from inspection.synth import (
    COLUMNS,
    DEFECTS,
    ZH_ALIASES,
    generate_rows,
    main,
    make_credit_code,
    make_resident_id,
    write_csv,
    write_jsonl,
    write_xlsx,
)

DAY = date(2025, 3, 3)
TODAY = date(2025, 6, 1)
OUTLET = "SF-HHHT-001"
TRUE = {"是", "y", "true", "1"}
FALSE = {"否", "n", "false", "0"}
WAYBILL = re.compile(r"[A-Za-z0-9-]{8,32}")


def parse_time(text: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    return datetime.fromisoformat(text)


def problems(row: dict[str, str], outlet: str = OUTLET) -> list[str]:
    """The daily-log rules of PRODUCT.md, written out independently of the generator."""
    found = []
    if not WAYBILL.fullmatch(row["waybill_no"]):
        found.append("waybill_no")
    try:
        parse_time(row["collected_at"])
    except ValueError:
        found.append("collected_at")
    if row["outlet_code"] and row["outlet_code"] != outlet:
        found.append("outlet_code")
    if len(row["sender_name"]) > 64:
        found.append("sender_name")
    try:
        id_type = parse_id_type(row["sender_id_type"])
        if id_type:
            validate_id_no(id_type, row["sender_id_no"], today=TODAY)
        elif row["sender_id_no"]:
            found.append("sender_id_no")
    except InvalidIdentity:
        found.append("sender_id")
    if row["sender_phone"]:
        try:
            normalise_phone(row["sender_phone"])
        except InvalidIdentity:
            found.append("sender_phone")
    if not row["item_name"] or len(row["item_name"]) > 128:
        found.append("item_name")
    if row["quantity"] and not (row["quantity"].isdigit() and int(row["quantity"]) > 0):
        found.append("quantity")
    for flag in ("real_name_verified", "inspected", "xray_screened"):
        if row[flag].lower() not in TRUE | FALSE:
            found.append(flag)
    return found


def compliant(row: dict[str, str]) -> bool:
    real_name = (row["real_name_verified"].lower() in TRUE and bool(row["sender_id_no"])) or bool(
        row["contract_customer_code"]
    )
    return real_name and row["inspected"].lower() in TRUE and row["xray_screened"].lower() in TRUE


def rows(n: int = 2000, **kwargs) -> list[dict[str, str]]:
    kwargs.setdefault("outlet_code", OUTLET)
    kwargs.setdefault("day", DAY)
    return list(generate_rows(n, **kwargs))


def test_columns_and_aliases_follow_the_product_contract():
    assert [key for key in COLUMNS if key in CONTRACT] == list(CONTRACT)  # columns added later may follow
    assert tuple(ZH_ALIASES) == COLUMNS
    assert ZH_ALIASES["sender_id_no"] == "证件号码"
    assert ZH_ALIASES["xray_screened"] == "是否过机"


CONTRACT = ("waybill_no", "collected_at", "outlet_code", "sender_name", "sender_id_type", "sender_id_no",
            "sender_phone", "item_name", "item_category", "quantity", "real_name_verified", "inspected",
            "xray_screened", "courier_id", "contract_customer_code")
"""The daily-log columns of PRODUCT.md that ingest reads today, in the contract's order."""


def test_make_resident_id_is_valid_and_encodes_area_and_birth():
    rng = random.Random(1)
    number = make_resident_id(rng, area="152921", birth=date(1988, 2, 29))
    assert number.startswith("15292119880229")
    assert validate_id_no("RESIDENT_ID", number, today=TODAY) == number
    for _ in range(500):
        assert validate_id_no("RESIDENT_ID", make_resident_id(rng), today=TODAY)
    with pytest.raises(ValueError):
        make_resident_id(rng, area="1501")


def test_make_credit_code_is_valid():
    codes = {make_credit_code(random.Random(seed)) for seed in range(300)}
    assert len(codes) == 300
    assert all(validate_credit_code(code) == code for code in codes)


def test_same_seed_same_rows_other_seed_other_rows():
    first = rows(500, seed=7, invalid_ratio=0.05, contract_customer_codes=["C1"])
    assert first == rows(500, seed=7, invalid_ratio=0.05, contract_customer_codes=["C1"])
    assert first != rows(500, seed=8, invalid_ratio=0.05, contract_customer_codes=["C1"])


def test_rows_are_text_dicts_with_unique_waybills_in_collection_order():
    generated = rows(5000, days=3)
    assert all(tuple(row) == COLUMNS and all(isinstance(v, str) for v in row.values()) for row in generated)
    waybills = [row["waybill_no"] for row in generated]
    assert len(set(waybills)) == len(waybills)
    assert all(w.startswith("SF") and WAYBILL.fullmatch(w) for w in waybills)
    times = [parse_time(row["collected_at"]).replace(second=0) for row in generated]
    assert times == sorted(times)
    assert {t.date() for t in times} == {date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)}
    assert all(time(8) <= t.time() <= time(20, 30) for t in times)
    assert {row["outlet_code"] for row in generated} == {OUTLET}


def test_valid_rows_pass_every_rule_and_show_a_realistic_mix():
    generated = rows(5000, seed=3, contract_customer_codes=["XY001", "XY002"], courier_ids=["C01", "C02"])
    assert [problems(row) for row in generated if problems(row)] == []
    types = collections.Counter(parse_id_type(row["sender_id_type"]) for row in generated)
    assert types["RESIDENT_ID"] > 0.8 * len(generated)
    assert len(types) >= 8
    contract = [row for row in generated if row["contract_customer_code"]]
    assert 0.03 * len(generated) < len(contract) < 0.1 * len(generated)
    assert all(row["sender_id_no"] == "" and row["contract_customer_code"] in ("XY001", "XY002") for row in contract)
    assert {row["courier_id"] for row in generated} == {"C01", "C02"}
    assert any("/" in row["collected_at"] for row in generated)
    assert len({row["real_name_verified"] for row in generated}) >= 3
    assert "食品" in {row["item_category"] for row in generated}
    assert any(re.fullmatch(r"1[3-9]\d{9}", row["sender_phone"]) for row in generated)
    assert any(row["sender_id_no"].endswith("x") for row in generated)
    assert any(not row["sender_id_no"].isascii() for row in generated)


def test_noncompliant_ratio_is_exact_and_rows_stay_valid():
    generated = rows(2000, seed=4, noncompliant_ratio=0.02)
    assert all(not problems(row) for row in generated)
    assert sum(not compliant(row) for row in generated) == 40
    assert all(compliant(row) for row in rows(1000, seed=4, noncompliant_ratio=0.0))


@pytest.mark.parametrize(("n", "ratio"), [(2000, 0.05), (1000, 0.2), (333, 0.01), (10, 1.0)])
def test_invalid_ratio_is_honoured(n, ratio):
    generated = rows(n, seed=5, invalid_ratio=ratio, noncompliant_ratio=0.0)
    assert sum(bool(problems(row)) for row in generated) == round(n * ratio)


def test_invalid_rows_are_invalid_in_varied_ways():
    generated = rows(3000, seed=6, invalid_ratio=0.1, noncompliant_ratio=0.0)
    columns = collections.Counter(p for row in generated for p in problems(row))
    assert len(columns) >= 10


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_breaks_a_rule(defect):
    generated = rows(60, seed=9, invalid_ratio=1.0, noncompliant_ratio=0.0, defects=[defect])
    assert all(len(problems(row)) == 1 for row in generated)


def test_bad_birth_dates_keep_a_correct_check_digit():
    generated = rows(40, seed=2, invalid_ratio=1.0, noncompliant_ratio=0.0, defects=["bad_birth_date"])
    for row in generated:
        with pytest.raises(InvalidIdentity) as exc:
            validate_id_no("RESIDENT_ID", row["sender_id_no"], today=TODAY)
        assert exc.value.code == "validation_error.id_birth_date_impossible"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"invalid_ratio": 1.5},
        {"noncompliant_ratio": -0.1},
        {"invalid_ratio": 0.6, "noncompliant_ratio": 0.6},
        {"defects": ["no_such_defect"]},
        {"defects": []},
        {"days": 0},
        {"waybill_prefix": "BAD PREFIX"},
    ],
)
def test_impossible_arguments_fail_at_call_time(kwargs):
    with pytest.raises(ValueError):
        generate_rows(10, outlet_code=OUTLET, **kwargs)


def test_generation_is_lazy():
    iterator = generate_rows(10**9, outlet_code=OUTLET, day=DAY)
    assert tuple(next(iterator)) == COLUMNS


def test_waybill_style_follows_prefix_or_enterprise():
    assert all(row["waybill_no"].startswith("GS-") for row in rows(50, waybill_prefix="gs-"))
    zto = rows(50, outlet_code="ZTO-0471-01")
    assert all(re.fullmatch(r"7\d{14}", row["waybill_no"]) for row in zto)


def test_default_day_is_recent():
    row = next(generate_rows(1, outlet_code=OUTLET))
    assert (date.today() - parse_time(row["collected_at"]).date()).days in (0, 1, 2)


@pytest.fixture
def sample() -> list[dict[str, str]]:
    return rows(300, seed=11, invalid_ratio=0.05, contract_customer_codes=["XY001"])


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8"])
def test_csv_round_trip_with_chinese_headers(tmp_path, sample, encoding):
    path = tmp_path / "log.csv"
    assert write_csv(sample, path, encoding=encoding, headers="zh") == len(sample)
    with open(path, encoding=encoding, newline="") as handle:
        read = list(csv.reader(handle))
    assert read[0] == [ZH_ALIASES[k] for k in COLUMNS]
    assert [dict(zip(COLUMNS, values)) for values in read[1:]] == sample


def test_csv_with_bom(tmp_path, sample):
    path = tmp_path / "log.csv"
    write_csv(iter(sample), path, bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfwaybill_no,")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        assert list(csv.DictReader(handle)) == sample
    with pytest.raises(ValueError):
        write_csv(sample, path, encoding="gbk", bom=True)


def test_csv_header_follows_the_rows_keys(tmp_path):
    custom = [{"waybill_no": "SF1234567890", "备注": "易碎"}]
    path = tmp_path / "log.csv"
    assert write_csv(custom, path, headers="zh") == 1
    assert path.read_text(encoding="utf-8").splitlines() == ["运单号,备注", "SF1234567890,易碎"]
    assert write_csv([], path) == 0
    assert path.read_text(encoding="utf-8").strip() == ",".join(COLUMNS)


def test_xlsx_round_trip(tmp_path, sample):
    path = tmp_path / "log.xlsx"
    assert write_xlsx(sample, path, headers="zh") == len(sample)
    workbook = load_workbook(path, read_only=True)
    read = list(workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    assert list(read[0]) == [ZH_ALIASES[k] for k in COLUMNS]
    # read-only sheets drop trailing empty cells
    padded = [values + (None,) * (len(COLUMNS) - len(values)) for values in read[1:]]
    assert [{k: v or "" for k, v in zip(COLUMNS, values)} for values in padded] == sample


def test_xlsx_typed_cells(tmp_path, sample):
    path = tmp_path / "log.xlsx"
    write_xlsx(sample, path, typed=True)
    workbook = load_workbook(path, read_only=True)
    header, first = list(workbook.worksheets[0].iter_rows(min_row=1, max_row=2, values_only=True))
    workbook.close()
    cells = dict(zip(header, first))
    assert isinstance(cells["quantity"], int)
    assert isinstance(cells["collected_at"], datetime)
    assert isinstance(cells["sender_id_no"], str)


def test_jsonl_round_trip(tmp_path, sample):
    path = tmp_path / "log.jsonl"
    assert write_jsonl(sample, path) == len(sample)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == sample
    assert "寄" not in lines[0] and any("\\u" not in line and not line.isascii() for line in lines)
    write_jsonl(sample[:1], path, headers="zh")
    assert set(json.loads(path.read_text(encoding="utf-8"))) == set(ZH_ALIASES.values())


def test_cli_writes_the_requested_file(tmp_path, capsys):
    path = tmp_path / "bench.csv"
    args = [str(path), "--rows", "120", "--outlet", "YTO-0001", "--encoding", "gbk", "--headers", "zh"]
    assert main([*args, "--invalid-ratio", "0.1", "--seed", "3", "--day", "2025-03-03"]) == 0
    assert "wrote 120 rows" in capsys.readouterr().err
    with open(path, encoding="gbk", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert len(read) == 120 and read[0]["运单号"].startswith("YT")
    as_rows = [{k: r[ZH_ALIASES[k]] for k in COLUMNS} for r in read]
    assert sum(bool(problems(r, "YTO-0001")) for r in as_rows) == 12


def test_cli_infers_the_format_and_runs_as_a_module(tmp_path):
    path = tmp_path / "bench.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "inspection.synth", str(path), "--rows", "20", "--outlet", "JT-0001"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote 20 rows" in done.stderr
    workbook = load_workbook(path, read_only=True)
    assert len(list(workbook.worksheets[0].iter_rows(values_only=True))) == 21
    workbook.close()


def test_cli_reports_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "x.csv"), "--rows", "5", "--outlet", "X-1", "--invalid-ratio", "2"])
    assert exc.value.code == 2
    assert "invalid_ratio" in capsys.readouterr().err


def test_names_and_items_are_chinese_text():
    generated = rows(500, seed=12)
    assert sum(bool(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", normalise_text(r["sender_name"]))) for r in generated) > 400
    assert all(re.search(r"[\u4e00-\u9fff]", row["item_name"]) for row in generated if row["item_name"] != "T恤")
