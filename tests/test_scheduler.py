"""The scheduler: cron arithmetic with a controlled clock, claimed firings, two processes -> one run,
jobs that persist across restarts. These tests start real processes on their own database."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from greenshield.jobs import claim, last_fire_time
from models import AuditPlan, ScheduleFiring
from models.base import CHINA
from tests.conftest import run_cli

GREENSHIELD = str(Path(sys.executable).parent / "greenshield")


def test_last_fire_time_with_a_controlled_clock():
    now = dt.datetime(2026, 12, 1, 8, 30, 12, tzinfo=CHINA)
    assert last_fire_time("*/15 * * * *", now) == dt.datetime(2026, 12, 1, 8, 30, tzinfo=CHINA)
    assert last_fire_time("0 8 * * *", now) == dt.datetime(2026, 12, 1, 8, 0, tzinfo=CHINA)
    assert last_fire_time("0 8 1 * *", now + dt.timedelta(hours=3)) is None  # not within the look-back window
    assert last_fire_time("0 8 1 * *", now, window=dt.timedelta(days=40)) == dt.datetime(2026, 12, 1, 8, 0,
                                                                                          tzinfo=CHINA)


def test_a_firing_is_claimed_once(session):
    fire = dt.datetime(2026, 12, 1, 8, 0, tzinfo=CHINA)
    assert claim(session, "job-x", fire) is True
    assert claim(session, "job-x", fire) is False
    assert claim(session, "job-x", fire + dt.timedelta(minutes=1)) is True
    assert session.scalar(select(func.count()).select_from(ScheduleFiring)) == 2


@pytest.fixture
def own_database(scratch_database):
    """A database of its own with demo outlets, six province inspectors and a schedule firing every minute."""
    env, engine = scratch_database
    run_cli(env, "init-db")
    setup = """
from greenshield import create_app, db
from greenshield.auth.services import create_user
from greenshield.demo import seed_registry
from models import AuditSchedule, Role
import random
app = create_app()
with app.app_context(), db.job_session() as s:
    seed_registry(s, random.Random(1))
    for i in range(6):
        create_user(s, username=f"sched{i}", password="long-enough-pw", role=Role.INSPECTOR, region_code="150000")
    s.add(AuditSchedule(cron="* * * * *", region_code="150100", outlets=1, inspectors_per_audit=2, due_in_days=7,
                        active=True))
"""
    subprocess.run([sys.executable, "-c", setup], env=env, check=True, capture_output=True)
    return env, engine


def _count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def test_two_processes_firing_together_make_one_plan(own_database):
    env, engine = own_database
    code = "from greenshield.jobs import run_audit_schedule; print(run_audit_schedule(1))"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    results = sorted(out.strip().splitlines()[-1] for out, _ in outputs)
    assert results[0] == "claimed elsewhere" and results[1].startswith("plan "), results
    assert _count(engine, AuditPlan) == 1


def test_two_scheduler_processes_fire_once_and_jobs_survive_restart(own_database):
    env, engine = own_database
    logs = [open(Path(env["GREENSHIELD_INSTANCE"]) / f"scheduler{i}.log", "w") for i in range(2)]
    procs = [subprocess.Popen([GREENSHIELD, "scheduler"], env=env, stdout=log, stderr=subprocess.STDOUT)
             for log in logs]
    try:
        deadline = time.monotonic() + 100
        while time.monotonic() < deadline and _count(engine, AuditPlan) == 0:
            time.sleep(1)
        time.sleep(5)  # let the slower process try too
        with engine.connect() as conn:
            firings = conn.execute(select(ScheduleFiring.job_id, ScheduleFiring.fire_time)).all()
            jobs = set(conn.scalars(text("SELECT id FROM apscheduler_jobs")))
        by_slot = {}
        for job_id, fire in firings:
            by_slot.setdefault((job_id, fire), 0)
            by_slot[(job_id, fire)] += 1
        assert by_slot and all(n == 1 for n in by_slot.values())
        plans = _count(engine, AuditPlan)
        assert plans == len([k for k in by_slot if k[0] == "audit-schedule-1"]) >= 1
        assert {"audit-schedule-1", "daily-audit-duties", "sync-schedules"} <= jobs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        for log in logs:
            log.close()
    with engine.connect() as conn:
        assert "audit-schedule-1" in set(conn.scalars(text("SELECT id FROM apscheduler_jobs")))


def test_serve_with_scheduler_runs_both_and_stops_both_on_ctrl_c(own_database):
    """What `make demo` runs: the web server and the scheduler from one command, both gone after one Ctrl-C."""
    import os
    import signal
    import socket
    import urllib.request

    env, engine = own_database
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(Path(env["GREENSHIELD_INSTANCE"]) / "serve.log", "w")
    server = subprocess.Popen([GREENSHIELD, "serve", "--with-scheduler", "--port", str(port), "--workers", "1"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 100
        healthy = False
        while time.monotonic() < deadline and not (healthy and _count(engine, AuditPlan)):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    healthy = answer.status == 200
            except OSError:
                pass
            time.sleep(1)
        assert healthy and _count(engine, AuditPlan) >= 1, (Path(env["GREENSHIELD_INSTANCE"]) / "serve.log").read_text()
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole foreground group
        assert server.wait(timeout=60) is not None
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
    output = (Path(env["GREENSHIELD_INSTANCE"]) / "serve.log").read_text()
    assert "scheduler started beside the server" in output and "GreenShield scheduler stopped" in output
    pid = int(output.split("beside the server (pid ")[1].split(")")[0])
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
