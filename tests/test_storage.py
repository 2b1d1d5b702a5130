"""The storage interface: files by key on the file system, and the X-ray feature using nothing else."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from greenshield import storage as st
from greenshield.context import settings_of
from greenshield.settings import Settings
from greenshield.personal import archive
from greenshield.personal import vault
from tests.helpers import csv_bytes, log_row, upload
from tests.helpers import png, send


def test_file_system_storage_writes_once_atomically_and_lists_by_prefix(tmp_path):
    store = st.FileSystemStorage(tmp_path)
    store.put("xray/images/ab/ab12.png", b"first")
    store.put("xray/images/ab/ab12.png", b"second")  # content-addressed: the first write stays
    assert store.get("xray/images/ab/ab12.png") == b"first"
    store.put("xray/heatmaps/ab/ab12-m1.png", b"h1")
    store.put("xray/heatmaps/ab/ab12-m2.png", b"h2")
    store.put("xray/heatmaps/ab/ab99-m1.png", b"other")
    assert sorted(store.keys("xray/heatmaps/ab/ab12-")) == ["xray/heatmaps/ab/ab12-m1.png",
                                                             "xray/heatmaps/ab/ab12-m2.png"]
    assert list(store.keys("nothing/here/")) == []
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    store.delete("xray/images/ab/ab12.png")
    store.delete("xray/images/ab/ab12.png")  # deleting what is gone is fine
    assert not store.exists("xray/images/ab/ab12.png")
    with pytest.raises(st.MissingObject):
        store.get("xray/images/ab/ab12.png")
    with pytest.raises(OSError):  # callers catching OSError keep working
        store.get("xray/images/ab/ab12.png")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "a//b", "a/./b", "a/../b", "", "a b", "a\\b"])
def test_keys_cannot_leave_the_root(tmp_path, key):
    with pytest.raises(ValueError):
        st.FileSystemStorage(tmp_path).put(key, b"x")


def test_storage_url(tmp_path):
    settings = Settings(instance_path=tmp_path / "instance")
    assert st.from_settings(settings).root == tmp_path / "instance"
    assert st.from_settings(settings.replace(storage_url=f"file://{tmp_path}")).root == tmp_path
    s3 = st.from_settings(settings.replace(storage_url="s3://evidence/province/", storage_s3_endpoint_url="http://minio:9000"))
    assert isinstance(s3, st.S3Storage) and (s3.bucket, s3.prefix) == ("evidence", "province/")
    assert s3.describe() == "s3://evidence/province/ at http://minio:9000"
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        st.from_settings(settings.replace(storage_url="ftp://host/folder"))


class MemoryStorage:
    """Another implementation of the interface, to show the app uses nothing else."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def put(self, key, data):
        self.objects.setdefault(st.check_key(key), bytes(data))

    def put_file(self, key, source, *, replace=False):
        if replace or key not in self.objects:
            self.objects[st.check_key(key)] = Path(source).read_bytes()

    def get(self, key):
        try:
            return self.objects[key]
        except KeyError:
            raise st.MissingObject(key) from None

    def open(self, key):
        return io.BytesIO(self.get(key))

    def exists(self, key):
        return key in self.objects

    def delete(self, key):
        self.objects.pop(key, None)

    def keys(self, prefix):
        return iter([k for k in self.objects if k.startswith(prefix)])

    def describe(self):
        return "memory"


@pytest.fixture
def memory_storage(monkeypatch):
    """Every storage the app opens is this one (``storage.of`` makes them through ``_storage``)."""
    store = MemoryStorage()
    monkeypatch.setattr(st, "_storage", lambda settings: store)
    return store


def test_xray_images_and_heatmaps_go_through_the_storage(client, machine, sender, bags, memory_storage, app):  # noqa: F811
    before = set(Path(app.config["INSTANCE_PATH"]).rglob("*.png"))
    event = send(client, sender, png(bags[1]), waybill="SF5550000001").get_json()
    assert sorted(k.split("/")[1] for k in memory_storage.objects) == ["heatmaps", "images"]
    assert client.get(f"/api/v1/xray-events/{event['id']}/image", headers=sender).data == png(bags[1])
    heat = client.get(f"/api/v1/xray-events/{event['id']}/heatmap?overlay=1", headers=sender)
    assert heat.status_code == 200 and heat.data.startswith(b"\x89PNG")
    assert set(Path(app.config["INSTANCE_PATH"]).rglob("*.png")) == before  # nothing written beside the storage


def test_the_daily_log_archive_goes_through_the_storage_and_survives_key_rotation(
        app, client, runner, session, make_outlet, make_user, bearer, memory_storage):
    make_outlet("ST-OUT-1")
    headers = bearer(make_user("admin"))
    data = csv_bytes([log_row("SF8880000001"), log_row("SF8880000002", at="11:00:00")])
    before = set(Path(app.config["INSTANCE_PATH"]).rglob("*.gsa"))
    body = upload(client, headers, "ST-OUT-1", data).get_json()
    key = archive.archive_key(body["sha256"])
    assert list(memory_storage.objects) == [key] and data not in memory_storage.objects[key]  # encrypted
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "1 archived files" in result.output
    restored = io.BytesIO()
    with app.app_context():
        archive.restore(memory_storage, key, restored, vault(session, settings_of(app)))
    assert restored.getvalue() == data
    assert set(Path(app.config["INSTANCE_PATH"]).rglob("*.gsa")) == before
