"""An inspector reads whether a machine's model still fits: the machine page (its calibrated threshold, the
calibration pending after a change of model, the daily flag rate), the models and a model's ROC."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.browser.conftest import GREENSHIELD, cli, shoot

SCANS = """
import datetime as dt, json, random
import numpy as np
from sqlalchemy import select
from greenshield import create_app, db
from greenshield.context import settings_of
from greenshield.xray.services import record_event
from inspection.xray import imaging
from inspection.xray.procedural import benign_bag, quantise, random_threats, scanner_effects
from inspection.xray.tip import project
from models import XrayMachine
from models.base import CHINA

app = create_app()
images, rng = np.random.default_rng(7), random.Random(7)
threats = random_threats(20, images)
today = dt.datetime.now(CHINA).date()
with app.app_context(), db.job_session() as session:
    machine = session.scalars(select(XrayMachine).order_by(XrayMachine.code)).first()
    for back in range(9, 1, -1):  # eight days of scans, a few with a threat in them
        for i in range(30):
            bag = benign_bag(images, size=(180, 240))
            if i % 15 == 7:
                bag = project(bag, threats[(back + i) % 20], rng=images)[0]
            at = dt.datetime.combine(today - dt.timedelta(days=back), dt.time(8 + i % 10, rng.randrange(60)), CHINA)
            record_event(session, settings_of(app), machine=machine, scanned_at=at, operator_id="OP-1",
                         waybill_no=f"SFJ{back:02d}{i:07d}",
                         data=imaging.encode_png(quantise(scanner_effects(bag, images))))
    print(json.dumps({"machine": machine.code}))
"""

CHANGE_MODEL = """
import sys
from sqlalchemy import select
from greenshield import create_app, db
from greenshield.context import settings_of
from greenshield.xray.services import assign_model, active_model
from models import XrayMachine

app = create_app()
with app.app_context(), db.job_session() as session:  # as PUT /api/v1/xray-machines/<code>/model does
    machine = session.scalar(select(XrayMachine).where(XrayMachine.code == sys.argv[1]))
    assign_model(session, settings_of(app), machine, active_model(session, settings_of(app))[1].version)
"""


def _python(live_server, code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], env=live_server["env"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_inspector_sees_a_machines_calibration_flag_rate_and_the_models_roc(sign_in, live_server):
    code = json.loads(_python(live_server, SCANS).splitlines()[-1])["machine"]
    env = {**live_server["env"], "XRAY_CALIBRATION_MIN_SCANS": "100"}
    done = subprocess.run([GREENSHIELD, "xray", "calibrate", "--machine", code], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    calibrated = json.loads(done.stdout.splitlines()[-1])
    assert calibrated["calibrated"] is True and calibrated["scans_used"] >= 100

    page = sign_in("inspector")
    page.goto(f"{live_server['url']}/xray/machines/{code}")
    assert page.locator("#threshold").inner_text() == f"{calibrated['threshold']:.4f}"
    assert page.locator("#scans-used").inner_text() == str(calibrated["scans_used"])
    assert page.locator("svg.flag-rate").count() == 1 and page.locator("#calibration-pending").count() == 0
    shoot(page, "xray-machine")

    _python(live_server, CHANGE_MODEL, code)  # no scheduler runs here: the calibration stays pending
    page.reload()
    assert "校准待进行" in page.locator("#calibration-pending").inner_text()
    page.locator("#calibration-pending").scroll_into_view_if_needed()
    shoot(page, "xray-machine-pending")

    page.goto(f"{live_server['url']}/xray/models")
    row = page.locator("#models tbody tr").first
    assert code in page.locator("#models").inner_text()
    shoot(page, "xray-models")
    with page.expect_navigation():
        row.locator("a").first.click()
    assert page.locator("svg.roc").count() == 1
    shoot(page, "xray-model")
    assert cli(live_server, "xray", "list")
