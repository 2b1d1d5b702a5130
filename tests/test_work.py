"""Long work in background workers (RQ on the real Redis): large uploads and X-ray imports queued, a worker's
result, refusals, idempotent retries, a worker killed mid-job; and the embedded default that needs no Redis."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
from rq import SimpleWorker
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select, text

from greenshield import jobs
from greenshield.ingest.jobs import run_daily_log_job
from greenshield.work import services as work
from inspection.synth import generate_rows, write_csv
from models import BackgroundJob, CollectionRecord, UploadBatch
from tests.conftest import run_cli
from tests.helpers import DAY, csv_bytes, log_row, png, redis_url, upload


@pytest.fixture
def queued_work(app, configure):
    """Workers on a queue of this test's own (the local Redis), taking every upload over 200 bytes."""
    name = f"gs-test-{uuid.uuid4().hex[:8]}"
    configure(redis_url=redis_url(), queue_name=name, queue_upload_bytes=200)
    jobs.bind(app)
    from greenshield.context import settings_of

    queue = work.queue(settings_of(app))
    yield queue
    queue.empty()
    queue.delete(delete_jobs=True)


def run_worker(queue) -> None:
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


@pytest.fixture
def admin(make_user, bearer):
    return bearer(make_user("admin"))


def rows(n: int) -> list[dict]:
    return [log_row(f"SFQ{i:08d}", at=f"10:{i // 60 % 60:02d}:{i % 60:02d}") for i in range(n)]


def test_a_large_upload_goes_to_a_worker_and_its_batch_comes_back(client, session, make_outlet, admin, queued_work):
    outlet = make_outlet("WQ-OUT-1")
    response = upload(client, admin, outlet.code, csv_bytes(rows(30)))
    assert response.status_code == 202
    job = response.get_json()
    assert job["status"] == "queued" and job["kind"] == "daily_log" and job["status_url"] == f"/api/v1/jobs/{job['id']}"
    assert session.scalar(select(func.count()).select_from(UploadBatch).where(UploadBatch.outlet_id == outlet.id)) == 0
    assert session.get(BackgroundJob, job["id"]).input_key == work.input_key(job["id"])

    run_worker(queued_work)
    done = client.get(job["status_url"], headers=admin).get_json()
    assert done["status"] == "done" and done["attempts"] == 1 and done["error"] is None
    batch = session.get(UploadBatch, done["result"]["batch_id"])
    assert (batch.rows_total, batch.rows_accepted, batch.source) == (30, 30, "api")
    assert session.scalar(select(func.count()).select_from(CollectionRecord)
                          .where(CollectionRecord.batch_id == batch.id)) == 30


def test_the_queued_input_is_encrypted_and_removed_when_done(client, session, make_outlet, admin, queued_work, app):
    from greenshield.context import settings_of
    from greenshield.storage import of as storage_of

    outlet = make_outlet("WQ-OUT-2")
    job = upload(client, admin, outlet.code, csv_bytes(rows(10))).get_json()
    store = storage_of(settings_of(app))
    kept = store.get(work.input_key(job["id"]))
    assert b"SFQ00000001" not in kept and "张伟".encode() not in kept  # encrypted at rest like the archive
    run_worker(queued_work)
    assert not store.exists(work.input_key(job["id"]))


def test_a_retried_job_stores_nothing_twice(client, session, make_outlet, admin, queued_work):
    outlet = make_outlet("WQ-OUT-3")
    finished = upload(client, admin, outlet.code, csv_bytes(rows(20))).get_json()
    assert run_daily_log_job(finished["id"]) == "done"
    assert run_daily_log_job(finished["id"]) == "done"  # RQ retrying work that had finished: nothing done again
    died = upload(client, admin, make_outlet("WQ-OUT-8").code, csv_bytes(rows(12))).get_json()
    work.start(session, session.get(BackgroundJob, died["id"]))  # a worker that died before its commit
    assert run_daily_log_job(died["id"]) == "done"
    session.expire_all()
    assert [session.get(BackgroundJob, j["id"]).attempts for j in (finished, died)] == [1, 2]
    for code, count in (("WQ-OUT-3", 20), ("WQ-OUT-8", 12)):
        batches = session.scalars(select(UploadBatch).join(UploadBatch.outlet).where(UploadBatch.outlet.has(code=code)))
        assert [b.rows_accepted for b in batches] == [count]


def test_a_refused_file_ends_its_job_failed_with_a_reason(client, session, make_outlet, admin, queued_work):
    outlet = make_outlet("WQ-OUT-4")
    job = upload(client, admin, outlet.code, b"%PDF-1.7\n" + b"0" * 400, filename="log.pdf").get_json()
    run_worker(queued_work)
    failed = client.get(job["status_url"], headers=admin).get_json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "unsupported_format"
    assert "PDF" in failed["error"]["message"] and "收寄日志" in failed["error"]["message"]
    assert session.scalar(select(func.count()).select_from(UploadBatch).where(UploadBatch.outlet_id == outlet.id)) == 0


def test_the_job_page_follows_the_work(client, session, make_outlet, make_user, login, queued_work):
    outlet = make_outlet("WQ-OUT-5")
    manager = make_user("outlet_manager", outlets=[outlet.code])
    login(client, manager)
    sent = client.post("/upload", data={"outlet": outlet.code, "file": (io.BytesIO(csv_bytes(rows(15))), "log.csv")})
    assert sent.status_code == 302 and "/jobs/" in sent.location
    waiting = client.get(sent.location).get_data(as_text=True)
    assert "等待处理" in waiting and 'http-equiv="refresh"' in waiting
    run_worker(queued_work)
    done = client.get(sent.location).get_data(as_text=True)
    assert 'id="job-batch"' in done and 'http-equiv="refresh"' not in done
    stranger = make_user("outlet_manager", outlets=[make_outlet("WQ-OUT-6").code])
    login(client, stranger)
    assert client.get(sent.location).status_code == 404


def test_xray_imports_are_queued_too(client, session, make_outlet, admin, machine, queued_work):
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as z:
        z.writestr("manifest.csv", "machine_code,waybill_no,scanned_at,operator_id,file\n"
                                   "XR-OUT-01-X1,SFIMP000001,2026-11-28T09:00:00+08:00,OP-1,a.png\n"
                                   "XR-OUT-01-X1,SFIMP000002,2026-11-28T09:01:00+08:00,OP-1,b.png\n")
        z.writestr("a.png", png(np.full((90, 120), 0.8)))
        z.writestr("b.png", png(np.full((90, 120), 0.6)))
    response = client.post("/api/v1/xray-imports", headers=admin,
                           data={"file": (io.BytesIO(bundle.getvalue()), "scans.zip")})
    assert response.status_code == 202
    run_worker(queued_work)
    done = client.get(response.get_json()["status_url"], headers=admin).get_json()
    assert done["status"] == "done" and done["result"]["imported"] == 2


def test_a_change_of_model_is_calibrated_by_a_worker_after_the_request(app, client, session, machine, admin,
                                                                       queued_work, configure, monkeypatch):
    import datetime as dt

    from greenshield.context import settings_of
    from greenshield.xray import jobs as xray_jobs, services as xray
    from inspection.xray.procedural import benign_bag
    from models import XrayCalibration, XrayModelVersion
    from models.base import CHINA

    configure(xray_calibration_min_scans=10, xray_false_flag_budget=0.1)
    start = dt.datetime(2026, 11, 20, 9, 0, tzinfo=CHINA)
    for i in range(12):
        xray.record_event(session, settings_of(app), machine=machine, waybill_no=f"SFW{i:09d}", operator_id="OP-1",
                          data=png(benign_bag(np.random.default_rng(i), size=(150, 200))),
                          scanned_at=start + dt.timedelta(minutes=i))
    version = session.scalar(select(XrayModelVersion).where(XrayModelVersion.active.is_(True))).version
    assert session.scalar(select(XrayCalibration)) is None

    calibrate = xray.calibrate_machine
    monkeypatch.setattr(xray, "calibrate_machine", lambda *a, **k: pytest.fail("re-scored inside the request"))
    answer = client.put("/api/v1/xray-machines/XR-OUT-01-X1/model", json={"version": version}, headers=admin)
    assert answer.status_code == 200 and answer.get_json()["calibration_pending"] is True
    assert queued_work.count == 1 and session.scalar(select(XrayCalibration)) is None
    # with workers, the scheduler leaves a fresh request to them (it only takes over a lost one)
    assert xray_jobs.calibrate_changed_machines() == []

    monkeypatch.setattr(xray, "calibrate_machine", calibrate)
    run_worker(queued_work)
    session.expire_all()
    calibration = session.scalar(select(XrayCalibration))
    assert calibration.model_version == version and calibration.scans_used == 12
    after = client.get("/api/v1/xray-machines/XR-OUT-01-X1/calibration", headers=admin).get_json()
    assert after["calibration_pending"] is False and after["threshold"] == calibration.threshold


def test_a_lost_calibration_task_is_taken_over_by_the_scheduler(app, client, session, machine, admin, queued_work):
    import datetime as dt

    from greenshield.xray import jobs as xray_jobs
    from models import XrayMachine, XrayModelVersion, utcnow

    version = session.scalar(select(XrayModelVersion).where(XrayModelVersion.active.is_(True))).version
    assert client.put("/api/v1/xray-machines/XR-OUT-01-X1/model", json={"version": version},
                      headers=admin).get_json()["calibration_pending"] is True
    queued_work.empty()  # Redis lost the task
    assert xray_jobs.calibrate_changed_machines() == []  # a fresh request is the workers' for a while
    session.get(XrayMachine, machine.id).calibration_due_at = utcnow() - xray_jobs.CALIBRATION_GRACE \
        - dt.timedelta(minutes=1)
    session.flush()
    [taken] = xray_jobs.calibrate_changed_machines()
    # too few scans to calibrate: the model's own threshold applies, and nothing is pending any more
    assert taken["machine_code"] == "XR-OUT-01-X1" and taken["calibrated"] is False
    assert taken["calibration_pending"] is False


def test_without_redis_the_work_is_done_in_the_request(client, session, make_outlet, admin, machine):
    outlet = make_outlet("WQ-OUT-7")
    assert upload(client, admin, outlet.code, csv_bytes(rows(30))).status_code == 201
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as z:
        z.writestr("manifest.csv", "machine_code,waybill_no,scanned_at,operator_id,file\n"
                                   "XR-OUT-01-X1,SFIMP000003,2026-11-28T09:00:00+08:00,OP-1,a.png\n"
                                   "NOPE-X9,SFIMP000004,2026-11-28T09:01:00+08:00,OP-1,a.png\n")
        z.writestr("a.png", png(np.full((90, 120), 0.8)))
    refused = client.post("/api/v1/xray-imports", headers=admin, data={"file": (io.BytesIO(bundle.getvalue()), "x.zip")})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["message"] == "manifest.csv 第 3 行：您的管辖范围内没有安检机 NOPE-X9。"


def test_the_worker_command_needs_redis(runner):
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code != 0 and "REDIS_URL" in result.output


def test_a_worker_killed_mid_job_leaves_it_to_another_without_duplicates(scratch_database, tmp_path):
    """Real processes: a worker is killed with SIGKILL while it ingests 100,000 rows; RQ's clean-up of abandoned
    jobs (the scheduler runs it every minute) retries the job on another worker; the batch is stored once."""
    env, engine = scratch_database
    env = {**env, "REDIS_URL": redis_url().rsplit("/", 1)[0] + "/14"}
    name = f"gs-kill-{uuid.uuid4().hex[:8]}"
    (Path(env["GREENSHIELD_INSTANCE"])).mkdir(parents=True, exist_ok=True)
    (Path(env["GREENSHIELD_INSTANCE"]) / "config.py").write_text(f"QUEUE_NAME = {name!r}\nQUEUE_UPLOAD_BYTES = 1000\n")
    run_cli(env, "init-db")
    log = tmp_path / "big.csv"
    write_csv(generate_rows(100_000, outlet_code="KILL-OUT-1", day=DAY, seed=5), log)
    setup = f"""
import io, json
from greenshield import create_app, db
from greenshield.context import settings_of
from greenshield.ingest.pipeline import receive_daily_log
from greenshield.work import services as work
from models import Enterprise, Outlet, OutletKind, Region
from sqlalchemy import select
app = create_app()
with app.app_context():
    with db.job_session() as s:
        outlet = Outlet(code="KILL-OUT-1", name="杀", enterprise=s.scalar(select(Enterprise).limit(1)),
                        region=s.get(Region, "150100"), kind=OutletKind.OUTLET, active=True)
        s.add(outlet); s.flush()
        with open({str(log)!r}, "rb") as f:
            job = receive_daily_log(s, settings_of(app), outlet=outlet, stream=f, filename="big.csv", strict=False,
                                    source="api", user=None)
    work.enqueue(settings_of(app), job)
    print(job.id)
"""
    job_id = subprocess.run([sys.executable, "-c", setup], env=env, capture_output=True, text=True,
                            check=True).stdout.strip().splitlines()[-1]
    from redis import Redis
    from rq import Queue
    from rq.job import Job

    connection = Redis.from_url(env["REDIS_URL"])
    queue = Queue(name, connection=connection)
    command = str(Path(sys.executable).parent / "greenshield")
    first = subprocess.Popen([command, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline, done = time.monotonic() + 300, 0
        while time.monotonic() < deadline and not done:
            done = Job.fetch(job_id, connection=connection).meta.get("done", 0)  # rows read, said every 20,000
            time.sleep(0.1)
        assert done >= 20_000
        horses = subprocess.run(["pgrep", "-P", str(first.pid)], capture_output=True, text=True).stdout.split()
        for pid in [*map(int, horses), first.pid]:  # the work horse (its own process group) and the worker
            os.kill(pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT status FROM background_jobs WHERE id = :id"),
                                {"id": job_id}).scalar() == "running"
            assert conn.execute(text("SELECT count(*) FROM upload_batches")).scalar() == 0  # rolled back
        StartedJobRegistry(queue=queue).cleanup(time.time() + 3600)  # as if its heartbeat had long expired
        assert queue.job_ids == [job_id]  # back in the queue, for any worker
        subprocess.run([command, "worker", "--burst"], env=env, check=True, capture_output=True, timeout=600)
        with engine.connect() as conn:
            status, attempts, result = conn.execute(text(
                "SELECT status, attempts, result FROM background_jobs WHERE id = :id"), {"id": job_id}).one()
            batches = conn.execute(text("SELECT count(*) FROM upload_batches")).scalar()
            records = conn.execute(text("SELECT count(*) FROM collection_records")).scalar()
        result = result if isinstance(result, dict) else json.loads(result)
        assert (status, attempts, batches) == ("done", 2, 1)
        assert records == result["rows_accepted"] > 99_000
    finally:
        queue.empty()
        queue.delete(delete_jobs=True)
