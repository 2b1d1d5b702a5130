"""The access log is append-only and tamper-evident: the database refuses UPDATE and DELETE, and
``greenshield access-log verify`` names the first bad entry when someone who dropped the triggers (as a DBA
could) altered, removed, inserted or reordered entries, or when the signed checkpoints do not match."""
from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from greenshield.trace import accesslog
from models import AccessLogEntry


@pytest.fixture
def checkpoints(app, tmp_path, configure):
    folder = tmp_path / "checkpoints"
    configure(access_log_checkpoints=str(folder))
    return folder


@pytest.fixture
def log(session, make_user, checkpoints):
    """Six entries by two people, as queries, a refusal and a decision would write them."""
    investigator, auditor = make_user("investigator"), make_user("auditor")
    for i in range(6):
        accesslog.append(session, user=auditor if i == 5 else investigator,
                         action="case_approve" if i == 5 else "trace", case_no="HGA-1",
                         query_type=None if i == 5 else "sender_id", subject_hash=f"{i:064x}", result_count=i,
                         outcome="refused: case pending" if i == 0 else "ok", client_addr="10.0.0.8",
                         request_id=f"r{i}")
    return session


def verify(runner, checkpoints):
    return runner.invoke(args=["access-log", "verify", "--checkpoints", str(checkpoints)])


def checkpoint(runner, checkpoints):
    result = runner.invoke(args=["access-log", "checkpoint", "--checkpoints", str(checkpoints)])
    assert result.exit_code == 0, result.output
    return result


def dialect(session) -> str:
    return session.get_bind().dialect.name


def drop_triggers(session) -> None:
    """What a database administrator could do; the tests then play the attacker."""
    if dialect(session) == "sqlite":
        session.execute(text("DROP TRIGGER access_log_no_update"))
        session.execute(text("DROP TRIGGER access_log_no_delete"))
    else:
        session.execute(text("DROP TRIGGER access_log_append_only ON access_log"))


def entries(session) -> list[AccessLogEntry]:
    session.expire_all()
    return list(session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq)))


def rehash_from(session, seq: int) -> None:
    """Recompute every hash from ``seq`` on, so that the chain is whole again (only checkpoints can tell)."""
    rows = entries(session)
    prev = rows[seq - 2].entry_hash if seq > 1 else accesslog.GENESIS
    for entry in rows[seq - 1:]:
        new = accesslog.chain_hash(prev, accesslog.hashed_fields(entry))
        session.execute(text("UPDATE access_log SET prev_hash = :p, entry_hash = :h WHERE seq = :s"),
                        {"p": prev, "h": new, "s": entry.seq})
        prev = new


def test_entries_chain_with_sequence_and_hashes(log):
    rows = entries(log)
    assert [e.seq for e in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].prev_hash == accesslog.GENESIS
    assert all(b.prev_hash == a.entry_hash for a, b in zip(rows, rows[1:]))
    assert rows[5].role == "auditor" and rows[0].outcome == "refused: case pending"


def test_the_chain_follows_the_documented_recipe(log):
    """An outside verifier needs only hashlib and json: sha256(prev_hash + "\\n" + canonical JSON)."""
    prev = "0" * 64
    for entry in entries(log):
        fields = {"seq": entry.seq, "at": entry.at.isoformat(timespec="microseconds"), "user_id": entry.user_id,
                  "username": entry.username, "role": entry.role, "agency": entry.agency, "action": entry.action,
                  "case_no": entry.case_no, "query_type": entry.query_type, "subject_hash": entry.subject_hash,
                  "result_count": entry.result_count, "outcome": entry.outcome, "client_addr": entry.client_addr,
                  "request_id": entry.request_id}
        body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert entry.at.utcoffset().total_seconds() == 0
        assert hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest() == entry.entry_hash
        prev = entry.entry_hash


@pytest.mark.parametrize("statement", [
    "UPDATE access_log SET outcome = 'ok' WHERE seq = 1",
    "UPDATE access_log SET entry_hash = prev_hash",
    "DELETE FROM access_log WHERE seq = 6",
    "DELETE FROM access_log",
])
def test_the_database_refuses_updates_and_deletes(log, statement):
    with pytest.raises(DBAPIError, match="append-only"):
        with log.begin_nested():
            log.execute(text(statement))
    assert len(entries(log)) == 6


def test_postgresql_refuses_truncate(log):
    if dialect(log) != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    with pytest.raises(DBAPIError, match="append-only"):
        with log.begin_nested():
            log.execute(text("TRUNCATE access_log"))


def test_an_intact_log_verifies(log, runner, checkpoints):
    checkpoint(runner, checkpoints)
    result = verify(runner, checkpoints)
    assert result.exit_code == 0, result.output
    assert "intact: 6 entries (last seq 6), 1 checkpoints" in result.output


def _alter(session):
    session.execute(text("UPDATE access_log SET result_count = 0, outcome = 'ok' WHERE seq = 3"))


def _remove(session):
    session.execute(text("DELETE FROM access_log WHERE seq = 3"))


def _insert(session):
    """Make room at 3 and slip in a forged entry that chains correctly to entry 2."""
    session.execute(text("UPDATE access_log SET seq = -seq WHERE seq >= 3"))
    session.execute(text("UPDATE access_log SET seq = 1 - seq WHERE seq < 0"))
    second = entries(session)[1]
    forged = {**accesslog.hashed_fields(second), "seq": 3, "username": "ghost", "result_count": 40}
    row = {**forged, "at": second.at, "prev_hash": second.entry_hash,
           "entry_hash": accesslog.chain_hash(second.entry_hash, forged)}
    session.execute(AccessLogEntry.__table__.insert().values(**row))


def _reorder(session):
    session.execute(text("UPDATE access_log SET seq = -2 WHERE seq = 2"))
    session.execute(text("UPDATE access_log SET seq = 2 WHERE seq = 4"))
    session.execute(text("UPDATE access_log SET seq = 4 WHERE seq = -2"))


@pytest.mark.parametrize("tamper, bad_seq, words", [
    (_alter, 3, "does not match its hash: it was altered"),
    (_remove, 3, "entry 3 is missing (removed)"),
    (_insert, 4, "does not match its hash"),
    (_reorder, 2, "does not match its hash"),
], ids=["altered", "removed", "inserted", "reordered"])
def test_tampering_is_found_and_the_first_bad_entry_named(log, runner, checkpoints, tamper, bad_seq, words):
    assert verify(runner, checkpoints).exit_code == 0
    drop_triggers(log)
    tamper(log)
    result = verify(runner, checkpoints)
    assert result.exit_code == 1
    assert f"first bad entry is seq {bad_seq}:" in result.output and words in result.output


def test_an_altered_entry_re_hashed_breaks_the_link_to_the_next(log, runner, checkpoints):
    drop_triggers(log)
    log.execute(text("UPDATE access_log SET result_count = 0 WHERE seq = 3"))
    third = entries(log)[2]
    log.execute(text("UPDATE access_log SET entry_hash = :h WHERE seq = 3"),
                {"h": accesslog.chain_hash(third.prev_hash, accesslog.hashed_fields(third))})
    result = verify(runner, checkpoints)
    assert result.exit_code == 1 and "seq 4: entry 4 does not chain to entry 3" in result.output


def test_a_rewritten_chain_is_caught_by_the_checkpoint(log, runner, checkpoints):
    checkpoint(runner, checkpoints)
    drop_triggers(log)
    log.execute(text("UPDATE access_log SET username = 'someone-else' WHERE seq = 4"))
    rehash_from(log, 4)
    result = verify(runner, checkpoints)
    assert result.exit_code == 1
    assert "seq 6: entry 6 does not match checkpoint checkpoint-000000000006.json" in result.output


def test_a_truncated_tail_is_caught_by_the_checkpoint(log, runner, checkpoints):
    checkpoint(runner, checkpoints)
    drop_triggers(log)
    log.execute(text("DELETE FROM access_log WHERE seq >= 5"))
    result = verify(runner, checkpoints)
    assert result.exit_code == 1
    assert "seq 5: entries 5 to 6 are missing" in result.output and "truncated after entry 4" in result.output


def test_a_forged_or_foreign_checkpoint_is_caught(log, runner, checkpoints):
    checkpoint(runner, checkpoints)
    path = next(checkpoints.glob("*.json"))
    point = json.loads(path.read_text())
    path.write_text(json.dumps({**point, "entry_hash": "f" * 64}))
    result = verify(runner, checkpoints)
    assert result.exit_code == 1 and "seq 6: checkpoint checkpoint-000000000006.json has an invalid signature" in \
        result.output
    other_key = Ed25519PrivateKey.generate()
    path.unlink()
    foreign = accesslog.write_checkpoint(log, checkpoints, other_key)
    assert foreign.seq == 6
    assert "invalid signature" in verify(runner, checkpoints).output


def test_checkpoints_need_a_log_and_are_written_once_per_entry(session, runner, checkpoints, make_user):
    assert "empty; no checkpoint" in checkpoint(runner, checkpoints).output
    accesslog.append(session, user=make_user("auditor"), action="case_approve", case_no="HGA-1")
    first = checkpoint(runner, checkpoints).output
    second = checkpoint(runner, checkpoints).output
    assert first == second and len(list(checkpoints.glob("*.json"))) == 1


def test_the_job_writes_a_checkpoint_only_when_one_is_due(app, log, checkpoints):
    from greenshield import jobs
    from greenshield.trace.jobs import checkpoint_access_log

    jobs.bind(app)
    try:
        written = checkpoint_access_log()
        assert written is not None and written.endswith("checkpoint-000000000006.json")
        assert checkpoint_access_log() is None  # nothing new since
    finally:
        jobs.bind(None)
    doc = json.loads(next(checkpoints.glob("*.json")).read_text())
    assert set(doc) == {"seq", "entry_hash", "at", "prev", "signature"}
    assert doc["entry_hash"] == entries(log)[-1].entry_hash and doc["prev"] == accesslog.GENESIS


def test_the_keys_are_made_once_and_private(app):
    import stat

    instance = app.config["INSTANCE_PATH"]
    first = accesslog.signing_key(instance)
    again = accesslog.signing_key(instance)
    assert first.private_bytes_raw() == again.private_bytes_raw()
    private = accesslog.public_key_path(instance).with_name(accesslog.SIGNING_KEY_FILE)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert accesslog.subject_key(instance) == accesslog.subject_key(instance)


def test_subject_hashes_are_keyed(app):
    key = accesslog.subject_key(app.config["INSTANCE_PATH"])
    subject = "RESIDENT_ID:150102199003070011"
    keyed = accesslog.subject_hash(key, "sender_id", subject)
    assert keyed != hashlib.sha256(subject.encode()).hexdigest()
    assert keyed != accesslog.subject_hash(b"another key", "sender_id", subject)
