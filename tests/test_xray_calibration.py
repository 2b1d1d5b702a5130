"""The false-flag budget at work: per-machine calibration, the threshold in every answer, the machine's flag rate."""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import select

from greenshield.context import settings_of
from greenshield.xray import services
from inspection.xray.evaluate import threshold_for_budget
from inspection.xray.procedural import benign_bag
from models import XrayCalibration, XrayEvent, XrayMachine, XrayModelVersion, XrayReview
from models.base import CHINA
from tests.helpers import png, send

MACHINE = "XR-OUT-01-X1"


def _scan(seed: int) -> bytes:
    return png(benign_bag(np.random.default_rng(seed), size=(150, 200), colour=seed % 2 == 0))


@pytest.fixture
def scans(app, session, machine):
    """``scans(n, start=0)``: n clean scans of the machine recorded through the service (as the API does)."""

    def record(n: int, start: int = 0, **kwargs) -> list[XrayEvent]:
        base = dt.datetime(2026, 11, 20, 9, 0, tzinfo=CHINA)
        return [services.record_event(session, settings_of(app), machine=machine, data=_scan(start + i),
                                      waybill_no=f"SF{start + i:010d}", scanned_at=base + dt.timedelta(minutes=start + i),
                                      operator_id="OP-1", **kwargs) for i in range(n)]

    return record


def test_a_machine_is_calibrated_on_its_own_scans_for_the_budget(client, runner, configure, session, machine, sender,
                                                                 scans, make_user, bearer):
    configure(xray_calibration_min_scans=30, xray_false_flag_budget=0.1)
    reader = bearer(make_user("inspector", region="150000"))
    model = session.scalar(select(XrayModelVersion).where(XrayModelVersion.active.is_(True))) or \
        services.ensure_default_model(session, settings_of(client.application))
    events = scans(34)
    before = client.get(f"/api/v1/xray-machines/{MACHINE}/calibration", headers=reader).get_json()
    assert before == {"model_version": model.version, "threshold": model.threshold, "scans_used": 0,
                      "false_flag_budget": model.false_flag_budget, "calibrated_at": None, "calibration_pending": False}

    # a test image and a scan reviewed as a threat never stand for clean scans
    tip = scans(1, start=100, is_tip=True, tip_threat=True)[0]
    seized = scans(1, start=101)[0]
    session.add(XrayReview(event=seized, reviewer_id=make_user("inspector", region="150000").id, decision="seized",
                           category_code=1))
    session.flush()

    result = runner.invoke(args=["xray", "calibrate", "--machine", MACHINE.lower()])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["calibrated"] is True and line["scans_used"] == 34 and line["false_flag_budget"] == 0.1
    expected = threshold_for_budget([e.score for e in events], 0.1)
    assert line["threshold"] == pytest.approx(expected)
    assert sum(e.score >= expected for e in events) <= 3  # ≤ 10 % of the 34 clean scans
    assert tip.id and seized.id

    after = client.get(f"/api/v1/xray-machines/{MACHINE}/calibration", headers=reader).get_json()
    assert after["scans_used"] == 34 and after["threshold"] == pytest.approx(expected)
    assert after["calibrated_at"] is not None and after["model_version"] == model.version

    answer = send(client, sender, _scan(7), waybill="SF7777777777").get_json()
    assert answer["threshold"] == pytest.approx(expected)
    assert answer["flagged"] == (answer["score"] >= answer["threshold"])
    assert session.get(XrayEvent, answer["id"]).threshold == pytest.approx(expected)


def test_before_enough_scans_the_models_threshold_applies(client, runner, configure, session, machine, sender, scans):
    configure(xray_calibration_min_scans=30)
    scans(5)
    result = runner.invoke(args=["xray", "calibrate"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["machine_code"] == MACHINE and line["calibrated"] is False and line["scans_used"] == 0
    model = session.scalar(select(XrayModelVersion).where(XrayModelVersion.active.is_(True)))
    assert line["threshold"] == model.threshold
    assert session.scalar(select(XrayCalibration)) is None
    assert send(client, sender, _scan(3), waybill="SF3333333333").get_json()["threshold"] == model.threshold
    assert runner.invoke(args=["xray", "calibrate", "--machine", "NO-SUCH-X9"]).exit_code != 0


def test_calibration_needs_a_reader_in_scope(client, machine, sender, make_outlet, make_user, bearer):
    assert client.get(f"/api/v1/xray-machines/{MACHINE}/calibration").status_code == 401
    stranger = bearer(make_user("outlet_manager", outlets=[make_outlet("XR-OTHER-9").code]))
    assert client.get(f"/api/v1/xray-machines/{MACHINE}/calibration", headers=stranger).status_code == 403
    assert client.get("/api/v1/xray-machines/NOPE-1/calibration", headers=sender).status_code == 404


def test_the_daily_job_and_the_calibration_after_a_change_of_model_are_scheduled():
    from greenshield.scheduler import PERIODIC_JOBS

    jobs = {i: (f, str(t)) for i, f, t in PERIODIC_JOBS}
    assert jobs["xray-calibration"][0] == "greenshield.xray.jobs:calibrate_machines"
    assert jobs["xray-model-change"] == ("greenshield.xray.jobs:calibrate_changed_machines",
                                         "cron[minute='*']")


def test_machine_and_model_pages_show_the_operating_point_and_flag_rates(client, configure, session, machine, scans,
                                                                         make_user, login):
    configure(xray_calibration_min_scans=10, xray_false_flag_budget=0.1)
    events = scans(12)
    tips = scans(2, start=50, is_tip=True, tip_threat=True)
    calibration = services.calibrate_machine(session, settings_of(client.application), machine)
    flagged = sum(e.flagged for e in events)
    login(client, make_user("inspector", region="150000"))
    page = client.get(f"/xray/machines/{MACHINE}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "误报预算" in page and f"{calibration.threshold:.4f}" in page and ">12<" in page  # scans used
    assert f"12 张扫描图像中标记 {flagged} 张" in page and 'class="flag-rate"' in page
    version = events[0].model_version
    model_page = client.get(f"/xray/models/{version}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    row = session.scalar(select(XrayModelVersion).where(XrayModelVersion.version == version))
    validation = row.metrics["validation"]
    assert 'class="roc"' in model_page and 'class="operating"' in model_page and "ROC曲线下面积" in model_page
    assert f"{validation['recall'] * 100:.2f}%" in model_page and f"{row.false_flag_budget * 100:.2f}%" in model_page
    assert f">{MACHINE}<" in model_page and f"{flagged / 12 * 100:.2f}%" in model_page
    model_hits = sum(t.score >= t.threshold for t in tips)
    assert f"{model_hits} ({model_hits / 2 * 100:.2f}%)" in model_page
    listing = client.get("/xray/models").get_data(as_text=True)
    assert f"/xray/models/{version}" in listing and f"/xray/machines/{MACHINE}" in listing
    assert client.get("/xray/machines/NOPE-X1").status_code == 404
    assert client.get("/xray/models/no-such-version").status_code == 404


def test_models_answer_which_machines_use_them(client, session, machine, scans, make_user, bearer):
    scans(1)
    models = client.get("/api/v1/xray-models", headers=bearer(make_user("admin"))).get_json()
    active = next(m for m in models if m["active"])
    assert MACHINE in active["machines"] and active["false_flag_budget"] == 0.03


def test_a_newly_shipped_default_takes_over_the_builtin_row(app, session, machine, tmp_path, configure):
    import shutil

    from inspection.xray.model import default_model_dir

    row = services.ensure_default_model(session, settings_of(app))
    shipped = tmp_path / "shipped"
    shutil.copytree(default_model_dir(), shipped)
    card = json.loads((shipped / "model.json").read_text())
    card.update(version="procedural-next", threshold=0.5)
    (shipped / "model.json").write_text(json.dumps(card))
    configure(xray_default_model_dir=str(shipped))
    again = services.ensure_default_model(session, settings_of(app))
    assert again.id == row.id and again.version == "procedural-next" and again.threshold == 0.5
    assert again.false_flag_budget == card["false_flag_budget"] and again.metrics == card["metrics"]


def test_activating_another_model_calibrates_machines_again_on_their_stored_images_after_the_request(
        app, client, configure, session, machine, scans, make_user, bearer, login, monkeypatch):
    import shutil

    from greenshield import jobs
    from greenshield.xray.jobs import calibrate_changed_machines

    from inspection.xray.model import default_model_dir

    configure(xray_calibration_min_scans=10, xray_false_flag_budget=0.1)
    events = scans(12)
    purged = scans(1, start=40)[0]
    purged.image_purged_at = purged.scanned_at
    session.flush()
    instance = settings_of(app).instance_path
    copy = instance / "xray" / "models" / "same-trees-2"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(default_model_dir(), copy)
    card = json.loads((copy / "model.json").read_text())
    (copy / "model.json").write_text(json.dumps({**card, "version": "same-trees-2"}))
    session.add(XrayModelVersion(version="same-trees-2", location="xray/models/same-trees-2", threshold=0.99,
                                 false_flag_budget=0.03, metrics={}, training_summary={}, active=False))
    session.flush()
    calibrate = services.calibrate_machine
    monkeypatch.setattr(services, "calibrate_machine", lambda *a, **k: pytest.fail("re-scored inside the request"))
    answer = client.post("/api/v1/xray-models/same-trees-2/activate", headers=bearer(make_user("admin")))
    assert answer.status_code == 200 and answer.get_json()["machines"] == [MACHINE]
    assert session.scalar(select(XrayCalibration).where(XrayCalibration.model_version == "same-trees-2")) is None
    reader = bearer(make_user("inspector", region="150000"))
    pending = client.get(f"/api/v1/xray-machines/{MACHINE}/calibration", headers=reader).get_json()
    # until the machine is calibrated for it, the model's own threshold applies
    assert pending["model_version"] == "same-trees-2" and pending["threshold"] == 0.99
    assert pending["calibration_pending"] is True and pending["scans_used"] == 0
    login(client, make_user("inspector", region="150000"))
    page = client.get(f"/xray/machines/{MACHINE}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'id="calibration-pending"' in page and "校准待进行" in page and "0.9900" in page  # the model's own threshold meanwhile

    monkeypatch.setattr(services, "calibrate_machine", calibrate)
    jobs.bind(app)  # without workers the scheduler's every-minute job does it
    [done] = calibrate_changed_machines()
    assert done["machine_code"] == MACHINE and done["calibrated"] is True and done["calibration_pending"] is False
    assert calibrate_changed_machines() == []  # nothing left to do
    session.expire_all()
    calibration = session.scalar(select(XrayCalibration).where(XrayCalibration.model_version == "same-trees-2"))
    # the 12 scans scored by the old model were scored again from their images (same trees: same scores);
    # the purged one could not be
    assert calibration.scans_used == 12
    assert calibration.threshold == pytest.approx(threshold_for_budget([e.score for e in events], 0.1), abs=1e-5)
    page = client.get(f"/xray/machines/{MACHINE}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'id="calibration-pending"' not in page and f"{calibration.threshold:.4f}" in page


def test_a_machine_is_given_its_own_model_and_back_by_api_and_command(app, client, runner, session, machine, sender,
                                                                     make_user, bearer):
    import shutil

    from inspection.xray.model import default_model_dir

    copy = settings_of(app).instance_path / "xray" / "models" / "own-model-1"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(default_model_dir(), copy)
    card = json.loads((copy / "model.json").read_text())
    (copy / "model.json").write_text(json.dumps({**card, "version": "own-model-1"}))
    session.add(XrayModelVersion(version="own-model-1", location="xray/models/own-model-1", threshold=0.25,
                                 false_flag_budget=0.03, metrics={}, training_summary={}, active=False))
    session.flush()
    admin = bearer(make_user("admin"))
    assert client.put(f"/api/v1/xray-machines/{MACHINE}/model", json={"version": "own-model-1"},
                      headers=sender).status_code == 403
    assert client.put(f"/api/v1/xray-machines/{MACHINE}/model", json={"version": "nope"},
                      headers=admin).status_code == 404
    own = client.put(f"/api/v1/xray-machines/{MACHINE}/model", json={"version": "own-model-1"}, headers=admin)
    assert own.status_code == 200 and own.get_json()["model_version"] == "own-model-1"
    assert own.get_json()["threshold"] == 0.25 and own.get_json()["scans_used"] == 0
    event = send(client, sender, _scan(1), waybill="SF1111111111").get_json()
    assert event["model_version"] == "own-model-1" and event["threshold"] == 0.25
    listed = {m["version"]: m["machines"] for m in client.get("/api/v1/xray-models", headers=admin).get_json()}
    assert listed["own-model-1"] == [MACHINE]
    back = runner.invoke(args=["xray", "assign", MACHINE])
    assert back.exit_code == 0, back.output
    active = session.scalar(select(XrayModelVersion).where(XrayModelVersion.active.is_(True)))
    answer = json.loads(back.output.strip().splitlines()[-1])
    # the operator's command calibrates at once (here: too few scans, so the model's own threshold) and says so
    assert answer["model_version"] == active.version and answer["calibration_pending"] is False
    assert answer["calibrated"] is False and f"Calibrating 1 machine(s) for their new model: {MACHINE}" in back.output
    again = runner.invoke(args=["xray", "assign", MACHINE, "own-model-1"])
    assert again.exit_code == 0 and '"own-model-1"' in again.output
    assert session.scalar(select(XrayMachine).where(XrayMachine.code == MACHINE)).calibration_due_at is None
    assert client.delete(f"/api/v1/xray-machines/{MACHINE}/model", headers=admin).get_json()["model_version"] \
        == active.version
