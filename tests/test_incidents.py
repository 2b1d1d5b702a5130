"""Safety incidents and emergency management (issue 17): report, grade, follow-ups and closing through the API with
alerts to the right people; reporting deadlines; plans and drills; the daily safety report."""
from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import threading

import pytest
from sqlalchemy import select

from audits import incidents
from audits.credit import CreditFacts, score_credit
from models import Incident, IncidentGrade as G, IncidentType as T, Notification, OutletDay
from models.base import CHINA
from tests.helpers import png_header


@pytest.fixture
def province(make_outlet, make_user, bearer):
    """Two outlets in Baotou (150200) and one in Hohhot (150100); inspectors of Baotou, of Hohhot and of the
    province; an admin; the Baotou outlets' manager."""
    bt1 = make_outlet("INC-BT-01", region="150200", enterprise="ZTO")
    bt2 = make_outlet("INC-BT-02", region="150200", enterprise="YD")
    hh = make_outlet("INC-HH-01", region="150100", enterprise="ZTO")
    users = {
        "bt": make_user("inspector", username="inc_bt", region="150200"),
        "hh": make_user("inspector", username="inc_hh", region="150100"),
        "prov": make_user("inspector", username="inc_prov", region="150000"),
        "admin": make_user("admin", username="inc_admin"),
        "manager": make_user("outlet_manager", username="inc_mgr", outlets=["INC-BT-01"]),
        "manager2": make_user("outlet_manager", username="inc_mgr2", outlets=["INC-BT-02"]),
    }
    return {"outlets": (bt1, bt2, hh), "users": users, "h": {k: bearer(u) for k, u in users.items()}}


def notified(session, user, kind=None) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return list(session.scalars(stmt))


def body(**changes) -> dict:
    occurred = (dt.datetime.now(CHINA) - dt.timedelta(minutes=30)).replace(microsecond=0)
    return {"outlet_code": "INC-BT-01", "occurred_at": occurred.isoformat(), "type": "leak",
            "description": "分拣线上一件快件液体泄漏，气味刺鼻", "casualties": 0, "records_affected": 1,
            "measures": "隔离现场，通知消防", **changes}


# --- the grading rule ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, casualties, records, grade", [
    (T.LEAK, 0, 0, G.IV),
    (T.FIRE, 3, 0, G.III),
    (T.FIRE, 10, 0, G.II),
    (T.EXPLOSION, 30, 0, G.I),
    (T.EXPLOSION, 0, 0, G.III),            # an explosion is grade III at least
    (T.VIOLENCE_THREAT, 1, 0, G.III),
    (T.DATA_LEAK, 0, 99_999, G.IV),
    (T.DATA_LEAK, 0, 100_000, G.III),
    (T.DATA_LEAK, 0, 1_000_000, G.II),
    (T.DATA_LEAK, 0, 10_000_000, G.I),
    (T.BACKLOG, 0, 1_000_000, G.II),
    (T.BACKLOG, 0, 5_000_000, G.I),
    (T.PROHIBITED_ITEM, 0, 10_000, G.III),  # other kinds: 10,000 parcels or records make grade III
    (T.DATA_LEAK, 12, 100, G.II),           # the gravest of casualties and records
])
def test_suggested_grade_follows_the_documented_rule(kind, casualties, records, grade):
    assert incidents.suggest_grade(kind, casualties, records) is grade


def test_late_first_reports_count_against_credit():
    clean = score_credit(CreditFacts())
    late = score_credit(CreditFacts(incidents_late=2))
    assert clean.score == 100.0 and late.score == 90.0 and late.deductions == {"late_incident_reports": 10.0}
    assert score_credit(CreditFacts(incidents_late=9)).deductions["late_incident_reports"] == 15.0


# --- report to closing through the API -------------------------------------------------------------------------


@pytest.fixture
def webhook(configure):
    """A webhook receiver on a free local port; ``received`` holds the JSON bodies posted to it."""
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the handler's protocol
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    configure(incident_webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
    yield received
    server.shutdown()
    server.server_close()


def test_report_confirm_update_close_with_alerts_to_the_right_people(client, session, province, webhook):
    h, users = province["h"], province["users"]
    created = client.post("/api/v1/incidents", json=body(), headers=h["manager"])
    assert created.status_code == 201, created.get_json()
    incident = created.get_json()
    assert incident["grade_suggested"] == "IV" and incident["status"] == "reported" and incident["grade"] is None
    assert incident["late"] is False and incident["escalated"] is False
    # the region's inspectors at once: Baotou's and the province's, not Hohhot's; admins only for grades I-II
    assert [n.data["incident_id"] for n in notified(session, users["bt"], "incident_reported")] == [incident["id"]]
    assert len(notified(session, users["prov"], "incident_reported")) == 1
    assert notified(session, users["hh"]) == [] and notified(session, users["admin"]) == []
    assert [w["kind"] for w in webhook] == ["incident_reported"]
    assert webhook[0]["outlet_code"] == "INC-BT-01" and "description" not in webhook[0]
    assert "报告突发事件：邮件快件泄漏" in webhook[0]["text"]

    # the manager may not confirm the grade; the inspector does
    assert client.post(f"/api/v1/incidents/{incident['id']}/grade", json={"grade": "III"},
                       headers=h["manager"]).status_code == 403
    graded = client.post(f"/api/v1/incidents/{incident['id']}/grade", json={"grade": "III"}, headers=h["bt"])
    assert graded.status_code == 200 and graded.get_json()["grade"] == "III"
    assert graded.get_json()["status"] == "confirmed"
    assert [n.kind for n in notified(session, users["manager"])] == ["incident_graded"]

    # follow-up reports append, by both
    for who, text in (("manager", "泄漏物已清理，无人员受伤"), ("bt", "已约谈网点负责人")):
        answer = client.post(f"/api/v1/incidents/{incident['id']}/updates", json={"text": text}, headers=h[who])
        assert answer.status_code == 201, answer.get_json()
    assert [u["text"] for u in answer.get_json()["updates"]] == ["泄漏物已清理，无人员受伤", "已约谈网点负责人"]

    # attachments: a photo kept and served back; other files refused
    photo = png_header(64, 48)
    sent = client.post(f"/api/v1/incidents/{incident['id']}/attachments", headers=h["manager"],
                       data={"file": (io.BytesIO(photo), "现场.png")}, content_type="multipart/form-data")
    assert sent.status_code == 201 and sent.get_json()["content_type"] == "image/png"
    got = client.get(f"/api/v1/incidents/{incident['id']}/attachments/{sent.get_json()['id']}", headers=h["bt"])
    assert got.status_code == 200 and got.data == photo
    refused = client.post(f"/api/v1/incidents/{incident['id']}/attachments", headers=h["manager"],
                          data={"file": (io.BytesIO(b"MZ\x90\x00"), "a.exe")}, content_type="multipart/form-data")
    assert refused.status_code == 422 and refused.get_json()["error"]["details"]

    pdf = client.get(f"/api/v1/incidents/{incident['id']}/report.pdf", headers=h["manager"])
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and b"STSong-Light" in pdf.data
    assert client.get(f"/api/v1/incidents/{incident['id']}/report.pdf", headers=h["hh"]).status_code == 404
    closed = client.post(f"/api/v1/incidents/{incident['id']}/close", json={"summary": "处置完毕，已整改"},
                         headers=h["bt"])
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert closed.get_json()["summary"] == "处置完毕，已整改"
    assert [n.kind for n in notified(session, users["manager"])] == ["incident_graded", "incident_closed"]
    again = client.post(f"/api/v1/incidents/{incident['id']}/updates", json={"text": "再补充"}, headers=h["manager"])
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    assert "关闭" in again.get_json()["error"]["message"] or "结" in again.get_json()["error"]["message"]


def test_grades_one_and_two_escalate_to_the_province_once(client, session, province, webhook):
    h, users = province["h"], province["users"]
    created = client.post("/api/v1/incidents", headers=h["manager"],
                          json=body(type="data_leak", records_affected=2_000_000, casualties=0))
    incident = created.get_json()
    assert incident["grade_suggested"] == "II" and incident["escalated"] is True
    assert len(notified(session, users["prov"], "incident_escalated")) == 1
    assert len(notified(session, users["admin"], "incident_escalated")) == 1
    assert notified(session, users["bt"], "incident_escalated") == []  # a league's inspector is not the province
    assert [w["kind"] for w in webhook] == ["incident_reported", "incident_escalated"]
    client.post(f"/api/v1/incidents/{incident['id']}/grade", json={"grade": "I"}, headers=h["prov"])
    assert len(notified(session, users["admin"], "incident_escalated")) == 1  # told once

    # a grade IV report confirmed as II escalates then
    other = client.post("/api/v1/incidents", json=body(), headers=h["manager"]).get_json()
    assert other["escalated"] is False
    confirmed = client.post(f"/api/v1/incidents/{other['id']}/grade", json={"grade": "II"}, headers=h["bt"])
    assert confirmed.get_json()["escalated"] is True
    assert len(notified(session, users["admin"], "incident_escalated")) == 2
    assert len(notified(session, users["prov"], "incident_escalated")) == 2
    # a province inspector who confirms grade II is not told of their own escalation; the others are
    third = client.post("/api/v1/incidents", json=body(), headers=h["manager"]).get_json()
    client.post(f"/api/v1/incidents/{third['id']}/grade", json={"grade": "II"}, headers=h["prov"])
    assert len(notified(session, users["prov"], "incident_escalated")) == 2
    assert len(notified(session, users["admin"], "incident_escalated")) == 3


def test_scope_managers_see_their_outlets_inspectors_their_region(client, province):
    h = province["h"]
    mine = client.post("/api/v1/incidents", json=body(), headers=h["manager"]).get_json()
    theirs = client.post("/api/v1/incidents", json=body(outlet_code="INC-BT-02"), headers=h["manager2"]).get_json()
    hohhot = client.post("/api/v1/incidents", json=body(outlet_code="INC-HH-01"), headers=h["hh"]).get_json()
    ids = {i["id"] for i in client.get("/api/v1/incidents", headers=h["manager"]).get_json()}
    assert mine["id"] in ids and theirs["id"] not in ids and hohhot["id"] not in ids
    assert client.get(f"/api/v1/incidents/{theirs['id']}", headers=h["manager"]).status_code == 404
    assert client.post(f"/api/v1/incidents/{theirs['id']}/updates", json={"text": "x"},
                       headers=h["manager"]).status_code == 404
    outside = client.post("/api/v1/incidents", json=body(outlet_code="INC-BT-02"), headers=h["manager"])
    assert outside.status_code == 403
    bt = {i["id"] for i in client.get("/api/v1/incidents", headers=h["bt"]).get_json()}
    assert {mine["id"], theirs["id"]} <= bt and hohhot["id"] not in bt
    assert client.post(f"/api/v1/incidents/{hohhot['id']}/grade", json={"grade": "IV"},
                       headers=h["bt"]).status_code == 404
    by_region = client.get("/api/v1/incidents?region=150100", headers=h["prov"]).get_json()
    assert [i["id"] for i in by_region] == [hohhot["id"]]
    assert client.get("/api/v1/incidents?region=150100", headers=h["bt"]).status_code == 403
    client.post(f"/api/v1/incidents/{mine['id']}/grade", json={"grade": "IV"}, headers=h["bt"])
    confirmed = client.get("/api/v1/incidents?status=confirmed", headers=h["prov"]).get_json()
    assert [i["id"] for i in confirmed] == [mine["id"]]


def test_validation_messages_are_chinese_and_beside_fields(client, province):
    h = province["h"]
    answer = client.post("/api/v1/incidents", json=body(type="meteor", casualties=-1), headers=h["manager"])
    assert answer.status_code == 422
    details = answer.get_json()["error"]["details"]
    assert set(details) >= {"type", "casualties"}
    future = (dt.datetime.now(CHINA) + dt.timedelta(hours=2)).isoformat()
    answer = client.post("/api/v1/incidents", json=body(occurred_at=future), headers=h["manager"])
    assert answer.status_code == 422 and "未来" in answer.get_json()["error"]["message"]
    unconfirmed = client.post("/api/v1/incidents", json=body(), headers=h["manager"]).get_json()
    refused = client.post(f"/api/v1/incidents/{unconfirmed['id']}/close", json={"summary": "完"}, headers=h["bt"])
    assert refused.status_code == 409 and "等级" in refused.get_json()["error"]["message"]


# --- reporting deadlines ------------------------------------------------------------------------------------


def test_first_report_deadlines_per_grade_mark_late_reports(client, session, province, configure):
    configure(incident_report_hours_iv=6, incident_report_hours_ii=2)
    h = province["h"]
    occurred = dt.datetime.now(CHINA) - dt.timedelta(hours=3)
    on_time = client.post("/api/v1/incidents", json=body(occurred_at=occurred.isoformat()),
                          headers=h["manager"]).get_json()
    assert on_time["late"] is False
    due = dt.datetime.fromisoformat(on_time["report_due_at"])
    assert abs((due - occurred).total_seconds() - 6 * 3600) < 2
    # confirmed as grade II, whose first report was due within 2 hours: late after all
    graded = client.post(f"/api/v1/incidents/{on_time['id']}/grade", json={"grade": "II"}, headers=h["bt"]).get_json()
    assert graded["late"] is True
    naive = (dt.datetime.now(CHINA) - dt.timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M")
    late = client.post("/api/v1/incidents", json=body(occurred_at=naive), headers=h["manager"]).get_json()
    assert late["late"] is True  # a time without offset is China time: 7 hours ago, over the 6 allowed
    readiness = {r["enterprise_code"]: r for r in client.get("/api/v1/emergency-readiness",
                                                             headers=h["bt"]).get_json()}
    assert readiness["ZTO"]["late_reports"] == 2 and readiness["YD"]["late_reports"] == 0
    credit = client.get("/api/v1/credit/outlets/INC-BT-01", headers=h["bt"])
    assert credit.status_code == 200 and credit.get_json()["deductions"]["late_incident_reports"] == 10.0


# --- plans and drills -----------------------------------------------------------------------------------------


def test_plans_and_drills_and_who_lacks_them(client, province):
    h = province["h"]
    today = dt.datetime.now(CHINA).date()
    plan = client.post("/api/v1/emergency-plans", headers=h["manager"], json={
        "enterprise_code": "ZTO", "title": "中通快递包头分公司突发事件应急预案", "version": "2026版",
        "valid_until": (today + dt.timedelta(days=300)).isoformat()})
    assert plan.status_code == 201, plan.get_json()
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    stored = client.post(f"/api/v1/emergency-plans/{plan.get_json()['id']}/document", headers=h["manager"],
                         data={"file": (io.BytesIO(pdf), "预案.pdf")}, content_type="multipart/form-data")
    assert stored.status_code == 200 and stored.get_json()["has_document"] is True
    assert client.get(f"/api/v1/emergency-plans/{plan.get_json()['id']}/document", headers=h["bt"]).data == pdf
    # a manager files only for the enterprises of their outlets
    assert client.post("/api/v1/emergency-plans", headers=h["manager"], json={
        "enterprise_code": "YD", "title": "韵达预案", "version": "1",
        "valid_until": today.isoformat()}).status_code == 403
    old = client.post("/api/v1/emergency-drills", headers=h["bt"], json={
        "enterprise_code": "YD", "held_on": (today - dt.timedelta(days=400)).isoformat(),
        "scenario": "火灾疏散", "participants": 20})
    assert old.status_code == 201
    drill = client.post("/api/v1/emergency-drills", headers=h["manager"], json={
        "enterprise_code": "ZTO", "held_on": (today - dt.timedelta(days=30)).isoformat(),
        "scenario": "疑似爆炸物处置", "participants": 35, "findings": "疏散用时偏长"})
    assert drill.status_code == 201
    future = client.post("/api/v1/emergency-drills", headers=h["manager"], json={
        "enterprise_code": "ZTO", "held_on": (today + dt.timedelta(days=1)).isoformat(),
        "scenario": "x", "participants": 1})
    assert future.status_code == 422 and "held_on" in future.get_json()["error"]["details"]
    rows = client.get("/api/v1/emergency-readiness", headers=h["bt"]).get_json()
    by = {r["enterprise_code"]: r for r in rows}
    assert set(by) == {"ZTO", "YD"}  # the enterprises with outlets in Baotou
    assert by["ZTO"]["plan_missing"] is False and by["ZTO"]["drill_missing"] is False
    assert by["YD"]["plan_missing"] is True and by["YD"]["drill_missing"] is True  # its drill is 400 days old
    assert rows[0]["enterprise_code"] == "YD"  # who lacks something first
    assert client.get("/api/v1/emergency-readiness", headers=h["manager"]).status_code == 403


# --- the daily safety report ------------------------------------------------------------------------------------


def test_daily_report_counts_incidents_by_grade_and_prints(client, province, session):
    h = province["h"]
    today = dt.datetime.now(CHINA).date()
    noon = dt.datetime.combine(today, dt.time(0, 5), tzinfo=CHINA)
    client.post("/api/v1/incidents", json=body(occurred_at=noon.isoformat(), type="fire", casualties=3),
                headers=h["manager"])
    client.post("/api/v1/incidents", json=body(occurred_at=noon.isoformat()), headers=h["manager"])
    client.post("/api/v1/incidents", json=body(outlet_code="INC-HH-01", occurred_at=noon.isoformat()),
                headers=h["hh"])
    report = client.get(f"/api/v1/daily-safety-report?region=150200&date={today}", headers=h["bt"]).get_json()
    assert report["region_name"] and report["incidents_by_grade"] == {"I": 0, "II": 0, "III": 1, "IV": 1}
    assert len(report["incidents"]) == 2 and report["xray_rate_verified"] is None
    province_report = client.get(f"/api/v1/daily-safety-report?region=150000&date={today}", headers=h["prov"])
    assert sum(province_report.get_json()["incidents_by_grade"].values()) == 3
    assert client.get(f"/api/v1/daily-safety-report?region=150100&date={today}", headers=h["bt"]).status_code == 403
    pdf = client.get(f"/api/v1/daily-safety-report.pdf?region=150200&date={today}", headers=h["bt"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert b"STSong-Light" in pdf.data


def test_daily_report_carries_the_verified_screening_rate(client, province, session):
    """Declared screening beside what the machines saw: 10 parcels declared screened, 7 of them scanned."""
    bt1, bt2, _ = province["outlets"]
    yesterday = dt.datetime.now(CHINA).date() - dt.timedelta(days=1)
    session.add_all([OutletDay(outlet_id=bt1.id, day=yesterday, parcels=10, real_name_ok=10, inspected_ok=10,
                               xray_ok=10, xray_verified_ok=7),
                     OutletDay(outlet_id=bt2.id, day=yesterday, parcels=10, real_name_ok=10, inspected_ok=10,
                               xray_ok=10, xray_verified_ok=10)])
    session.commit()
    report = client.get(f"/api/v1/daily-safety-report?region=150200&date={yesterday}",
                        headers=province["h"]["bt"]).get_json()
    assert report["xray_rate"] == 1.0 and report["xray_rate_verified"] == 0.85


# --- the pages -----------------------------------------------------------------------------------------------------


def test_manager_reports_on_the_page_and_the_inspector_confirms_and_closes(app, client, session, province, login):
    users = province["users"]
    login(client, users["manager"])
    form = client.get("/incidents/new", headers={"Accept-Language": "zh-CN"})
    assert form.status_code == 200 and "报告突发事件" in form.get_data(as_text=True)
    token = form.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    bad = client.post("/incidents/new", data={"csrf_token": token, "outlet_code": "INC-BT-01", "type": "fire",
                                              "occurred_at": "2026-12-06T08:00", "description": "",
                                              "casualties": "-2"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'id="error-description"' in page and 'id="error-casualties"' in page  # beside their fields, in Chinese
    assert "不能为空" in page or "必填" in page or "缺少" in page
    occurred = (dt.datetime.now(CHINA) - dt.timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M")
    sent = client.post("/incidents/new", data={
        "csrf_token": token, "outlet_code": "INC-BT-01", "type": "fire", "occurred_at": occurred,
        "description": "分拣区电动车充电起火", "casualties": "0", "records_affected": "120", "measures": "已扑灭",
        "file": (io.BytesIO(png_header(32, 32)), "火场.png")}, content_type="multipart/form-data")
    assert sent.status_code == 302, sent.get_data(as_text=True)[-2000:]
    incident = session.scalars(select(Incident).where(Incident.description == "分拣区电动车充电起火")).one()
    assert len(incident.attachments) == 1 and incident.grade_suggested is G.IV
    shown = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "火灾" in shown and "Ⅳ级（一般）" in shown and 'id="grade-form"' not in shown  # managers do not grade

    client.get("/logout")
    login(client, users["bt"])
    notes = client.get("/notifications").get_data(as_text=True)
    assert "报告突发事件：火灾" in notes
    listed = client.get("/incidents").get_data(as_text=True)
    assert f'/incidents/{incident.id}"' in listed and "待确认等级" in listed
    page = client.get(f"/incidents/{incident.id}").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    graded = client.post(f"/incidents/{incident.id}", data={"csrf_token": token, "action": "grade", "grade": "III"})
    assert graded.status_code == 302
    closing = client.post(f"/incidents/{incident.id}", data={"csrf_token": token, "action": "close", "summary": ""})
    assert closing.status_code == 422 and 'id="error-summary"' in closing.get_data(as_text=True)
    closed = client.post(f"/incidents/{incident.id}", data={"csrf_token": token, "action": "close",
                                                           "summary": "起火原因查明，已整改"}, follow_redirects=True)
    text = closed.get_data(as_text=True)
    assert "Ⅲ级（较大）" in text and "已关闭" in text and "起火原因查明" in text and "close-form" not in text


def test_emergency_page_lists_who_lacks_plans_and_files_a_drill(client, province, login):
    login(client, province["users"]["bt"])
    page = client.get("/emergency").get_data(as_text=True)
    assert "没有有效预案" in page or "无有效" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    bad = client.post("/emergency", data={"csrf_token": token, "action": "drill", "enterprise_code": "YD",
                                          "held_on": "2099-01-01", "scenario": "火灾疏散", "participants": "12"})
    assert bad.status_code == 422 and 'id="error-drill-held_on"' in bad.get_data(as_text=True)
    held = (dt.datetime.now(CHINA).date() - dt.timedelta(days=3)).isoformat()
    ok = client.post("/emergency", data={"csrf_token": token, "action": "drill", "enterprise_code": "YD",
                                         "held_on": held, "scenario": "火灾疏散", "participants": "12"},
                     follow_redirects=True)
    assert ok.status_code == 200 and "火灾疏散" in ok.get_data(as_text=True)


def test_daily_report_page_and_morning_job(app, client, session, province, login, webhook, monkeypatch):
    from greenshield import jobs
    from greenshield.incidents.jobs import send_daily_reports

    h, users = province["h"], province["users"]
    yesterday = dt.datetime.now(CHINA).date() - dt.timedelta(days=1)
    at = dt.datetime.combine(yesterday, dt.time(15, 0), tzinfo=CHINA)
    client.post("/api/v1/incidents", json=body(occurred_at=at.isoformat(), type="explosion"), headers=h["manager"])
    webhook.clear()
    login(client, users["bt"])
    page = client.get("/daily-report").get_data(as_text=True)
    assert "安全运行日报" in page or "安全日报" in page
    assert "Ⅲ级（较大）" in page and "daily-report.pdf" in page
    pdf = client.get(f"/daily-report.pdf?region=150200&date={yesterday}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")

    monkeypatch.setattr(jobs, "_app", app)
    morning = dt.datetime.combine(yesterday + dt.timedelta(days=1), dt.time(7, 0), tzinfo=CHINA)
    assert send_daily_reports(morning) >= 2  # Baotou's and the province's (and any other inspector's region)
    assert send_daily_reports(morning) == 0  # once a day
    reports = notified(session, users["bt"], "daily_safety_report")
    assert len(reports) == 1 and reports[0].data["incidents_by_grade"]["III"] == 1
    assert reports[0].data["date"] == yesterday.isoformat()
    baotou = [w for w in webhook if w.get("region_code") == "150200"]
    assert len(baotou) == 1 and "突发事件 1 起" in baotou[0]["text"]


def test_safety_audit_shows_the_enterprises_plan_and_drill_as_evidence(client, session, make_outlet, make_user,
                                                                      bearer, login):
    from audits.calendar import load_calendar
    from greenshield.audits.services import today

    for i in range(2):
        make_outlet(f"EV-{i}", region="150700", enterprise="STO")
    admin = make_user("admin", username="ev_admin")
    for i in range(2):
        make_user("inspector", username=f"ev_insp{i}", region="150700")
    start = load_calendar(session).next_working_day(today()).day
    plan = client.post("/api/v1/audit-plans", headers=bearer(admin), json={
        "region_code": "150700", "outlets": 1, "kind": "safety", "start_date": start.isoformat(),
        "due_date": (start + dt.timedelta(days=5)).isoformat(), "seed": 17}).get_json()
    audit_id = plan["audits"][0]["id"]
    login(client, admin)
    before = client.get(f"/audits/{audit_id}").get_data(as_text=True)
    assert 'id="evidence-emergency_plan"' in before and "无有效预案" in before and "近 12 个月未演练" in before
    assert client.get(f"/api/v1/audits/{audit_id}", headers=bearer(admin)).get_json()["emergency_evidence"] == {
        "enterprise_code": "STO", "plan": None, "last_drill": None}
    client.post("/api/v1/emergency-plans", headers=bearer(admin), json={
        "enterprise_code": "STO", "title": "申通快递应急预案", "version": "2026版",
        "valid_until": (today() + dt.timedelta(days=90)).isoformat()})
    client.post("/api/v1/emergency-drills", headers=bearer(admin), json={
        "enterprise_code": "STO", "held_on": (today() - dt.timedelta(days=10)).isoformat(),
        "scenario": "仓库火灾疏散", "participants": 18})
    evidence = client.get(f"/api/v1/audits/{audit_id}", headers=bearer(admin)).get_json()["emergency_evidence"]
    assert evidence["plan"]["title"] == "申通快递应急预案" and evidence["last_drill"]["participants"] == 18
    after = client.get(f"/audits/{audit_id}").get_data(as_text=True)
    assert "申通快递应急预案" in after and "仓库火灾疏散" in after and "参演 18 人" in after
    routine = client.get("/audits").get_data(as_text=True)
    assert "evidence-emergency_plan" not in routine


def test_daily_report_from_the_command_line(client, runner, province, tmp_path):
    today = dt.datetime.now(CHINA).date()
    at = dt.datetime.combine(today, dt.time(0, 10), tzinfo=CHINA)
    client.post("/api/v1/incidents", json=body(occurred_at=at.isoformat(), type="data_leak",
                                                records_affected=1_500_000), headers=province["h"]["manager"])
    pdf = tmp_path / "日报.pdf"
    done = runner.invoke(args=["incidents", "daily-report", "--region", "150200", "--date", today.isoformat(),
                               "--pdf", str(pdf)])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output.strip().splitlines()[-1])
    assert report["incidents_by_grade"]["II"] == 1 and report["region_code"] == "150200"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert runner.invoke(args=["incidents", "daily-report", "--region", "999999"]).exit_code != 0


def test_a_report_refused_for_its_file_leaves_nothing_and_tells_nobody(client, session, province, login, webhook):
    login(client, province["users"]["manager"])
    occurred = (dt.datetime.now(CHINA) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    answer = client.post("/incidents/new", data={
        "outlet_code": "INC-BT-01", "type": "leak", "occurred_at": occurred, "description": "液体渗漏",
        "file": (io.BytesIO(b"PK\x03\x04 not a photo"), "a.zip")}, content_type="multipart/form-data")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and 'id="error-file"' in page and "请上传照片" in page
    assert 'value="液体渗漏"' in page or ">液体渗漏<" in page  # what was typed is kept
    assert session.scalars(select(Incident).where(Incident.description == "液体渗漏")).all() == []
    assert notified(session, province["users"]["bt"]) == [] and webhook == []


def test_the_scheduler_sends_the_report_each_morning_at_the_configured_hour(app):
    from greenshield.scheduler import build

    scheduler = build(app)
    job = next(j for j in scheduler.get_jobs() if j.id == "daily-safety-report")
    assert job.func_ref == "greenshield.incidents.jobs:send_daily_reports"
    assert str(job.trigger.fields[5]) == "7" and str(job.trigger.fields[6]) == "0"  # hour 7, minute 0, China time
