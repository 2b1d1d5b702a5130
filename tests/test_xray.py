"""X-ray events through the API: scoring, heat maps, the review queue, TIP, machines, models, retention."""
from __future__ import annotations

import datetime as dt

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from models import ReviewStatus, XrayEvent, XrayMachine, XrayModelVersion, utcnow
from models.base import CHINA
from tests.helpers import png, send



@pytest.fixture
def reviewer(make_user, bearer):
    return bearer(make_user("inspector", region="150000"))


def test_event_is_scored_and_heatmap_has_the_image_size(client, machine, sender, bags):
    clean, threat = bags
    created = send(client, sender, png(threat))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert set(body) == {"id", "score", "flagged", "model_version", "threshold"} and 0.0 <= body["score"] <= 1.0
    assert body["flagged"] == (body["score"] >= body["threshold"])
    heat = client.get(f"/api/v1/xray-events/{body['id']}/heatmap", headers=sender)
    assert heat.status_code == 200 and heat.mimetype == "image/png"
    decoded = cv2.imdecode(np.frombuffer(heat.data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.dtype == np.uint8 and decoded.ndim == 2 and decoded.shape == threat.shape
    overlay = cv2.imdecode(np.frombuffer(client.get(f"/api/v1/xray-events/{body['id']}/heatmap?overlay=1",
                                                    headers=sender).data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert overlay.shape == (*threat.shape, 3)
    image = client.get(f"/api/v1/xray-events/{body['id']}/image", headers=sender)
    assert image.data == png(threat)
    clean_score = send(client, sender, png(clean), waybill="SF1234567891").get_json()["score"]
    assert body["score"] > clean_score


@pytest.mark.parametrize("encode", ["jpeg", "tiff16", "png16", "colour"])
def test_formats_and_depths_are_accepted(client, machine, sender, bags, encode):
    clean, _ = bags
    if encode == "jpeg":
        data = cv2.imencode(".jpg", np.round(clean * 255).astype(np.uint8))[1].tobytes()
    elif encode == "tiff16":
        data = cv2.imencode(".tiff", np.round(clean * 65535).astype(np.uint16))[1].tobytes()
    elif encode == "png16":
        data = png(clean, depth=16)
    else:
        data = png(cv2.cvtColor(clean, cv2.COLOR_GRAY2BGR))
    response = send(client, sender, data, name="scan.bin")
    assert response.status_code == 201, response.get_json()


def test_bad_images_are_refused_before_anything_is_stored(client, machine, sender, session):
    not_image = send(client, sender, b"%PDF-1.4 not an image", name="scan.png")
    assert not_image.status_code == 422 and not_image.get_json()["error"]["code"] == "unsupported_format"
    bomb_header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (100000).to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00"
    bomb = send(client, sender, bomb_header + b"\x00" * 32)
    assert bomb.status_code == 413 and bomb.get_json()["error"]["code"] == "too_many_pixels"
    # two ImageWidth tags (20000, then 10) and a height of 10000: libtiff would decode the first
    entries = [(256, 20000), (256, 10), (257, 10000)]
    ambiguous = b"II*\x00" + (8).to_bytes(4, "little") + len(entries).to_bytes(2, "little") + b"".join(
        tag.to_bytes(2, "little") + (4).to_bytes(2, "little") + (1).to_bytes(4, "little") + value.to_bytes(4, "little")
        for tag, value in entries) + bytes(4)
    refused = send(client, sender, ambiguous, name="scan.tif")
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "corrupt_image"
    missing = client.post("/api/v1/xray-events", headers=sender, data={"machine_code": "XR-OUT-01-X1"})
    assert missing.status_code == 422
    assert session.scalar(select(func.count()).select_from(XrayEvent)) == 0


def test_sender_scope(client, machine, bags, make_outlet, make_user, bearer, session):
    other = make_outlet("XR-OTHER-1")
    session.add(XrayMachine(code="XR-OTHER-1-X1", outlet=other, model="m", installed_on=dt.date(2024, 1, 1), active=True))
    session.flush()
    stranger = bearer(make_user("outlet_manager", outlets=["XR-OTHER-1"]))
    assert send(client, stranger, png(bags[0])).status_code == 403
    assert send(client, stranger, png(bags[0]), machine="XR-OTHER-1-X1").status_code == 201


def test_review_queue_and_decisions(client, machine, sender, reviewer, bags, session):
    model = session.scalar(select(XrayModelVersion).where(XrayModelVersion.active.is_(True)))
    ids = [send(client, sender, png(bags[1]), waybill=f"SF00000000{i}").get_json()["id"] for i in range(2)]
    for event_id in ids:
        session.get(XrayEvent, event_id).flagged = True
        session.get(XrayEvent, event_id).status = ReviewStatus.PENDING
    session.flush()
    queue = client.get("/api/v1/xray-events?flagged=true&status=pending", headers=reviewer).get_json()
    assert [e["id"] for e in queue] == ids and all(e["model_version"] == model.version for e in queue)
    no_category = client.post(f"/api/v1/xray-events/{ids[0]}/review", json={"decision": "seized"}, headers=reviewer)
    assert no_category.status_code == 422
    bad_category = client.post(f"/api/v1/xray-events/{ids[0]}/review", json={"decision": "seized", "category": 20},
                               headers=reviewer)
    assert bad_category.status_code == 422
    seized = client.post(f"/api/v1/xray-events/{ids[0]}/review", json={"decision": "seized", "category": 1,
                                                                       "note": "疑似枪形物"}, headers=reviewer)
    assert seized.status_code == 200 and seized.get_json()["category"] == 1
    again = client.post(f"/api/v1/xray-events/{ids[0]}/review", json={"decision": "cleared"}, headers=reviewer)
    assert again.status_code == 409
    assert client.post(f"/api/v1/xray-events/{ids[1]}/review", json={"decision": "seized", "category": 2},
                       headers=sender).status_code == 403
    queue = client.get("/api/v1/xray-events?flagged=true&status=pending", headers=reviewer).get_json()
    assert [e["id"] for e in queue] == ids[1:]


def test_tip_injection_and_reviewer_statistics(client, runner, machine, reviewer, session):
    result = runner.invoke(args=["xray", "inject-tip", "--count", "4", "--threat-share", "1.0", "--seed", "3"])
    assert result.exit_code == 0, result.output
    queue = client.get("/api/v1/xray-events?flagged=true&status=pending", headers=reviewer).get_json()
    assert len(queue) == 4 and all("is_tip" not in e and "tip_threat" not in e for e in queue)
    assert not any("TIP" in e["waybill_no"] or "TIP" in e["operator_id"] for e in queue)
    decisions = ["seized", "referred", "cleared", "cleared"]
    outcomes = [client.post(f"/api/v1/xray-events/{e['id']}/review",
                            json={"decision": d, "category": 2 if d == "seized" else None}, headers=reviewer)
                .get_json()["tip_outcome"] for e, d in zip(queue, decisions)]
    assert outcomes == ["hit", "hit", "miss", "miss"]
    stats = client.get("/api/v1/xray-reviewers/stats", headers=reviewer).get_json()
    assert stats[0]["tip_hits"] == 2 and stats[0]["tip_misses"] == 2 and stats[0]["tip_hit_rate"] == 0.5


def test_screener_on_duty_and_power_on_rate(client, machine, sender, bags):
    base = dt.datetime(2026, 11, 28, 8, 0, tzinfo=CHINA)
    for kind, minutes, staff in (("power_on", 0, None), ("check_in", 5, "XR-S01"), ("check_out", 300, "XR-S01"),
                                 ("power_off", 360, None)):
        response = client.post("/api/v1/xray-machines/XR-OUT-01-X1/status", headers=sender, json={
            "kind": kind, "at": (base + dt.timedelta(minutes=minutes)).isoformat(), "staff_id": staff})
        assert response.status_code == 201, response.get_json()
    wrong = client.post("/api/v1/xray-machines/XR-OUT-01-X1/status", headers=sender,
                        json={"kind": "check_in", "at": base.isoformat(), "staff_id": "NOBODY"})
    assert wrong.status_code == 422
    on_duty = send(client, sender, png(bags[0]), at=base + dt.timedelta(hours=1)).get_json()["id"]
    off_duty = send(client, sender, png(bags[0]), at=base + dt.timedelta(hours=7), waybill="SF9999999999").get_json()["id"]
    assert client.get(f"/api/v1/xray-events/{on_duty}", headers=sender).get_json()["screener_on_duty"] == "XR-S01"
    assert client.get(f"/api/v1/xray-events/{off_duty}", headers=sender).get_json()["screener_on_duty"] is None
    window = {"from": base.isoformat(), "to": (base + dt.timedelta(hours=12)).isoformat()}
    rate = client.get("/api/v1/xray-machines/XR-OUT-01-X1/power-on", query_string=window, headers=sender).get_json()
    assert rate["power_on_rate"] == pytest.approx(0.5) and rate["powered_seconds"] == 6 * 3600


def test_retention_purges_all_but_evidence(client, runner, machine, sender, reviewer, bags, session):
    old = utcnow() - dt.timedelta(days=40)
    ids = [send(client, sender, png(bags[i % 2]) + bytes([i]), waybill=f"SF77777777{i}", at=old).get_json()["id"]
           for i in range(3)]
    evidence, held, plain = (session.get(XrayEvent, i) for i in ids)
    evidence.flagged, evidence.status = True, ReviewStatus.PENDING
    held.evidence_hold = True
    session.flush()
    client.post(f"/api/v1/xray-events/{evidence.id}/review", json={"decision": "referred"}, headers=reviewer)
    result = runner.invoke(args=["xray", "purge"])
    assert "Purged 1" in result.output
    assert client.get(f"/api/v1/xray-events/{plain.id}/image", headers=sender).status_code == 404
    assert client.get(f"/api/v1/xray-events/{evidence.id}/image", headers=sender).status_code == 200
    assert client.get(f"/api/v1/xray-events/{held.id}/image", headers=sender).status_code == 200
    assert client.get(f"/api/v1/xray-events/{plain.id}", headers=sender).get_json()["image_available"] is False


def test_models_listed_and_activation_refuses_unknown(client, make_user, bearer, session):
    admin = bearer(make_user("admin"))
    models = client.get("/api/v1/xray-models", headers=admin).get_json()
    assert sum(m["active"] for m in models) == 1
    assert client.post("/api/v1/xray-models/nope/activate", headers=admin).status_code == 404


def test_review_page_with_keyboard_shortcuts(client, machine, sender, make_user, login, bags, session):
    event_id = send(client, sender, png(bags[1])).get_json()["id"]
    event = session.get(XrayEvent, event_id)
    event.flagged, event.status = True, ReviewStatus.PENDING
    session.flush()
    user = make_user("inspector", region="150000")
    login(client, user)
    page = client.get("/xray/review").get_data(as_text=True)
    assert f"/api/v1/xray-events/{event_id}/heatmap?overlay=1" in page and "keydown" in page
    done = client.post(f"/xray/review/{event_id}", data={"decision": "seized", "category": "2"})
    assert done.status_code == 302
    session.expire_all()
    assert session.get(XrayEvent, event_id).review.decision == "seized"
    assert "queue-empty" in client.get("/xray/review").get_data(as_text=True)


def test_reviewed_events_become_labelled_training_data(client, runner, machine, sender, reviewer, bags, session,
                                                        tmp_path):
    ids = [send(client, sender, png(bags[i]), waybill=f"SF5555555{i:03d}").get_json()["id"] for i in range(2)]
    for event_id in ids:
        event = session.get(XrayEvent, event_id)
        event.flagged, event.status = True, ReviewStatus.PENDING
    session.flush()
    client.post(f"/api/v1/xray-events/{ids[0]}/review", json={"decision": "cleared"}, headers=reviewer)
    client.post(f"/api/v1/xray-events/{ids[1]}/review", json={"decision": "seized", "category": 1}, headers=reviewer)
    result = runner.invoke(args=["xray", "export-labelled", str(tmp_path / "labelled")])
    assert result.exit_code == 0, result.output
    assert '"benign": 1' in result.output and '"threat": 1' in result.output
    assert (tmp_path / "labelled" / "threat" / f"{ids[1]}.png").read_bytes() == png(bags[1])
    assert "seized,1" in (tmp_path / "labelled" / "labels.csv").read_text()


def test_a_model_is_trained_evaluated_and_activated_from_the_command_line(client, runner, machine, sender, bags,
                                                                           session, tmp_path):
    """A centre's retraining: its own clean scans in a folder -> a registered, inactive model with its metrics ->
    evaluated on other bags (ROC plot) -> activated; new events are scored by it."""
    import json

    from tests.inspection.xray.conftest import finished_scan

    scans = tmp_path / "clean"
    scans.mkdir()
    for i in range(10):
        cv2.imwrite(str(scans / f"bag-{i}.png"), finished_scan(500 + i, colour=i % 2 == 0, size=(300, 380)))
    result = runner.invoke(args=["xray", "train", "--benign", str(scans), "--threats", "12", "--threats-per-bag", "2",
                                 "--workers", "1", "--seed", "4", "--version", "centre-test-1"])
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout.strip().splitlines()[-1])
    assert trained["version"] == "centre-test-1" and trained["active"] is False and 0 < trained["threshold"] < 1
    row = session.scalar(select(XrayModelVersion).where(XrayModelVersion.version == "centre-test-1"))
    assert row.training_summary and "validation" in row.metrics and not row.active
    again = runner.invoke(args=["xray", "train", "--benign", str(scans), "--threats", "12", "--workers", "1",
                                "--version", "centre-test-1"])
    assert again.exit_code != 0 and "exists already" in again.output

    roc = tmp_path / "roc.png"
    result = runner.invoke(args=["xray", "evaluate", "centre-test-1", "--generated-bags", "4", "--roc", str(roc)])
    assert result.exit_code == 0, result.output
    evaluation = json.loads(result.stdout.strip().splitlines()[-1])
    assert evaluation["kind"] == "pairs" and 0 <= evaluation["metrics"]["auc"] <= 1
    assert 0 <= evaluation["peak_on_threat_rate"] <= 1 and 0 <= evaluation["clean_flag_rate"] <= 1
    assert roc.read_bytes().startswith(b"\x89PNG")

    assert runner.invoke(args=["xray", "activate", "centre-test-1"]).exit_code == 0
    assert "* centre-test-1" in runner.invoke(args=["xray", "list"]).output
    assert send(client, sender, png(bags[0])).get_json()["model_version"] == "centre-test-1"
    assert runner.invoke(args=["xray", "activate", "no-such-model"]).exit_code != 0


def test_a_scan_time_in_the_future_is_refused_in_chinese(client, machine, sender, bags):
    clean, _ = bags
    later = dt.datetime.now(CHINA) + dt.timedelta(hours=1)
    refused = send(client, sender, png(clean), at=later)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"]["scanned_at"] == ["不能晚于当前时间 10 分钟以上。"]
