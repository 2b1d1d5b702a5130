"""Audits through the API and CLI: draws, reproducibility, the workflow, duties and publication."""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from sqlalchemy import func, select

from audits.calendar import load_calendar
from audits.checklist import ROUTINE
from greenshield.audits.services import today
from models import Alert, Audit, AuditKind, OutletDay, RectificationOrder, Role, User
from tests.helpers import png_header

PNG = png_header(640, 480)
CODES = [item.code for item in ROUTINE]


@pytest.fixture
def province(make_outlet, make_user, bearer):
    """Six outlets in Hohhot, six inspectors of the province, one of Baotou, and a manager of one outlet."""
    outlets = [make_outlet(f"AU-{i:02d}", region="150100") for i in range(6)]
    inspectors = [make_user("inspector", username=f"au_insp{i}", region="150000") for i in range(6)]
    return {
        "outlets": outlets,
        "inspectors": inspectors,
        "admin": bearer(make_user("admin")),
        "insp": [bearer(u) for u in inspectors],
        "baotou": bearer(make_user("inspector", region="150200")),
        "manager": bearer(make_user("outlet_manager", outlets=["AU-00", "AU-01", "AU-02", "AU-03", "AU-04", "AU-05"])),
    }


def plan_body(**overrides):
    due = (today() + dt.timedelta(days=10)).isoformat()
    return {"region_code": "150100", "outlets": 2, "inspectors_per_audit": 2, "due_date": due, **overrides}


def test_draw_plan_and_reproduce_it(client, province):
    created = client.post("/api/v1/audit-plans", json=plan_body(seed=12345), headers=province["admin"])
    assert created.status_code == 201
    plan = created.get_json()
    assert plan["seed"] == 12345 and len(plan["audits"]) == 2
    for audit in plan["audits"]:
        assert len(audit["inspectors"]) == 2 and audit["outlet_code"].startswith("AU-")
    again = client.post("/api/v1/audit-plans", json=plan_body(seed=12345), headers=province["admin"])
    assert again.status_code == 200 and again.get_json() == plan
    verified = client.get(f"/api/v1/audit-plans/{plan['id']}/verify", headers=province["admin"]).get_json()
    assert verified["reproducible"] is True and verified["differences"] == []


def test_a_plan_without_seed_gets_one(client, province):
    plan = client.post("/api/v1/audit-plans", json=plan_body(), headers=province["insp"][0]).get_json()
    assert isinstance(plan["seed"], int) and plan["seed"] >= 0


def test_verify_draw_cli_and_tampering(client, runner, province, session):
    plan = client.post("/api/v1/audit-plans", json=plan_body(seed=9), headers=province["admin"]).get_json()
    ok = runner.invoke(args=["audits", "verify-draw", str(plan["id"])])
    assert ok.exit_code == 0 and json.loads(ok.output)["reproducible"] is True
    audit = session.get(Audit, plan["audits"][0]["id"])
    other = next(u for u in province["inspectors"] if u not in audit.inspectors)
    audit.inspectors[0] = other
    session.flush()
    bad = runner.invoke(args=["audits", "verify-draw", str(plan["id"])])
    assert bad.exit_code == 1 and json.loads(bad.output.strip().splitlines()[-1])["reproducible"] is False
    assert runner.invoke(args=["audits", "verify-draw", "999999"]).exit_code != 0


def test_plan_errors(client, province, session):
    one_day = load_calendar(session).next_working_day(today()).day.isoformat()
    too_many = client.post("/api/v1/audit-plans", json=plan_body(outlets=6, inspectors_per_audit=3, due_date=one_day),
                           headers=province["admin"])
    message = too_many.get_json()["error"]["message"]
    assert too_many.status_code == 422 and "缺少 3 个检查员工作日" in message, message
    unknown = client.post("/api/v1/audit-plans", json=plan_body(region_code="999999"), headers=province["admin"])
    assert unknown.status_code == 422
    bad = client.post("/api/v1/audit-plans", json=plan_body(outlets=0, due_date="2026-02-30"), headers=province["admin"])
    assert set(bad.get_json()["error"]["details"]) == {"outlets", "due_date"}
    out_of_scope = client.post("/api/v1/audit-plans", json=plan_body(), headers=province["baotou"])
    assert out_of_scope.status_code == 403


def test_second_plan_same_day_avoids_busy_inspectors(client, province, session, configure):
    configure(audit_daily_capacity=1)
    one_day = load_calendar(session).next_working_day(today()).day.isoformat()
    first = client.post("/api/v1/audit-plans", json=plan_body(outlets=1, seed=1, due_date=one_day),
                        headers=province["admin"]).get_json()
    second = client.post("/api/v1/audit-plans", json=plan_body(outlets=1, seed=2, due_date=one_day),
                         headers=province["admin"]).get_json()
    assert first["audits"][0]["scheduled_on"] == second["audits"][0]["scheduled_on"] == one_day
    assert not set(first["audits"][0]["inspectors"]) & set(second["audits"][0]["inspectors"])


def _work_through(client, headers, audit_id, *, failing=()):
    for item in CODES:
        response = client.put(f"/api/v1/audits/{audit_id}/checklist/{item}",
                              json={"compliant": item not in failing, "finding": "监控仅保存7天" if item in failing else None},
                              headers=headers)
        assert response.status_code == 200, response.get_json()


def _assigned(province, audit):
    index = [u.username for u in province["inspectors"]].index(audit["inspectors"][0])
    return province["insp"][index]


def test_workflow_rectify_respond_follow_up_publish(client, province, session, runner, monkeypatch):
    plan = client.post("/api/v1/audit-plans", json=plan_body(outlets=1, seed=5), headers=province["admin"]).get_json()
    audit = plan["audits"][0]
    headers = _assigned(province, audit)
    stranger = next(h for h, u in zip(province["insp"], province["inspectors"]) if u.username not in audit["inspectors"])
    assert client.put(f"/api/v1/audits/{audit['id']}/checklist/rules_posted", json={"compliant": True},
                      headers=stranger).status_code == 403
    early = client.post(f"/api/v1/audits/{audit['id']}/close", json={"result": "pass"}, headers=headers)
    assert early.status_code == 409 and "尚未给出结论" in early.get_json()["error"]["message"]
    _work_through(client, headers, audit["id"], failing=("video_coverage",))
    photo = client.post(f"/api/v1/audits/{audit['id']}/checklist/video_coverage/photos",
                        data={"photo": (io.BytesIO(PNG), "cam.png")}, headers=headers)
    assert photo.status_code == 201 and len(photo.get_json()["photos"]) == 1
    huge = client.post(f"/api/v1/audits/{audit['id']}/checklist/video_coverage/photos",
                       data={"photo": (io.BytesIO(png_header(20000, 20000)), "huge.png")}, headers=headers)
    assert huge.status_code == 413 and huge.get_json()["error"]["message"] == \
        "照片为 20000×20000 像素，最多接受 50 百万像素。请缩小图片或以较低分辨率拍摄。"
    broken = client.post(f"/api/v1/audits/{audit['id']}/checklist/video_coverage/photos",
                         data={"photo": (io.BytesIO(b"\x89PNG\r\n\x1a\n"), "cut.png")}, headers=headers)
    assert broken.status_code == 422 and "photo" in broken.get_json()["error"]["details"]
    not_image = client.post(f"/api/v1/audits/{audit['id']}/checklist/video_coverage/photos",
                            data={"photo": (io.BytesIO(b"MZ..."), "x.png")}, headers=headers)
    assert not_image.status_code == 422
    no_deadline = client.post(f"/api/v1/audits/{audit['id']}/close", json={"result": "rectify"}, headers=headers)
    assert no_deadline.status_code == 422 and "deadline" in no_deadline.get_json()["error"]["details"]
    deadline = today() + dt.timedelta(days=15)
    closed = client.post(f"/api/v1/audits/{audit['id']}/close", json={
        "result": "rectify", "deadline": deadline.isoformat(), "summary": "视频保存不足"}, headers=headers).get_json()
    assert closed["status"] == "closed" and closed["result"] == "rectify"
    assert closed["publish_by"] == load_calendar(session).add_working_days(today(), 20).day.isoformat()
    assert closed["order"]["requirements"].startswith("视频监控24小时覆盖、保存30天：监控仅保存7天")
    assert closed["order"]["notice_no"] == f"内邮责改〔{today().year}〕第{closed['order']['notice_no'].split('第')[1]}"
    assert client.put(f"/api/v1/audits/{audit['id']}/checklist/rules_posted", json={"compliant": False},
                      headers=headers).status_code == 409
    due = client.get("/api/v1/audits?publication=due", headers=province["admin"]).get_json()
    assert [a["id"] for a in due] == [audit["id"]]
    order_id = closed["order"]["id"]
    assert client.post(f"/api/v1/rectification-orders/{order_id}/response", json={"response": "已整改"},
                       headers=province["manager"]).get_json()["status"] == "answered"
    import greenshield.jobs as jobs_module
    later = deadline + dt.timedelta(days=1)
    monkeypatch.setattr(jobs_module, "china_today", lambda: later)
    jobs_module.bind(client.application)
    result = runner.invoke(args=["audits", "run-daily"])
    assert json.loads(result.output)["follow_ups"] == 1
    order = session.get(RectificationOrder, order_id)
    follow = session.get(Audit, order.follow_up_id)
    assert follow.kind is AuditKind.FOLLOW_UP and follow.due_date == deadline and follow.parent_id == audit["id"]
    published = client.post(f"/api/v1/audits/{audit['id']}/publish", headers=headers).get_json()
    assert published["published_at"]
    assert client.get("/api/v1/audits?publication=published", headers=province["admin"]).get_json()[0]["id"] == audit["id"]


def test_overdue_order_raises_an_alert_once(client, province, session, runner, monkeypatch):
    plan = client.post("/api/v1/audit-plans", json=plan_body(outlets=1, seed=8), headers=province["admin"]).get_json()
    audit = plan["audits"][0]
    headers = _assigned(province, audit)
    _work_through(client, headers, audit["id"], failing=("xray_full",))
    deadline = today() + dt.timedelta(days=3)
    client.post(f"/api/v1/audits/{audit['id']}/close", json={"result": "rectify", "deadline": deadline.isoformat()},
                headers=headers)
    import greenshield.jobs as jobs_module
    monkeypatch.setattr(jobs_module, "china_today", lambda: deadline + dt.timedelta(days=2))
    jobs_module.bind(client.application)
    first = json.loads(runner.invoke(args=["audits", "run-daily"]).output)
    assert first["overdue"] == 1
    count = session.scalar(select(func.count()).select_from(Alert).where(Alert.metric == "rectification"))
    assert count == 1


def test_targeted_audit_after_consecutive_days_below_threshold(client, province, session, runner, monkeypatch):
    outlet = province["outlets"][3]
    base = today()
    for back in (1, 2, 3):
        session.add(OutletDay(outlet_id=outlet.id, day=base - dt.timedelta(days=back), parcels=1000, real_name_ok=990,
                              real_name_adjusted_ok=990, inspected_ok=1000, xray_ok=1000, real_name_rate=0.99))
    session.flush()
    import greenshield.jobs as jobs_module
    jobs_module.bind(client.application)
    result = json.loads(runner.invoke(args=["audits", "run-daily"]).output)
    assert result["targeted"] == 1
    audit = session.scalar(select(Audit).where(Audit.outlet_id == outlet.id))
    assert audit.kind is AuditKind.TARGETED and len(audit.inspectors) == 2
    again = runner.invoke(args=["audits", "run-daily"])
    assert json.loads(again.output) == {}  # the day's duties are claimed once


def test_schedules_validate_cron_and_can_be_paused(client, province):
    bad = client.post("/api/v1/audit-schedules", json={"cron": "every monday", "region_code": "150100", "outlets": 1},
                      headers=province["admin"])
    assert bad.status_code == 422 and "cron" in bad.get_json()["error"]["details"]
    made = client.post("/api/v1/audit-schedules", json={"cron": "0 8 1 * *", "region_code": "150100", "outlets": 1},
                       headers=province["admin"]).get_json()
    paused = client.patch(f"/api/v1/audit-schedules/{made['id']}", json={"active": False}, headers=province["admin"])
    assert paused.get_json()["active"] is False


def test_manager_sees_own_orders_only(client, province, make_outlet, make_user, bearer):
    make_outlet("AU-OTHER", region="150100")
    other_manager = bearer(make_user("outlet_manager", outlets=["AU-OTHER"]))
    plan = client.post("/api/v1/audit-plans", json=plan_body(outlets=1, seed=3), headers=province["admin"]).get_json()
    audit = plan["audits"][0]
    headers = _assigned(province, audit)
    _work_through(client, headers, audit["id"], failing=("inspection",))
    order = client.post(f"/api/v1/audits/{audit['id']}/close", json={
        "result": "rectify", "deadline": (today() + dt.timedelta(days=5)).isoformat()}, headers=headers).get_json()["order"]
    assert client.get("/api/v1/rectification-orders", headers=other_manager).get_json() == []
    assert client.post(f"/api/v1/rectification-orders/{order['id']}/response", json={"response": "x"},
                       headers=other_manager).status_code == 404


def test_pages_draw_fill_close_respond_publish(client, province, login, session):
    inspector = province["inspectors"][0]
    login(client, inspector)
    form = client.get("/audits/plan")
    assert form.status_code == 200 and "seed" in form.get_data(as_text=True)
    bad = client.post("/audits/plan", data={"region_code": "150100", "outlets": "99", "due_date": "2026-12-31"})
    assert bad.status_code == 422
    drawn = client.post("/audits/plan", data={"region_code": "150100", "outlets": "1", "inspectors_per_audit": "2",
                                              "due_date": (today() + dt.timedelta(days=7)).isoformat(), "seed": "77"})
    assert drawn.status_code == 302
    page = client.get(drawn.headers["Location"]).get_data(as_text=True)
    assert ">77<" in page and 'id="reproducible" class="status-accepted"' in page
    audit = session.scalar(select(Audit).order_by(Audit.id.desc()))
    worker = audit.inspectors[0]
    client.post("/logout")
    login(client, worker)
    answers = {f"{code}-compliant": "1" for code in CODES}
    answers["real_name_records-compliant"] = "0"
    answers["real_name_records-finding"] = "运单缺少寄件人证件号"
    saved = client.post(f"/audits/{audit.id}", data={**answers, "action": "save"})
    assert saved.status_code == 302
    refused = client.post(f"/audits/{audit.id}", data={"action": "close", "result": "rectify"})
    assert refused.status_code == 422
    closed = client.post(f"/audits/{audit.id}", data={"action": "close", "result": "rectify", "summary": "实名不全",
                                                      "deadline": (today() + dt.timedelta(days=10)).isoformat()})
    assert closed.status_code == 302
    assert "publish" in client.get(f"/audits/{audit.id}").get_data(as_text=True)
    client.post("/logout")
    manager = session.scalar(select(User).where(User.role == Role.OUTLET_MANAGER))
    login(client, manager)
    order = session.scalar(select(RectificationOrder).where(RectificationOrder.audit_id == audit.id))
    assert order.notice_no in client.get("/orders").get_data(as_text=True)
    assert "运单缺少寄件人证件号" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert client.post(f"/orders/{order.id}", data={"action": "respond", "response": "已补录证件信息"}).status_code == 302
    session.refresh(order)
    assert order.response == "已补录证件信息"
    client.post("/logout")
    login(client, worker)
    assert client.post(f"/audits/{audit.id}", data={"action": "publish"}).status_code == 302
    client.post("/logout")
    public = client.get("/public/audits").get_data(as_text=True)
    assert audit.outlet.code in public and "实名收寄记录" in public
    assert worker.username not in public and "运单缺少寄件人证件号" not in public
