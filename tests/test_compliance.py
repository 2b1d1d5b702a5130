"""Compliance as users see it: outlet-day rates, alerts, contract-customer exemptions, the league table,
roll-ups, and abnormal real-name findings."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import random
from collections import defaultdict

import pytest

from inspection import synth
from inspection.identity import mask_id_no
from tests.helpers import DAY, local_day, log_row, resident_id, truthy, upload_rows

NEXT_DAY = DAY + dt.timedelta(days=1)
THRESHOLD = 0.998


@pytest.fixture
def admin(make_user, bearer):
    return bearer(make_user("admin"))


@pytest.fixture
def outlet(make_outlet):
    return make_outlet("SF-HH-0101")


def expected_days(rows: list[dict[str, str]], filings: dict[str, tuple[dt.date, dt.date]] | None = None) -> dict:
    """Per collection day: parcels and the three rates as PRODUCT.md defines them, from the rows of a file."""
    tally = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        day = local_day(row["collected_at"])
        code = row.get("contract_customer_code") or ""
        filing = (filings or {}).get(code.upper())
        real_name = (truthy(row.get("is_letter") or "否")
                     or truthy(row["real_name_verified"]) and bool(row["sender_id_type"]) and bool(row["sender_id_no"])
                     or filing is not None and filing[0] <= day <= filing[1])
        counts = tally[day]
        counts[0] += 1
        counts[1] += real_name
        counts[2] += truthy(row["inspected"])
        counts[3] += truthy(row["xray_screened"])
    return {day: {"parcels": n, "real_name_rate": rn / n, "inspection_rate": ins / n, "xray_rate": xr / n}
            for day, (n, rn, ins, xr) in tally.items()}


def series(client, headers, code, start=DAY, end=NEXT_DAY) -> dict[str, dict]:
    response = client.get(f"/api/v1/compliance/outlets/{code}?from={start}&to={end}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return {day["date"]: day for day in response.get_json()}


def alerts(client, headers, **query) -> list[dict]:
    response = client.get("/api/v1/alerts", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def findings(client, headers, **query) -> list[dict]:
    response = client.get("/api/v1/findings", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def distinct_ids(n: int, start: int = 1) -> list[str]:
    """n valid IDs that are not consecutive (so no sequential-ID finding)."""
    return [resident_id(start + 2 * i, birth=f"1985{1 + i % 12:02d}{10 + i % 18:02d}") for i in range(n)]


# --- rates --------------------------------------------------------------------------------------------------

def _mixed_day_rows() -> list[dict[str, str]]:
    ids = distinct_ids(10)
    return [
        log_row("SF00001001", sender_id_no=ids[0]),
        log_row("SF00001002", sender_id_no=ids[1], real_name_verified="否"),
        log_row("SF00001003", sender_id_type="", sender_id_no=""),
        log_row("SF00001004", sender_id_no=ids[3], inspected="否"),
        log_row("SF00001005", sender_id_no=ids[4], xray_screened="N"),
        log_row("SF00001006", sender_id_type="", sender_id_no="", real_name_verified="否", inspected="0",
                xray_screened="false"),
        log_row("SF00001007", sender_id_no=ids[6], quantity="5"),
        log_row("SF00001008", sender_id_no=ids[7], at="23:59:59"),
        log_row("SF00001009", sender_id_no=ids[8], day=NEXT_DAY),
        log_row("SF00001010", sender_id_no=ids[9], day=NEXT_DAY, at="00:00:00"),
    ]


def test_rates_per_outlet_day_are_as_defined(client, admin, outlet):
    rows = _mixed_day_rows()
    upload_rows(client, admin, outlet.code, rows)
    expected = expected_days(rows)
    got = series(client, admin, outlet.code)
    assert set(got) == {str(DAY), str(NEXT_DAY)}
    for day, values in expected.items():
        row = got[str(day)]
        for key, value in values.items():
            assert row[key] == value, (day, key)
        assert row["adjusted_real_name_rate"] == row["real_name_rate"]
        assert row["below_threshold"] is (values["real_name_rate"] < THRESHOLD)
    assert got[str(DAY)]["parcels"] == 8 and got[str(DAY)]["real_name_rate"] == 5 / 8
    assert got[str(DAY)]["below_threshold"] is True and got[str(NEXT_DAY)]["below_threshold"] is False
    assert series(client, admin, outlet.code, NEXT_DAY, NEXT_DAY).keys() == {str(NEXT_DAY)}


def test_rates_from_a_realistic_log_over_several_days(client, admin, outlet):
    rows = list(synth.generate_rows(300, outlet_code=outlet.code, day=DAY, days=3, seed=5, noncompliant_ratio=0.04))
    upload_rows(client, admin, outlet.code, rows)
    expected = expected_days(rows)
    got = series(client, admin, outlet.code, DAY, DAY + dt.timedelta(days=2))
    assert {dt.date.fromisoformat(d) for d in got} == set(expected) and len(expected) == 3
    for day, values in expected.items():
        for key, value in values.items():
            assert got[str(day)][key] == value, (day, key)
    assert sum(v["parcels"] for v in got.values()) == 300


def test_letters_are_exempt_and_company_senders_show_a_credit_code(client, admin, outlet):
    rows = [log_row("SF00000501", sender_id_type="", sender_id_no="", real_name_verified="否", is_letter="是"),
            log_row("SF00000502", sender_id_type="", sender_id_no="", real_name_verified="否"),
            log_row("SF00000503", sender_id_type="统一社会信用代码", sender_id_no="91330100716105852F"),
            log_row("SF00000504", sender_id_type="MILITARY", sender_id_no="军字第1234567号")]
    body = upload_rows(client, admin, outlet.code, rows)
    assert (body["rows_accepted"], body["rows_rejected"]) == (4, 0)
    assert series(client, admin, outlet.code)[str(DAY)]["real_name_rate"] == pytest.approx(3 / 4)
    bad = upload_rows(client, admin, outlet.code, [log_row("SF00000505", sender_id_type="CREDIT_CODE",
                                                           sender_id_no="91330100716105852G")])
    assert bad["rows_rejected"] == 1


def test_threshold_boundary_is_strictly_below(client, admin, make_outlet):
    at, under = make_outlet("SF-HH-0102"), make_outlet("SF-HH-0103")
    for outlet, misses in ((at, 1), (under, 2)):
        rows = list(synth.generate_rows(500, outlet_code=outlet.code, day=DAY, seed=9, noncompliant_ratio=0))
        for row in rows[:misses]:
            row["real_name_verified"] = "否"
        upload_rows(client, admin, outlet.code, rows)
    assert series(client, admin, at.code)[str(DAY)]["real_name_rate"] == 0.998
    assert series(client, admin, at.code)[str(DAY)]["below_threshold"] is False
    assert series(client, admin, under.code)[str(DAY)]["below_threshold"] is True
    opened = alerts(client, admin, status="open")
    assert [(a["outlet_code"], a["metric"]) for a in opened] == [(under.code, "real_name")]
    assert opened[0]["rate"] == 0.996 and opened[0]["threshold"] == THRESHOLD and opened[0]["date"] == str(DAY)


def test_alerts_open_under_threshold_and_close_when_a_correction_lifts_the_rate(client, admin, outlet):
    rows = _mixed_day_rows()
    upload_rows(client, admin, outlet.code, rows)
    opened = alerts(client, admin, status="open", outlet=outlet.code)
    assert {(a["date"], a["metric"]) for a in opened} == {
        (str(DAY), "real_name"), (str(DAY), "inspection"), (str(DAY), "xray")}
    by_metric = {a["metric"]: a for a in opened}
    assert by_metric["real_name"]["rate"] == 5 / 8 and by_metric["inspection"]["rate"] == 6 / 8
    assert all(a["status"] == "open" and a["closed_at"] is None for a in opened)
    assert alerts(client, admin, status="closed") == []
    assert [a["metric"] for a in alerts(client, admin, metric="xray")] == ["xray"]

    fixed = [log_row(r["waybill_no"], sender_id_no=resident_id(900 + n * 3)) for n, r in enumerate(rows[1:6])]
    correction = upload_rows(client, admin, outlet.code, fixed)
    assert correction["rows_corrected"] == 5
    assert alerts(client, admin, status="open") == []
    closed = alerts(client, admin, status="closed")
    assert {a["metric"] for a in closed} == {"real_name", "inspection", "xray"}
    assert all(a["closed_at"] and a["rate"] == 1.0 for a in closed)
    day = series(client, admin, outlet.code)[str(DAY)]
    assert (day["parcels"], day["real_name_rate"], day["below_threshold"]) == (8, 1.0, False)

    relapse = upload_rows(client, admin, outlet.code, [log_row("SF00001002", real_name_verified="否")])
    assert relapse["rows_corrected"] == 1
    assert [(a["metric"], a["id"]) for a in alerts(client, admin, status="open")] == [
        ("real_name", by_metric["real_name"]["id"])]


def test_a_correction_that_moves_a_record_to_another_day_updates_both_days(client, admin, outlet):
    upload_rows(client, admin, outlet.code, [
        log_row("SF00001101", sender_id_no=resident_id(11)),
        log_row("SF00001102", sender_id_no=resident_id(14), real_name_verified="否"),
        log_row("SF00001103", sender_id_no=resident_id(17), day=NEXT_DAY)])
    before = series(client, admin, outlet.code)
    assert (before[str(DAY)]["parcels"], before[str(DAY)]["real_name_rate"]) == (2, 0.5)
    assert len(alerts(client, admin, status="open", metric="real_name")) == 1

    upload_rows(client, admin, outlet.code, [
        log_row("SF00001102", sender_id_no=resident_id(14), real_name_verified="否", day=NEXT_DAY)])
    after = series(client, admin, outlet.code)
    assert (after[str(DAY)]["parcels"], after[str(DAY)]["real_name_rate"]) == (1, 1.0)
    assert (after[str(NEXT_DAY)]["parcels"], after[str(NEXT_DAY)]["real_name_rate"]) == (2, 0.5)
    open_alerts = alerts(client, admin, status="open", metric="real_name")
    assert [a["date"] for a in open_alerts] == [str(NEXT_DAY)]
    assert [a["date"] for a in alerts(client, admin, status="closed")] == [str(DAY)]

    upload_rows(client, admin, outlet.code, [
        log_row("SF00001101", sender_id_no=resident_id(11), day=NEXT_DAY)])
    moved = series(client, admin, outlet.code)
    assert str(DAY) not in moved and moved[str(NEXT_DAY)]["parcels"] == 3


def test_skipped_duplicates_do_not_count_twice(client, admin, outlet):
    rows = [log_row("SF00001201"), log_row("SF00001202", real_name_verified="否", sender_id_no=resident_id(30))]
    upload_rows(client, admin, outlet.code, rows)
    upload_rows(client, admin, outlet.code, rows + [log_row("SF00001203", sender_id_no=resident_id(40))])
    day = series(client, admin, outlet.code)[str(DAY)]
    assert (day["parcels"], day["real_name_rate"]) == (3, 2 / 3)


# --- contract customers -------------------------------------------------------------------------------------

def _file_contract(client, admin, code, outlet_code, filed_on, valid_until):
    response = client.post("/api/v1/contract-customers", headers=admin, json={
        "code": code, "name": "呼和浩特市草原乳业有限公司", "credit_code": synth.make_credit_code(random.Random(code)),
        "outlet_code": outlet_code, "filed_on": str(filed_on), "valid_until": str(valid_until)})
    assert response.status_code == 201, response.get_json()


def test_contract_customers_are_exempt_only_while_their_filing_is_valid(client, admin, make_outlet):
    own, other = make_outlet("SF-HH-0111"), make_outlet("SF-HH-0112")
    _file_contract(client, admin, "CC-0001", own.code, DAY - dt.timedelta(days=30), DAY)
    _file_contract(client, admin, "CC-0002", own.code, NEXT_DAY, NEXT_DAY + dt.timedelta(days=365))
    contract = {"sender_name": "呼和浩特市草原乳业有限公司", "sender_id_type": "", "sender_id_no": "",
                "real_name_verified": "否"}
    upload_rows(client, admin, own.code, [
        log_row("SF00001301", contract_customer_code="CC-0001", at="23:30:00", **contract),     # valid
        log_row("SF00001302", contract_customer_code="cc-0001", **contract),                    # valid, any case
        log_row("SF00001303", contract_customer_code="CC-0001", **{**contract, "collected_at": "2025-03-10T16:30:00Z"}),
        log_row("SF00001304", contract_customer_code="CC-0002", **contract),                    # not yet filed
        log_row("SF00001305", contract_customer_code="CC-0009", **contract),                    # never filed
        log_row("SF00001306", contract_customer_code="CC-0002", day=NEXT_DAY, **contract),      # valid
    ])
    upload_rows(client, admin, other.code, [log_row("SF00001307", contract_customer_code="CC-0001", **contract)])

    def compliant(code, waybill):
        history = client.get(f"/api/v1/outlets/{code}/records/{waybill}", headers=admin).get_json()
        return history[-1]["real_name_compliant"]

    assert [compliant(own.code, f"SF0000130{n}") for n in range(1, 7)] == [True, True, False, False, False, True]
    assert compliant(other.code, "SF00001307") is False
    got = series(client, admin, own.code)
    assert (got[str(DAY)]["parcels"], got[str(DAY)]["real_name_rate"]) == (4, 2 / 4)
    assert (got[str(NEXT_DAY)]["parcels"], got[str(NEXT_DAY)]["real_name_rate"]) == (2, 1 / 2)
    assert series(client, admin, other.code)[str(DAY)]["real_name_rate"] == 0.0


def test_contract_customer_rates_from_a_realistic_log(client, admin, outlet):
    _file_contract(client, admin, "CC-0101", outlet.code, DAY, DAY)
    _file_contract(client, admin, "CC-0102", outlet.code, DAY - dt.timedelta(days=9), NEXT_DAY)
    rows = list(synth.generate_rows(200, outlet_code=outlet.code, day=DAY, days=2, seed=21, noncompliant_ratio=0.02,
                                    contract_customer_codes=["CC-0101", "CC-0102"]))
    assert {r["contract_customer_code"] for r in rows} >= {"CC-0101", "CC-0102"}
    upload_rows(client, admin, outlet.code, rows)
    expected = expected_days(rows, {"CC-0101": (DAY, DAY), "CC-0102": (DAY - dt.timedelta(days=9), NEXT_DAY)})
    got = series(client, admin, outlet.code)
    for day, values in expected.items():
        assert got[str(day)]["real_name_rate"] == values["real_name_rate"]
    assert got[str(NEXT_DAY)]["real_name_rate"] < 0.99  # CC-0101's items on the second day are not exempt


# --- league table and roll-ups ------------------------------------------------------------------------------

@pytest.fixture
def province(client, admin, make_outlet):
    """Five outlets with known rates on DAY (D reported nothing); A also reported in April."""
    outlets = {
        "A": make_outlet("SF-HH-0201"), "B": make_outlet("SF-HH-0202"),
        "C": make_outlet("ZTO-HH-0201", enterprise="ZTO"), "D": make_outlet("SF-HH-0203"),
        "E": make_outlet("ZTO-BT-0201", enterprise="ZTO", region="150200"),
    }
    ids = iter(distinct_ids(20, start=101))
    plan = {"A": ["是", "是"], "B": ["是", "否"], "C": ["是", "是", "否"], "E": ["否"]}
    for key, flags in plan.items():
        rows = [log_row(f"WB{key}{n:07d}", sender_id_no=next(ids), real_name_verified=flag)
                for n, flag in enumerate(flags)]
        upload_rows(client, admin, outlets[key].code, rows)
    upload_rows(client, admin, outlets["A"].code, [
        log_row("WBA0000100", day=dt.date(2025, 4, 2), sender_id_no=next(ids), inspected="否"),
        log_row("WBA0000101", day=dt.date(2025, 4, 3), sender_id_no=next(ids))])
    return {key: o.code for key, o in outlets.items()}


def _summary(client, headers, **query) -> list[dict]:
    response = client.get("/api/v1/compliance/summary", query_string={"date": str(DAY), **query}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_league_table_is_worst_first(client, admin, province):
    rows = _summary(client, admin)
    mine = [r for r in rows if r["outlet_code"] in province.values()]
    names = {code: key for key, code in province.items()}
    assert [names[r["outlet_code"]] for r in mine] == ["E", "B", "C", "A", "D"]
    by_key = {names[r["outlet_code"]]: r for r in mine}
    assert (by_key["E"]["real_name_rate"], by_key["B"]["real_name_rate"], by_key["C"]["real_name_rate"]) == (
        0.0, 0.5, 2 / 3)
    assert by_key["A"]["parcels"] == 2 and by_key["A"]["below_threshold"] is False
    assert by_key["D"]["reported"] is False and by_key["D"]["parcels"] == 0 and by_key["D"]["real_name_rate"] is None
    assert all(by_key[k]["reported"] for k in "ABCE")
    assert by_key["B"]["open_alerts"] == 1 and by_key["A"]["open_alerts"] == 1  # A's April inspection alert
    assert (by_key["E"]["region_code"], by_key["E"]["enterprise_code"]) == ("150200", "ZTO")


def test_league_table_filters_and_scope(client, admin, make_user, bearer, province):
    def keys(headers, **query):
        names = {code: key for key, code in province.items()}
        return [names.get(r["outlet_code"], r["outlet_code"]) for r in _summary(client, headers, **query)]

    assert keys(admin, region="150200") == ["E"]
    assert keys(admin, region="150100") == ["B", "C", "A", "D"]
    assert keys(admin, enterprise="ZTO") == ["E", "C"]
    assert keys(admin, enterprise="zto", region="150100") == ["C"]
    manager = bearer(make_user("outlet_manager", outlets=[province["A"], province["B"]]))
    assert keys(manager) == ["B", "A"]
    assert keys(manager, enterprise="ZTO") == []
    inspector = bearer(make_user("inspector", region="150200"))
    assert keys(inspector) == ["E"]
    assert keys(inspector, region="150100") == []
    bad = client.get("/api/v1/compliance/summary?date=2025-02-30", headers=admin)
    assert bad.status_code == 422
    assert client.get("/api/v1/compliance/summary", headers=admin).status_code == 422


def test_rollup_by_enterprise_region_and_month(client, admin, make_user, bearer, province):
    def rollup(headers, by, start="2025-03-01", end="2025-04-30", **query):
        response = client.get("/api/v1/compliance/rollup", headers=headers,
                              query_string={"by": by, "from": start, "to": end, **query})
        assert response.status_code == 200, response.get_json()
        return {r["key"]: r for r in response.get_json()}

    by_enterprise = rollup(admin, "enterprise")
    assert (by_enterprise["SF"]["outlets"], by_enterprise["SF"]["parcels"]) == (2, 6)
    assert by_enterprise["SF"]["real_name_rate"] == 5 / 6 and by_enterprise["SF"]["inspection_rate"] == 5 / 6
    assert (by_enterprise["ZTO"]["outlets"], by_enterprise["ZTO"]["parcels"]) == (2, 4)
    assert by_enterprise["ZTO"]["real_name_rate"] == 2 / 4 and by_enterprise["ZTO"]["xray_rate"] == 1.0

    by_region = rollup(admin, "region")
    assert set(by_region) == {"150100", "150200"}
    assert (by_region["150100"]["name"], by_region["150100"]["outlets"], by_region["150100"]["parcels"]) == (
        "呼和浩特市", 3, 9)
    assert by_region["150100"]["real_name_rate"] == 7 / 9
    assert (by_region["150200"]["name"], by_region["150200"]["parcels"], by_region["150200"]["real_name_rate"]) == (
        "包头市", 1, 0.0)

    by_month = rollup(admin, "month")
    assert set(by_month) == {"2025-03", "2025-04"}
    assert (by_month["2025-03"]["parcels"], by_month["2025-03"]["outlets"]) == (8, 4)
    assert (by_month["2025-04"]["parcels"], by_month["2025-04"]["inspection_rate"]) == (2, 0.5)
    assert set(rollup(admin, "month", end="2025-03-31")) == {"2025-03"}
    assert set(rollup(admin, "enterprise", region="150200")) == {"ZTO"}

    manager = bearer(make_user("outlet_manager", outlets=[province["C"]]))
    assert {k: (r["outlets"], r["parcels"]) for k, r in rollup(manager, "enterprise").items()} == {"ZTO": (1, 3)}
    bad = client.get("/api/v1/compliance/rollup?by=week&from=2025-03-01&to=2025-03-31", headers=admin)
    assert bad.status_code == 422


@pytest.mark.parametrize("query,field", [
    ("from=2025-03-10&to=2025-03-09", "to"),
    ("to=2025-03-10", "from"),
    ("from=2025-03-10", "to"),
    ("from=2025-03-10&to=2025-13-01", "to"),
    ("from=2023-01-01&to=2025-03-10", "to"),
])
def test_outlet_series_range_is_validated(client, admin, outlet, query, field):
    response = client.get(f"/api/v1/compliance/outlets/{outlet.code}?{query}", headers=admin)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]


def test_outlet_series_scope(client, admin, make_user, bearer, make_outlet):
    own, other = make_outlet("SF-HH-0301"), make_outlet("SF-HH-0302")
    upload_rows(client, admin, other.code, [log_row("SF00003001")])
    manager = bearer(make_user("outlet_manager", outlets=[own.code]))
    query = f"from={DAY}&to={DAY}"
    assert client.get(f"/api/v1/compliance/outlets/{own.code}?{query}", headers=manager).get_json() == []
    assert client.get(f"/api/v1/compliance/outlets/{other.code}?{query}", headers=manager).status_code == 403
    assert client.get(f"/api/v1/compliance/outlets/NOPE-0001?{query}", headers=admin).status_code == 404
    assert alerts(client, manager) == []
    assert client.get("/api/v1/findings", headers=manager).status_code == 403


# --- abnormal real-name findings ----------------------------------------------------------------------------

def _only(found: list[dict], kind: str) -> list[dict]:
    return [f for f in found if f["kind"] == kind]


def test_one_id_for_three_sender_names_is_a_shared_id_finding(client, admin, outlet):
    shared = resident_id(501)
    others = distinct_ids(7, start=601)
    rows = [log_row(f"SF0000400{n}", sender_id_no=shared, sender_name=name)
            for n, name in enumerate(("张伟", "李娜", "王芳"))]
    rows += [log_row(f"SF0000410{n}", sender_id_no=id_no) for n, id_no in enumerate(others)]
    upload_rows(client, admin, outlet.code, rows)
    response = client.get("/api/v1/findings", query_string={"outlet": outlet.code}, headers=admin)
    assert shared not in response.get_data(as_text=True)
    found = response.get_json()
    assert [f["kind"] for f in found] == ["shared_id"]
    finding = found[0]
    assert (finding["outlet_code"], finding["date"], finding["records"]) == (outlet.code, str(DAY), 3)
    assert finding["detail"]["id"] == mask_id_no(shared)
    assert (finding["detail"]["names"], finding["detail"]["items"]) == (3, 3)
    day = series(client, admin, outlet.code)[str(DAY)]
    assert day["real_name_rate"] == 1.0 and day["below_threshold"] is False
    assert day["adjusted_real_name_rate"] == 7 / 10


def test_a_company_credit_code_on_many_items_is_no_finding(client, admin, outlet):
    rows = [log_row(f"SF000043{n:02d}", sender_id_type="CREDIT_CODE", sender_id_no="91330100716105852F",
                    sender_name=f"阿里员工{n}") for n in range(25)]
    upload_rows(client, admin, outlet.code, rows)
    assert findings(client, admin, outlet=outlet.code) == []
    assert series(client, admin, outlet.code)[str(DAY)]["adjusted_real_name_rate"] == 1.0


def test_a_large_batch_is_screened_in_steps_and_each_id_found_once(client, admin, outlet, monkeypatch):
    """Usage screening reads the batch back a step of record ids at a time (bounded sorts); an ID whose records
    fall in several steps is still one finding over all of them."""
    from greenshield.compliance import services

    monkeypatch.setattr(services, "USAGE_STEP", 2)
    shared = resident_id(503)
    rows = [log_row(f"SF0000430{n}", sender_id_no=shared, sender_name=name)
            for n, name in enumerate(("张伟", "李娜", "王芳", "赵磊"))]
    rows.insert(2, log_row("SF00004310", sender_id_no=resident_id(504)))
    upload_rows(client, admin, outlet.code, rows)
    found = findings(client, admin, outlet=outlet.code)
    assert [(f["kind"], f["records"], f["detail"]["names"]) for f in found] == [("shared_id", 4, 4)]
    assert found[0]["detail"]["id"] == mask_id_no(shared)


def test_two_names_on_one_id_is_no_finding(client, admin, outlet):
    shared = resident_id(502)
    upload_rows(client, admin, outlet.code, [log_row("SF00004201", sender_id_no=shared, sender_name="张伟"),
                                             log_row("SF00004202", sender_id_no=shared, sender_name="李娜")])
    assert findings(client, admin, outlet=outlet.code) == []
    assert series(client, admin, outlet.code)[str(DAY)]["adjusted_real_name_rate"] == 1.0


def test_a_correction_that_breaks_the_pattern_frees_the_adjusted_rate(client, admin, outlet):
    shared = resident_id(520)
    upload_rows(client, admin, outlet.code, [log_row(f"SF0000490{n}", sender_id_no=shared, sender_name=name)
                                             for n, name in enumerate(("张伟", "李娜", "王芳"))])
    assert series(client, admin, outlet.code)[str(DAY)]["adjusted_real_name_rate"] == 0.0
    upload_rows(client, admin, outlet.code, [log_row("SF00004902", sender_id_no=resident_id(530), sender_name="王芳")])
    assert series(client, admin, outlet.code)[str(DAY)]["adjusted_real_name_rate"] == 1.0


@pytest.mark.skipif(os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
                    reason="PostgreSQL plans on statistics (the ingest analyses a table that has none); "
                           "this is SQLite's choice without them")
def test_screening_reaches_a_senders_records_by_the_blind_index(app, client, admin, outlet):
    """Every statement of the screening that names a sender's blind index must search by it. SQLite, with no
    statistics, preferred the batch's or the outlet-day's index when the batch or outlet was named too, and
    walked every record of the batch for each screened ID: a 5 M-row day ran for hours."""
    from sqlalchemy import event

    from greenshield import db as gdb

    engine = app.extensions[gdb.EXTENSION].engine
    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if not executemany and "sender_id_hmac" in statement and "collection_records" in statement \
                and not statement.lstrip().upper().startswith(("EXPLAIN", "INSERT INTO COLLECTION_RECORDS")):
            seen.append((statement, parameters))

    shared = resident_id(501)
    rows = [log_row(f"SF0000500{n}", sender_id_no=shared, sender_name=name)
            for n, name in enumerate(("张伟", "李娜", "王芳"))]
    rows += [log_row(f"SF0000510{n}", sender_id_no=id_no) for n, id_no in enumerate(distinct_ids(7, start=701))]
    event.listen(engine, "before_cursor_execute", grab)
    try:
        upload_rows(client, admin, outlet.code, rows)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    assert [f["kind"] for f in client.get("/api/v1/findings", headers=admin).get_json()
            if f["outlet_code"] == outlet.code] == ["shared_id"]
    # statements run once per screened ID (one sender, or a few, named by their blind index) — the one-pass
    # statements over the batch (the usage query, the staff match) may walk it
    per_id = re.compile(r"collection_records\.sender_id_hmac (= \?|IN \(|= findings\.subject)")
    walks = ("ix_collection_records_batch_id", "ix_collection_records_outlet_day")
    checked = 0
    with engine.connect() as conn:
        for statement, parameters in seen:
            if not per_id.search(statement):
                continue
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                          parameters))
            assert not any(w in plan for w in walks), (statement, plan)
            checked += 1
    assert checked >= 3  # the sender's usage that day, the masked ID, the finding's records


def test_shared_id_builds_up_across_batches_and_days_are_separate(client, admin, outlet):
    shared = resident_id(503)
    upload_rows(client, admin, outlet.code, [log_row("SF00004301", sender_id_no=shared, sender_name="张伟"),
                                             log_row("SF00004302", sender_id_no=shared, sender_name="李娜"),
                                             log_row("SF00004303", sender_id_no=shared, sender_name="王芳",
                                                     day=NEXT_DAY)])
    assert findings(client, admin) == []
    upload_rows(client, admin, outlet.code, [log_row("SF00004304", sender_id_no=shared, sender_name="赵敏")])
    found = findings(client, admin, outlet=outlet.code)
    assert [(f["kind"], f["date"], f["records"]) for f in found] == [("shared_id", str(DAY), 3)]
    assert series(client, admin, outlet.code)[str(DAY)]["adjusted_real_name_rate"] == 0.0
    assert series(client, admin, outlet.code)[str(NEXT_DAY)]["adjusted_real_name_rate"] == 1.0


def test_one_id_at_three_outlets_in_a_day(client, admin, make_outlet):
    outlets = [make_outlet(f"SF-HH-040{n}") for n in range(1, 4)]
    roaming = resident_id(504)
    for n, outlet in enumerate(outlets[:2]):
        upload_rows(client, admin, outlet.code, [log_row(f"SF0000440{n}", sender_id_no=roaming),
                                                 log_row(f"SF0000441{n}", sender_id_no=resident_id(700 + 2 * n))])
    assert findings(client, admin) == []
    upload_rows(client, admin, outlets[2].code, [log_row("SF00004402", sender_id_no=roaming)])
    found = _only(findings(client, admin), "id_many_outlets")
    assert sorted(f["outlet_code"] for f in found) == sorted(o.code for o in outlets)
    assert all(f["detail"]["outlets"] == 3 and f["detail"]["id"] == mask_id_no(roaming) for f in found)
    assert all(f["records"] == 1 for f in found)
    assert series(client, admin, outlets[0].code)[str(DAY)]["adjusted_real_name_rate"] == 0.5
    assert series(client, admin, outlets[2].code)[str(DAY)]["adjusted_real_name_rate"] == 0.0
    assert findings(client, admin, outlet=outlets[1].code.lower())[0]["outlet_code"] == outlets[1].code


def test_one_id_on_twenty_items_in_a_day(client, admin, outlet):
    busy = resident_id(505)
    rows = [log_row(f"SF{n:08d}", sender_id_no=busy, at=f"{8 + n // 4:02d}:{n % 4 * 10:02d}:00") for n in range(19)]
    upload_rows(client, admin, outlet.code, rows)
    assert _only(findings(client, admin), "id_many_items") == []
    upload_rows(client, admin, outlet.code, [log_row("SF00000019", sender_id_no=busy, at="19:00:00"),
                                             log_row("SF00000020", sender_id_no=resident_id(801))])
    found = _only(findings(client, admin), "id_many_items")
    assert [(f["records"], f["detail"]["items"]) for f in found] == [(20, 20)]
    assert series(client, admin, outlet.code)[str(DAY)]["adjusted_real_name_rate"] == 1 / 21


def test_a_staff_members_id_used_as_a_sender(client, admin, outlet):
    courier_id = resident_id(506, birth="19920815")
    response = client.post("/api/v1/staff", headers=admin, json={
        "staff_id": "C-0001", "name": "赵六", "outlet_code": outlet.code, "role": "courier", "id_no": courier_id})
    assert response.status_code == 201, response.get_json()
    assert courier_id not in response.get_data(as_text=True)
    upload_rows(client, admin, outlet.code, [log_row("SF00004601", sender_id_no=courier_id, sender_name="钱七"),
                                             log_row("SF00004602", sender_id_no=resident_id(802))])
    response = client.get("/api/v1/findings", headers=admin)
    assert courier_id not in response.get_data(as_text=True)
    found = _only(response.get_json(), "staff_id")
    assert len(found) == 1
    assert found[0]["detail"]["staff_id"] == "C-0001" and found[0]["detail"]["id"] == mask_id_no(courier_id)
    assert found[0]["records"] == 1
    assert series(client, admin, outlet.code)[str(DAY)]["adjusted_real_name_rate"] == 0.5


def test_sequential_ids_are_a_finding(client, admin, outlet):
    run = [resident_id(seq, area="150203", birth="19950101") for seq in (311, 312, 313)]
    pair = [resident_id(seq, area="150204", birth="19960202") for seq in (411, 412)]
    rows = [log_row(f"SF0000470{n}", sender_id_no=id_no, sender_name=name)
            for n, (id_no, name) in enumerate(zip(run + pair, ("张伟", "李娜", "王芳", "赵敏", "孙丽")))]
    rows.append(log_row("SF00004710", sender_id_no=resident_id(803)))
    upload_rows(client, admin, outlet.code, rows)
    response = client.get("/api/v1/findings", headers=admin)
    text = response.get_data(as_text=True)
    assert not any(id_no in text for id_no in run + pair)
    found = response.get_json()
    assert [f["kind"] for f in found] == ["sequential_ids"]
    assert found[0]["records"] == 3
    assert found[0]["detail"] == {"first": mask_id_no(run[0]), "last": mask_id_no(run[-1]), "count": 3}
    assert series(client, admin, outlet.code)[str(DAY)]["adjusted_real_name_rate"] == 3 / 6


def test_implausible_ages_are_a_finding(client, admin, outlet):
    old, young = resident_id(507, birth="19000101"), resident_id(508, birth="20220101")
    upload_rows(client, admin, outlet.code, [log_row("SF00004801", sender_id_no=old),
                                             log_row("SF00004802", sender_id_no=young),
                                             log_row("SF00004803", sender_id_no=resident_id(804))])
    found = _only(findings(client, admin), "implausible_age")
    assert sorted(f["detail"]["problem"] for f in found) == ["age over 120", "age under 6"]
    assert {f["detail"]["id"] for f in found} == {mask_id_no(old), mask_id_no(young)}


def test_findings_are_in_scope_and_filtered_by_date(client, admin, make_user, bearer, make_outlet):
    hohhot, baotou = make_outlet("SF-HH-0501"), make_outlet("SF-BT-0501", region="150200")
    for outlet, seq, day in ((hohhot, 509, DAY), (baotou, 510, NEXT_DAY)):
        shared = resident_id(seq)
        upload_rows(client, admin, outlet.code, [
            log_row(f"{outlet.code[3:5]}{n:08d}", sender_id_no=shared, sender_name=name, day=day)
            for n, name in enumerate(("张伟", "李娜", "王芳"))])
    inspector = bearer(make_user("inspector", region="150100"))
    assert [f["outlet_code"] for f in findings(client, inspector)] == [hohhot.code]
    assert [f["outlet_code"] for f in findings(client, admin)] == [baotou.code, hohhot.code]
    assert [f["outlet_code"] for f in findings(client, admin, **{"from": str(NEXT_DAY)})] == [baotou.code]
    assert [f["outlet_code"] for f in findings(client, admin, to=str(DAY))] == [hohhot.code]
    assert client.get("/api/v1/findings?from=2025-03-11&to=2025-03-10", headers=admin).status_code == 422


def test_findings_json_never_holds_a_full_id_number(client, admin, outlet):
    rows = list(synth.generate_rows(60, outlet_code=outlet.code, day=DAY, seed=17, noncompliant_ratio=0))
    shared = rows[0]["sender_id_no"] or resident_id(511)
    for n, row in enumerate(rows[:4]):
        row.update(sender_id_type="RESIDENT_ID", sender_id_no=shared, sender_name=f"寄件人{n}")
    upload_rows(client, admin, outlet.code, rows)
    text = client.get("/api/v1/findings", headers=admin).get_data(as_text=True)
    assert json.loads(text) and "shared_id" in text
    for row in rows:
        if row["sender_id_no"]:
            assert row["sender_id_no"].upper() not in text
        assert row["sender_phone"] not in text
