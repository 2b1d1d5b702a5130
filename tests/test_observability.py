"""Operations as an operator sees them: request ids, JSON log lines without personal data, and ``/metrics``
(format, counts, access, and the sum over the workers of a real ``greenshield serve``)."""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from greenshield import observability
from tests.conftest import run_cli
from tests.helpers import csv_bytes, log_row, resident_id, upload, upload_rows
from tests.helpers import free_port, request
from tests.helpers import approved_case, trace

ID_1, ID_2, ID_3 = resident_id(31), resident_id(32), resident_id(33)
BAD_ID = ID_3[:-1] + ("1" if ID_3[-1] != "1" else "2")  # wrong check character
PHONE_1, PHONE_2 = "13987654321", "15100001111"
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def logs():
    """Everything logged during the test (DEBUG and up), as the JSON lines ``greenshield serve`` writes."""
    stream = io.StringIO()
    handler = observability.log_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def access_lines(stream: io.StringIO) -> list[dict]:
    return [r for r in map(json.loads, stream.getvalue().splitlines()) if r["logger"] == "greenshield.access"]


def scrape(client, headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def admin(make_user, bearer):
    return bearer(make_user("admin"))


# --- request ids --------------------------------------------------------------------------------------------


def test_a_sane_request_id_is_echoed_and_a_missing_one_generated(client):
    assert client.get("/healthz", headers={"X-Request-ID": "gw-1.a_B"}).headers["X-Request-ID"] == "gw-1.a_B"
    generated = {client.get("/healthz").headers["X-Request-ID"] for _ in range(2)}
    assert len(generated) == 2 and all(HEX32.fullmatch(g) for g in generated)


@pytest.mark.parametrize("given", ["has space", "a:b", "x" * 65, "<script>", "é", ""])
def test_an_unsafe_request_id_is_replaced(client, given):
    assert HEX32.fullmatch(client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"])


def test_errors_carry_the_request_id_and_keep_their_shape(client, logs):
    response = client.get("/api/v1/me", headers={"X-Request-ID": "err-42"})
    assert response.status_code == 401 and response.headers["X-Request-ID"] == "err-42"
    assert set(response.get_json()) == {"error"}
    assert set(response.get_json()["error"]) == {"code", "message", "details"}
    assert access_lines(logs)[-1]["request_id"] == "err-42"


# --- logs ---------------------------------------------------------------------------------------------------


def test_one_json_access_line_per_request_with_the_route_not_the_url(client, logs, make_user, bearer):
    user = make_user("inspector", region="150100")
    response = client.get("/api/v1/outlets/NOPE-0001?secret=hush", headers={**bearer(user), "X-Request-ID": "r-1"})
    assert response.status_code == 404
    client.get("/no/such/page?q=hush")
    first, second = access_lines(logs)
    assert {"timestamp", "level", "logger", "message", "request_id", "method", "path", "status", "duration_ms",
            "user_id", "role"} <= set(first)
    assert (first["request_id"], first["method"], first["path"], first["status"], first["user_id"], first["role"]) \
        == ("r-1", "GET", "/api/v1/outlets/<code>", 404, user.id, "inspector")
    assert first["level"] == "INFO" and isinstance(first["duration_ms"], float)
    assert dt.datetime.fromisoformat(first["timestamp"]).utcoffset() == dt.timedelta(0)
    assert (second["path"], second["status"], second["user_id"], second["role"]) == ("<unmatched>", 404, None, None)
    assert "hush" not in logs.getvalue() and "NOPE" not in logs.getvalue()


def test_text_format_for_development_is_one_line_per_record():
    stream = io.StringIO()
    logger = logging.getLogger("greenshield.test.text")
    logger.addHandler(observability.log_handler("text", stream))
    logger.propagate = False
    try:
        logger.warning("sender %s called from %s", ID_1, PHONE_1)
    finally:
        logger.handlers.clear()
        logger.propagate = True
    line = stream.getvalue()
    assert line.count("\n") == 1 and "WARNING greenshield.test.text [-] sender" in line
    assert ID_1 not in line and PHONE_1 not in line
    with pytest.raises(ValueError):
        observability.log_handler("xml")


def test_no_personal_data_reaches_the_logs(client, world, logs, session):  # noqa: F811 - fixture
    """Uploads with ID and phone numbers, traces by them (clear for the investigator), a refused and an invalid
    trace, a query string: none of the numbers or names is in any log line, whatever its level."""
    body = upload_rows(client, world.h["admin"], world.outlet.code, [
        log_row("SF3000000001", sender_id_no=ID_1, sender_phone=PHONE_1, sender_name="赵铁柱"),
        log_row("SF3000000002", sender_id_no=ID_2, sender_phone=PHONE_2),
        log_row("SF3000000003", sender_id_no=BAD_ID, sender_phone="1390000"),
    ])
    assert body["rows_rejected"] == 1
    case = approved_case(client, world, case_no="OBS-2026-001")
    found = trace(client, world, "investigator", case_no=case["case_no"], sender_id_type="RESIDENT_ID",
                  sender_id_no=ID_1)
    assert found.status_code == 200 and found.get_json()["results"][0]["sender_id_no"] == ID_1
    assert trace(client, world, "investigator", case_no=case["case_no"], sender_phone=PHONE_2).status_code == 200
    assert trace(client, world, "inspector", sender_id_type="RESIDENT_ID", sender_id_no=ID_1).status_code == 403
    assert trace(client, world, "investigator", case_no=case["case_no"], sender_id_type="RESIDENT_ID",
                 sender_id_no=BAD_ID).status_code == 422
    client.get(f"/api/v1/batches?outlet={ID_2}&phone={PHONE_1}", headers=world.h["admin"])
    logging.getLogger("greenshield.test").error("a careless message about %s and %s", ID_2, PHONE_2)
    text = logs.getvalue()
    assert len(access_lines(logs)) >= 8
    for secret in (ID_1, ID_2, BAD_ID, PHONE_1, PHONE_2, "赵铁柱", ID_1[:14]):
        assert secret not in text, secret


# --- metrics ------------------------------------------------------------------------------------------------


def test_metrics_parse_and_count_requests_ingests_and_scoring(client, admin, make_outlet, make_user, bearer,
                                                              session):
    import numpy as np

    from tests.helpers import png, send
    from models import XrayMachine

    outlet = make_outlet("OBS-OUT-1")
    session.add(XrayMachine(code="OBS-X1", outlet=outlet, model="m", installed_on=dt.date(2024, 1, 1), active=True))
    session.flush()
    before = scrape(client, admin)
    client.get("/healthz")
    response = upload(client, admin, outlet.code, csv_bytes([
        log_row("SF3100000001"), log_row("SF3100000002"), log_row("SF3100000003", sender_id_no=BAD_ID)]))
    assert response.status_code == 201
    image = png(np.random.default_rng(1).random((64, 80)))
    assert send(client, admin, image, machine="OBS-X1").status_code == 201
    after = scrape(client, admin)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("greenshield_http_request_duration_seconds_count", route="/healthz", method="GET", status="2xx") == 1
    assert delta("greenshield_http_request_duration_seconds_count", route="/metrics", method="GET", status="2xx") == 1
    assert delta("greenshield_ingest_rows_total", outcome="accepted", source="api") == 2
    assert delta("greenshield_ingest_rows_total", outcome="rejected", source="api") == 1
    assert delta("greenshield_ingest_batches_total", status="partial", source="api") == 1
    assert delta("greenshield_ingest_duration_seconds_count", source="api") == 1
    assert delta("greenshield_xray_scoring_duration_seconds_count") == 1
    assert delta("greenshield_xray_scoring_duration_seconds_sum") > 0
    assert value(after, "process_resident_memory_bytes") > 0


def test_scheduler_runs_are_counted_by_job_and_outcome(client, admin):
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent

    from greenshield.scheduler import _count_run

    before = scrape(client, admin)
    now = dt.datetime.now(dt.timezone.utc)
    _count_run(JobExecutionEvent(EVENT_JOB_EXECUTED, "audit-schedule-7", "default", now, retval="plan 1"))
    _count_run(JobExecutionEvent(EVENT_JOB_ERROR, "xray-retention", "default", now, exception=OSError("disk")))
    _count_run(JobExecutionEvent(EVENT_JOB_MISSED, "xray-retention", "default", now))
    after = scrape(client, admin)
    for job, outcome in (("audit-schedule", "ok"), ("xray-retention", "error"), ("xray-retention", "missed")):
        assert value(after, "greenshield_scheduler_job_runs_total", job=job, outcome=outcome) \
            - value(before, "greenshield_scheduler_job_runs_total", job=job, outcome=outcome) == 1


def test_metrics_access(app, client, make_user, bearer, login, monkeypatch):
    assert client.get("/metrics").status_code == 302
    assert client.get("/metrics", headers=bearer(make_user("inspector"))).status_code == 403
    login(client, make_user("auditor"))
    assert client.get("/metrics").status_code == 403
    login(client, make_user("admin"))
    assert client.get("/metrics").status_code == 200
    client.post("/logout")
    with client.session_transaction() as cookie:
        cookie.clear()
    monkeypatch.setitem(app.config, "METRICS_ALLOW", "10.0.0.0/8, 192.168.1.7")
    assert client.get("/metrics").status_code == 302
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.1.7"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.168.1.8"}).status_code == 302
    proxied = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.1"}, headers={"X-Forwarded-For": "1.2.3.4"})
    assert proxied.status_code == 302
    monkeypatch.setitem(app.config, "METRICS_ALLOW", "127.0.0.1")
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


# --- a real server ------------------------------------------------------------------------------------------


def test_metrics_of_a_served_instance_sum_over_its_workers_and_the_scheduler(scratch_database, tmp_path):
    """``greenshield serve --workers 2`` and ``greenshield scheduler``: requests answered by both workers, also by
    one killed since, and the scheduler's job runs are in every scrape; the processes' log lines are JSON."""
    env, _ = scratch_database
    env = {**env, "GREENSHIELD_METRICS_ALLOW": "127.0.0.1"}
    env.pop("GREENSHIELD_LOG_FORMAT", None)
    run_cli(env, "init-db")
    port, logs = free_port(), {name: tmp_path / f"{name}.log" for name in ("serve", "scheduler")}
    command = str(Path(sys.executable).parent / "greenshield")
    folder = Path(env["GREENSHIELD_INSTANCE"]) / "metrics" / "web"
    with open(logs["serve"], "wb") as serve_log, open(logs["scheduler"], "wb") as scheduler_log:
        server = subprocess.Popen([command, "serve", "--workers", "2", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=serve_log, start_new_session=True)
        scheduler = subprocess.Popen([command, "scheduler"], env=env, stdout=subprocess.DEVNULL, stderr=scheduler_log,
                                     start_new_session=True)
        try:
            answered = _wait_until_served(server, port) + _burst(port, 60)
            deadline = time.monotonic() + 30  # on a loaded machine one worker may take a first burst alone
            while len(list(folder.glob("histogram_*.db"))) < 2 and time.monotonic() < deadline:
                answered += _burst(port, 16)
            workers = {int(f.stem.rsplit("_", 1)[1]) for f in folder.glob("histogram_*.db")}
            assert len(workers) == 2
            for _ in range(4):
                samples = _scrape(port)
                assert _healthz_count(samples) == answered
            assert len({labels for (name, labels) in samples if name == "process_resident_memory_bytes"}) == 3

            os.kill(min(workers), signal.SIGKILL)  # gunicorn starts another; the dead one's counts stay
            deadline = time.monotonic() + 20
            while len({f.stem for f in folder.glob("histogram_*.db")}) < 3 and time.monotonic() < deadline:
                answered += _burst(port, 8)
            samples = _scrape(port)
            assert _healthz_count(samples) == answered
            while value(samples, "greenshield_scheduler_job_runs_total", job="sync-schedules-at-start",
                        outcome="ok") < 1 and time.monotonic() < deadline + 20:
                time.sleep(0.5)
                samples = _scrape(port)
            assert value(samples, "greenshield_scheduler_job_runs_total", job="sync-schedules-at-start",
                         outcome="ok") == 1
        finally:
            for proc in (server, scheduler):
                proc.terminate()
            for proc in (server, scheduler):
                proc.wait(timeout=30)
    records = {name: [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
               for name, path in logs.items()}
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in records["serve"])
    assert sum(r["logger"] == "greenshield.access" and r["path"] == "/healthz" for r in records["serve"]) == answered
    assert any(r["logger"].startswith("apscheduler") for r in records["scheduler"])


def _burst(port: int, n: int) -> int:
    """``n`` requests to /healthz, eight at a time (so that every worker takes some); returns ``n``."""
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: request(port, "GET", "/healthz", timeout=30)[0], range(n)))
    assert statuses == [200] * n
    return n


def _scrape(port: int) -> dict:
    status, body = request(port, "GET", "/metrics", headers={"Accept": "text/plain"})
    assert status == 200, body[:300]
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def _healthz_count(samples: dict) -> float:
    return value(samples, "greenshield_http_request_duration_seconds_count", route="/healthz", method="GET",
                 status="2xx")


def _wait_until_served(proc: subprocess.Popen, port: int, timeout: float = 60) -> int:
    """Wait for /healthz to answer 200; the number of requests the server answered meanwhile."""
    deadline, answered = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"greenshield serve exited {proc.returncode}"
        try:
            status, _ = request(port, "GET", "/healthz", timeout=5)
        except OSError:
            time.sleep(0.2)
            continue
        answered += 1
        if status == 200:
            return answered
        time.sleep(0.2)
    raise AssertionError("greenshield serve did not answer /healthz in time")
