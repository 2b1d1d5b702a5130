"""Enforcement as a postal administration works it (issue 16): plans over a period, the rectification loop, penalty
cases with their documents, credit, the holiday calendar and checklists kept as data."""
from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
from collections import Counter

import pytest
from sqlalchemy import func, select

from audits import workflow
from audits.calendar import load_calendar
from audits.checklist import ROUTINE
from audits.draw import Candidate, DrawInputs, draw
from greenshield.audits.services import today
from models import (Audit, AuditKind, AuditPlan, AuditStatus, CalendarYear, ChecklistEntry, InspectorAbsence,
                    Notification, Outlet, RectificationOrder, User)
from tests.helpers import png_header

PNG = png_header(640, 480)
CODES = [item.code for item in ROUTINE]


@pytest.fixture
def centre(make_outlet, make_user, bearer):
    """A league (Ulanqab, 150900) with ten outlets, three inspectors, an admin and the outlets' manager."""
    outlets = [make_outlet(f"EN-{i:02d}", region="150900", enterprise="ZTO" if i % 2 else "YD") for i in range(10)]
    inspectors = [make_user("inspector", username=f"en_insp{i}", region="150900") for i in range(3)]
    admin = make_user("admin", username="en_admin")
    manager = make_user("outlet_manager", username="en_manager", outlets=[o.code for o in outlets])
    return {"outlets": outlets, "inspectors": inspectors, "admin": bearer(admin), "admin_user": admin,
            "insp": {u.username: bearer(u) for u in inspectors}, "manager": bearer(manager), "manager_user": manager}


def work(client, headers, audit_id, failing=(), items=CODES):
    for item in items:
        answer = client.put(f"/api/v1/audits/{audit_id}/checklist/{item}", headers=headers,
                            json={"compliant": item not in failing, "finding": "现场发现问题" if item in failing else None})
        assert answer.status_code == 200, answer.get_json()


def test_three_inspectors_draw_schedule_and_work_ten_outlets_over_two_weeks(client, centre, session, runner):
    start = load_calendar(session).next_working_day(today()).day
    body = {"region_code": "150900", "outlets": 10, "inspectors_per_audit": 2, "start_date": start.isoformat(),
            "due_date": (start + dt.timedelta(days=13)).isoformat(), "seed": 16}
    created = client.post("/api/v1/audit-plans", json=body, headers=centre["admin"])
    assert created.status_code == 201, created.get_json()
    plan = created.get_json()
    assert plan["start_date"] == start.isoformat() and len(plan["audits"]) == 10 and plan["provisional"] is False
    calendar = load_calendar(session)
    per_day = Counter((a["scheduled_on"], i) for a in plan["audits"] for i in a["inspectors"])
    assert max(per_day.values()) <= 2
    assert all(calendar.is_working_day(dt.date.fromisoformat(a["scheduled_on"])) for a in plan["audits"])
    assert len({i for a in plan["audits"] for i in a["inspectors"]}) == 3
    for audit in plan["audits"]:
        headers = centre["insp"][audit["inspectors"][0]]
        work(client, headers, audit["id"])
        closed = client.post(f"/api/v1/audits/{audit['id']}/close", json={"result": "pass"}, headers=headers)
        assert closed.get_json()["status"] == "closed"
    verified = runner.invoke(args=["audits", "verify-draw", str(plan["id"])])
    assert verified.exit_code == 0 and json.loads(verified.output)["reproducible"] is True
    again = client.post("/api/v1/audit-plans", json={**body, "seed": 17, "outlets": 10}, headers=centre["admin"])
    assert again.status_code == 201  # the audits of the first plan are closed: the inspectors are free again


def test_a_period_too_short_says_how_many_inspector_days_are_missing(client, centre, session):
    day = load_calendar(session).next_working_day(today()).day
    refused = client.post("/api/v1/audit-plans", headers={**centre["admin"], "Accept-Language": "en"}, json={
        "region_code": "150900", "outlets": 10, "start_date": day.isoformat(), "due_date": day.isoformat()})
    assert refused.status_code == 422
    assert "have 3 free: 7 inspector-days are missing" in refused.get_json()["error"]["message"]


def test_absences_and_other_audits_are_respected(client, centre, session):
    start = load_calendar(session).next_working_day(today()).day
    due = start + dt.timedelta(days=13)
    away = centre["inspectors"][0]
    made = client.post("/api/v1/inspector-absences", headers=centre["insp"][away.username], json={
        "start_date": start.isoformat(), "end_date": (start + dt.timedelta(days=6)).isoformat(), "reason": "leave"})
    assert made.status_code == 201 and made.get_json()["name"] == away.display_name
    others = client.post("/api/v1/inspector-absences", headers=centre["insp"][away.username], json={
        "username": "en_insp1", "start_date": start.isoformat(), "end_date": start.isoformat()})
    assert others.status_code == 403
    first = client.post("/api/v1/audit-plans", headers=centre["admin"], json={
        "region_code": "150900", "outlets": 4, "start_date": start.isoformat(), "due_date": due.isoformat(),
        "seed": 1}).get_json()
    second = client.post("/api/v1/audit-plans", headers=centre["admin"], json={
        "region_code": "150900", "outlets": 6, "start_date": start.isoformat(), "due_date": due.isoformat(),
        "seed": 2}).get_json()
    load = Counter((a["scheduled_on"], i) for p in (first, second) for a in p["audits"] for i in a["inspectors"])
    assert max(load.values()) <= 2
    leave = {(start + dt.timedelta(days=d)).isoformat() for d in range(7)}
    assert not [a for p in (first, second) for a in p["audits"] if a["scheduled_on"] in leave
                and away.username in a["inspectors"]]


def test_plans_stored_in_the_one_day_format_still_verify(client, centre, session, runner):
    inputs = DrawInputs(candidates=tuple(Candidate(o.code, 1.0) for o in centre["outlets"]),
                        inspectors=tuple(u.username for u in centre["inspectors"]), outlets=1, per_audit=2)
    drawn = draw(inputs, 99)
    due = today() + dt.timedelta(days=3)
    plan = AuditPlan(region_code="150900", outlets_requested=1, inspectors_per_audit=2, due_date=due, seed=99,
                     inputs={"draw": inputs.to_json(), "risk": {}, "as_of": today().isoformat()})
    session.add(plan)
    users = {u.username: u for u in centre["inspectors"]}
    outlet = session.scalar(select(Outlet).where(Outlet.code == drawn[0].outlet_code))
    session.add(Audit(plan=plan, outlet=outlet, kind=AuditKind.RANDOM, status=AuditStatus.PLANNED, due_date=due,
                      scheduled_on=due, inspectors=[users[i] for i in drawn[0].inspectors]))
    session.flush()
    verified = runner.invoke(args=["audits", "verify-draw", str(plan.id)])
    assert verified.exit_code == 0, verified.output
    assert client.get(f"/api/v1/audit-plans/{plan.id}", headers=centre["admin"]).get_json()["start_date"] is None


def _issue(client, centre, session, failing=("real_name_records",), deadline_days=10):
    start = load_calendar(session).next_working_day(today()).day
    plan = client.post("/api/v1/audit-plans", headers=centre["admin"], json={
        "region_code": "150900", "outlets": 1, "start_date": start.isoformat(),
        "due_date": (start + dt.timedelta(days=5)).isoformat(), "seed": 5}).get_json()
    audit = plan["audits"][0]
    headers = centre["insp"][audit["inspectors"][0]]
    work(client, headers, audit["id"], failing=failing)
    closed = client.post(f"/api/v1/audits/{audit['id']}/close", headers=headers, json={
        "result": "rectify", "deadline": (today() + dt.timedelta(days=deadline_days)).isoformat()}).get_json()
    return audit, headers, closed["order"]


def test_the_order_loop_issue_answer_reject_reinspect_close(client, centre, session):
    audit, inspector, order = _issue(client, centre, session)
    url = f"/api/v1/rectification-orders/{order['id']}"
    assert client.post(f"{url}/accept", json={}, headers=inspector).status_code == 409  # nothing answered yet
    answered = client.post(f"{url}/response", json={"response": "已补录实名信息"}, headers=centre["manager"])
    assert answered.get_json()["status"] == "answered"
    photo = client.post(f"{url}/photos", data={"photo": (io.BytesIO(PNG), "整改.png")}, headers=centre["manager"])
    assert photo.status_code == 201
    photo_id = photo.get_json()["history"][-1]["photos"][0]
    assert client.get(f"/api/v1/rectification-photos/{photo_id}", headers=inspector).data == PNG
    stranger = next(h for u, h in centre["insp"].items() if u not in audit["inspectors"])
    assert client.post(f"{url}/reject", json={"reason": "x", "deadline": "2099-01-01"}, headers=stranger).status_code == 403
    new_deadline = today() + dt.timedelta(days=20)
    rejected = client.post(f"{url}/reject", headers=inspector, json={
        "reason": "照片不能说明整改到位", "deadline": new_deadline.isoformat()}).get_json()
    assert rejected["status"] == "open" and rejected["deadline"] == new_deadline.isoformat()
    client.post(f"{url}/response", json={"response": "已全部整改并培训"}, headers=centre["manager"])
    reinspect = client.post(f"{url}/reinspect", json={}, headers=inspector)
    assert reinspect.status_code == 201 and reinspect.get_json()["status"] == "reinspecting"
    follow = client.get(f"/api/v1/audits/{reinspect.get_json()['follow_up_id']}", headers=inspector).get_json()
    assert follow["kind"] == "follow_up" and follow["scheduled_on"] == today().isoformat()
    items = [e["item"] for e in follow["checklist"]]
    assert "requirements_met" in items and "real_name_records" in items  # the failed item is checked again
    work(client, inspector, follow["id"], items=items)
    client.post(f"/api/v1/audits/{follow['id']}/close", json={"result": "pass"}, headers=inspector)
    final = client.get(url, headers=centre["manager"]).get_json()
    assert final["status"] == "closed"
    assert [e["kind"] for e in final["history"]] == ["issued", "answered", "rejected", "answered", "reinspection",
                                                     "reinspected_pass"]
    assert all(e["date"] for e in final["history"]) and final["history"][2]["text"] == "照片不能说明整改到位"
    assert final["history"][1]["photos"] == [photo_id]


def test_an_unanswered_order_alerts_once_per_deadline(client, centre, session, runner, monkeypatch):
    _, inspector, order = _issue(client, centre, session, deadline_days=3)
    import greenshield.jobs as jobs
    monkeypatch.setattr(jobs, "china_today", lambda: today() + dt.timedelta(days=5))
    jobs.bind(client.application)
    done = json.loads(runner.invoke(args=["audits", "run-daily"]).output)
    assert done["overdue"] == 1 and done["follow_ups"] == 1
    history = client.get(f"/api/v1/rectification-orders/{order['id']}", headers=inspector).get_json()["history"]
    assert [e["kind"] for e in history] == ["issued", "overdue", "reinspection"]


def pdf_text(data: bytes, tmp_path) -> str | None:
    if not shutil.which("pdftotext"):
        return None
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True).stdout


def test_escalation_to_a_published_penalty_with_both_documents(client, centre, session, tmp_path):
    audit, inspector, order = _issue(client, centre, session, failing=("real_name_records", "inspection"))
    url = f"/api/v1/rectification-orders/{order['id']}"
    follow_id = client.post(f"{url}/reinspect", json={}, headers=inspector).get_json()["follow_up_id"]
    items = [e["item"] for e in client.get(f"/api/v1/audits/{follow_id}", headers=inspector).get_json()["checklist"]]
    work(client, inspector, follow_id, failing=("requirements_met",), items=items)
    client.post(f"/api/v1/audits/{follow_id}/close", json={"result": "rectify", "summary": "未整改"}, headers=inspector)
    assert client.get(url, headers=inspector).get_json()["status"] == "escalated"
    provisions = {p["code"]: p for p in client.get("/api/v1/legal-provisions", headers=inspector).get_json()}
    assert provisions["ATL-85"]["fine_min"] == 100_000 and provisions["ATL-85"]["fine_max"] == 500_000
    assert provisions["REALNAME"]["fine_min"] == 5_000 and provisions["VIDEO"]["fine_max"] == 10_000
    case = client.post("/api/v1/penalty-cases", headers=inspector, json={
        "order_id": order["id"], "provision_id": provisions["ATL-85"]["id"], "facts": "未落实实名收寄与收寄验视制度"})
    assert case.status_code == 201, case.get_json()
    case = case.get_json()
    assert case["status"] == "registered" and case["case_no"].startswith(f"内邮立〔{today().year}〕第")
    again = client.post("/api/v1/penalty-cases", headers=inspector, json={
        "order_id": order["id"], "provision_id": provisions["ATL-85"]["id"], "facts": "x"})
    assert again.status_code == 409
    curl = f"/api/v1/penalty-cases/{case['id']}"
    served = today()
    notified = client.post(f"{curl}/notice", json={"served_on": served.isoformat()}, headers=inspector).get_json()
    assert notified["status"] == "notified" and notified["hearing_deadline"] > today().isoformat()
    too_early = client.post(f"{curl}/decision", headers=inspector, json={
        "decision": "fine", "fine_amount": 200_000, "decided_on": today().isoformat()})
    assert too_early.status_code == 422 and "decided_on" in too_early.get_json()["error"]["details"]
    # the hearing period has passed: decide as of a later day
    from audits import penalties
    from models import PenaltyCase
    stored = session.get(PenaltyCase, case["id"])
    later = dt.date.fromisoformat(notified["hearing_deadline"]) + dt.timedelta(days=1)
    with pytest.raises(Exception) as out_of_range:
        penalties.decide(session, stored, decision="fine", fine_amount=600_000, decided_on=later, today=later,
                         decided_by=None, document_prefix="内邮")
    assert out_of_range.value.code == "validation_error.fine_out_of_range"
    penalties.decide(session, stored, decision="fine", fine_amount=200_000, decided_on=later, today=later,
                     decided_by=None, document_prefix="内邮")
    session.flush()
    decided = client.get(curl, headers=centre["manager"]).get_json()
    assert decided["status"] == "decided" and decided["decision_no"].startswith(f"内邮罚〔{later.year}〕第")
    decision_pdf = client.get(f"{curl}/decision.pdf", headers=centre["manager"])
    notice_pdf = client.get(f"{url}/notice.pdf", headers=centre["manager"])
    for document in (decision_pdf, notice_pdf):
        assert document.status_code == 200 and document.mimetype == "application/pdf"
        assert document.data.startswith(b"%PDF") and b"STSong-Light" in document.data
    text = pdf_text(decision_pdf.data, tmp_path)
    if text is not None:
        assert "行政处罚决定书" in text and "贰拾万元整" in text and decided["decision_no"] in text
        notice = pdf_text(notice_pdf.data, tmp_path)
        assert "责令限期改正通知书" in notice and order["notice_no"] in notice
    assert client.post(f"{curl}/publish", headers=inspector).get_json()["status"] == "published"
    public = client.get("/public/penalties").get_data(as_text=True)
    assert decided["decision_no"] in public and "200,000 元" in public
    assert "未落实实名收寄" not in public and not any(u.display_name in public for u in centre["inspectors"])
    listed = client.get("/api/v1/penalty-cases?status=published", headers=inspector).get_json()
    assert [c["id"] for c in listed] == [case["id"]]


def test_a_case_from_a_serious_finding_and_the_rules_of_a_decision(client, centre, session):
    start = load_calendar(session).next_working_day(today()).day
    plan = client.post("/api/v1/audit-plans", headers=centre["admin"], json={
        "region_code": "150900", "outlets": 1, "start_date": start.isoformat(),
        "due_date": (start + dt.timedelta(days=5)).isoformat(), "seed": 9}).get_json()
    audit = plan["audits"][0]
    headers = centre["insp"][audit["inspectors"][0]]
    work(client, headers, audit["id"], failing=("rules_posted",))
    client.post(f"/api/v1/audits/{audit['id']}/close", json={"result": "pass"}, headers=headers)
    video = next(p for p in client.get("/api/v1/legal-provisions", headers=headers).get_json() if p["code"] == "VIDEO")
    refused = client.post("/api/v1/penalty-cases", headers=headers, json={
        "audit_id": audit["id"], "provision_id": video["id"], "facts": "x"})
    assert refused.status_code == 409  # rules on the wall are no serious finding
    no_source = client.post("/api/v1/penalty-cases", headers=headers, json={"provision_id": video["id"], "facts": "x"})
    assert no_source.status_code == 422


def test_a_deadline_in_a_year_without_holidays_is_provisional_and_alerted(client, centre, session):
    assert session.get(CalendarYear, 2026) is not None and session.get(CalendarYear, 2027) is None
    plan_audit = _plan_one(client, centre, session)
    audit = session.get(Audit, plan_audit["id"])
    for entry in audit.items:
        entry.compliant = True
    workflow.close_audit(session, audit, result="pass", summary=None, today=dt.date(2026, 12, 20),
                         document_prefix="内邮")
    assert audit.publish_by_provisional is True
    assert audit.publish_by == dt.date(2027, 1, 15)  # Monday-Friday counting: 9 days of 2026, then 11 of 2027
    shown = client.get(f"/api/v1/audits/{audit.id}", headers=centre["admin"]).get_json()
    assert shown["publish_by_provisional"] is True
    alerts = session.scalars(select(Notification).where(Notification.kind == "calendar_year_missing")).all()
    assert {(n.user_id, n.data["year"]) for n in alerts} >= {(centre["admin_user"].id, 2027)}
    count = len(alerts)
    loaded = client.put("/api/v1/calendar/2027", headers=centre["admin"], json={"days": [
        {"date": "2027-01-01", "working": False, "name": "元旦"}]})
    assert loaded.status_code == 200 and loaded.get_json()["known"] is True
    session.refresh(audit)
    assert audit.publish_by_provisional is False and audit.publish_by == dt.date(2027, 1, 18)  # 元旦 is off
    assert session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "calendar_year_missing")) == count


def _plan_one(client, centre, session, seed=3):
    start = load_calendar(session).next_working_day(today()).day
    plan = client.post("/api/v1/audit-plans", headers=centre["admin"], json={
        "region_code": "150900", "outlets": 1, "start_date": start.isoformat(),
        "due_date": (start + dt.timedelta(days=5)).isoformat(), "seed": seed})
    assert plan.status_code == 201, plan.get_json()
    return plan.get_json()["audits"][0]


def test_admins_alerted_once_per_missing_year(session, centre):
    from audits.calendar import alert_missing_years
    first = alert_missing_years(session, [2031])
    second = alert_missing_years(session, [2031])
    assert len(first) >= 1 and second == []


def test_checklists_are_data_and_audits_keep_the_items_they_started_with(client, centre, session):
    before = _plan_one(client, centre, session, seed=11)
    added = client.post("/api/v1/checklist-items", headers=centre["admin"], json={
        "kind": "random", "code": "parcel_lockers", "name_zh": "智能快件箱安全管理", "name_en": "Parcel lockers kept safe"})
    assert added.status_code == 201
    retired = client.patch(f"/api/v1/checklist-items/{next(i['id'] for i in client.get('/api/v1/checklist-items?kind=random', headers=centre['admin']).get_json() if i['code'] == 'rules_posted')}",
                           json={"active": False}, headers=centre["admin"])
    assert retired.get_json()["active"] is False
    after = _plan_one(client, centre, session, seed=12)
    old = [e["item"] for e in client.get(f"/api/v1/audits/{before['id']}", headers=centre["admin"]).get_json()["checklist"]]
    new = [e["item"] for e in client.get(f"/api/v1/audits/{after['id']}", headers=centre["admin"]).get_json()["checklist"]]
    assert "rules_posted" in old and "parcel_lockers" not in old
    assert "rules_posted" not in new and new[-1] == "parcel_lockers"
    safety = client.get("/api/v1/checklist-items?kind=safety", headers=centre["admin"]).get_json()
    assert {"fire_equipment", "emergency_plan"} <= {i["code"] for i in safety}


def test_a_get_never_writes(client, centre, session, login):
    audit = _plan_one(client, centre, session, seed=13)
    entries = session.scalar(select(func.count()).select_from(ChecklistEntry))
    login(client, centre["admin_user"])
    for path in (f"/audits/{audit['id']}", "/orders", "/penalties", "/admin/calendar?year=2027", "/admin/checklists",
                 "/enterprises/ZTO", "/dashboard/outlets/EN-01", "/absences", "/admin/provisions"):
        assert client.get(path).status_code == 200, path
    assert session.scalar(select(func.count()).select_from(ChecklistEntry)) == entries
    assert session.scalar(select(func.count()).select_from(Notification)) == 0


def test_safety_production_plans_use_their_own_checklist(client, centre, session):
    start = load_calendar(session).next_working_day(today()).day
    plan = client.post("/api/v1/audit-plans", headers=centre["admin"], json={
        "region_code": "150900", "outlets": 2, "kind": "safety", "start_date": start.isoformat(),
        "due_date": (start + dt.timedelta(days=5)).isoformat(), "seed": 21}).get_json()
    assert plan["kind"] == "safety"
    audit = client.get(f"/api/v1/audits/{plan['audits'][0]['id']}", headers=centre["admin"]).get_json()
    assert audit["kind"] == "safety" and audit["checklist"][0]["item"] == "fire_equipment"


def test_joint_audit_members(client, centre, session):
    audit = _plan_one(client, centre, session, seed=14)
    headers = centre["insp"][audit["inspectors"][0]]
    added = client.post(f"/api/v1/audits/{audit['id']}/members", headers=headers, json={
        "name": "王警官", "agency": "乌兰察布市公安局物流寄递治安管理大队", "title": "民警"})
    assert added.status_code == 201 and added.get_json()["members"][0]["agency"].endswith("治安管理大队")
    member = added.get_json()["members"][0]["id"]
    assert client.delete(f"/api/v1/audits/{audit['id']}/members/{member}", headers=headers).status_code == 204


def test_credit_falls_with_penalties_and_raises_the_draw_weight(client, centre, session, settings):
    from audits.credit import outlet_credits
    from audits.plans import risk_factors
    from models import LegalProvision, PenaltyCase, PenaltyDecision, PenaltyStatus
    outlet = centre["outlets"][1]
    clean = outlet_credits(session, [outlet.id], today(), settings.thresholds)[outlet.id]
    assert clean.level == "A" and clean.score == 100.0
    provision = session.scalar(select(LegalProvision).where(LegalProvision.code == "ATL-85"))
    for seq in (901, 902):
        session.add(PenaltyCase(case_year=2026, case_seq=seq, case_no=f"T{seq}", outlet_id=outlet.id,
                                provision_id=provision.id, facts="f", status=PenaltyStatus.DECIDED,
                                registered_on=today(), decision=PenaltyDecision.FINE, fine_amount=100_000,
                                decided_on=today()))
    session.flush()
    fined = outlet_credits(session, [outlet.id], today(), settings.thresholds)[outlet.id]
    assert fined.level == "C" and fined.deductions == {"penalties": 40.0}
    factors = risk_factors(session, centre["outlets"][:2], today(), settings.thresholds)
    assert factors[outlet.id].credit_level == "C"
    enterprise = client.get("/api/v1/credit/enterprises/ZTO", headers=centre["admin"]).get_json()
    assert enterprise["level"] in ("B", "C") and any(o["code"] == outlet.code and o["level"] == "C"
                                                      for o in enterprise["outlets"])
    mine = client.get(f"/api/v1/credit/outlets/{outlet.code}", headers=centre["manager"]).get_json()
    assert mine["level"] == "C" and mine["facts"]["fines"] == 2


def test_pages_of_the_order_loop_and_the_penalty(client, centre, session, login):
    audit, inspector_headers, order = _issue(client, centre, session)
    inspector = session.scalar(select(User).where(User.username == audit["inspectors"][0]))
    login(client, centre["manager_user"])
    page = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert order["notice_no"] in page and 'id="answer-form"' in page
    answered = client.post(f"/orders/{order['id']}", data={"action": "respond", "response": "已整改",
                                                           "photos": (io.BytesIO(PNG), "a.png")},
                           content_type="multipart/form-data")
    assert answered.status_code == 302
    client.post("/logout")
    login(client, inspector)
    page = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert "a.png" in page and 'id="reject-form"' in page
    bad = client.post(f"/orders/{order['id']}", data={"action": "reject", "reason": "不到位",
                                                      "deadline": today().isoformat()})
    assert bad.status_code == 422
    assert client.post(f"/orders/{order['id']}", data={"action": "reject", "reason": "不到位", "deadline": (
        today() + dt.timedelta(days=7)).isoformat()}).status_code == 302
    assert client.post(f"/orders/{order['id']}", data={"action": "reinspect",
                                                       "scheduled_on": today().isoformat()}).status_code == 302
    stored = session.get(RectificationOrder, order["id"])
    session.refresh(stored)
    assert stored.status.value == "reinspecting"
    follow = session.get(Audit, stored.follow_up_id)
    form = {f"{e.item}-compliant": "0" if e.item == "requirements_met" else "1" for e in follow.items}
    assert client.post(f"/audits/{follow.id}", data={**form, "action": "save"}).status_code == 302
    assert client.post(f"/audits/{follow.id}", data={"action": "close", "result": "rectify"}).status_code == 302
    page = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert 'id="register-case"' in page
    new = client.get(f"/penalties/new?order={order['id']}").get_data(as_text=True)
    assert "反恐怖主义法" in new
    provision = next(p for p in client.get("/api/v1/legal-provisions", headers=inspector_headers).get_json()
                     if p["code"] == "REALNAME")
    made = client.post(f"/penalties/new?order={order['id']}", data={"facts": "未核验寄件人身份",
                                                                    "provision_id": provision["id"]})
    assert made.status_code == 302
    case_url = made.headers["Location"]
    assert client.post(case_url, data={"action": "notice", "served_on": (today() - dt.timedelta(days=12)).isoformat(),
                                       }).status_code == 422  # served before the case was registered
    assert client.post(case_url, data={"action": "notice", "served_on": today().isoformat()}).status_code == 302
    assert "听证申请期限至" in client.get(case_url).get_data(as_text=True)


def test_admin_pages_calendar_checklists_provisions_absences(client, centre, session, login):
    login(client, centre["admin_user"])
    page = client.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert 'id="year-missing"' in page
    bad = client.post("/admin/calendar?year=2027", data={"year": "2027", "days": "2027-01-01 假 元旦"})
    assert bad.status_code == 422
    saved = client.post("/admin/calendar", data={"year": "2027", "days": "2027-01-01 休 元旦\n2027-02-06 班 春节调休"})
    assert saved.status_code == 302
    assert 'id="year-known"' in client.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert load_calendar(session).is_working_day(dt.date(2027, 2, 6))
    assert client.post("/admin/checklists", data={"kind": "safety", "code": "lightning", "name_zh": "防雷设施",
                                                  "name_en": "Lightning protection"}).status_code == 302
    assert client.post("/admin/provisions", data={"code": "POST-LAW", "law": "《中华人民共和国邮政法》",
                                                  "article": "第七十五条", "violation": "v", "text": "摘要",
                                                  "fine_min": "9", "fine_max": "1"}).status_code == 422
    assert client.post("/absences", data={"username": "en_insp2", "start_date": "2099-01-05",
                                          "end_date": "2099-01-09", "reason": "training"}).status_code == 302
    assert session.scalar(select(func.count()).select_from(InspectorAbsence)) == 1


def test_a_plan_spans_at_most_a_year_and_ids_stay_in_range(client, centre, session):
    start = load_calendar(session).next_working_day(today()).day
    long = client.post("/api/v1/audit-plans", headers=centre["admin"], json={
        "region_code": "150900", "outlets": 1, "start_date": start.isoformat(), "due_date": "9999-12-31"})
    assert long.status_code == 422 and "due_date" in long.get_json()["error"]["details"]
    huge = client.post("/api/v1/penalty-cases", headers=centre["admin"], json={"provision_id": 2**40, "facts": "x"})
    assert huge.status_code == 422 and "provision_id" in huge.get_json()["error"]["details"]
