"""Traceability (溯源追查) as investigators, inspectors and auditors see it: cases and their gating, the parcel
chain and its masking, every query in the access log with its subject hashed, rate limits, watchlists with a
webhook, the evidence export, and the pages."""
from __future__ import annotations

import base64
import csv
import datetime as dt
import http.server
import io
import json
import re
import threading
import zipfile

import pytest
from sqlalchemy import select, update

from greenshield.extensions import limiter
from greenshield.trace import accesslog
from greenshield.trace.services import today
from inspection.identity import mask_id_no, mask_phone
from models import (AccessLogEntry, Case, CaseResult, CollectionRecord, Notification, ReviewStatus, Watchlist,
                    XrayEvent, XrayMachine, XrayReview)
from tests.helpers import AGENCY, DAY, approved_case, log_row, register, resident_id, trace, upload_rows

ID_1, ID_2 = resident_id(11), resident_id(12)
PHONE_1 = "13912345678"


@pytest.fixture(autouse=True)
def fresh_limits_and_checkpoints(app, tmp_path, configure):
    """Rate-limit counters start empty; checkpoints go to a folder of this test."""
    configure(access_log_checkpoints=str(tmp_path / "checkpoints"))
    limiter.reset()
    yield
    limiter.reset()


def stock(client, world) -> None:
    """Three items at TR-OUT-1 (one corrected later) and one at TR-OUT-2, all on DAY."""
    upload_rows(client, world.h["admin"], world.outlet.code, [
        log_row("SF1000000001", sender_id_no=ID_1, sender_phone=PHONE_1, sender_name="王小明"),
        log_row("SF1000000002", sender_id_no=ID_2, at="11:00:00"),
        log_row("SF1000000003", sender_id_no=ID_1, at="12:00:00", sender_name="=HYPERLINK(\"x\")"),
    ])
    upload_rows(client, world.h["admin"], world.outlet.code, [
        log_row("SF1000000001", sender_id_no=ID_1, sender_phone=PHONE_1, sender_name="王小明", item_name="茶叶")])
    upload_rows(client, world.h["admin"], world.far_outlet.code, [log_row("SF2000000001", sender_id_no=ID_1)])


def xray_event(session, world, waybill: str, *, score: float = 0.91, reviewed_by=None) -> XrayEvent:
    machine = session.scalar(select(XrayMachine).where(XrayMachine.code == "TR-X1"))
    if machine is None:
        machine = XrayMachine(code="TR-X1", outlet=world.outlet, model="安检机-100", installed_on=dt.date(2024, 1, 1),
                              active=True)
        session.add(machine)
    event = XrayEvent(machine=machine, outlet=world.outlet, waybill_no=waybill,
                      scanned_at=dt.datetime(2025, 3, 10, 3, 0, tzinfo=dt.timezone.utc), operator_id="S-1",
                      image_sha256="ab" * 32, image_format="png", width=4, height=4, score=score, flagged=score > 0.5,
                      model_version="test-1", status=ReviewStatus.PENDING)
    session.add(event)
    session.flush()
    if reviewed_by is not None:
        session.add(XrayReview(event_id=event.id, reviewer_id=reviewed_by.id, decision="seized", category_code=1,
                               note="疑似枪支部件"))
        event.status = ReviewStatus.REVIEWED
        session.flush()
    return event


def log_entries(session) -> list[AccessLogEntry]:
    session.expire_all()
    return list(session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq)))


# --- cases --------------------------------------------------------------------------------------------------


def test_an_investigator_registers_a_case_and_an_auditor_approves_it(client, session, world):
    case = register(client, world)
    assert case["status"] == "pending" and case["agency"] == AGENCY and case["investigator"] == \
        world.people["investigator"].username
    assert {"id", "case_no", "status"} <= set(case)
    decided = client.post(f"/api/v1/cases/{case['id']}/approve", headers=world.h["auditor"]).get_json()
    assert decided["status"] == "approved" and decided["decided_by"] == world.people["auditor"].username
    notes = client.get("/api/v1/notifications", headers=world.h["investigator"]).get_json()
    assert notes[0]["kind"] == "case_decision" and notes[0]["data"]["status"] == "approved"
    assert [(e.action, e.outcome, e.case_no) for e in log_entries(session)] == [
        ("case_register", "ok", "HGA-2026-001"), ("case_approve", "ok", "HGA-2026-001")]


def test_cases_are_refused_with_a_reason_and_decided_once(client, session, world):
    case = register(client, world)
    no_reason = client.post(f"/api/v1/cases/{case['id']}/refuse", json={}, headers=world.h["admin"])
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["error"]["details"]
    refused = client.post(f"/api/v1/cases/{case['id']}/refuse", json={"reason": "法律依据不足"},
                          headers=world.h["admin"])
    assert refused.get_json()["status"] == "refused" and refused.get_json()["refusal_reason"] == "法律依据不足"
    again = client.post(f"/api/v1/cases/{case['id']}/approve", headers=world.h["auditor"])
    assert again.status_code == 409
    by_investigator = client.post(f"/api/v1/cases/{case['id']}/approve", headers=world.h["investigator"])
    assert by_investigator.status_code == 403
    outcomes = [(e.action, e.outcome, e.username) for e in log_entries(session)][1:]
    assert outcomes == [
        ("case_refuse", "refused: invalid input", world.people["admin"].username),
        ("case_refuse", "ok", world.people["admin"].username),
        ("case_approve", "refused: case refused", world.people["auditor"].username),
        ("case_approve", "refused: role", world.people["investigator"].username),
    ]


def test_case_registration_rules(client, world):
    register(client, world)
    duplicate = client.post("/api/v1/cases", json={"case_no": "HGA-2026-001", "legal_basis": "x", "purpose": "y",
                                                   "valid_until": today().isoformat()}, headers=world.h["investigator"])
    assert duplicate.status_code == 409
    past = client.post("/api/v1/cases", json={"case_no": "HGA-OLD", "legal_basis": "x", "purpose": "y",
                                              "valid_until": "2020-01-01"}, headers=world.h["investigator"])
    assert past.status_code == 422 and "valid_until" in past.get_json()["error"]["details"]
    for role in ("auditor", "inspector", "admin"):
        assert client.post("/api/v1/cases", json={}, headers=world.h[role]).status_code == 403


def test_investigators_see_their_own_cases_only(client, world):
    mine = register(client, world)
    theirs = register(client, world, case_no="HGA-2026-002", who="other_investigator")
    listed = client.get("/api/v1/cases", headers=world.h["investigator"]).get_json()
    assert [c["case_no"] for c in listed] == [mine["case_no"]]
    assert client.get(f"/api/v1/cases/{theirs['id']}", headers=world.h["investigator"]).status_code == 404
    everyone = client.get("/api/v1/cases", headers=world.h["auditor"]).get_json()
    assert {c["case_no"] for c in everyone} == {"HGA-2026-001", "HGA-2026-002"}


# --- gating ---------------------------------------------------------------------------------------------------


def _pending(client, world, session):
    return register(client, world)["case_no"]


def _refused(client, world, session):
    case = register(client, world)
    client.post(f"/api/v1/cases/{case['id']}/refuse", json={"reason": "不予批准"}, headers=world.h["auditor"])
    return case["case_no"]


def _expired(client, world, session):
    case = approved_case(client, world, days=0)
    session.execute(update(Case).where(Case.id == case["id"]).values(valid_until=today() - dt.timedelta(days=1)))
    session.flush()
    return case["case_no"]


def _others(client, world, session):
    return approved_case(client, world, who="other_investigator")["case_no"]


@pytest.mark.parametrize("make_case, status, outcome", [
    (_pending, 403, "refused: case pending"),
    (_refused, 403, "refused: case refused"),
    (_expired, 403, "refused: case expired"),
    (_others, 404, "refused: not case investigator"),
    (lambda *a: "NO-SUCH-CASE", 404, "refused: unknown case"),
    (lambda *a: None, 422, "refused: no case"),
], ids=["unapproved", "refused", "expired", "other-investigators-case", "unknown-case", "no-case"])
def test_case_gating_refuses_and_logs(client, session, world, make_case, status, outcome):
    stock(client, world)
    case_no = make_case(client, world, session)
    response = trace(client, world, "investigator", case_no=case_no, sender_id_type="RESIDENT_ID", sender_id_no=ID_1)
    assert response.status_code == status, response.get_json()
    assert "results" not in response.get_json()
    last = log_entries(session)[-1]
    assert (last.action, last.outcome, last.case_no, last.result_count) == ("trace", outcome, case_no, 0)
    assert last.username == world.people["investigator"].username and last.query_type == "sender_id"
    assert last.subject_hash and ID_1 not in last.subject_hash
    assert session.scalar(select(CaseResult.record_id)) is None


@pytest.mark.parametrize("role", ["admin", "auditor", "manager"])
def test_other_roles_may_not_query_and_are_logged(app, client, session, world, role):
    case = approved_case(client, world)
    response = trace(client, world, role, case_no=case["case_no"], sender_id_type="RESIDENT_ID", sender_id_no=ID_1)
    assert response.status_code == 403
    last = log_entries(session)[-1]
    assert (last.action, last.outcome, last.role) == ("trace", "refused: role", world.people[role].role.value)
    assert last.query_type == "sender_id" and last.subject_hash == _hash_of_id(app, ID_1)


def _hash_of_id(app, id_no: str) -> str:
    """The subject hash the log keeps for a resident ID: the same for every query of it."""
    return accesslog.subject_hash(accesslog.subject_key(app.config["INSTANCE_PATH"]), "sender_id",
                                  f"RESIDENT_ID:{id_no}")


def test_an_approved_case_of_ones_own_allows_queries(client, session, world):
    stock(client, world)
    case = approved_case(client, world)
    body = trace(client, world, "investigator", case_no=case["case_no"], sender_id_type="RESIDENT_ID",
                 sender_id_no=ID_1).get_json()
    assert body["count"] == 3 and body["truncated"] is False and body["query_type"] == "sender_id"
    assert [(r["outlet_code"], r["waybill_no"]) for r in body["results"]] == [  # earliest collected first
        ("TR-OUT-1", "SF1000000001"), ("TR-OUT-2", "SF2000000001"), ("TR-OUT-1", "SF1000000003")]
    assert len(session.scalars(select(CaseResult).where(CaseResult.case_id == case["id"])).all()) == 3


# --- the chain and its masking ----------------------------------------------------------------------------------


def test_the_chain_has_record_versions_source_xray_and_timeline(client, session, world):
    stock(client, world)
    event = xray_event(session, world, "SF1000000001", reviewed_by=world.people["inspector"])
    case = approved_case(client, world)
    body = trace(client, world, "investigator", case_no=case["case_no"], waybill_no="sf1000000001").get_json()
    assert body["count"] == 1
    chain = body["results"][0]
    for key in ("waybill_no", "outlet_code", "collected_at", "sender_name", "sender_id_type", "sender_id_no",
                "sender_phone", "real_name_verified", "inspected", "xray_screened", "xray_events", "source",
                "versions"):
        assert key in chain
    assert (chain["sender_id_no"], chain["sender_phone"], chain["sender_name"]) == (ID_1, PHONE_1, "王小明")
    assert chain["item_name"] == "茶叶" and chain["version"] == 2
    assert [v["item_name"] for v in chain["versions"]] == ["羊绒衫", "茶叶"]
    assert chain["source"]["row"] == 2 and chain["source"]["batch_id"] == chain["versions"][1]["source"]["batch_id"]
    [xray] = chain["xray_events"]
    assert (xray["id"], xray["score"], xray["flagged"], xray["model_version"]) == (event.id, 0.91, True, "test-1")
    assert xray["review"]["decision"] == "seized" and xray["review"]["category_code"] == 1
    assert xray["image_url"] == f"/api/v1/xray-events/{event.id}/image"
    assert xray["heatmap_url"] == f"/api/v1/xray-events/{event.id}/heatmap"
    assert xray["evidence_hold"] is True
    session.refresh(event)
    assert event.evidence_hold is True
    kinds = [step["kind"] for step in chain["timeline"]]
    assert kinds[:2] == ["collected", "xray_scanned"]
    assert {"stored", "corrected", "xray_reviewed"} == set(kinds[2:])


def test_inspectors_look_up_a_waybill_masked_without_a_case(client, session, world):
    stock(client, world)
    body = trace(client, world, "inspector", waybill_no="SF1000000001").get_json()
    [chain] = body["results"]
    assert body["case_no"] is None
    assert chain["sender_id_no"] == mask_id_no(ID_1) and chain["sender_phone"] == mask_phone(PHONE_1)
    assert chain["sender_name"] == "王**"
    assert all(v["sender_id_no"] == mask_id_no(ID_1) for v in chain["versions"])
    assert session.scalar(select(CaseResult.record_id)) is None
    far = trace(client, world, "far_inspector", waybill_no="SF1000000001").get_json()
    assert far["count"] == 0
    assert log_entries(session)[-1].outcome == "ok"


@pytest.mark.parametrize("body, outcome", [
    ({"sender_id_type": "RESIDENT_ID", "sender_id_no": ID_1}, "refused: inspector waybill only"),
    ({"sender_phone": PHONE_1}, "refused: inspector waybill only"),
    ({"waybill_no": "SF1000000001", "case_no": "HGA-2026-001"}, "refused: inspector has no case"),
])
def test_inspectors_may_trace_nothing_else(client, session, world, body, outcome):
    stock(client, world)
    approved_case(client, world)
    response = trace(client, world, "inspector", **body)
    assert response.status_code == 403
    assert log_entries(session)[-1].outcome == outcome


def test_every_query_kind_matches_through_normalised_values(client, world):
    stock(client, world)
    case = approved_case(client, world)
    no = case["case_no"]
    by_id = trace(client, world, "investigator", case_no=no, sender_id_type="居民身份证",
                  sender_id_no=" ".join(ID_1[:9]) + ID_1[9:].lower()).get_json()
    assert by_id["count"] == 3
    by_phone = trace(client, world, "investigator", case_no=no, sender_phone="+86 139-1234-5678").get_json()
    assert [r["waybill_no"] for r in by_phone["results"]] == ["SF1000000001"]
    by_name = trace(client, world, "investigator", case_no=no, sender_name="王小明", **{"from": str(DAY), "to": str(DAY)})
    assert [r["waybill_no"] for r in by_name.get_json()["results"]] == ["SF1000000001"]
    day_before = trace(client, world, "investigator", case_no=no, sender_name="王小明",
                       **{"from": "2025-03-01", "to": "2025-03-09"}).get_json()
    assert day_before["count"] == 0
    by_outlet = trace(client, world, "investigator", case_no=no, outlet_code="tr-out-1",
                      **{"from": str(DAY), "to": str(DAY)}).get_json()
    assert by_outlet["count"] == 3


@pytest.mark.parametrize("body, field", [
    ({}, "query"),
    ({"waybill_no": "SF1000000001", "sender_phone": PHONE_1}, "query"),
    ({"sender_name": "王小明"}, "from"),
    ({"sender_id_type": "RESIDENT_ID", "sender_id_no": ID_1[:-1] + ("0" if ID_1[-1] != "0" else "1")}, "sender_id_no"),
    ({"outlet_code": "TR-OUT-1", "from": "2025-03-10", "to": "2025-03-01"}, "to"),
    ({"sender_phone": "12345"}, "sender_phone"),
])
def test_invalid_queries_are_422_and_logged(client, session, world, body, field):
    case = approved_case(client, world)
    response = trace(client, world, "investigator", case_no=case["case_no"], **body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]
    if body.get("sender_id_no"):
        assert body["sender_id_no"] not in response.get_data(as_text=True)
    last = log_entries(session)[-1]
    assert (last.action, last.outcome) == ("trace", "refused: invalid input")


def test_results_are_limited_and_say_so(app, client, world, configure):
    stock(client, world)
    case = approved_case(client, world)
    configure(trace_max_results=2)
    body = trace(client, world, "investigator", case_no=case["case_no"], outlet_code="TR-OUT-1",
                 **{"from": str(DAY), "to": str(DAY)}).get_json()
    assert body["count"] == 2 and body["truncated"] is True


def test_trace_queries_are_rate_limited_per_user_and_logged(app, client, session, world, configure):
    case = approved_case(client, world)
    configure(trace_rate_limit="2 per minute")
    codes = [trace(client, world, "investigator", case_no=case["case_no"], waybill_no="SF1000000001").status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]
    assert trace(client, world, "inspector", waybill_no="SF1000000001").status_code == 200
    assert [e.outcome for e in log_entries(session) if e.action == "trace"] == ["ok", "ok", "refused: rate limit", "ok"]


def test_every_query_is_logged_with_its_subject_hashed_never_in_clear(app, client, session, world):
    stock(client, world)
    case = approved_case(client, world)
    trace(client, world, "investigator", case_no=case["case_no"], sender_id_type="RESIDENT_ID", sender_id_no=ID_1)
    trace(client, world, "investigator", case_no=case["case_no"], sender_phone=PHONE_1)
    trace(client, world, "admin", sender_id_type="RESIDENT_ID", sender_id_no=ID_1)
    trace(client, world, "investigator", case_no="HGA-NOPE", sender_id_type="RESIDENT_ID", sender_id_no=ID_1)
    trace(client, world, "inspector", waybill_no="SF1000000001")
    entries = [e for e in log_entries(session) if e.action == "trace"]
    assert len(entries) == 5
    dump = json.dumps([{c.name: str(getattr(e, c.name)) for c in AccessLogEntry.__table__.columns} for e in entries],
                      ensure_ascii=False)
    assert ID_1 not in dump and PHONE_1 not in dump and mask_id_no(ID_1) not in dump
    id_hashes = {e.subject_hash for e in entries if e.query_type == "sender_id"}
    assert id_hashes == {_hash_of_id(app, ID_1)}
    assert all(e.client_addr == "127.0.0.1" and e.request_id for e in entries)
    assert entries[0].agency == AGENCY and entries[0].result_count == 3 and entries[0].role == "investigator"


def test_the_response_carries_the_request_id_of_its_log_entry(client, session, world):
    response = client.post("/api/v1/trace", json={"waybill_no": "SF1000000001"},
                           headers={**world.h["inspector"], "X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    assert log_entries(session)[-1].request_id == "abc-123"


def test_the_case_evidence_is_a_logged_clear_view(client, session, world):
    stock(client, world)
    case = approved_case(client, world)
    trace(client, world, "investigator", case_no=case["case_no"], waybill_no="SF1000000002")
    body = client.get(f"/api/v1/cases/{case['id']}/results", headers=world.h["investigator"]).get_json()
    assert body["count"] == 1 and body["results"][0]["sender_id_no"] == ID_2
    last = log_entries(session)[-1]
    assert (last.action, last.result_count, last.outcome) == ("case_view", 1, "ok")
    theirs = client.get(f"/api/v1/cases/{case['id']}/results", headers=world.h["other_investigator"])
    assert theirs.status_code == 404 and log_entries(session)[-1].outcome == "refused: not case investigator"


def test_investigators_see_the_xray_images_of_their_case_evidence_only_and_each_look_is_logged(
        app, client, session, world):
    stock(client, world)
    event = xray_event(session, world, "SF1000000002")
    image, heat = _with_image_files(app, event)
    case = approved_case(client, world)
    image_url, heat_url = f"/api/v1/xray-events/{event.id}/image", f"/api/v1/xray-events/{event.id}/heatmap"

    assert client.get(image_url, headers=world.h["investigator"]).status_code == 404  # not yet in the evidence
    refused = log_entries(session)[-1]
    assert (refused.action, refused.outcome, refused.case_no) == ("evidence_image", "refused: not in case evidence",
                                                                  None)
    assert refused.subject_hash == _hash_of_waybill(app, "SF1000000002") and "SF1000000002" not in repr(
        refused.__dict__)

    trace(client, world, "investigator", case_no=case["case_no"], waybill_no="SF1000000002")
    response = client.get(image_url, headers=world.h["investigator"])
    assert response.status_code == 200 and response.data == image
    assert client.get(heat_url, headers=world.h["investigator"]).data == heat
    image_look, heat_look = log_entries(session)[-2:]
    assert (image_look.action, image_look.case_no, image_look.outcome, image_look.result_count) == (
        "evidence_image", case["case_no"], "ok", 1)
    assert (heat_look.action, heat_look.query_type) == ("evidence_heatmap", "xray_event")

    assert client.get(image_url, headers=world.h["other_investigator"]).status_code == 404
    assert log_entries(session)[-1].outcome == "refused: not in case evidence"
    session.execute(update(Case).where(Case.id == case["id"]).values(valid_until=today() - dt.timedelta(days=1)))
    session.flush()
    assert client.get(image_url, headers=world.h["investigator"]).status_code == 404  # the case expired
    assert client.get(image_url, headers=world.h["auditor"]).status_code == 403


def _hash_of_waybill(app, waybill: str) -> str:
    return accesslog.subject_hash(accesslog.subject_key(app.config["INSTANCE_PATH"]), "waybill", waybill)


# --- watchlists -------------------------------------------------------------------------------------------------


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(app, configure):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received = []
    configure(watchlist_webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
    yield _Hook.received
    server.shutdown()
    server.server_close()


def _run_watchlists(app, now: dt.datetime):
    from greenshield import jobs
    from greenshield.trace.jobs import run_watchlists

    jobs.bind(app)
    try:
        return run_watchlists(now)
    finally:
        jobs.bind(None)


def test_a_watchlist_notifies_of_new_matches_in_app_and_by_webhook(app, client, session, world, webhook):
    stock(client, world)
    case = approved_case(client, world)
    created = client.post(f"/api/v1/cases/{case['id']}/watchlists", headers=world.h["investigator"], json={
        "name": "王某身份证", "cron": "* * * * *",
        "query": {"sender_id_type": "RESIDENT_ID", "sender_id_no": ID_1}})
    assert created.status_code == 201, created.get_json()
    shown = created.get_json()
    assert shown["query"] == {"query_type": "sender_id", "sender_id_type": "RESIDENT_ID", "sender_id_no": mask_id_no(ID_1)}
    stored = session.get(Watchlist, shown["id"])
    assert ID_1 not in json.dumps(stored.query)

    now = dt.datetime.now(dt.timezone.utc).replace(second=10, microsecond=0)
    assert _run_watchlists(app, now) == {"run": 1, "stopped": 0, "matches": 0}
    assert webhook == []
    upload_rows(client, world.h["admin"], world.outlet.code, [log_row("SF3000000001", sender_id_no=ID_1),
                                                              log_row("SF3000000002", sender_id_no=ID_2)])
    assert _run_watchlists(app, now + dt.timedelta(minutes=1))["matches"] == 1
    note = session.scalar(select(Notification).where(Notification.kind == "watchlist_match"))
    assert note.user_id == world.people["investigator"].id and note.data["waybills"] == ["SF3000000001"]
    assert webhook == [{**webhook[0], "kind": "watchlist_match", "case_no": case["case_no"], "count": 1,
                        "waybills": ["SF3000000001"]}]
    assert ID_1 not in json.dumps(webhook)
    assert webhook[0]["text"] == f"案件 {case['case_no']} 的监控查询“王某身份证”有 1 条新结果"
    in_app = client.get("/api/v1/notifications", headers={**world.h["investigator"], "Accept-Language": "en"})
    assert "1 new match for watchlist 王某身份证" in json.dumps(in_app.get_json(), ensure_ascii=False)
    assert _run_watchlists(app, now + dt.timedelta(minutes=1, seconds=5)) == {"run": 0, "stopped": 0, "matches": 0}
    runs = [e for e in log_entries(session) if e.action == "watchlist_run"]
    assert [(e.result_count, e.client_addr, e.subject_hash) for e in runs] == [
        (0, "scheduler", _hash_of_id(app, ID_1)), (1, "scheduler", _hash_of_id(app, ID_1))]
    in_app = client.get("/api/v1/notifications?unread=true", headers=world.h["investigator"]).get_json()
    assert in_app[0]["kind"] == "watchlist_match"
    read = client.post(f"/api/v1/notifications/{in_app[0]['id']}/read", headers=world.h["investigator"])
    assert read.get_json()["read_at"] is not None


def test_watchlists_die_with_their_case(app, client, session, world, webhook):
    case = approved_case(client, world)
    body = {"name": "电话", "cron": "* * * * *", "query": {"sender_phone": PHONE_1}}
    watch = client.post(f"/api/v1/cases/{case['id']}/watchlists", headers=world.h["investigator"], json=body).get_json()
    client.post(f"/api/v1/cases/{case['id']}/refuse", json={"reason": "撤销"}, headers=world.h["auditor"])
    stock(client, world)
    assert _run_watchlists(app, dt.datetime.now(dt.timezone.utc)) == {"run": 0, "stopped": 0, "matches": 0}
    assert session.get(Watchlist, watch["id"]).active is False
    refused = client.post(f"/api/v1/cases/{case['id']}/watchlists", headers=world.h["investigator"], json=body)
    assert refused.status_code == 403 and log_entries(session)[-1].outcome == "refused: case refused"

    other = approved_case(client, world, case_no="HGA-2026-009", days=0)
    watch = client.post(f"/api/v1/cases/{other['id']}/watchlists", headers=world.h["investigator"], json=body).get_json()
    session.execute(update(Case).where(Case.id == other["id"]).values(valid_until=today() - dt.timedelta(days=1)))
    assert _run_watchlists(app, dt.datetime.now(dt.timezone.utc)) == {"run": 0, "stopped": 1, "matches": 0}
    assert session.get(Watchlist, watch["id"]).active is False
    assert webhook == []


def test_a_watchlist_needs_a_valid_query_and_cron(client, world):
    case = approved_case(client, world)
    url = f"/api/v1/cases/{case['id']}/watchlists"
    bad_cron = client.post(url, headers=world.h["investigator"], json={"name": "x", "cron": "every day",
                                                                      "query": {"waybill_no": "SF1000000001"}})
    assert bad_cron.status_code == 422 and "cron" in bad_cron.get_json()["error"]["details"]
    bad_query = client.post(url, headers=world.h["investigator"], json={"name": "x", "cron": "0 * * * *",
                                                                       "query": {"sender_phone": "1"}})
    assert bad_query.status_code == 422
    listed = client.get(url, headers=world.h["auditor"])
    assert listed.status_code == 200 and listed.get_json() == []
    made = client.post(url, headers=world.h["investigator"], json={"name": "x", "cron": "0 * * * *",
                                                                  "query": {"waybill_no": "SF1000000001"}}).get_json()
    assert client.delete(f"{url}/{made['id']}", headers=world.h["investigator"]).status_code == 204
    assert [w["active"] for w in client.get(url, headers=world.h["investigator"]).get_json()] == [False]
    assert client.delete(f"{url}/{made['id']}", headers=world.h["other_investigator"]).status_code == 404


# --- evidence export --------------------------------------------------------------------------------------------


def _with_image_files(app, event: XrayEvent) -> tuple[bytes, bytes]:
    from greenshield.context import storage
    from greenshield.xray.services import heatmap_key, image_key

    with app.app_context():
        storage().put(image_key(event), b"\x89PNG\r\n\x1a\n-image-")
        storage().put(heatmap_key(event), b"\x89PNG\r\n\x1a\n-heat-")
        return storage().get(image_key(event)), storage().get(heatmap_key(event))


def test_the_evidence_export_is_a_zip_with_a_verified_manifest(app, client, session, world, runner, tmp_path):
    stock(client, world)
    event = xray_event(session, world, "SF1000000003")
    image, heat = _with_image_files(app, event)
    case = approved_case(client, world)
    trace(client, world, "investigator", case_no=case["case_no"], sender_id_type="RESIDENT_ID", sender_id_no=ID_1)
    with client.get(f"/api/v1/cases/{case['id']}/export", headers=world.h["investigator"]) as response:
        assert response.status_code == 200 and response.mimetype == "application/zip"
        data = response.data
    assert "evidence-HGA-2026-001.zip" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(archive.read("manifest.json"))
    names = {f["name"] for f in manifest["files"]}
    assert {"records.csv", "records.json", "access_log.json", f"xray/{event.id}-image.png",
            f"xray/{event.id}-heatmap.png"} <= names
    import hashlib

    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
    assert archive.read(f"xray/{event.id}-image.png") == image and archive.read(f"xray/{event.id}-heatmap.png") == heat
    key = accesslog.load_public_key(accesslog.public_key_path(app.config["INSTANCE_PATH"]))
    key.verify(base64.b64decode(archive.read("manifest.sig")), archive.read("manifest.json"))

    rows = list(csv.DictReader(io.StringIO(archive.read("records.csv").decode("utf-8-sig"))))
    assert len(rows) == 4  # SF1000000001 twice (a correction), SF1000000003, SF2000000001
    assert {r["sender_id_no"] for r in rows} == {ID_1}
    assert next(r for r in rows if r["waybill_no"] == "SF1000000003")["sender_name"] == "'=HYPERLINK(\"x\")"
    assert json.loads(archive.read("records.json"))["count"] == 3
    assert set(archive.namelist()) == names | {"manifest.json", "manifest.sig"}  # the manifest covers every file
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(archive.read("records.xlsx")), read_only=True).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    head = table[0]
    assert head[:2] == ["运单号", "版本"] and "收寄时间" in head and "是否实名" in head
    first = dict(zip(head, table[1]))
    assert first["证件类型"] == "居民身份证" and first["是否实名"] in ("是", "否")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", first["收寄时间"])  # China time, no offset
    people_log = openpyxl.load_workbook(io.BytesIO(archive.read("access_log.xlsx")), read_only=True).active
    log_rows = [list(r) for r in people_log.iter_rows(values_only=True)]
    assert log_rows[0][:4] == ["序号", "时间", "用户", "角色"] and log_rows[1][3] == "调查员"
    log = json.loads(archive.read("access_log.json"))
    assert [e["action"] for e in log] == ["case_register", "case_approve", "trace", "export"]
    assert manifest["access_log_entry"]["action"] == "export" and manifest["results"] == 3
    assert all(accesslog.chain_hash(e["prev_hash"], {k: e[k] for k in accesslog.HASHED_FIELDS}) == e["entry_hash"]
               for e in log)
    last = log_entries(session)[-1]
    assert (last.action, last.result_count, last.outcome) == ("export", 3, "ok")

    path = tmp_path / "evidence.zip"
    path.write_bytes(data)
    ok = runner.invoke(args=["trace", "verify-export", str(path)])
    assert ok.exit_code == 0, ok.output
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(forged, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, data.replace(ID_1.encode(), resident_id(99).encode()) if item.filename == "records.csv"
                         else data)
    bad = runner.invoke(args=["trace", "verify-export", str(forged)])
    assert bad.exit_code == 1 and "records.csv does not match" in bad.output


def test_only_the_case_investigator_exports_and_refusals_are_logged(client, session, world):
    case = approved_case(client, world)
    assert client.get(f"/api/v1/cases/{case['id']}/export", headers=world.h["other_investigator"]).status_code == 404
    assert client.get(f"/api/v1/cases/{case['id']}/export", headers=world.h["auditor"]).status_code == 403
    pending = register(client, world, case_no="HGA-2026-003")
    assert client.get(f"/api/v1/cases/{pending['id']}/export", headers=world.h["investigator"]).status_code == 403
    assert [(e.action, e.outcome, e.case_no) for e in log_entries(session) if e.action == "export"] == [
        ("export", "refused: not case investigator", "HGA-2026-001"), ("export", "refused: role", "HGA-2026-001"),
        ("export", "refused: case pending", "HGA-2026-003")]


# --- pages ------------------------------------------------------------------------------------------------------


def test_investigator_pages_from_case_to_timeline(client, session, world, login):
    stock(client, world)
    login(client, world.people["investigator"])
    assert client.get("/cases").status_code == 200
    form = {"case_no": "HGA-WEB-1", "legal_basis": "依法", "purpose": "追查",
            "valid_until": (today() + dt.timedelta(days=5)).isoformat()}
    created = client.post("/cases/new", data=form)
    assert created.status_code == 302
    case = session.scalar(select(Case).where(Case.case_no == "HGA-WEB-1"))
    assert case.agency == AGENCY
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "HGA-WEB-1" in page and 'id="approve-form"' not in page
    refused = client.post("/trace", data={"case_no": "HGA-WEB-1", "waybill_no": "SF1000000001"})
    assert refused.status_code == 403 and "案件 HGA-WEB-1 尚待审批，暂不能查询。" in refused.get_data(as_text=True)

    client.post("/logout")
    login(client, world.people["auditor"])
    assert 'id="approve-form"' in client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert client.post(f"/cases/{case.id}/approve").status_code == 302

    client.post("/logout")
    login(client, world.people["investigator"])
    result = client.post("/trace", data={"case_no": "HGA-WEB-1", "sender_id_type": "RESIDENT_ID",
                                         "sender_id_no": ID_1})
    html = result.get_data(as_text=True)
    assert result.status_code == 200 and ID_1 in html and "SF2000000001" in html and 'class="timeline"' in html
    evidence = client.get(f"/cases/{case.id}/results").get_data(as_text=True)
    assert ID_1 in evidence
    watch = client.post(f"/cases/{case.id}/watchlists", data={"name": "w", "cron": "0 * * * *", "sender_phone": PHONE_1})
    assert watch.status_code == 302
    assert mask_phone(PHONE_1) in client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert [e.action for e in log_entries(session)] == ["case_register", "trace", "case_approve", "trace",
                                                        "case_view", "watchlist_create"]
    assert client.get("/notifications").status_code == 200


def test_inspector_page_is_masked(client, world, login):
    stock(client, world)
    login(client, world.people["inspector"])
    assert 'name="sender_id_no"' not in client.get("/trace").get_data(as_text=True)
    html = client.post("/trace", data={"waybill_no": "SF1000000001"}).get_data(as_text=True)
    assert mask_id_no(ID_1) in html and ID_1 not in html and PHONE_1 not in html


def test_auditors_read_filter_and_verify_the_log(client, session, world, login):
    stock(client, world)
    case = approved_case(client, world)
    trace(client, world, "investigator", case_no=case["case_no"], waybill_no="SF1000000001")
    trace(client, world, "manager", waybill_no="SF1000000001")
    api = client.get("/api/v1/access-log?outcome=refused", headers=world.h["auditor"])
    assert [e["username"] for e in api.get_json()] == [world.people["manager"].username]
    by_case = client.get(f"/api/v1/access-log?case_no={case['case_no']}&action=trace", headers=world.h["admin"])
    assert [e["result_count"] for e in by_case.get_json()] == [1]
    assert client.get("/api/v1/access-log", headers=world.h["investigator"]).status_code == 403
    day = today().isoformat()
    this_day = client.get(f"/api/v1/access-log?from={day}&to={day}&action=trace", headers=world.h["auditor"])
    assert len(this_day.get_json()) == 2
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    assert client.get(f"/api/v1/access-log?to={yesterday}", headers=world.h["auditor"]).get_json() == []
    verified = client.get("/api/v1/access-log/verify", headers=world.h["auditor"]).get_json()
    assert verified["ok"] is True and verified["first_bad_seq"] is None

    login(client, world.people["auditor"])
    page = client.get(f"/access-log?user={world.people['investigator'].username}").get_data(as_text=True)
    assert case["case_no"] in page and world.people["manager"].username not in page
    assert 'id="verify-ok"' in client.get("/access-log/verify").get_data(as_text=True)


# --- the recipient side of the waybill --------------------------------------------------------------------------

RECIPIENT_PHONE = "13712345678"


def test_recipients_are_traced_by_phone_and_by_name_in_a_period_masked_and_logged(app, client, session, world):
    upload_rows(client, world.h["admin"], world.outlet.code, [
        log_row("SF3000000001", recipient_name="赵收件", recipient_phone="137-1234-5678",
                recipient_address="北京市海淀区中关村大街27号", destination_region="北京", sender_address="呼和浩特市新城区1号"),
        log_row("SF3000000002", at="11:00:00", recipient_name="赵收件"),
        log_row("SF3000000003", at="12:00:00", recipient_phone=PHONE_1, sender_phone=RECIPIENT_PHONE),
    ])
    stored = session.scalar(select(CollectionRecord).where(CollectionRecord.waybill_no == "SF3000000001"))
    assert RECIPIENT_PHONE.encode() not in stored.recipient_phone_enc and stored.recipient_phone_hmac
    assert "中关村".encode() not in stored.recipient_address_enc and stored.destination_region == "110000"
    case = approved_case(client, world)
    by_phone = trace(client, world, "investigator", case_no=case["case_no"], recipient_phone="+86 137 1234 5678")
    [chain] = by_phone.get_json()["results"]  # SF3000000003 has the number as the sender's, not the recipient's
    assert (chain["waybill_no"], chain["recipient_phone"], chain["recipient_name"]) == (
        "SF3000000001", RECIPIENT_PHONE, "赵收件")
    assert (chain["recipient_address"], chain["destination_region"], chain["sender_address"]) == (
        "北京市海淀区中关村大街27号", "110000", "呼和浩特市新城区1号")
    by_name = trace(client, world, "investigator", case_no=case["case_no"], recipient_name="赵收件",
                    **{"from": str(DAY), "to": str(DAY)}).get_json()
    assert [r["waybill_no"] for r in by_name["results"]] == ["SF3000000001", "SF3000000002"]
    assert trace(client, world, "investigator", case_no=case["case_no"], recipient_name="赵收件").status_code == 422
    assert trace(client, world, "inspector", recipient_phone=RECIPIENT_PHONE).status_code == 403
    masked = trace(client, world, "inspector", waybill_no="SF3000000001").get_json()["results"][0]
    assert (masked["recipient_phone"], masked["recipient_name"]) == (mask_phone(RECIPIENT_PHONE), "赵**")
    assert masked["recipient_address"] == "北京市海淀区********" and "1号" not in masked["sender_address"]
    entries = [e for e in log_entries(session) if e.action == "trace"]
    assert [e.query_type for e in entries[:2]] == ["recipient_phone", "recipient_name"]
    dump = json.dumps([{c.name: str(getattr(e, c.name)) for c in AccessLogEntry.__table__.columns} for e in entries],
                      ensure_ascii=False)
    assert RECIPIENT_PHONE not in dump and "赵收件" not in dump
    assert entries[0].subject_hash == accesslog.subject_hash(
        accesslog.subject_key(app.config["INSTANCE_PATH"]), "recipient_phone", RECIPIENT_PHONE)
