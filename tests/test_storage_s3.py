"""The S3-compatible storage against a real S3-protocol server (moto's; .ci/run starts one as its own process and
names it in GREENSHIELD_TEST_S3_ENDPOINT, else the tests start one in a thread): the same contract as the file
system, server-side encryption, multipart uploads, missing objects, an unreachable endpoint, and the app on it."""
from __future__ import annotations

import hashlib
import io
import os
import socket
import uuid

import numpy as np
import pytest
from sqlalchemy import func, select

from greenshield import storage as st
from greenshield.context import SETTINGS, settings_of
from models import UploadBatch, XrayEvent

ACCESS = {"access_key": "greenshield-test", "secret_key": "greenshield-test-secret", "region": "us-east-1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    endpoint = os.environ.get("GREENSHIELD_TEST_S3_ENDPOINT")
    if endpoint:
        yield endpoint
        return
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint) -> str:
    name = f"gs-test-{uuid.uuid4().hex[:12]}"
    store = st.S3Storage(name, endpoint_url=s3_endpoint, **ACCESS)
    store.client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3(s3_endpoint, bucket) -> st.S3Storage:
    return st.S3Storage(bucket, "province/evidence", endpoint_url=s3_endpoint, **ACCESS)


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    return st.FileSystemStorage(tmp_path) if request.param == "file" else request.getfixturevalue("s3")


def test_both_storages_keep_the_same_contract(store, tmp_path):
    store.put("xray/images/ab/ab12.png", b"first")
    store.put("xray/images/ab/ab12.png", b"second")  # content-addressed keys are written once
    assert store.get("xray/images/ab/ab12.png") == b"first"
    source = tmp_path / "archived.gsa"
    source.write_bytes(b"v1")
    store.put_file("archive/cd/cd34.gsa", source)
    source.write_bytes(b"v2")
    store.put_file("archive/cd/cd34.gsa", source)
    assert store.get("archive/cd/cd34.gsa") == b"v1"
    store.put_file("archive/cd/cd34.gsa", source, replace=True)  # re-encryption under a new key
    with store.open("archive/cd/cd34.gsa") as stream:
        assert stream.read() == b"v2" and stream.seek(0) == 0 and stream.read(1) == b"v"
    assert store.exists("archive/cd/cd34.gsa") and not store.exists("archive/cd/nothing.gsa")
    assert sorted(store.keys("xray/")) == ["xray/images/ab/ab12.png"]
    assert sorted(store.keys("archive/cd/cd")) == ["archive/cd/cd34.gsa"]
    with pytest.raises(st.MissingObject):
        store.get("xray/images/ab/none.png")
    with pytest.raises(FileNotFoundError):
        store.open("xray/images/ab/none.png")
    store.delete("xray/images/ab/ab12.png")
    store.delete("xray/images/ab/ab12.png")
    assert not store.exists("xray/images/ab/ab12.png")
    with pytest.raises(ValueError):
        store.put("../escape", b"x")


def test_objects_are_encrypted_at_rest_and_kept_under_the_prefix(s3):
    s3.put("photos/ab/ab.jpg", b"\xff\xd8\xff-photo")
    head = s3.client.head_object(Bucket=s3.bucket, Key="province/evidence/photos/ab/ab.jpg")
    assert head["ServerSideEncryption"] == "AES256"
    listed = s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["province/evidence/photos/ab/ab.jpg"]


def test_large_files_go_up_in_parts_and_come_back_whole(s3, tmp_path, monkeypatch):
    monkeypatch.setattr(st.S3Storage, "MULTIPART_BYTES", 5 * 2**20)
    big = tmp_path / "big.gsa"
    big.write_bytes(os.urandom(2**20) * 13)  # 13 MiB: three parts
    s3.put_file("archive/ee/ee.gsa", big)
    head = s3.client.head_object(Bucket=s3.bucket, Key="province/evidence/archive/ee/ee.gsa")
    assert "-" in head["ETag"]  # a multipart ETag: "<hash>-<parts>"
    with s3.open("archive/ee/ee.gsa") as stream:
        assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(big.read_bytes()).digest()


def test_an_unreachable_endpoint_is_a_clear_error(tmp_path):
    store = st.S3Storage("evidence", endpoint_url=f"http://127.0.0.1:{free_port()}", connect_timeout=0.5, **ACCESS)
    with pytest.raises(st.StorageUnavailable) as down:
        store.put("xray/images/ab/ab.png", b"x")
    assert down.value.code == "storage_unavailable"
    source = tmp_path / "f"
    source.write_bytes(b"x")
    with pytest.raises(st.StorageUnavailable):
        store.put_file("archive/ab/ab.gsa", source, replace=True)


@pytest.fixture
def app_on_s3(app, monkeypatch, s3_endpoint, bucket):
    """The app with ``STORAGE_URL=s3://<bucket>/greenshield`` for this test."""
    settings = settings_of(app).replace(storage_url=f"s3://{bucket}/greenshield", storage_s3_endpoint_url=s3_endpoint,
                                        storage_s3_access_key=ACCESS["access_key"],
                                        storage_s3_secret_key=ACCESS["secret_key"], storage_s3_region="us-east-1")
    monkeypatch.setitem(app.extensions, SETTINGS, settings)
    return st.of(settings)


def test_the_app_keeps_images_and_archives_in_the_bucket(app_on_s3, client, make_outlet, make_user, bearer):
    from tests.helpers import csv_bytes, log_row
    from tests.helpers import png

    outlet = make_outlet("S3-OUT-1")
    admin = bearer(make_user("admin"))
    upload = client.post(f"/api/v1/outlets/{outlet.code}/daily-logs", headers=admin,
                         data={"file": (io.BytesIO(csv_bytes([log_row("S3WAYBILL01")])), "log.csv")})
    assert upload.status_code == 201
    assert [k for k in app_on_s3.keys("archive/")], "the daily log was archived in the bucket"
    client.post("/api/v1/xray-machines", headers=admin, json={"code": "S3-OUT-1-X1", "outlet_code": outlet.code,
                                                              "model": "CX5030", "installed_on": "2025-01-02"})
    image = png(np.full((120, 160), 0.8))
    event = client.post("/api/v1/xray-events", headers=admin, data={
        "machine_code": "S3-OUT-1-X1", "waybill_no": "S3WAYBILL01", "scanned_at": "2026-12-01T09:00:00+08:00",
        "operator_id": "OP-1", "image": (io.BytesIO(image), "scan.png")})
    assert event.status_code == 201
    assert client.get(f"/api/v1/xray-events/{event.get_json()['id']}/image", headers=admin).data == image
    assert sorted(k.split("/")[1] for k in app_on_s3.keys("xray/")) == ["heatmaps", "images"]


def test_with_the_store_down_nothing_is_half_written(app, client, session, make_outlet, make_user, bearer,
                                                     monkeypatch):
    from tests.helpers import csv_bytes, log_row
    from tests.helpers import png

    outlet = make_outlet("S3-OUT-2")
    admin = bearer(make_user("admin"))
    client.post("/api/v1/xray-machines", headers=admin, json={"code": "S3-OUT-2-X1", "outlet_code": outlet.code,
                                                              "model": "CX5030", "installed_on": "2025-01-02"})
    down = settings_of(app).replace(storage_url="s3://evidence/greenshield",
                                    storage_s3_endpoint_url=f"http://127.0.0.1:{free_port()}",
                                    storage_s3_access_key="x", storage_s3_secret_key="y", storage_s3_region="us-east-1",
                                    storage_s3_connect_timeout=0.5)
    monkeypatch.setitem(app.extensions, SETTINGS, down)
    batches = session.scalar(select(func.count()).select_from(UploadBatch))
    upload = client.post(f"/api/v1/outlets/{outlet.code}/daily-logs", headers=admin,
                         data={"file": (io.BytesIO(csv_bytes([log_row("S3WAYBILL02")])), "log.csv")})
    event = client.post("/api/v1/xray-events", headers=admin, data={
        "machine_code": "S3-OUT-2-X1", "waybill_no": "S3WAYBILL02", "scanned_at": "2026-12-01T09:00:00+08:00",
        "operator_id": "OP-1", "image": (io.BytesIO(png(np.full((120, 160), 0.8))), "scan.png")})
    for response in (upload, event):
        assert response.status_code == 503
        assert response.get_json()["error"] == {"code": "storage_unavailable", "details": {},
                                                "message": "无法连接文件存储，未保存任何内容，请稍后再试。"}
    assert session.scalar(select(func.count()).select_from(UploadBatch)) == batches
    assert session.scalar(select(func.count()).select_from(XrayEvent).where(XrayEvent.waybill_no == "S3WAYBILL02")) == 0
