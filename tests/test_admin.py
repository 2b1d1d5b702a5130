"""User administration pages (issue 13, point 3): accounts by name, role and scope by name, every action
recorded for the auditors, Chinese messages beside the fields, nothing half-written."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from greenshield.auth import services as auth
from models import AdminAction, ApiToken, LoginThrottle, User, UserSession, utcnow

PASSWORD = "correct-horse-battery"


@pytest.fixture
def admin(client, make_user, login, session):
    user = make_user("admin", username="boss")
    user.display_name = "王管理"
    session.flush()
    login(client, user)
    return user


def actions(session, **where) -> list[AdminAction]:
    session.expire_all()
    return list(session.scalars(select(AdminAction).filter_by(**where).order_by(AdminAction.id)))


def user_named(session, username) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.username == username))


def test_the_list_shows_names_role_labels_and_scope_by_name(client, admin, make_user, make_outlet, session):
    make_outlet("ADM-OUT-1", region="150100")
    inspector = make_user("inspector", username="adm_insp", region="150200")
    inspector.display_name = "李检查"
    manager = make_user("outlet_manager", username="adm_mgr", outlets=["ADM-OUT-1"])
    session.flush()
    page = client.get("/admin/users?q=adm_").get_data(as_text=True)
    assert "李检查" in page and "检查员" in page and "包头市" in page
    assert manager.outlets[0].name in page and "网点负责人" in page
    assert "boss" not in client.get("/admin/users?q=adm_").get_data(as_text=True)
    only = client.get("/admin/users?role=outlet_manager&q=adm").get_data(as_text=True)
    assert "adm_mgr" in only and "adm_insp" not in only


def test_create_refuses_with_messages_beside_the_fields_and_writes_nothing(client, admin, session):
    before = session.scalar(select(func.count()).select_from(User))
    missing_region = client.post("/admin/users/new", data={
        "username": "new_insp", "display_name": "赵新", "role": "inspector", "password": "first-pass-123",
        "password_again": "first-pass-123"})
    assert missing_region.status_code == 422
    assert "检查员必须指定所辖区域" in missing_region.get_data(as_text=True)
    differ = client.post("/admin/users/new", data={
        "username": "new_insp", "role": "inspector", "region_code": "150100", "password": "first-pass-123",
        "password_again": "first-pass-124"})
    assert differ.status_code == 422 and "两次输入的密码不一致" in differ.get_data(as_text=True)
    bad_name = client.post("/admin/users/new", data={
        "username": "Bad Name", "role": "auditor", "password": "first-pass-123", "password_again": "first-pass-123"})
    assert bad_name.status_code == 422 and "以字母开头" in bad_name.get_data(as_text=True)
    taken = client.post("/admin/users/new", data={
        "username": "boss", "role": "auditor", "password": "first-pass-123", "password_again": "first-pass-123"})
    assert taken.status_code == 409 and "boss" in taken.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(User)) == before
    assert actions(session) == []


def test_create_then_the_user_must_change_the_password(client, admin, session, app):
    created = client.post("/admin/users/new", data={
        "username": "new_insp", "display_name": "赵新", "role": "inspector", "region_code": "150100",
        "password": "first-pass-123", "password_again": "first-pass-123"})
    assert created.status_code == 302
    user = user_named(session, "new_insp")
    assert user.must_change_password and user.region_code == "150100"
    [row] = actions(session, action="create")
    assert (row.actor_username, row.target_username, row.detail["role"]) == ("boss", "new_insp", "inspector")
    log = client.get("/admin/actions").get_data(as_text=True)
    assert "角色: 检查员" in log and "呼和浩特市" in log and "150100" not in log  # names, not codes
    fresh = app.test_client()
    signed = fresh.post("/login", data={"username": "new_insp", "password": "first-pass-123"})
    assert signed.status_code == 302 and "/account/password" in signed.headers["Location"]
    assert fresh.get("/dashboard/").status_code == 302  # every page sends them to the change first
    refused = fresh.get("/api/v1/me")
    assert refused.status_code == 403 and refused.get_json()["error"]["message"].startswith("管理员已重置")
    same = fresh.post("/account/password", data={"current_password": "first-pass-123",
                                                 "new_password": "first-pass-123", "new_password_again": "first-pass-123"})
    assert same.status_code == 422 and "不能与当前密码相同" in same.get_data(as_text=True)
    done = fresh.post("/account/password", data={"current_password": "first-pass-123", "new_password": "mine-now-2026",
                                                 "new_password_again": "mine-now-2026"})
    assert done.status_code == 302
    assert fresh.get("/api/v1/me").status_code == 200
    assert not user_named(session, "new_insp").must_change_password
    assert [a.action for a in actions(session, target_username="new_insp")] == ["create", "password_changed"]


def test_change_role_and_scope_is_validated_then_recorded(client, admin, make_user, make_outlet, session):
    make_outlet("ADM-OUT-2", region="150100")
    make_user("inspector", username="mover", region="150100")
    no_outlets = client.post("/admin/users/mover", data={"role": "outlet_manager", "display_name": "搬家"})
    assert no_outlets.status_code == 422 and "网点负责人至少需要指定一个网点" in no_outlets.get_data(as_text=True)
    assert user_named(session, "mover").role.value == "inspector"
    ok = client.post("/admin/users/mover", data={"role": "outlet_manager", "display_name": "搬家",
                                                 "outlet_codes": ["ADM-OUT-2"]})
    assert ok.status_code == 302
    user = user_named(session, "mover")
    assert user.role.value == "outlet_manager" and [o.code for o in user.outlets] == ["ADM-OUT-2"]
    assert user.region_code is None
    [row] = actions(session, action="change")
    assert row.detail["role"] == ["inspector", "outlet_manager"] and row.detail["outlets"] == [[], ["ADM-OUT-2"]]
    own = client.post("/admin/users/boss", data={"role": "auditor", "display_name": "王管理"})
    assert own.status_code == 409 and "不能" in own.get_data(as_text=True)


def test_deactivate_reactivate_sign_out_and_revoke(client, admin, make_user, bearer, login, session, app):
    user = make_user("auditor", username="leaver")
    token = bearer(user)
    other = app.test_client()
    login(other, user)
    assert other.get("/api/v1/me").status_code == 200
    assert client.post("/admin/users/leaver/sign-out").status_code == 302
    assert other.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers=token).status_code == 200  # tokens are not sessions
    assert client.post("/admin/users/leaver/active", data={"active": "0"}).status_code == 302
    assert client.get("/api/v1/me", headers=token).status_code == 401
    assert session.scalar(select(func.count()).select_from(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))) == 0
    assert client.post("/admin/users/leaver/active", data={"active": "1"}).status_code == 302
    assert user_named(session, "leaver").active
    assert client.get("/api/v1/me", headers=token).status_code == 401  # revoked tokens stay revoked
    fresh = bearer(user_named(session, "leaver"))
    token_id = session.scalars(select(ApiToken.id).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())).first()
    page = client.get("/admin/users/leaver").get_data(as_text=True)
    assert "gs_" in page and "吊销" in page
    assert client.post(f"/admin/users/leaver/tokens/{token_id}/revoke").status_code == 302
    assert client.get("/api/v1/me", headers=fresh).status_code == 401
    assert client.post("/admin/users/boss/active", data={"active": "0"}).status_code == 409
    assert [a.action for a in actions(session, target_username="leaver")] == [
        "sign_out_everywhere", "deactivate", "reactivate", "revoke_token"]


def test_unlock_and_reset_password(client, admin, make_user, session, app):
    make_user("investigator", username="locked_out")
    session.add(LoginThrottle(key="account:locked_out", failures=40, blocked_until=utcnow() + dt.timedelta(minutes=1)))
    session.add(LoginThrottle(key="pair:locked_out|10.0.0.9", failures=40,
                              blocked_until=utcnow() + dt.timedelta(minutes=15)))
    session.flush()
    assert "登录受限" in client.get("/admin/users/locked_out").get_data(as_text=True)
    assert client.post("/admin/users/locked_out/unlock").status_code == 302
    assert not auth.throttled(session, "locked_out")
    short = client.post("/admin/users/locked_out/password", data={"password": "short", "password_again": "short"})
    assert short.status_code == 422 and "至少" in short.get_data(as_text=True)
    assert client.post("/admin/users/locked_out/password", data={
        "password": "temporary-2026", "password_again": "temporary-2026"}).status_code == 302
    assert user_named(session, "locked_out").must_change_password
    signed = app.test_client().post("/login", data={"username": "locked_out", "password": "temporary-2026"})
    assert "/account/password" in signed.headers["Location"]
    assert [a.action for a in actions(session, target_username="locked_out")] == ["unlock", "reset_password"]


def test_auditors_read_the_administration_log_and_others_may_not(client, admin, make_user, login, app, session):
    target = make_user("auditor", username="watched")
    target.display_name = "审计员乙"
    session.flush()
    client.post("/admin/users/watched/sign-out")
    auditor = app.test_client()
    login(auditor, make_user("auditor"))
    page = auditor.get("/admin/actions").get_data(as_text=True)
    assert "王管理" in page and "审计员乙" in page and "全部下线" in page
    listed = auditor.get("/api/v1/admin-actions?user=watched").get_json()
    assert [(a["actor"], a["action"], a["user"]) for a in listed] == [("boss", "sign_out_everywhere", "watched")]
    inspector = app.test_client()
    login(inspector, make_user("inspector"))
    assert inspector.get("/admin/actions").status_code == 403
    assert inspector.get("/admin/users").status_code == 403


def test_sessions_are_rows_that_end(session, make_user):
    user = make_user("auditor")
    first, second = auth.start_session(session, user), auth.start_session(session, user)
    assert auth.session_user(session, first) is user
    auth.end_session(session, first)
    assert auth.session_user(session, first) is None and auth.session_user(session, second) is user
    assert auth.end_sessions(session, user) == 1
    assert session.scalar(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None))) == 0


def test_housekeeping_forgets_old_sessions_and_throttles(app, session, make_user):
    from greenshield import jobs
    from greenshield.auth.jobs import purge_sessions_and_throttles

    user = make_user("auditor")
    live = auth.start_session(session, user)
    old = UserSession(user_id=user.id, token_hash="0" * 64, created_at=utcnow() - dt.timedelta(days=3))
    session.add_all([old, LoginThrottle(key="account:gone", failures=3, last_failure_at=utcnow() - dt.timedelta(days=2)),
                     LoginThrottle(key="account:recent", failures=3)])
    session.flush()
    jobs.bind(app)
    try:
        assert purge_sessions_and_throttles() >= 2
    finally:
        jobs.bind(None)
    session.expire_all()
    assert auth.session_user(session, live) is user
    assert session.get(LoginThrottle, "account:gone") is None and session.get(LoginThrottle, "account:recent")
