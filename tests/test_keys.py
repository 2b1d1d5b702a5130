"""``greenshield keys rotate``: a new personal-data key version without losing or splitting any data."""
from __future__ import annotations

import base64
import io
import json
import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import MetaData, func, select

from greenshield.personal import archive, keyring
from greenshield.context import settings_of
from greenshield.personal import vault
from greenshield.context import storage
from inspection import synth
from models import CollectionRecord, Finding, PiiKeyState
from tests.helpers import DAY, csv_bytes, log_row, resident_id, upload, upload_rows


@pytest.fixture
def admin(make_user, bearer):
    return bearer(make_user("admin"))


@pytest.fixture
def outlet(make_outlet):
    return make_outlet("SF-HH-0901")


@pytest.fixture
def instance(app) -> Path:
    return Path(app.config["INSTANCE_PATH"])


def clear_values(app, session) -> dict[int, tuple[str | None, str | None]]:
    """Every record's ID and phone number, decrypted with the app's current vault."""
    session.expire_all()
    with app.app_context():
        v = vault(session, settings_of(app))
        return {r.id: (v.decrypt(r.sender_id_enc, keyring.ID_NO), v.decrypt(r.sender_phone_enc, keyring.PHONE))
                for r in session.scalars(select(CollectionRecord))}


def rotate(runner) -> int:
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    version = int(re.search(r"key version (\d+) is active", result.output).group(1))
    assert re.search(r"re-encrypted \d+ records", result.output)
    return version


@pytest.fixture
def ingested(client, admin, outlet):
    rows = list(synth.generate_rows(25, outlet_code=outlet.code, day=DAY, seed=31, noncompliant_ratio=0.08))
    rows.append(log_row("SF00009001", sender_id_no=resident_id(601), sender_phone=""))
    data = csv_bytes(rows)
    body = upload(client, admin, outlet.code, data).get_json()
    assert body["rows_accepted"] == 26
    return rows, data, body


def test_rotation_keeps_every_value_and_reindexes_it(app, runner, session, ingested):
    before = clear_values(app, session)
    old_hmacs = set(session.scalars(select(CollectionRecord.sender_id_hmac)))
    assert sum(1 for id_no, _ in before.values() if id_no) >= 20

    version = rotate(runner)
    session.expire_all()
    assert session.get(PiiKeyState, 1).active_version == version
    assert clear_values(app, session) == before
    with app.app_context():
        v = vault(session, settings_of(app))
        assert v.active == version
        for record in session.scalars(select(CollectionRecord)):
            id_no, phone = before[record.id]
            if id_no is not None:
                assert int.from_bytes(record.sender_id_enc[:2], "big") == version
                assert record.sender_id_hmac == v.index(id_no, keyring.ID_NO)
                found = session.scalars(select(CollectionRecord.id).where(
                    CollectionRecord.sender_id_hmac == v.index(id_no, keyring.ID_NO))).all()
                assert record.id in found
            if phone is not None:
                assert record.sender_phone_hmac == v.index(phone, keyring.PHONE)
    assert not old_hmacs & set(session.scalars(select(CollectionRecord.sender_id_hmac))) - {None}


def test_history_route_still_shows_masked_values(runner, client, admin, outlet, ingested):
    rows = ingested[0]
    waybill = rows[0]["waybill_no"]
    before = client.get(f"/api/v1/outlets/{outlet.code}/records/{waybill}", headers=admin).get_json()
    rotate(runner)
    after = client.get(f"/api/v1/outlets/{outlet.code}/records/{waybill}", headers=admin).get_json()
    assert after == before
    assert after[0]["sender_phone"] and "*" in after[0]["sender_phone"]


def test_identical_rows_are_still_skipped_after_rotation(runner, client, session, admin, outlet, ingested):
    rows, data, _ = ingested
    stored = session.scalar(select(func.count()).select_from(CollectionRecord))
    rotate(runner)
    again = upload(client, admin, outlet.code, data + b"\r\n").get_json()
    assert again["rows_total"] == 26
    assert (again["rows_skipped"], again["rows_corrected"]) == (26, 0)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(CollectionRecord)) == stored
    changed = upload_rows(client, admin, outlet.code, [{**rows[0], "quantity": "9"}])
    assert (changed["rows_skipped"], changed["rows_corrected"]) == (0, 1)


def test_archive_still_restores_after_rotation(app, runner, session, instance, ingested):
    _, data, body = ingested
    key = archive.archive_key(body["sha256"])
    version = rotate(runner)
    restored = io.BytesIO()
    with app.app_context():
        header = storage().get(key)[:6]
        archive.restore(storage(), key, restored, vault(session, settings_of(app)))
        beside = list(storage().keys(key.rsplit("/", 1)[0] + "/"))
    assert key in beside and all(k.endswith(".gsa") for k in beside)  # no temporary object left beside it
    assert header[:4] == archive.MAGIC and int.from_bytes(header[4:6], "big") == version
    assert restored.getvalue() == data
    folder = instance / "archive" / body["sha256"][:2]
    assert not list(folder.glob(".*.tmp")) and not list(folder.glob("*.new"))  # nor a file (file-system storage)


def test_rotating_twice(app, runner, session, instance, ingested):
    before = clear_values(app, session)
    first = rotate(runner)
    second = rotate(runner)
    assert second == first + 1
    assert clear_values(app, session) == before
    keys = keyring.load_keyring(instance)
    assert {first, second} <= set(keys) and min(keys) < first
    with app.app_context():
        v = vault(session, settings_of(app))
        assert v.active == second
        id_no = next(i for i, _ in before.values() if i)
        assert session.scalar(select(func.count()).select_from(CollectionRecord).where(
            CollectionRecord.sender_id_hmac == v.index(id_no, keyring.ID_NO))) >= 1
    restored = io.BytesIO()
    with app.app_context():
        archive.restore(storage(), archive.archive_key(ingested[2]["sha256"]), restored, vault(session, settings_of(app)))
    assert restored.getvalue() == ingested[1]


def test_key_file_is_private_and_no_key_is_in_the_database(runner, session, instance, ingested):
    rotate(runner)
    path = keyring.key_file(instance)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    doc = json.loads(path.read_text())
    secrets = [(text, base64.b64decode(text)) for key in doc["keys"].values() for text in key.values()]
    assert len(secrets) >= 4
    session.expire_all()
    schema = MetaData()
    schema.reflect(bind=session.connection())
    assert {"collection_records", "pii_key_state", "staff"} <= set(schema.tables)
    for table in schema.sorted_tables:
        for row in session.execute(select(table)).all():
            for value in row:
                if isinstance(value, bytes):
                    assert not any(raw in value for _, raw in secrets), table.name
                elif value is not None:
                    assert not any(text in str(value) for text, _ in secrets), table.name


def test_staff_ids_and_findings_survive_rotation(runner, client, session, admin, outlet):
    courier_id = resident_id(602, birth="19880808")
    response = client.post("/api/v1/staff", headers=admin, json={
        "staff_id": "C-0901", "name": "周八", "outlet_code": outlet.code, "role": "courier", "id_no": courier_id})
    assert response.status_code == 201
    shared = resident_id(603, birth="19770707")
    upload_rows(client, admin, outlet.code, [log_row("SF00009101", sender_id_no=shared, sender_name="张伟"),
                                             log_row("SF00009102", sender_id_no=shared, sender_name="李娜"),
                                             log_row("SF00009103", sender_id_no=shared, sender_name="王芳")])
    assert [f["kind"] for f in client.get("/api/v1/findings", headers=admin).get_json()] == ["shared_id"]

    rotate(runner)
    upload_rows(client, admin, outlet.code, [log_row("SF00009104", sender_id_no=shared, sender_name="赵敏"),
                                             log_row("SF00009105", sender_id_no=courier_id, sender_name="钱七")])
    found = client.get("/api/v1/findings", headers=admin).get_json()
    assert sorted((f["kind"], f["records"]) for f in found) == [("shared_id", 4), ("staff_id", 1)]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Finding)) == 2
    assert client.get("/api/v1/staff/C-0901", headers=admin).get_json()["id_no_on_file"] is True


def test_rejected_rows_stay_readable_after_rotation(runner, client, session, admin, outlet):
    body = upload_rows(client, admin, outlet.code, [log_row("SF00009001"),
                                                    log_row("SF00009002", quantity="0", sender_phone="13912345678")])
    before = client.get(f"{body['errors_url']}?format=csv", headers=admin).get_data()
    assert b"139****5678" in before and b"13912345678" not in before
    rotate(runner)
    session.expire_all()
    assert client.get(f"{body['errors_url']}?format=csv", headers=admin).get_data() == before


def test_the_whole_waybill_survives_rotation(app, runner, session, ingested):
    from inspection.columns import COLUMNS, ENCRYPTED, purpose

    later = [c for c in ENCRYPTED if c.key in ("sender_address", "recipient_phone", "recipient_address")]

    def clear() -> dict:
        session.expire_all()
        with app.app_context():
            v = vault(session, settings_of(app))
            return {r.id: tuple(v.decrypt(getattr(r, c.stored_in[0]), purpose(c)) for c in later)
                    for r in session.scalars(select(CollectionRecord))}

    before = clear()
    assert sum(1 for values in before.values() if all(values)) >= 20  # the synthetic rows carry the recipient
    version = rotate(runner)
    assert clear() == before
    with app.app_context():
        v = vault(session, settings_of(app))
        phone = purpose(COLUMNS["recipient_phone"])
        for record in session.scalars(select(CollectionRecord)):
            number = before[record.id][1]
            if number:
                assert int.from_bytes(record.recipient_phone_enc[:2], "big") == version
                assert record.recipient_phone_hmac == v.index(number, phone)


@pytest.mark.parametrize("key", [bytes(range(32)), b"k" * 64, bytes(range(100))], ids=["32 bytes", "64", "100"])
def test_the_bulk_indexer_is_the_same_hmac_as_a_lookup(key):
    """The ingest's indexer (keyed SHA-256 states copied per value) gives what ``hmac`` gives, so traces find
    what the ingest stored, whatever the key's length."""
    import hashlib
    import hmac

    vault_ = keyring.Vault({1: keyring.KeyVersion(1, bytes(32), key)}, 1)
    index = vault_.indexer(keyring.ID_NO)
    for value in ["110101199003076578", "张三", "", "x" * 300]:
        expected = hmac.new(key, keyring.ID_NO + b"\x00" + value.encode(), hashlib.sha256).hexdigest()
        assert index(value) == vault_.index(value, keyring.ID_NO) == expected
    assert index(None) is None
    assert vault_.indexer(keyring.PHONE)("13800138000") != index("13800138000")
