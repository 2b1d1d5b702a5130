"""Registry routes and pages: create, list in scope, edit, deactivate; every bad input gets a clear 4xx."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from models import ContractCustomer, Outlet, Staff, StaffRole, XrayMachine

OUTLET = {"code": "HH-NEW-01", "name": "新网点", "enterprise_code": "SF", "region_code": "150100", "kind": "outlet"}


@pytest.fixture
def admin(make_user, bearer):
    return bearer(make_user("admin"))


def test_create_get_and_list_outlet(client, admin):
    created = client.post("/api/v1/outlets", json={**OUTLET, "code": "hh-new-01"}, headers=admin)
    assert created.status_code == 201
    assert created.get_json()["code"] == "HH-NEW-01"
    assert client.get("/api/v1/outlets/HH-NEW-01", headers=admin).get_json()["region_name"] == "呼和浩特市"
    listed = client.get("/api/v1/outlets?q=新网点", headers=admin)
    assert [o["code"] for o in listed.get_json()] == ["HH-NEW-01"]
    assert '"total": 1' in listed.headers["X-Pagination"]


@pytest.mark.parametrize("body,field", [
    ({**OUTLET, "code": "ab"}, "code"),
    ({**OUTLET, "code": "HAS SPACE"}, "code"),
    ({**OUTLET, "name": "x" * 129}, "name"),
    ({**OUTLET, "kind": "warehouse"}, "kind"),
    ({**OUTLET, "region_code": "999999"}, "region_code"),
    ({**OUTLET, "enterprise_code": "NOPE"}, "enterprise_code"),
    ({**OUTLET, "unexpected": 1}, "unexpected"),
    ({**OUTLET, "name": 5}, "name"),
    ({k: v for k, v in OUTLET.items() if k != "name"}, "name"),
])
def test_bad_outlet_input_is_422_with_the_field_named(client, admin, session, body, field):
    response = client.post("/api/v1/outlets", json=body, headers=admin)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]
    assert session.scalar(select(func.count()).select_from(Outlet).where(Outlet.code == OUTLET["code"])) == 0


def test_malformed_json_and_wrong_body_type(client, admin):
    bad = client.post("/api/v1/outlets", data="{not json", content_type="application/json", headers=admin)
    assert bad.status_code == 400
    assert bad.get_json()["error"]["message"] == "请求内容不是有效的 JSON。"
    english = client.post("/api/v1/outlets", data="{not json", content_type="application/json",
                          headers={**admin, "Accept-Language": "en"})
    assert english.get_json()["error"]["message"] == "The request body is not valid JSON."
    listed = client.post("/api/v1/outlets", json=[1, 2], headers=admin)
    assert listed.status_code == 422


def test_duplicate_code_is_409_and_changes_nothing(client, admin, make_outlet):
    make_outlet("HH-DUP-01")
    response = client.post("/api/v1/outlets", json={**OUTLET, "code": "HH-DUP-01", "name": "other"}, headers=admin)
    assert response.status_code == 409
    assert client.get("/api/v1/outlets/HH-DUP-01", headers=admin).get_json()["name"] != "other"


def test_deactivate_hides_but_keeps(client, admin, make_outlet, session):
    make_outlet("HH-OLD-01")
    assert client.patch("/api/v1/outlets/HH-OLD-01", json={"active": False}, headers=admin).status_code == 200
    codes = [o["code"] for o in client.get("/api/v1/outlets", headers=admin).get_json()]
    assert "HH-OLD-01" not in codes
    codes = [o["code"] for o in client.get("/api/v1/outlets?include_inactive=true", headers=admin).get_json()]
    assert "HH-OLD-01" in codes
    assert session.scalar(select(Outlet).where(Outlet.code == "HH-OLD-01")) is not None


def test_staff_screeners_need_certificates(client, admin, make_outlet):
    make_outlet("HH-STF-01")
    body = {"staff_id": "S-1", "name": "安检员", "outlet_code": "HH-STF-01", "role": "screener"}
    assert client.post("/api/v1/staff", json=body, headers=admin).status_code == 422
    ok = client.post("/api/v1/staff", json={**body, "certificate_no": "AJY123"}, headers=admin)
    assert ok.status_code == 201
    cleared = client.patch("/api/v1/staff/S-1", json={"certificate_no": None}, headers=admin)
    assert cleared.status_code == 422


def test_contract_customer_credit_code_and_dates(client, admin, make_outlet, session):
    make_outlet("HH-CC-01")
    body = {"code": "CC-1", "name": "协议客户", "credit_code": "91350100M000100Y43", "outlet_code": "HH-CC-01",
            "filed_on": "2025-01-01", "valid_until": "2030-01-01"}
    wrong_check = client.post("/api/v1/contract-customers", json={**body, "credit_code": "91350100M000100Y44"},
                              headers=admin)
    assert wrong_check.status_code == 422 and "credit_code" in wrong_check.get_json()["error"]["details"]
    backwards = client.post("/api/v1/contract-customers", json={**body, "valid_until": "2024-01-01"}, headers=admin)
    assert backwards.status_code == 422 and "valid_until" in backwards.get_json()["error"]["details"]
    unknown_outlet = client.post("/api/v1/contract-customers", json={**body, "outlet_code": "NOPE-99"}, headers=admin)
    assert unknown_outlet.status_code == 422
    assert session.scalar(select(func.count()).select_from(ContractCustomer)) == 0
    created = client.post("/api/v1/contract-customers", json=body, headers=admin)
    assert created.status_code == 201 and created.get_json()["valid_today"] is True


def test_machine_needs_a_real_date(client, admin, make_outlet):
    make_outlet("HH-XR-01")
    body = {"code": "HH-XR-01-X1", "outlet_code": "HH-XR-01", "model": "CX5030", "installed_on": "2025-02-30"}
    response = client.post("/api/v1/xray-machines", json=body, headers=admin)
    assert response.status_code == 422 and "installed_on" in response.get_json()["error"]["details"]


def test_inspector_sees_only_their_region(client, make_user, bearer, make_outlet):
    make_outlet("HH-SC-01", region="150100")
    make_outlet("BT-SC-01", region="150200")
    baotou = bearer(make_user("inspector", region="150200"))
    codes = {o["code"] for o in client.get("/api/v1/outlets", headers=baotou).get_json()}
    assert "BT-SC-01" in codes and "HH-SC-01" not in codes
    assert client.get("/api/v1/outlets/HH-SC-01", headers=baotou).status_code == 403
    province = bearer(make_user("inspector", region="150000"))
    codes = {o["code"] for o in client.get("/api/v1/outlets", headers=province).get_json()}
    assert {"BT-SC-01", "HH-SC-01"} <= codes


def test_manager_sees_only_own_outlets_and_their_staff(client, make_user, bearer, make_outlet, session):
    mine, other = make_outlet("MY-OUT-01"), make_outlet("OT-OUT-01")
    from models import StaffRole
    session.add_all([Staff(staff_id="MY-C1", name="甲", outlet=mine, role=StaffRole.COURIER, active=True),
                     Staff(staff_id="OT-C1", name="乙", outlet=other, role=StaffRole.COURIER, active=True)])
    session.flush()
    headers = bearer(make_user("outlet_manager", outlets=["MY-OUT-01"]))
    assert [s["staff_id"] for s in client.get("/api/v1/staff", headers=headers).get_json()] == ["MY-C1"]
    assert client.get("/api/v1/staff/OT-C1", headers=headers).status_code == 404
    assert client.get("/api/v1/outlets/OT-OUT-01", headers=headers).status_code == 403
    assert client.patch("/api/v1/staff/MY-C1", json={"name": "丙"}, headers=headers).status_code == 403


def test_registry_pages_create_edit_deactivate(client, make_user, login, session):
    login(client, make_user("admin"))
    page = client.get("/registry/outlets/new")
    assert page.status_code == 200
    bad = client.post("/registry/outlets/new", data={**OUTLET, "code": "x"})
    assert bad.status_code == 422 and "须为 4–32 位大写字母、数字或“-”。" in bad.get_data(as_text=True)
    ok = client.post("/registry/outlets/new", data=OUTLET)
    assert ok.status_code == 302
    listing = client.get("/registry/outlets").get_data(as_text=True)
    assert "HH-NEW-01" in listing and "新网点" in listing
    client.post("/registry/outlets/HH-NEW-01/edit", data={"name": "改名网点"})
    assert session.scalar(select(Outlet.name).where(Outlet.code == "HH-NEW-01")) == "改名网点"
    client.post("/registry/outlets/HH-NEW-01/active", data={"active": "0"})
    assert session.scalar(select(Outlet.active).where(Outlet.code == "HH-NEW-01")) is False
    assert client.get("/registry/nothing").status_code == 404


@pytest.mark.parametrize("kind,query,found", [("xray-machines", "cx50", "HH-XR-02-X1"), ("xray-machines", "X1", "HH-XR-02-X1"),
                                              ("outlets", "xr-02", "HH-XR-02"), ("staff", "甲", "XR-C1")])
def test_every_registry_list_searches_its_own_columns(client, make_user, login, bearer, make_outlet, session, kind,
                                                      query, found):
    outlet = make_outlet("HH-XR-02")
    session.add_all([XrayMachine(code="HH-XR-02-X1", outlet=outlet, model="CX5030", installed_on=dt.date(2025, 1, 2),
                                 active=True),
                     Staff(staff_id="XR-C1", name="甲", outlet=outlet, role=StaffRole.COURIER, active=True)])
    session.flush()
    admin = make_user("admin")
    listed = client.get(f"/api/v1/{kind}?q={query}", headers=bearer(admin))
    assert listed.status_code == 200 and found in listed.get_data(as_text=True)
    login(client, admin)
    page = client.get(f"/registry/{kind}?q={query}")
    assert page.status_code == 200 and found in page.get_data(as_text=True)


def test_reference_data_is_loaded(client, make_user, bearer):
    headers = bearer(make_user("inspector"))
    regions = client.get("/api/v1/regions", headers=headers).get_json()
    assert len([r for r in regions if r["parent_code"] == "150000"]) == 12
    categories = client.get("/api/v1/prohibited-categories", headers=headers).get_json()
    assert [c["code"] for c in categories] == list(range(1, 20))
    id_types = {t["code"] for t in client.get("/api/v1/id-types", headers=headers).get_json()}
    assert {"RESIDENT_ID", "PASSPORT", "HK_MO_PERMIT", "CREDIT_CODE", "OTHER"} <= id_types and len(id_types) == 11
    enterprises = {e["code"] for e in client.get("/api/v1/enterprises", headers=headers).get_json()}
    assert {"EMS", "SF", "ZTO", "YTO", "STO", "YD", "JD", "JT"} <= enterprises
