"""Verifying the three systems (issue 15): declared X-ray screening against what the networked machines saw,
designated screening sites, and the findings the machines' own reports raise."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import select

from greenshield.compliance.verification import Window, declared_not_scanned
from models import Finding, Staff, StaffRole, XrayMachine
from models.base import CHINA
from tests.helpers import DAY, log_row, png, send, upload_rows

IMAGE = png(np.full((48, 48), 0.8))
NOON = dt.datetime.combine(DAY, dt.time(12, 0), CHINA)


@pytest.fixture
def admin(make_user, bearer):
    return bearer(make_user("admin"))


@pytest.fixture
def site(session, make_outlet, machine):
    """Outlet XR-OUT-01 with machine XR-OUT-01-X1 (the conftest's), a sorting centre with its own machine, and
    an outlet without one."""
    centre = make_outlet("XR-SC-01", kind="sorting_centre")
    session.add(XrayMachine(code="XR-SC-01-X1", outlet=centre, model="CX100", installed_on=dt.date(2024, 1, 1),
                            active=True))
    session.add(Staff(staff_id="XR-S02", name="安检员乙", outlet=centre, role=StaffRole.SCREENER, active=True))
    bare = make_outlet("XR-OUT-02")
    session.flush()
    return machine.outlet, centre, bare


def day_row(client, headers, code: str) -> dict:
    response = client.get(f"/api/v1/compliance/outlets/{code}?from={DAY}&to={DAY}", headers=headers)
    assert response.status_code == 200, response.get_json()
    [row] = response.get_json()
    return row


def scan(client, sender, waybill: str, at: dt.datetime, machine="XR-OUT-01-X1"):
    response = send(client, sender, IMAGE, waybill=waybill, at=at, machine=machine)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_scans_in_the_window_verify_declarations_whichever_arrives_first(client, admin, site, sender):
    outlet, _, _ = site
    scan(client, sender, "SF00000001", NOON - dt.timedelta(minutes=30))  # before the log, in the window
    scan(client, sender, "SF00000002", NOON - dt.timedelta(hours=2))  # too early: more than 1 h before
    upload_rows(client, admin, outlet.code, [
        log_row(f"SF0000000{n}", at="12:00:00") for n in range(1, 5)] + [
        log_row("SF00000005", at="12:00:00", xray_screened="否")])
    row = day_row(client, admin, outlet.code)
    assert (row["xray_rate"], row["xray_rate_verified"]) == (pytest.approx(4 / 5), pytest.approx(1 / 5))
    scan(client, sender, "SF00000003", NOON + dt.timedelta(hours=71))  # after the log, in the window
    scan(client, sender, "SF00000004", NOON + dt.timedelta(hours=73))  # too late
    scan(client, sender, "SF00000005", NOON + dt.timedelta(hours=1))  # scanned, but not declared: not counted
    assert day_row(client, admin, outlet.code)["xray_rate_verified"] == pytest.approx(2 / 5)
    league = client.get(f"/api/v1/compliance/summary?date={DAY}", headers=admin).get_json()
    assert [r["xray_rate_verified"] for r in league if r["outlet_code"] == outlet.code] == [pytest.approx(2 / 5)]
    rollup = client.get(f"/api/v1/compliance/rollup?by=month&from={DAY}&to={DAY}", headers=admin).get_json()
    assert rollup[0]["xray_rate_verified"] == pytest.approx(2 / 5)


def test_a_designated_screening_site_verifies_an_outlet_without_a_machine(client, admin, site, sender, make_user, bearer,
                                                                         ):
    _, centre, bare = site
    centre_sender = bearer(make_user("outlet_manager", outlets=[centre.code]))
    upload_rows(client, admin, bare.code, [log_row("SF00000011", at="12:00:00"), log_row("SF00000012", at="12:00:00")])
    scan(client, centre_sender, "SF00000011", NOON + dt.timedelta(hours=5), machine="XR-SC-01-X1")
    scan(client, sender, "SF00000012", NOON + dt.timedelta(hours=5))  # another outlet's machine: no proof
    assert day_row(client, admin, bare.code)["xray_rate_verified"] == 0
    patched = client.patch(f"/api/v1/outlets/{bare.code}", json={"screening_site_code": "xr-sc-01"}, headers=admin)
    assert patched.status_code == 200 and patched.get_json()["screening_site_code"] == centre.code
    assert day_row(client, admin, bare.code)["xray_rate_verified"] == pytest.approx(1 / 2)
    own = client.patch(f"/api/v1/outlets/{bare.code}", json={"screening_site_code": bare.code}, headers=admin)
    assert own.status_code == 422 and "screening_site_code" in own.get_json()["error"]["details"]
    unknown = client.patch(f"/api/v1/outlets/{bare.code}", json={"screening_site_code": "NOPE-1"}, headers=admin,
                           environ_base={"HTTP_ACCEPT_LANGUAGE": "zh-CN"})
    assert unknown.status_code == 422 and "NOPE-1" in unknown.get_json()["error"]["details"]["screening_site_code"][0]
    cleared = client.patch(f"/api/v1/outlets/{bare.code}", json={"screening_site_code": None}, headers=admin)
    assert cleared.get_json()["screening_site_code"] is None
    assert day_row(client, admin, bare.code)["xray_rate_verified"] == 0


def test_declared_not_scanned_is_listed_once_the_window_has_closed(client, admin, site, sender, session):
    outlet, _, _ = site
    upload_rows(client, admin, outlet.code, [log_row("SF00000021", at="12:00:00"),
                                              log_row("SF00000022", at="12:30:00")])  # DAY is long past: listed
    found = client.get(f"/api/v1/findings?kind=declared_not_scanned&outlet={outlet.code}", headers=admin).get_json()
    assert [(f["date"], f["records"], f["detail"]["waybills"]) for f in found] == [
        (str(DAY), 2, ["SF00000021", "SF00000022"])]
    scan(client, sender, "SF00000021", NOON + dt.timedelta(hours=3))
    found = client.get(f"/api/v1/findings?kind=declared_not_scanned", headers=admin).get_json()
    assert [(f["records"], f["detail"]["waybills"]) for f in found] == [(1, ["SF00000022"])]
    window = Window()
    assert not window.closed_for_day(DAY, NOON + dt.timedelta(hours=40))
    assert window.closed_for_day(DAY, dt.datetime.combine(DAY + dt.timedelta(days=4), dt.time(), CHINA))
    declared_not_scanned(session, outlet.id, DAY, 2, 1, window, now=NOON + dt.timedelta(hours=40))  # still open
    assert session.scalar(select(Finding).where(Finding.kind == "declared_not_scanned")) is None


def test_scans_while_powered_off_or_without_a_screener_are_findings(client, admin, site, sender):
    def status(kind, at, staff_id=None):
        response = client.post("/api/v1/xray-machines/XR-OUT-01-X1/status", headers=sender,
                               json={"kind": kind, "at": at.isoformat(), "staff_id": staff_id})
        assert response.status_code == 201, response.get_json()

    status("power_on", NOON - dt.timedelta(hours=4))
    status("check_in", NOON - dt.timedelta(hours=4), "XR-S01")
    ok = scan(client, sender, "SF00000031", NOON - dt.timedelta(hours=3))
    status("check_out", NOON - dt.timedelta(hours=2), "XR-S01")
    lonely = scan(client, sender, "SF00000032", NOON - dt.timedelta(hours=1))
    status("power_off", NOON)
    dark = scan(client, sender, "SF00000033", NOON + dt.timedelta(hours=1))
    found = {f["kind"]: f for f in client.get("/api/v1/findings", headers=admin).get_json()}
    assert found["scanned_without_screener"]["detail"]["events"] == [lonely["id"], dark["id"]]
    assert found["scanned_while_powered_off"]["detail"] == {"events": [dark["id"]], "machines": ["XR-OUT-01-X1"]}
    assert ok["id"] not in found["scanned_without_screener"]["detail"]["events"]
    assert found["scanned_while_powered_off"]["records"] == 1
