"""Commissioning a machine with real processes: train on its own stored scans, assign, calibrate by command and job."""
from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import select

from models import XrayEvent, XrayMachineModel, XrayModelVersion
from tests.conftest import REPO

SETUP = """
import datetime as dt, json, random, sys
import numpy as np
from sqlalchemy import select
from greenshield import create_app, db
from greenshield.context import settings_of
from greenshield.demo import seed_registry
from greenshield.xray.services import record_event
from inspection.xray.imaging import encode_png
from inspection.xray.procedural import benign_bag
from models import User, XrayMachine, XrayReview, Role
from models.base import CHINA

first, count, code = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
app = create_app()
with app.app_context(), db.job_session() as s:
    seed_registry(s, random.Random(1))
    machines = s.scalars(select(XrayMachine).order_by(XrayMachine.code)).all()
    machine = machines[0] if code == "-" else next(m for m in machines if m.code == code)
    made = []
    for i in range(first, first + count):
        bag = benign_bag(np.random.default_rng(i), size=(150, 200), colour=False)
        data = encode_png(np.round(bag * 255).astype(np.uint8))
        at = dt.datetime(2026, 11, 1, 8, tzinfo=CHINA) + dt.timedelta(minutes=i)
        made.append(record_event(s, settings_of(app), machine=machine, data=data, waybill_no=f"SF{i:010d}",
                                 scanned_at=at, operator_id="OP-1", is_tip=i == first + 1, tip_threat=i == first + 1))
    if first == 0:  # one of the first scans was a real threat: never a clean training scan
        from greenshield.auth.services import create_user
        user = create_user(s, username="reviewer1", password="long-enough-pw", role=Role.INSPECTOR,
                           region_code="150000")
        s.add(XrayReview(event=made[0], reviewer_id=user.id, decision="seized", category_code=1))
    s.flush()
    print(json.dumps({"machine": machine.code, "others": [m.code for m in machines if m is not machine],
                      "versions": sorted({e.model_version for e in made}), "ids": [e.id for e in made]}))
"""


def _python(env: dict, code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def _cli(env: dict, *args: str) -> str:
    """This worktree's ``greenshield`` command in its own process."""
    return _python(env, "from greenshield.cli import main; main()", *args)


def _json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_a_machine_is_commissioned_on_its_own_scans_and_calibrated_by_command_and_job(scratch_database):
    env, engine = scratch_database
    env = {**env, "XRAY_CALIBRATION_MIN_SCANS": "10", "XRAY_FALSE_FLAG_BUDGET": "0.05", "PYTHONPATH": str(REPO)}
    _cli(env, "init-db")
    first = json.loads(_python(env, SETUP, "0", "42", "-").splitlines()[-1])
    code, other = first["machine"], first["others"][0]
    default_version = first["versions"][0]
    _python(env, SETUP, "500", "3", other)

    trained = _json_lines(_cli(env, "xray", "train", "--machine", code, "--from-events", "--since", "2026-10-01",
                               "--threats", "12", "--threats-per-bag", "2", "--held-back", "0.3", "--workers", "1",
                               "--seed", "1",
                               "--version", "commissioned-1", "--activate"))[-1]
    # 42 scans, less the test image and the seized one
    assert trained["machine"] == code and trained["scans"] == 40 and trained["active"] is True
    assert trained["false_flag_budget"] == 0.05 and 0 < trained["threshold"] <= 1.0
    with engine.connect() as conn:
        row = conn.execute(select(XrayModelVersion).where(XrayModelVersion.version == "commissioned-1")).one()
        assert row.active is False  # assigned to one machine, not the global model
        assert row.training_summary["machine"] == code and row.training_summary["events"] == 40
        assert row.training_summary["events_through"] == max(first["ids"])
        assert row.training_summary["validation_bags"] == 12 and row.metrics["validation"]["clean_scans"] == 12
        assigned = conn.execute(select(XrayMachineModel.model_version_id)).scalars().all()
        assert assigned == [row.id]

    listing = _cli(env, "xray", "list")
    line = next(x for x in listing.splitlines() if "commissioned-1" in x)
    assert code in line and other not in line
    assert other in next(x for x in listing.splitlines() if default_version in x)

    # the scans it was trained on never calibrate it: the model's own threshold applies until newer ones exist
    job = "import json; from greenshield.xray.jobs import calibrate_machines; print(json.dumps(calibrate_machines(), default=str))"
    daily = {r["machine_code"]: r for r in json.loads(_python(env, job).splitlines()[-1])}
    assert daily[code]["calibrated"] is False and daily[code]["model_version"] == "commissioned-1"
    assert daily[code]["threshold"] == trained["threshold"]
    assert json.loads(_python(env, job).splitlines()[-1]) == []  # once a day, whoever runs it

    later = json.loads(_python(env, SETUP, "1000", "13", code).splitlines()[-1])
    assert later["versions"] == ["commissioned-1"]  # the machine's events are scored by its own model
    assert json.loads(_python(env, SETUP, "2000", "1", other).splitlines()[-1])["versions"] == [default_version]
    calibrated = _json_lines(_cli(env, "xray", "calibrate", "--machine", code))[-1]
    assert calibrated["calibrated"] is True and calibrated["scans_used"] == 12  # 13 new, one of them a test image
    assert calibrated["model_version"] == "commissioned-1" and calibrated["false_flag_budget"] == 0.05
    with engine.connect() as conn:
        scores = conn.execute(select(XrayEvent.score).where(XrayEvent.id.in_(later["ids"]),
                                                            XrayEvent.is_tip.is_(False))).scalars().all()
    assert sum(score >= calibrated["threshold"] for score in scores) == 0  # 12 scans are too few to spend 5 %
