"""Sign-in, sessions, CSRF, rate limits and API tokens (throttling and the rest of issue 12: test_security.py)."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from greenshield import create_app
from models import ApiToken


def _csrf(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_password_is_stored_as_argon2id(make_user):
    user = make_user("admin")
    assert user.password_hash.startswith("$argon2id$")
    assert "correct-horse-battery" not in user.password_hash


def test_login_with_csrf_then_session_works(client, make_user, session):
    make_user("inspector", username="lihua")
    session.commit()
    token = _csrf(client)
    response = client.post("/login", data={"username": "lihua", "password": "correct-horse-battery", "csrf_token": token})
    assert response.status_code == 302
    assert client.get("/api/v1/me").get_json()["username"] == "lihua"


def test_login_without_csrf_token_is_refused(app_config, db, make_user, session):
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    app.extensions["greenshield.db"].bind_to(db.sessionmaker.kw["bind"])
    make_user("inspector", username="wang")
    client = app.test_client()
    response = client.post("/login", data={"username": "wang", "password": "correct-horse-battery"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    good = client.post("/login", data={"username": "wang", "password": "correct-horse-battery",
                                       "csrf_token": _csrf(client)})
    assert good.status_code == 302


def test_session_is_renewed_at_login(client, make_user):
    make_user("inspector", username="zhao")
    with client.session_transaction() as cookie:
        cookie["planted"] = "by-attacker"
    client.post("/login", data={"username": "zhao", "password": "correct-horse-battery"})
    with client.session_transaction() as cookie:
        assert "planted" not in cookie and cookie["sid"]


def test_login_rate_limit(app_config, db):
    app = create_app({**app_config, "LOGIN_RATE_LIMIT": "3 per minute"})
    app.extensions["greenshield.db"].bind_to(db.sessionmaker.kw["bind"])
    client = app.test_client()
    codes = [client.post("/login", data={"username": "nobody", "password": "x"}).status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401]
    assert codes[3:] == [429, 429]


@pytest.mark.parametrize("field,age", [("seen", dt.timedelta(minutes=31)), ("auth", dt.timedelta(hours=13))])
def test_idle_and_absolute_session_timeouts(client, make_user, login, field, age):
    user = make_user("inspector")
    login(client, user)
    assert client.get("/api/v1/me").status_code == 200
    with client.session_transaction() as cookie:
        cookie[field] = cookie[field] - age.total_seconds()
    assert client.get("/api/v1/me").status_code == 401


def test_password_change_ends_other_sessions(client, make_user, login, session):
    user = make_user("inspector")
    login(client, user)
    from greenshield.auth.services import set_password
    set_password(session, user, "a-brand-new-password")
    session.flush()
    assert client.get("/api/v1/me").status_code == 401


def test_token_lifecycle(client, make_user, bearer, session):
    user = make_user("auditor")
    headers = bearer(user)
    created = client.post("/api/v1/tokens", json={"days": 7}, headers=headers)
    assert created.status_code == 201
    new = created.get_json()
    assert new["token"].startswith("gs_")
    stored = session.get(ApiToken, new["id"])
    assert stored.token_hash != new["token"] and new["token"] not in stored.token_hash
    other = {"Authorization": f"Bearer {new['token']}"}
    assert client.get("/api/v1/me", headers=other).status_code == 200
    assert client.delete(f"/api/v1/tokens/{new['id']}", headers=headers).status_code == 200
    assert client.get("/api/v1/me", headers=other).status_code == 401
    listed = client.get("/api/v1/tokens", headers=headers).get_json()
    assert all("token" not in t for t in listed)


def test_expired_token_and_deactivated_user_are_refused(client, make_user, bearer, session):
    user = make_user("auditor")
    headers = bearer(user)
    token = session.query(ApiToken).filter_by(user_id=user.id).one()
    token.expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    session.flush()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    fresh = bearer(user)
    user.active = False
    session.flush()
    assert client.get("/api/v1/me", headers=fresh).status_code == 401


def test_garbage_bearer_token(client):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def test_cannot_revoke_someone_elses_token(client, make_user, bearer, session):
    alice, bob = make_user("auditor"), make_user("auditor")
    bob_headers = bearer(bob)
    bob_token = session.query(ApiToken).filter_by(user_id=bob.id).one()
    assert client.delete(f"/api/v1/tokens/{bob_token.id}", headers=bearer(alice)).status_code == 404
    assert client.get("/api/v1/me", headers=bob_headers).status_code == 200


def test_admin_creates_and_unlocks_users(client, make_user, bearer, session):
    headers = bearer(make_user("admin"))
    bad = client.post("/api/v1/users", json={"username": "insp", "password": "long-enough-pw", "role": "inspector"},
                      headers=headers)
    assert bad.status_code == 422 and "region_code" in bad.get_json()["error"]["details"]
    ok = client.post("/api/v1/users", json={"username": "insp", "password": "long-enough-pw", "role": "inspector",
                                            "region_code": "150200"}, headers=headers)
    assert ok.status_code == 201 and ok.get_json()["region_code"] == "150200"
    dup = client.post("/api/v1/users", json={"username": "insp", "password": "long-enough-pw", "role": "auditor"},
                      headers=headers)
    assert dup.status_code == 409
    from models import LoginThrottle
    session.add(LoginThrottle(key="account:insp", failures=30,
                              blocked_until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)))
    session.flush()
    assert client.get("/api/v1/users/insp", headers=headers).get_json()["locked"] is True
    assert client.patch("/api/v1/users/insp", json={"unlock": True}, headers=headers).get_json()["locked"] is False


def test_logout_clears_the_session(client, make_user, login):
    login(client, make_user("auditor"))
    assert client.post("/logout").status_code == 302
    assert client.get("/api/v1/me").status_code == 401
