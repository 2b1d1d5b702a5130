"""Verifying the three systems (issue 15): declared X-ray screening against what the networked machines saw,
designated screening sites, and the findings the machines' own reports raise."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import select

from greenshield.compliance.verification import Window, days_closing, declared_not_scanned
from models import Finding, Notification, ReviewStatus, Staff, StaffRole, XrayEvent, XrayMachine, XrayReview
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


def test_scans_in_the_window_verify_declarations_whichever_arrives_first(client, session, settings, admin, site,
                                                                         sender):
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
    from audits.plans import risk_factors

    factors = risk_factors(session, [outlet], DAY, settings.thresholds)[outlet.id]
    assert factors.xray_unverified == pytest.approx(1 - 2 / 4)  # of the four declared, two were seen


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
    found = client.get("/api/v1/findings?kind=declared_not_scanned", headers=admin).get_json()
    assert [(f["records"], f["detail"]["waybills"]) for f in found] == [(1, ["SF00000022"])]
    window = Window()
    assert not window.closed_for_day(DAY, NOON + dt.timedelta(hours=40))
    assert window.closed_for_day(DAY, dt.datetime.combine(DAY + dt.timedelta(days=4), dt.time(), CHINA))
    declared_not_scanned(session, outlet.id, DAY, 2, 1, window, now=NOON + dt.timedelta(hours=40))  # still open
    assert session.scalar(select(Finding).where(Finding.kind == "declared_not_scanned")) is None
    # 72 h 15 min after noon: the 12:00 item's window has closed, the 12:30 item's has not
    declared_not_scanned(session, outlet.id, DAY, 2, 0, window, now=NOON + dt.timedelta(hours=72, minutes=15))
    session.flush()
    partial = session.scalar(select(Finding).where(Finding.kind == "declared_not_scanned"))
    assert partial is None  # SF00000021 was scanned, and SF00000022 still has a quarter of an hour


def test_each_record_is_listed_when_its_own_window_closes(session, client, admin, site):
    outlet, _, _ = site
    upload_rows(client, admin, outlet.code, [log_row("SF00000041", at="12:00:00"),
                                              log_row("SF00000042", at="12:30:00")])
    window = Window()
    declared_not_scanned(session, outlet.id, DAY, 2, 0, window, now=NOON + dt.timedelta(hours=72, minutes=15))
    session.flush()
    found = session.scalar(select(Finding).where(Finding.kind == "declared_not_scanned"))
    assert (found.records, found.detail["waybills"], found.detail["window_closed"]) == (1, ["SF00000041"], False)
    declared_not_scanned(session, outlet.id, DAY, 2, 0, window, now=NOON + dt.timedelta(hours=72, minutes=45))
    session.flush()
    assert (found.records, found.detail["waybills"]) == (2, ["SF00000041", "SF00000042"])
    assert (outlet.id, DAY) in days_closing(session, window, NOON + dt.timedelta(hours=72, minutes=15))
    assert (outlet.id, DAY) in days_closing(session, window, NOON + dt.timedelta(hours=100))
    assert (outlet.id, DAY) not in days_closing(session, window, NOON + dt.timedelta(days=5))


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


# --- machine coverage -------------------------------------------------------------------------------------------

def test_machine_coverage_counts_own_machines_and_screening_sites(client, session, admin, site, make_outlet, login,
                                                                   make_user, bearer):
    _, centre, bare = site
    far = make_outlet("XR-OUT-09", region="150200", enterprise="EMS")
    off = make_outlet("XR-OUT-10", region="150200", enterprise="EMS")
    session.add(XrayMachine(code="XR-OUT-10-X1", outlet=off, model="CX1", installed_on=dt.date(2024, 1, 1),
                            active=False))  # a machine out of service covers nothing
    session.flush()
    body = client.get("/api/v1/compliance/machine-coverage", headers=admin).get_json()
    assert (body["sites_total"], body["sites_covered"]) == (5, 2)
    assert body["coverage"] == pytest.approx(2 / 5)
    assert [u["code"] for u in body["uncovered"]] == [bare.code, far.code, off.code]
    client.patch(f"/api/v1/outlets/{bare.code}", json={"screening_site_code": centre.code}, headers=admin)
    body = client.get("/api/v1/compliance/machine-coverage", headers=admin).get_json()
    assert (body["sites_total"], body["sites_covered"]) == (5, 3)
    assert {g["key"]: (g["sites_covered"], g["sites_total"]) for g in body["by_region"]} == {
        "150100": (3, 3), "150200": (0, 2)}
    assert {g["key"]: g["coverage"] for g in body["by_enterprise"]} == {"EMS": 0.0, "SF": 1.0}
    baotou = client.get("/api/v1/compliance/machine-coverage?region=150200", headers=admin).get_json()
    assert (baotou["sites_total"], baotou["sites_covered"], baotou["coverage"]) == (2, 0, 0.0)
    inspector = bearer(make_user("inspector", region="150100"))
    mine = client.get("/api/v1/compliance/machine-coverage", headers=inspector).get_json()
    assert (mine["sites_total"], mine["sites_covered"]) == (3, 3)
    login(client, make_user("admin"))
    page = client.get("/dashboard/").get_data(as_text=True)
    assert 'id="coverage"' in page and "XR-OUT-09" in page.split('id="uncovered"')[1]


# --- flags that nobody reviews ----------------------------------------------------------------------------------

def _flagged(session, machine, waybill: str, created: dt.datetime, **values) -> XrayEvent:
    event = XrayEvent(machine=machine, outlet_id=machine.outlet_id, waybill_no=waybill, scanned_at=created,
                      operator_id="OP-1", image_sha256="ab" * 32, image_format="png", width=4, height=4, score=0.9,
                      flagged=True, model_version="test-1", status=ReviewStatus.PENDING, created_at=created, **values)
    session.add(event)
    session.flush()
    return event


def test_flags_waiting_past_the_sla_open_an_alert_for_the_outlets_inspectors(app, client, session, admin, site,
                                                                             make_user, bearer):
    from greenshield.context import settings_of
    from greenshield.xray.services import open_overdue_reviews

    outlet, _, _ = site
    machine = session.scalar(select(XrayMachine).where(XrayMachine.code == "XR-OUT-01-X1"))
    inspector = make_user("inspector", region="150100")
    make_user("inspector", region="150200")  # of another city: not told
    province = make_user("inspector", region="150000")
    reviewer = bearer(province)
    now = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    old = [_flagged(session, machine, f"SF0000010{n}", now - dt.timedelta(hours=5, minutes=n)) for n in range(2)]
    _flagged(session, machine, "SF00000109", now - dt.timedelta(hours=3))  # within the 4 hours
    settings = settings_of(app)
    [alert] = open_overdue_reviews(session, settings, now)
    assert (alert.outlet_id, alert.metric, alert.rate, alert.threshold) == (outlet.id, "xray_review_overdue", 2, 4)
    shown = client.get("/api/v1/alerts?status=open&metric=xray_review_overdue", headers=admin).get_json()
    assert [(a["outlet_code"], a["rate"]) for a in shown] == [(outlet.code, 2)]
    notes = session.scalars(select(Notification).where(Notification.kind == "xray_review_overdue")).all()
    assert sorted(n.user_id for n in notes) == sorted([inspector.id, province.id])  # not the other city's
    assert open_overdue_reviews(session, settings, now + dt.timedelta(minutes=5)) == []  # no second notice
    for event in old:
        response = client.post(f"/api/v1/xray-events/{event.id}/review", json={"decision": "cleared"}, headers=reviewer)
        assert response.status_code in (200, 201), response.get_json()
    open_overdue_reviews(session, settings, now + dt.timedelta(minutes=10))
    session.refresh(alert)
    assert alert.status.value == "closed"
    assert open_overdue_reviews(session, settings.replace(xray_review_sla_hours=1), now)[0].rate == 1


def test_reviewer_statistics_give_review_times_per_reviewer_and_machine(client, session, site, make_user, bearer):
    machine = session.scalar(select(XrayMachine).where(XrayMachine.code == "XR-OUT-01-X1"))
    other = session.scalar(select(XrayMachine).where(XrayMachine.code == "XR-SC-01-X1"))
    person = make_user("inspector", region="150000")
    flagged_at = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
    for minutes, where in ((10, machine), (30, machine), (300, other)):
        event = _flagged(session, where, f"SF00000{minutes:03d}", flagged_at)
        session.add(XrayReview(event_id=event.id, reviewer_id=person.id, decision="cleared",
                               decided_at=flagged_at + dt.timedelta(minutes=minutes)))
        event.status = ReviewStatus.REVIEWED
    session.flush()
    [stats] = client.get("/api/v1/xray-reviewers/stats", headers=bearer(person)).get_json()
    assert (stats["reviews"], stats["mean_review_minutes"], stats["median_review_minutes"],
            stats["reviews_after_sla"]) == (3, 113.3, 30, 1)
    assert [(m["machine_code"], m["reviews"], m["mean_review_minutes"]) for m in stats["machines"]] == [
        ("XR-OUT-01-X1", 2, 20), ("XR-SC-01-X1", 1, 300)]


# --- seizures followed through ----------------------------------------------------------------------------------

def test_seized_and_referred_events_become_clues_handed_over_and_closed(client, session, site, make_user, bearer,
                                                                       login):
    machine = session.scalar(select(XrayMachine).where(XrayMachine.code == "XR-OUT-01-X1"))
    other = session.scalar(select(XrayMachine).where(XrayMachine.code == "XR-SC-01-X1"))
    inspector = make_user("inspector", region="150000")
    headers = bearer(inspector)
    at = dt.datetime(2026, 10, 30, 2, 0, tzinfo=dt.UTC)
    decisions = [(machine, "seized", 3), (machine, "seized", 3), (other, "seized", 12), (machine, "referred", None),
                 (machine, "cleared", None)]
    events = [_flagged(session, where, f"SF0000200{n}", at + dt.timedelta(days=n)) for n, (where, *_) in
              enumerate(decisions)]
    tip = _flagged(session, machine, "SF00002099", at, is_tip=True, tip_threat=True)
    for event, (_, decision, category) in zip([*events, tip], [*decisions, (None, "seized", 1)]):
        response = client.post(f"/api/v1/xray-events/{event.id}/review", headers=headers,
                               json={"decision": decision, **({"category": category} if category else {})})
        assert response.status_code in (200, 201), response.get_json()
    clues = client.get("/api/v1/clues", headers=headers).get_json()
    assert sorted((c["waybill_no"], c["decision"], c["category"], c["status"]) for c in clues) == [
        ("SF00002000", "seized", 3, "open"), ("SF00002001", "seized", 3, "open"),
        ("SF00002002", "seized", 12, "open"), ("SF00002003", "referred", None, "open")]  # no clue of a test image
    clue = next(c for c in clues if c["waybill_no"] == "SF00002002")
    missing = client.post(f"/api/v1/clues/{clue['id']}/hand-over", json={"agency": "呼和浩特市公安局",
                                                                          "agency_case_no": " "}, headers=headers)
    assert missing.status_code == 422 and "agency_case_no" in missing.get_json()["error"]["details"]
    handed = client.post(f"/api/v1/clues/{clue['id']}/hand-over", headers=headers,
                         json={"agency": "呼和浩特市公安局", "agency_case_no": "呼公刑〔2026〕88号"}).get_json()
    assert (handed["status"], handed["agency"], handed["agency_case_no"]) == ("handed_over", "呼和浩特市公安局",
                                                                              "呼公刑〔2026〕88号")
    again = client.post(f"/api/v1/clues/{clue['id']}/hand-over", headers=headers,
                        json={"agency": "海关", "agency_case_no": "1"})
    assert again.status_code == 409
    closed = client.post(f"/api/v1/clues/{clue['id']}/close", json={"outcome": "已立案侦查"}, headers=headers).get_json()
    assert (closed["status"], closed["outcome"]) == ("closed", "已立案侦查")
    assert [c["waybill_no"] for c in client.get("/api/v1/clues?status=closed", headers=headers).get_json()] == [
        "SF00002002"]
    manager = bearer(make_user("outlet_manager", outlets=["XR-OUT-01"]))
    assert client.get("/api/v1/clues", headers=manager).status_code == 403
    far = bearer(make_user("inspector", region="150200"))
    assert client.get("/api/v1/clues", headers=far).get_json() == []
    assert client.get(f"/api/v1/clues/{clue['id']}", headers=far).status_code == 404

    stats = client.get("/api/v1/xray-seizures/stats?from=2026-10-01&to=2026-11-30", headers=headers).get_json()
    assert stats["total"] == 3 and len(stats["by_category"]) == 19
    assert {c["code"]: c["count"] for c in stats["by_category"] if c["count"]} == {3: 2, 12: 1}
    assert stats["by_month"] == [{"month": "2026-10", "count": 2}, {"month": "2026-11", "count": 1}]
    assert stats["by_region"] == [{"key": "150100", "name": "呼和浩特市", "count": 3}]
    assert [(e["key"], e["count"]) for e in stats["by_enterprise"]] == [("SF", 3)]
    october = client.get("/api/v1/xray-seizures/stats?from=2026-10-01&to=2026-10-31&region=150200",
                         headers=headers).get_json()
    assert october["total"] == 0

    login(client, inspector)
    page = client.get("/xray/clues", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "呼公刑〔2026〕88号" in page and "已立案侦查" in page and page.count('class="inline hand-over"') == 3
    chart = client.get("/xray/seizures?from=2026-10-01&to=2026-11-30").get_data(as_text=True)
    assert chart.count('class="bar"') == 19 and "爆炸物品" in chart


def test_the_scheduled_jobs_list_closing_days_and_overdue_flags(app, client, session, admin, site):
    from greenshield import jobs
    from greenshield.compliance.jobs import verify_screening
    from greenshield.xray.jobs import review_overdue
    from models import Alert, utcnow

    outlet, _, _ = site
    machine = session.scalar(select(XrayMachine).where(XrayMachine.code == "XR-OUT-01-X1"))
    closing = (utcnow() - dt.timedelta(hours=73)).astimezone(CHINA)  # its window closed an hour ago
    upload_rows(client, admin, outlet.code, [log_row("SF00000051", day=closing.date(),
                                                     at=closing.strftime("%H:%M:%S"))])
    for finding in session.scalars(select(Finding).where(Finding.kind == "declared_not_scanned")):
        session.delete(finding)  # as if the log had come before its window closed
    _flagged(session, machine, "SF00000052", utcnow() - dt.timedelta(hours=5))
    session.flush()
    jobs.bind(app)
    try:
        assert verify_screening() >= 1
        assert verify_screening() == 0  # this hour's firing is claimed
        assert review_overdue() == 1
    finally:
        jobs.bind(None)
    found = session.scalar(select(Finding).where(Finding.kind == "declared_not_scanned"))
    assert found.detail["waybills"] == ["SF00000051"]
    assert session.scalar(select(Alert).where(Alert.metric == "xray_review_overdue")).status.value == "open"


def test_the_outlet_form_names_and_clears_the_screening_site(client, session, site, make_user, login):
    _, centre, bare = site
    login(client, make_user("admin"))
    assert 'name="screening_site_code"' not in client.get("/registry/outlets/new").get_data(as_text=True)
    form = client.get(f"/registry/outlets/{bare.code}/edit").get_data(as_text=True)
    assert 'name="screening_site_code"' in form and "代检场地" in form
    assert client.post(f"/registry/outlets/{bare.code}/edit",
                       data={"name": bare.name, "screening_site_code": centre.code}).status_code == 302
    session.refresh(bare)
    assert bare.screening_site is centre
    own = client.post(f"/registry/outlets/{bare.code}/edit", data={"name": bare.name,
                                                                    "screening_site_code": bare.code})
    assert own.status_code == 422 and "网点不能指定自己为代检场地" in own.get_data(as_text=True)
    client.post(f"/registry/outlets/{bare.code}/edit", data={"name": bare.name, "screening_site_code": ""})
    session.refresh(bare)
    assert bare.screening_site is None


def test_an_import_of_scans_recounts_the_days_once(client, session, settings, admin, site, monkeypatch):
    from greenshield.compliance import services as compliance
    from greenshield.xray import services as xray

    outlet, _, _ = site
    upload_rows(client, admin, outlet.code, [log_row(f"SF0000006{n}", at="12:00:00") for n in range(3)])
    lines = "".join(f"XR-OUT-01-X1,SF0000006{n},{(NOON + dt.timedelta(hours=2)).isoformat()},OP-1,s.png\n"
                    for n in range(2))
    files = {"manifest.csv": ("machine_code,waybill_no,scanned_at,operator_id,file\n" + lines).encode(),
             "s.png": IMAGE}
    recounts = []
    real = compliance.refresh_outlet_days
    monkeypatch.setattr(compliance, "refresh_outlet_days",
                        lambda *args, **kwargs: recounts.append(set(args[1])) or real(*args, **kwargs))
    assert xray.import_events(session, settings, files.__getitem__)["imported"] == 2
    assert recounts == [{(outlet.id, DAY)}]
    assert day_row(client, admin, outlet.code)["xray_rate_verified"] == pytest.approx(2 / 3)
