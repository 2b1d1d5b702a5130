"""Issue 12: one test (or a few) per finding of the security probe, asserting the secure behaviour.

The finding's number is in each test's name (``test_01_...`` to ``test_15_...``). Finding 2 (the TIFF pixel
limit) belongs to ``inspection/xray/imaging.py`` and its tests; the bounded memory of the web path is test 11.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import stat
import uuid
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select, text

from greenshield import create_app
from greenshield.auth import services as auth
from greenshield.extensions import limiter
from greenshield.trace import accesslog
from models import AccessLogEntry, ApiToken, Audit, AuditSchedule, LoginThrottle, Notification, User, utcnow
from models.base import china_today as today
from tests.conftest import run_cli
from tests.helpers import redis_url

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def fresh_limits(app, tmp_path, configure):
    configure(access_log_checkpoints=str(tmp_path / "checkpoints"))
    limiter.reset()
    yield
    limiter.reset()


def sign_in(client, username, password=PASSWORD, addr="10.1.1.1", next=None):
    data = {"username": username, "password": password}
    if next is not None:
        data["next"] = next
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": addr})


def log_entries(session) -> list[AccessLogEntry]:
    session.expire_all()
    return list(session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq)))


def csrf_app(app_config, db, **config):
    """An app of this test's database with CSRF protection on, as in production."""
    other = create_app({**app_config, "WTF_CSRF_ENABLED": True, **config})
    other.extensions["greenshield.db"].bind_to(db.sessionmaker.kw["bind"])
    return other


# --- 1. redirects ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example/",
                                    "/\r\nSet-Cookie: x=1", "/ok\n", "javascript:alert(1)", "evil.example", "/%0a"])
def test_01_sign_in_redirects_only_to_same_origin_paths(client, make_user, target):
    make_user("auditor", username="redir")
    response = sign_in(client, "redir", next=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location in ("/", "http://localhost/") or location == "/%0a", location
    assert "evil" not in location and "\n" not in location


def test_01_a_same_origin_next_is_kept_and_the_language_switch_is_safe(client, make_user):
    make_user("auditor", username="redir2")
    assert sign_in(client, "redir2", next="/access-log?user=a").headers["Location"] == "/access-log?user=a"
    for target in ("/\t/evil.example", "//evil.example", "/\\evil.example"):
        response = client.post("/lang/en", data={"next": target})
        assert response.status_code == 302 and "evil" not in response.headers["Location"]
    assert client.post("/lang/en", data={"next": "/x\x00y"}).status_code == 422  # NUL: refused, never a 500
    foreign = client.post("/lang/zh", headers={"Referer": "http://evil.example/path"})
    assert foreign.status_code == 302 and "evil" not in foreign.headers["Location"]
    own = client.post("/lang/zh", headers={"Referer": "http://localhost/cases?x=1"})
    assert own.headers["Location"] == "/cases?x=1"


# --- 3. sessions end on the server ------------------------------------------------------------------------------

def _saved_cookie(client):
    return client.get_cookie("session").value


def _replay(client, value):
    client.set_cookie("session", value)
    return client.get("/api/v1/me")


def test_03_a_cookie_replayed_after_sign_out_is_refused(client, make_user):
    make_user("auditor", username="replay")
    assert sign_in(client, "replay").status_code == 302
    saved = _saved_cookie(client)
    assert client.get("/api/v1/me").status_code == 200
    assert client.post("/logout").status_code == 302
    assert _replay(client, saved).status_code == 401


@pytest.mark.parametrize("how", ["password_change", "deactivation", "sign_out_everywhere", "admin_reset"])
def test_03_password_change_deactivation_and_sign_out_everywhere_end_sessions_at_once(client, make_user, bearer,
                                                                                      session, how):
    admin = bearer(make_user("admin"))
    make_user("inspector", username="victim")
    sign_in(client, "victim")
    saved = _saved_cookie(client)
    if how == "password_change":
        assert client.post("/account/password", data={"current_password": PASSWORD, "new_password": "a-new-pass-2026",
                                                       "new_password_again": "a-new-pass-2026"}).status_code == 302
        assert client.get("/api/v1/me").status_code == 200  # this browser goes on in a new session
    elif how == "deactivation":
        assert client.patch("/api/v1/users/victim", json={"active": False}, headers=admin).status_code == 200
    elif how == "admin_reset":
        assert client.patch("/api/v1/users/victim", json={"password": "temporary-pw-1"}, headers=admin).status_code == 200
    else:
        user = session.scalar(select(User).where(User.username == "victim"))
        auth.end_sessions(session, user)
        session.flush()
    assert _replay(client, saved).status_code == 401


# --- 4. tokens ---------------------------------------------------------------------------------------------------

def test_04_a_password_reset_revokes_the_users_tokens(client, make_user, bearer):
    admin = bearer(make_user("admin"))
    user = make_user("investigator", username="tok_user")
    old = bearer(user)
    assert client.get("/api/v1/me", headers=old).status_code == 200
    assert client.patch("/api/v1/users/tok_user", json={"password": "temporary-pw-1"}, headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=old).status_code == 401


def test_04_tokens_from_a_session_need_the_password_and_live_at_most_90_days(client, make_user, configure, session):
    make_user("auditor", username="minter")
    sign_in(client, "minter")
    assert client.post("/api/v1/tokens", json={"days": 30}).status_code == 422
    wrong = client.post("/api/v1/tokens", json={"days": 30, "password": "not-my-password"})
    assert wrong.status_code == 422 and "password" in wrong.get_json()["error"]["details"]
    assert client.post("/api/v1/tokens", json={"days": 366, "password": PASSWORD}).status_code == 422
    assert client.post("/api/v1/tokens", json={"days": 90, "password": PASSWORD}).status_code == 201
    configure(token_max_days=7)
    assert client.post("/api/v1/tokens", json={"days": 8, "password": PASSWORD}).status_code == 422


def test_04_a_token_minted_with_a_token_does_not_outlive_it(client, make_user, bearer, session):
    parent = bearer(make_user("auditor"), days=2)
    child = client.post("/api/v1/tokens", json={"days": 60}, headers=parent).get_json()
    parent_row = session.scalars(select(ApiToken).order_by(ApiToken.id)).all()[-2]
    assert dt.datetime.fromisoformat(child["expires_at"]) <= parent_row.expires_at


# --- 5. throttling instead of lock-out ------------------------------------------------------------------------

def test_05_unknown_and_known_usernames_get_identical_answers(client, make_user):
    make_user("auditor", username="known")
    def page(response, name):
        body = re.sub(r'name="csrf_token" value="[^"]*"', "", response.get_data(as_text=True))
        body = re.sub(r"\d+ 秒", "N 秒", body)  # the wait may tick a second between the two requests
        return body.replace(f'value="{name}"', 'value="U"')

    for _ in range(7):
        known = sign_in(client, "known", "wrong-password", addr="10.9.9.1")
        unknown = sign_in(client, "nobody-here", "wrong-password", addr="10.9.9.2")
        assert known.status_code == unknown.status_code
        assert page(known, "known") == page(unknown, "nobody-here")
        waits = [r.headers.get("Retry-After") for r in (known, unknown)]
        # the same wait, give or take the second that may tick between the two requests
        assert waits == [None, None] or abs(int(waits[0]) - int(waits[1])) <= 1, waits
    assert known.status_code == 429 and "秒" in known.get_data(as_text=True)


def test_05_a_guesser_is_slowed_down_but_the_real_user_still_signs_in(client, make_user, session):
    make_user("inspector", username="target")
    codes = [sign_in(client, "target", "guess-%d" % i, addr="203.0.113.9").status_code for i in range(8)]
    assert codes[:5] == [401] * 5 and 429 in codes[5:]
    throttle = session.get(LoginThrottle, "pair:target|203.0.113.9")
    assert throttle.blocked_until > utcnow()
    # while the guesser waits, even the right password from the guesser's address is not checked ...
    assert sign_in(client, "target", PASSWORD, addr="203.0.113.9").status_code == 429
    # ... but the real user, from their own address, signs in at once
    assert sign_in(client, "target", PASSWORD, addr="198.51.100.7").status_code == 302


def test_05_waits_double_and_an_account_never_waits_longer_than_a_minute(session, settings):
    rules = {r.key.split(":")[0]: r for r in auth.throttles(settings, "x", "1.2.3.4")}
    waits = [auth._wait(n, rules["pair"]) for n in range(1, 20)]
    assert waits[:4] == [0, 0, 0, 0] and waits[4:8] == [1, 2, 4, 8] and max(waits) <= 900
    assert max(auth._wait(n, rules["account"]) for n in range(1, 100)) == settings.login_account_max_seconds == 60


def test_05_repeated_failures_notify_the_administrators(client, make_user, session, configure):
    configure(login_alert_failures=3)
    admin = make_user("admin")
    make_user("investigator", username="attacked")
    for i in range(3):
        sign_in(client, "attacked", "bad", addr=f"192.0.2.{i}")
    notes = session.scalars(select(Notification).where(Notification.user_id == admin.id)).all()
    assert [(n.kind, n.data["username"]) for n in notes] == [("login_failures", "attacked")]


# --- 6. one "not found" ------------------------------------------------------------------------------------------

@pytest.fixture
def cases(client, make_user, bearer):
    mine, other, auditor = make_user("investigator"), make_user("investigator"), make_user("auditor")
    for user in (mine, other):
        user.agency = "某市公安局"
    h = {"mine": bearer(mine), "other": bearer(other), "auditor": bearer(auditor)}
    body = {"case_no": "SEC-CASE-1", "legal_basis": "依法", "purpose": "追查",
            "valid_until": (today() + dt.timedelta(days=10)).isoformat()}
    case = client.post("/api/v1/cases", json=body, headers=h["other"]).get_json()
    client.post(f"/api/v1/cases/{case['id']}/approve", headers=h["auditor"])
    return case, h


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/v1/cases/{id}", None), ("GET", "/api/v1/cases/{id}/results", None),
    ("GET", "/api/v1/cases/{id}/export", None),
    ("POST", "/api/v1/cases/{id}/watchlists", {"name": "w", "cron": "0 * * * *", "query": {"waybill_no": "SF12345678"}}),
])
def test_06_another_investigators_case_is_not_found_like_a_missing_one(client, cases, method, path, body):
    case, h = cases
    theirs = client.open(path.format(id=case["id"]), method=method, json=body, headers=h["mine"])
    missing = client.open(path.format(id=999999), method=method, json=body, headers=h["mine"])
    assert theirs.status_code == missing.status_code == 404
    assert case["case_no"] not in theirs.get_data(as_text=True)
    assert theirs.get_json()["error"]["message"].replace(str(case["id"]), "N") == \
        missing.get_json()["error"]["message"].replace("999999", "N")


def test_06_trace_does_not_tell_another_investigators_case_from_an_unknown_one(client, cases, session):
    case, h = cases
    theirs = client.post("/api/v1/trace", json={"case_no": case["case_no"], "waybill_no": "SF12345678"},
                         headers=h["mine"])
    unknown = client.post("/api/v1/trace", json={"case_no": "SEC-CASE-X", "waybill_no": "SF12345678"},
                          headers=h["mine"])
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.get_json()["error"]["message"].replace(case["case_no"], "N") == \
        unknown.get_json()["error"]["message"].replace("SEC-CASE-X", "N")
    assert [e.outcome for e in log_entries(session)[-2:]] == ["refused: not case investigator", "refused: unknown case"]


# --- 7. publication ---------------------------------------------------------------------------------------------

def test_07_only_assigned_inspectors_publish_on_the_api_as_on_the_page(client, make_outlet, make_user, bearer,
                                                                       session):
    make_outlet("SEC-AU-1", region="150100")
    inspectors = [make_user("inspector", username=f"sec_insp{i}", region="150000") for i in range(3)]
    admin = bearer(make_user("admin"))
    plan = client.post("/api/v1/audit-plans", json={
        "region_code": "150100", "outlets": 1, "inspectors_per_audit": 2, "seed": 3,
        "due_date": (today() + dt.timedelta(days=10)).isoformat()}, headers=admin).get_json()
    audit = plan["audits"][0]
    assigned = next(u for u in inspectors if u.username in audit["inspectors"])
    stranger = next(u for u in inspectors if u.username not in audit["inspectors"])
    h = bearer(assigned)
    items = [entry["item"] for entry in client.get(f"/api/v1/audits/{audit['id']}", headers=h).get_json()["checklist"]]
    assert items
    for item in items:
        client.put(f"/api/v1/audits/{audit['id']}/checklist/{item}", json={"compliant": True}, headers=h)
    assert client.post(f"/api/v1/audits/{audit['id']}/close", json={"result": "pass"}, headers=h).status_code == 200
    refused = client.post(f"/api/v1/audits/{audit['id']}/publish", headers=bearer(stranger))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    session.expire_all()
    assert session.get(Audit, audit["id"]).published_at is None
    assert client.post(f"/api/v1/audits/{audit['id']}/publish", headers=h).status_code == 200


# --- 8. refused traces are logged, signed in or not ------------------------------------------------------------

def test_08_anonymous_and_bad_token_traces_are_logged_with_the_client_address(client, session):
    anonymous = client.post("/api/v1/trace", json={"waybill_no": "SF12345678"},
                            environ_base={"REMOTE_ADDR": "192.0.2.10"})
    bad = client.post("/api/v1/trace", json={"waybill_no": "SF12345678"},
                      headers={"Authorization": "Bearer gs_forged"}, environ_base={"REMOTE_ADDR": "192.0.2.11"})
    assert anonymous.status_code == bad.status_code == 401
    last = log_entries(session)[-2:]
    assert [(e.username, e.role, e.action, e.outcome, e.client_addr) for e in last] == [
        (None, None, "trace", "refused: unauthenticated", "192.0.2.10"),
        (None, None, "trace", "refused: unauthenticated", "192.0.2.11")]
    assert last[0].query_type == "waybill" and last[0].subject_hash


def test_08_a_cookie_trace_without_its_csrf_token_is_logged(app_config, db, make_user, session, login):
    other = csrf_app(app_config, db)
    client = other.test_client()
    login(client, make_user("investigator"))
    response = client.post("/api/v1/trace", json={"case_no": "X-1", "waybill_no": "SF12345678"},
                           environ_base={"REMOTE_ADDR": "192.0.2.12"})
    assert response.status_code == 400
    last = log_entries(session)[-1]
    assert (last.username, last.action, last.outcome, last.client_addr) == (None, "trace", "refused: csrf",
                                                                           "192.0.2.12")


# --- 9. checkpoints and the anchor ---------------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path, configure):
    path = tmp_path / "cp"
    configure(access_log_checkpoints=str(path), access_log_checkpoint_every=3)
    return path


def _append(session, settings, user, n):
    from greenshield.trace.services import checkpointer

    for i in range(n):
        actor = accesslog.Actor(user=user, client_addr="10.0.0.1", checkpointer=checkpointer(settings))
        actor.access = accesslog.Access("trace", "C-1", "waybill", f"{i:064x}")
        actor.log(session)
        session.commit()


def test_09_a_checkpoint_follows_every_n_entries_without_the_scheduler(session, app, make_user, folder):
    from greenshield.context import settings_of

    start = session.scalar(select(AccessLogEntry.seq).order_by(AccessLogEntry.seq.desc()).limit(1)) or 0
    _append(session, settings_of(app), make_user("auditor"), 7)
    names = sorted(p.name for p in folder.glob("checkpoint-*.json"))
    assert [int(re.search(r"(\d+)", n).group(1)) for n in names] == [s for s in range(start + 1, start + 8)
                                                                     if s % 3 == 0]
    docs = [json.loads((folder / n).read_text()) for n in names]
    assert docs[1]["prev"] == accesslog.Checkpoint(docs[0]["seq"], docs[0]["entry_hash"], docs[0]["at"], Path(),
                                                   docs[0]["prev"]).link


def test_09_the_job_checkpoints_after_m_minutes_and_verify_reports_the_uncovered_head(app, session, make_user, folder,
                                                                                  configure, runner):
    from greenshield import jobs
    from greenshield.context import settings_of
    from greenshield.trace.jobs import checkpoint_access_log

    configure(access_log_checkpoint_every=1000, access_log_checkpoint_minutes=10)
    _append(session, settings_of(app), make_user("auditor"), 2)
    jobs.bind(app)
    try:
        assert checkpoint_access_log() is not None  # the first checkpoint
        _append(session, settings_of(app), make_user("auditor"), 1)
        assert checkpoint_access_log() is None  # one entry, 0 minutes: not due
        result = runner.invoke(args=["access-log", "verify"])
        assert result.exit_code == 0 and "1 newest entries not yet covered" in result.output
        configure(access_log_checkpoint_every=1000, access_log_checkpoint_minutes=0)
        assert checkpoint_access_log() is not None
    finally:
        jobs.bind(None)


def _drop_triggers(session):
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DROP TRIGGER access_log_no_update"))
        session.execute(text("DROP TRIGGER access_log_no_delete"))
    else:
        session.execute(text("DROP TRIGGER access_log_append_only ON access_log"))


def test_09_a_removed_checkpoint_and_a_rewritten_tail_are_found(app, session, make_user, folder, runner):
    from greenshield.context import settings_of

    settings = settings_of(app)
    user = make_user("auditor")
    _append(session, settings, user, 9)  # checkpoints at 3, 6, 9 (and earlier entries of other tests)
    points = sorted(folder.glob("checkpoint-*.json"))
    kept = points[-2].read_bytes()
    points[-2].unlink()  # a checkpoint removed: the next one no longer follows the one before
    result = runner.invoke(args=["access-log", "verify"])
    assert result.exit_code == 1 and "does not follow checkpoint" in result.output
    points[-2].write_bytes(kept)
    assert runner.invoke(args=["access-log", "verify"]).exit_code == 0
    # the tail after the newest checkpoint rewritten with entries dated before that checkpoint
    _drop_triggers(session)
    head = session.scalar(select(AccessLogEntry).order_by(AccessLogEntry.seq.desc()).limit(1))
    point = json.loads(points[-1].read_text())
    assert point["seq"] == head.seq
    forged_at = dt.datetime.fromisoformat(point["at"]) - dt.timedelta(hours=1)
    values = {name: getattr(head, name) for name in accesslog.HASHED_FIELDS}
    values.update(seq=head.seq + 1, at=forged_at, subject_hash="f" * 64)
    session.add(AccessLogEntry(**values, prev_hash=head.entry_hash,
                               entry_hash=accesslog.chain_hash(head.entry_hash, accesslog.hashed_fields(values))))
    session.flush()
    assert accesslog.verify(session, None, None).ok  # the chain itself is whole ...
    result = accesslog.verify(session, folder, None)
    assert not result.ok and result.first_bad_seq == head.seq + 1 and "dated before checkpoint" in result.reason


def test_09_checkpoints_re_signed_with_a_new_instance_key_fail_against_the_anchor(app, session, make_user, tmp_path,
                                                                                   configure, runner):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from greenshield.context import settings_of

    key_path = tmp_path / "signing" / "access-log-signing.pem"
    folder = tmp_path / "cp2"
    configure(access_log_checkpoints=str(folder), access_log_checkpoint_every=2,
              access_log_signing_key=str(key_path))
    _append(session, settings_of(app), make_user("auditor"), 4)
    anchor = tmp_path / "auditors" / "anchor.pub.pem"
    anchor.parent.mkdir()
    anchor.write_bytes(accesslog.public_key_beside(key_path).read_bytes())
    configure(access_log_checkpoints=str(folder), access_log_signing_key=str(key_path),
              access_log_public_key=str(anchor))
    assert runner.invoke(args=["access-log", "verify"]).exit_code == 0
    # an intruder with the instance folder makes a new key and re-signs every checkpoint
    key_path.unlink()
    accesslog.public_key_beside(key_path).unlink()
    forged = accesslog.signing_key_at(key_path)
    assert isinstance(forged, Ed25519PrivateKey)
    docs = [json.loads(path.read_text()) for path in sorted(folder.glob("checkpoint-*.json"))]
    for path in folder.glob("checkpoint-*.json"):
        path.unlink()
    for doc in docs:
        accesslog.sign_checkpoint(folder, forged, doc["seq"], doc["entry_hash"])
    result = runner.invoke(args=["access-log", "verify"])
    assert result.exit_code == 1 and "invalid signature" in result.output


# --- 10. shared rate limits, trusted proxies -------------------------------------------------------------------

def test_10_rate_limits_are_shared_by_every_worker_through_redis(app_config, db):
    url = redis_url()
    prefix = f"gs-test-{uuid.uuid4().hex[:8]}"
    config = {"RATELIMIT_STORAGE_URI": url, "RATELIMIT_KEY_PREFIX": prefix, "LOGIN_RATE_LIMIT": "4 per minute"}
    workers = [create_app({**app_config, **config}) for _ in range(2)]
    for worker in workers:
        worker.extensions["greenshield.db"].bind_to(db.sessionmaker.kw["bind"])
    clients = [w.test_client() for w in workers]
    codes = [clients[i % 2].post("/login", data={"username": "nobody", "password": "x"},
                                 environ_base={"REMOTE_ADDR": "192.0.2.50"}).status_code for i in range(6)]
    assert codes == [401, 401, 401, 401, 429, 429]


def test_10_the_embedded_default_needs_no_redis(app):
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


@pytest.mark.parametrize("proxies, forwarded, expected", [
    (0, "198.51.100.23", "127.0.0.1"),
    (1, "198.51.100.23", "198.51.100.23"),
    (1, "6.6.6.6, 198.51.100.23", "198.51.100.23"),  # what a client adds to the left is not believed
])
def test_10_behind_trusted_proxies_the_access_log_has_the_real_client(app_config, db, make_user, bearer, session,
                                                                     proxies, forwarded, expected):
    other = create_app({**app_config, "TRUSTED_PROXIES": proxies})
    other.extensions["greenshield.db"].bind_to(db.sessionmaker.kw["bind"])
    inspector = bearer(make_user("inspector", region="150100"))
    other.test_client().post("/api/v1/trace", json={"waybill_no": "SF12345678"}, headers={
        **inspector, "X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert log_entries(session)[-1].client_addr == expected


# --- 11. bounded work per request -------------------------------------------------------------------------------

def test_11_each_workbook_part_is_capped_whatever_its_ratio(tmp_path, monkeypatch):
    import random
    import string

    from inspection import dailylog

    monkeypatch.setattr(dailylog, "_MAX_SHARED_STRINGS", 256 * 1024)
    rng = random.Random(1)
    path = tmp_path / "big.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        strings = "".join(f"<si><t>{''.join(rng.choices(string.ascii_letters, k=40))}</t></si>"
                          for _ in range(12_000))  # ~0.6 MB that hardly compresses: the ratio check passes
        archive.writestr("xl/sharedStrings.xml", f"<sst>{strings}</sst>")
    info = zipfile.ZipFile(path).getinfo("xl/sharedStrings.xml")
    assert info.file_size < 200 * info.compress_size
    with pytest.raises(dailylog.InvalidLogFile) as caught:
        dailylog.open_daily_log(path)
    assert caught.value.code == "zip_bomb"


def test_11_overlays_are_downscaled_and_cached(client, session, make_outlet, make_user, bearer, monkeypatch):
    import cv2
    import numpy as np

    from greenshield.xray import services as xray
    from inspection.xray import imaging
    from models import XrayMachine

    outlet = make_outlet("SEC-XR-1")
    session.add(XrayMachine(code="SEC-XR-1-X1", outlet=outlet, model="m", installed_on=dt.date(2024, 1, 1),
                            active=True))
    session.flush()
    headers = bearer(make_user("admin"))
    image = (np.random.default_rng(3).random((300, 400)) * 65535).astype(np.uint16)
    sent = client.post("/api/v1/xray-events", headers=headers, data={
        "image": (io.BytesIO(cv2.imencode(".png", image)[1].tobytes()), "scan.png"), "machine_code": "SEC-XR-1-X1",
        "waybill_no": "SF5550000001", "scanned_at": "2026-11-28T09:15:00+08:00", "operator_id": "OP-1"})
    assert sent.status_code == 201, sent.get_json()
    monkeypatch.setattr(xray, "OVERLAY_MAX_SIDE", 100)
    made = []
    original = xray._overlay_png
    monkeypatch.setattr(xray, "_overlay_png", lambda *a: made.append(1) or original(*a))
    limits = []
    decode = imaging.decode_pixels
    monkeypatch.setattr(imaging, "decode_pixels", lambda *a, **k: limits.append(k.get("max_pixels")) or decode(*a, **k))
    url = f"/api/v1/xray-events/{sent.get_json()['id']}/heatmap?overlay=1"
    first, second = client.get(url, headers=headers), client.get(url, headers=headers)
    assert first.status_code == second.status_code == 200 and first.data == second.data
    assert made == [1]  # blended once, then read from the storage
    assert limits and all(limit is not None and limit <= 40_000_000 for limit in limits)
    assert cv2.imdecode(np.frombuffer(first.data, np.uint8), cv2.IMREAD_UNCHANGED).shape[:2] == (75, 100)


# --- 12. headers --------------------------------------------------------------------------------------------------

def test_12_pages_cannot_be_framed_sniffed_or_stored(client, make_user, login):
    login(client, make_user("admin"))
    page = client.get("/upload")
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin" and page.headers["Cache-Control"] == "no-store"
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    scripts = re.findall(r"<script([^>]*)>", page.get_data(as_text=True))
    assert scripts and all(f'nonce="{nonce}"' in s for s in scripts)
    assert client.get("/api/v1/me").headers["Cache-Control"] == "no-store"
    static = client.get("/static/app.css")
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()


def test_12_session_cookies_are_secure_unless_plain_http_is_chosen(app_config, db, make_user, monkeypatch):
    secure = {k: v for k, v in app_config.items() if k != "SESSION_COOKIE_SECURE"}
    make_user("auditor", username="cookie")
    app = create_app(secure)
    app.extensions["greenshield.db"].bind_to(db.sessionmaker.kw["bind"])
    response = app.test_client().post("/login", data={"username": "cookie", "password": PASSWORD},
                                      base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    monkeypatch.setenv("GREENSHIELD_PLAIN_HTTP", "1")
    assert create_app(secure).config["SESSION_COOKIE_SECURE"] is False


# --- 13. scope ---------------------------------------------------------------------------------------------------

def test_13_inspectors_see_their_regions_schedules_and_reviews_only(client, session, make_user, make_outlet, bearer):
    from models import ReviewStatus, XrayEvent, XrayMachine, XrayReview

    baotou = make_user("inspector", region="150200")
    hohhot = make_user("inspector", region="150100")
    admin = make_user("admin")
    for region in ("150100", "150200"):
        session.add(AuditSchedule(cron="0 8 1 * *", region_code=region, outlets=1, inspectors_per_audit=2,
                                  active=True, created_by_id=admin.id))
    for code, region, reviewer in (("SEC-R1", "150100", hohhot), ("SEC-R2", "150200", baotou)):
        outlet = make_outlet(code, region=region)
        machine = XrayMachine(code=f"{code}-X", outlet=outlet, model="m", installed_on=dt.date(2024, 1, 1), active=True)
        event = XrayEvent(machine=machine, outlet=outlet, waybill_no=f"{code}00001", operator_id="S",
                          scanned_at=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc), image_sha256="cd" * 32,
                          image_format="png", width=4, height=4, score=0.9, flagged=True, model_version="t",
                          status=ReviewStatus.REVIEWED)
        session.add_all([machine, event])
        session.flush()
        session.add(XrayReview(event_id=event.id, reviewer_id=reviewer.id, decision="cleared"))
    session.flush()
    h = bearer(baotou)
    schedules = client.get("/api/v1/audit-schedules", headers=h).get_json()
    assert schedules and {s["region_code"] for s in schedules} == {"150200"}
    stats = client.get("/api/v1/xray-reviewers/stats", headers=h).get_json()
    assert [s["reviewer"] for s in stats] == [baotou.username]
    everyone = {s["reviewer"] for s in client.get("/api/v1/xray-reviewers/stats", headers=bearer(admin)).get_json()}
    assert {baotou.username, hohhot.username} <= everyone


# --- 14. files at rest ------------------------------------------------------------------------------------------

def test_14_init_db_makes_a_missing_private_instance_folder(tmp_path):
    instance = tmp_path / "new" / "instance"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GREENSHIELD_SECRET_KEY")}
    env["GREENSHIELD_INSTANCE"] = str(instance)
    run_cli(env, "init-db")
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(instance) == 0o700
    assert mode(instance / "greenshield.db") == 0o600
    assert mode(instance / "keys" / "pii.json") == 0o600 and mode(instance / "secret_key") == 0o600


def test_14_spool_files_go_however_the_worker_ends(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from greenshield import server
    from greenshield.uploads import sweep_spool

    spool = tmp_path / "instance" / "tmp"
    spool.mkdir(parents=True)
    monkeypatch.setenv("GREENSHIELD_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setattr("greenshield.observability.mark_worker_dead", lambda pid: None)
    killed, timed_out, alive = (spool / "upload-999991-a"), (spool / "upload-999992-b"), spool / f"upload-{os.getpid()}-c"
    for path in (killed, timed_out, alive):
        path.write_bytes(b"clear text")
    server._child_exit(None, SimpleNamespace(pid=999991))  # the master, after a worker was killed (-9)
    server._worker_abort(SimpleNamespace(pid=999992))  # the worker itself, on a timeout
    assert not killed.exists() and not timed_out.exists() and alive.exists()
    dead = spool / "upload-999993-d"
    dead.write_bytes(b"clear text")
    sweep_spool(spool)  # at start-up: files of processes that no longer exist
    assert not dead.exists() and alive.exists()


def test_14_an_opened_sqlite_database_is_private(tmp_path):
    from greenshield.db import make_engine

    path = tmp_path / "loose.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect():
        pass
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- 15. a tampered entry is shown, marked ----------------------------------------------------------------------

def test_15_a_tampered_entry_is_listed_marked_and_the_log_still_reads(client, session, make_user, bearer, login):
    auditor = make_user("auditor")
    for i in range(3):
        accesslog.append(session, user=auditor, action="trace", case_no="TAMPER-1", result_count=i)
    _drop_triggers(session)
    seq = session.scalar(select(AccessLogEntry.seq).where(AccessLogEntry.case_no == "TAMPER-1")
                         .order_by(AccessLogEntry.seq).limit(1)) + 1
    tampers = ["UPDATE access_log SET result_count = 99 WHERE seq = :s"]
    if session.get_bind().dialect.name == "sqlite":  # SQLite keeps values of any type
        tampers += ["UPDATE access_log SET at = 'garbage' WHERE seq = :s",
                    "UPDATE access_log SET result_count = 'lots' WHERE seq = :s"]
    for statement in tampers:
        session.execute(text(statement), {"s": seq})
        session.flush()
        response = client.get("/api/v1/access-log?case_no=TAMPER-1", headers=bearer(auditor))
        assert response.status_code == 200
        marks = {e["seq"]: e["verified"] for e in response.get_json()}
        assert marks[seq] is False and marks[seq - 1] is True and marks[seq + 1] is True
        login(client, auditor)
        page = client.get("/access-log?case_no=TAMPER-1")
        assert page.status_code == 200 and "未通过校验" in page.get_data(as_text=True)
        verified = client.get("/api/v1/access-log/verify", headers=bearer(auditor))
        assert verified.status_code == 200 and verified.get_json()["first_bad_seq"] == seq
