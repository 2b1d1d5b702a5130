"""API fuzzing with schemathesis: requests generated from /api/v1/openapi.json, sent in-process as each of the five
roles, must never be a server error and every response must match what the document says of its status, content
type, headers and body.

Multipart uploads (daily logs, X-ray events, audit photos) are fuzzed like the rest: schema-valid multipart whose
file parts are random bytes or, as often, a real CSV log or PNG. Bearer-token calls need no CSRF token.
Run alone with ``pytest -m fuzz``; ``GREENSHIELD_FUZZ_EXAMPLES=100 pytest -m fuzz`` fuzzes deeper.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import tempfile
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, settings, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)
from sqlalchemy import select

from audits.checklist import ROUTINE
from greenshield import create_app, db as gdb
from greenshield.auth.services import create_user, issue_token
from greenshield.extensions import limiter
from models import (ContractCustomer, Enterprise, Notification, Outlet, OutletKind, Region, Role, Staff, StaffRole,
                    XrayMachine)
from tests.helpers import csv_bytes, log_row, resident_id

CODES = tuple(item.code for item in ROUTINE)

ROLES = ("admin", "inspector", "outlet_manager", "investigator", "auditor")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
EXAMPLES = int(os.environ.get("GREENSHIELD_FUZZ_EXAMPLES", "8"))
PASSWORD = "correct-horse-battery"
pytestmark = pytest.mark.fuzz

CONFIG = schemathesis.Config.from_dict({
    "seed": 20261129,
    "generation": {
        "deterministic": True, "max-examples": EXAMPLES, "database": "none", "no-shrink": True,
        # The role's bearer token is sent with every request (anonymous callers are test_access.py's business).
        "with-security-parameters": False,
    },
    # Examples and fuzzing (valid and invalid data); the coverage phase alone would send thousands of requests.
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
})


def _document() -> dict:
    """The OpenAPI document as /api/v1/openapi.json serves it (test_the_fuzzed_document_is_the_served_one checks);
    building it needs no database, so the operations are known when pytest collects."""
    with tempfile.TemporaryDirectory() as folder:
        spec_app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": folder,
                               "SECRET_KEY": "fuzz"})
        return json.loads(spec_app.test_client().get("/api/v1/openapi.json").get_data())


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


def _png() -> bytes:
    rng = np.random.default_rng(3)
    return cv2.imencode(".png", rng.integers(0, 255, size=(64, 80), dtype=np.uint8))[1].tobytes()


def _daily_log() -> bytes:
    return csv_bytes([log_row("SF1000000001", sender_id_no=resident_id(11)), log_row("SF1000000002", sender_id_no="1")])


@pytest.fixture(scope="module")
def world(app):
    """Seeded through the API in one transaction, rolled back at the end of the module: three outlets (two in
    Hohhot, one in Baotou) with a machine, a screener and a contract customer; a daily log with a rejected row; an
    X-ray event; an approved case with a trace, a watchlist and a notification, and a pending case; an audit plan
    with one open audit (a photo) and one closed with a rectification order; an audit schedule; and one user and
    token per role (the inspector scoped to Hohhot, the manager to FZ-OUT-1)."""
    database = app.extensions[gdb.EXTENSION]
    connection = database.engine.connect()
    transaction = connection.begin()
    database.bind_to(connection)
    client = app.test_client()
    try:
        session = database.sessionmaker()
        sf = session.scalar(select(Enterprise).where(Enterprise.code == "SF"))
        outlets = [Outlet(code=code, name=f"模糊测试网点 {code}", enterprise=sf, region=session.get(Region, region),
                          kind=OutletKind.OUTLET, active=True)
                   for code, region in (("FZ-OUT-1", "150100"), ("FZ-OUT-2", "150200"), ("FZ-OUT-3", "150100"))]
        session.add_all(outlets)
        session.flush()
        session.add_all([
            XrayMachine(code="FZ-X1", outlet=outlets[0], model="CX5030", installed_on=dt.date(2024, 1, 1), active=True),
            Staff(staff_id="FZ-S1", name="安检员甲", outlet=outlets[0], role=StaffRole.SCREENER, certificate_no="AJY1",
                  active=True),
            ContractCustomer(code="FZ-CC1", name="协议客户", credit_code="91350100M000100Y43", outlet=outlets[0],
                             filed_on=dt.date(2025, 1, 1), valid_until=dt.date(2027, 1, 1), active=True),
        ])
        users = {
            "admin": create_user(session, username="fz_admin", password=PASSWORD, role=Role.ADMIN),
            "inspector": create_user(session, username="fz_inspector", password=PASSWORD, role=Role.INSPECTOR,
                                     region_code="150100"),
            "outlet_manager": create_user(session, username="fz_manager", password=PASSWORD,
                                          role=Role.OUTLET_MANAGER, outlet_codes=["FZ-OUT-1"]),
            "investigator": create_user(session, username="fz_investigator", password=PASSWORD,
                                        role=Role.INVESTIGATOR, agency="呼和浩特市公安局"),
            "auditor": create_user(session, username="fz_auditor", password=PASSWORD, role=Role.AUDITOR),
        }
        create_user(session, username="fz_inspector2", password=PASSWORD, role=Role.INSPECTOR, region_code="150000")
        session.flush()
        tokens = {role: issue_token(session, user, days=2) for role, user in users.items()}
        headers = {role: {"Authorization": f"Bearer {plain}"} for role, (_, plain) in tokens.items()}
        token_ids = [token.id for token, _ in tokens.values()]
        outlet_codes, usernames = [o.code for o in outlets], [u.username for u in users.values()]
        session.commit()

        def ok(response):
            assert response.status_code in (200, 201), response.get_data(as_text=True)[:500]
            return response.get_json()

        admin, investigator = headers["admin"], headers["investigator"]
        batch = ok(client.post("/api/v1/outlets/FZ-OUT-1/daily-logs", headers=admin,
                               data={"file": (io.BytesIO(_daily_log()), "log.csv")}))
        event = ok(client.post("/api/v1/xray-events", headers=headers["outlet_manager"], data={
            "image": (io.BytesIO(_png()), "scan.png"), "machine_code": "FZ-X1", "waybill_no": "SF1000000001",
            "scanned_at": "2025-03-10T10:05:00+08:00", "operator_id": "FZ-S1"}))
        valid_until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
        case = ok(client.post("/api/v1/cases", headers=investigator, json={
            "case_no": "FZ-2026-001", "legal_basis": "《刑事诉讼法》第一百四十三条", "purpose": "追查涉案包裹",
            "valid_until": valid_until}))
        ok(client.post(f"/api/v1/cases/{case['id']}/approve", headers=headers["auditor"]))
        pending = ok(client.post("/api/v1/cases", headers=investigator, json={
            "case_no": "FZ-2026-002", "legal_basis": "依法", "purpose": "待审批", "valid_until": valid_until}))
        ok(client.post("/api/v1/trace", headers=investigator, json={"case_no": "FZ-2026-001",
                                                                     "waybill_no": "SF1000000001"}))
        watchlist = ok(client.post(f"/api/v1/cases/{case['id']}/watchlists", headers=investigator, json={
            "name": "同一运单", "query": {"waybill_no": "SF1000000001"}, "cron": "0 * * * *"}))
        plan = ok(client.post("/api/v1/audit-plans", headers=admin, json={
            "region_code": "150100", "outlets": 2, "inspectors_per_audit": 1, "seed": 7,
            "due_date": (dt.date.today() + dt.timedelta(days=10)).isoformat()}))
        open_audit, closed_audit = (audit["id"] for audit in plan["audits"])
        entry = ok(client.post(f"/api/v1/audits/{open_audit}/checklist/video_coverage/photos", headers=admin,
                               data={"photo": (io.BytesIO(_png()), "wall.png")}))
        for item in CODES:
            ok(client.put(f"/api/v1/audits/{closed_audit}/checklist/{item}", headers=admin,
                          json={"compliant": item != "video_coverage", "finding": "监控只保存 7 天"}))
        ok(client.post(f"/api/v1/audits/{closed_audit}/close", headers=admin, json={
            "result": "rectify", "summary": "整改", "requirements": "监控保存 30 天",
            "deadline": (dt.date.today() + dt.timedelta(days=20)).isoformat()}))
        order = ok(client.get("/api/v1/rectification-orders", headers=admin))[0]
        schedule = ok(client.post("/api/v1/audit-schedules", headers=admin, json={
            "cron": "0 8 1 * *", "region_code": "150100", "outlets": 1}))
        incident = ok(client.post("/api/v1/incidents", headers=headers["outlet_manager"], json={
            "outlet_code": "FZ-OUT-1", "occurred_at": "2025-03-10T09:00:00+08:00", "type": "leak",
            "description": "快件泄漏"}))
        attachment = ok(client.post(f"/api/v1/incidents/{incident['id']}/attachments", headers=admin,
                                    data={"file": (io.BytesIO(_png()), "scene.png")}))
        emergency_plan = ok(client.post("/api/v1/emergency-plans", headers=admin, json={
            "enterprise_code": "SF", "title": "应急预案", "version": "1", "valid_until": "2030-01-01"}))
        session.expire_all()
        notifications = session.scalars(select(Notification.id)).all()
        session.close()

        codes = {"outlets": outlet_codes, "xray-machines": ["FZ-X1"], "contract-customers": ["FZ-CC1"]}
        codes["compliance"] = codes["outlets"]
        path_values = {
            "username": usernames, "token_id": token_ids, "staff_id": ["FZ-S1"],
            "batch_id": [batch["batch_id"]], "event_id": [event["id"]], "case_id": [case["id"], pending["id"]],
            "watchlist_id": [watchlist["id"]], "plan_id": [plan["id"]], "audit_id": [open_audit, closed_audit],
            "photo_id": entry["photos"], "order_id": [order["id"]], "schedule_id": [schedule["id"]],
            "notification_id": notifications, "waybill_no": ["SF1000000001", "SF1000000002"], "item": list(CODES),
            "version": [event["model_version"]], "incident_id": [incident["id"]],
            "attachment_id": [attachment["id"]], "emergency_plan_id": [emergency_plan["id"]],
        }
        body_values = {
            "outlet_code": codes["outlets"], "region_code": ["150000", "150100", "150200"],
            "enterprise_code": ["SF", "EMS"], "machine_code": ["FZ-X1"], "staff_id": ["FZ-S1"],
            "case_no": ["FZ-2026-001", "FZ-2026-002"], "waybill_no": ["SF1000000001"], "operator_id": ["FZ-S1"],
            "file": [_daily_log()], "image": [_png()], "photo": [_png()],
        }
        yield SimpleNamespace(headers=headers, codes=codes, path_values=path_values, body_values=body_values,
                              connection=connection)
    finally:
        database.bind_to(None)
        transaction.rollback()
        connection.close()


def _sometimes_known(generated: dict, known: dict[str, list]):
    """``generated`` as is, or with the ``known`` keys set to values of the seeded data (hypothesis chooses)."""
    if not known:
        return st.just(generated)
    return st.one_of(st.just(generated), st.fixed_dictionaries(
        {key: st.sampled_from(values) for key, values in known.items()}).map(lambda chosen: {**generated, **chosen}))


@pytest.fixture(scope="module")
def fuzzing(world):
    """Hooks of the schema: identifiers in paths and codes in bodies are made up or, as often, real ones of the
    seeded data, so that requests get past 404 and 422 to the code behind them."""
    def path_values(name: str, path: str) -> list | None:
        if name == "code":
            return world.codes.get(path.split("/")[3])
        return world.path_values.get(name)

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        known = {name: values for name in path_parameters or ()
                 if (values := path_values(name, context.operation.path))}
        return _sometimes_known(path_parameters, known)

    @schema.hook
    def flatmap_body(context, body):
        if not isinstance(body, dict):
            return st.just(body)
        return _sometimes_known(body, {key: world.body_values[key] for key in body if key in world.body_values})

    yield world
    for hook in (flatmap_path_parameters, flatmap_body):
        schema.hooks.unregister(hook)


@contextlib.contextmanager
def rolled_back(connection):
    """Whatever the request stores is undone, so that every example meets the same seeded data.

    Plain SQL, because the savepoint must also be released: ROLLBACK TO (all SQLAlchemy's nested rollback does)
    keeps it, and thousands of savepoints nested in the module's transaction exhaust PostgreSQL's lock table."""
    connection.exec_driver_sql("SAVEPOINT fuzz_example")
    try:
        yield
    finally:
        connection.exec_driver_sql("ROLLBACK TO SAVEPOINT fuzz_example")
        connection.exec_driver_sql("RELEASE SAVEPOINT fuzz_example")


def test_the_fuzzed_document_is_the_served_one(app):
    assert app.test_client().get("/api/v1/openapi.json").get_json() == DOCUMENT


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning")
@schema.parametrize()
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
def test_every_response_is_documented(app, fuzzing, case, role):
    """Every operation of the document (80) x the five roles x at most 8 examples (GREENSHIELD_FUZZ_EXAMPLES), each
    in a savepoint rolled back afterwards: about 3,200 requests, under 3 minutes on two busy cores (~50 s of CPU).

    Every response: not a 5xx, a documented status, the documented content type, headers and body schema."""
    limiter.reset()  # the trace rate limit is tested in test_trace.py; here it would only make 429s
    with rolled_back(fuzzing.connection):
        # buffered: the WSGI response is read and closed, as a server does (send_file's stream included)
        case.call_and_validate(app=app, headers=fuzzing.headers[role], checks=CHECKS, buffered=True)
