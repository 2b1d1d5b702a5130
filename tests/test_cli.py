"""The greenshield command: accounts, tokens, demo data."""
from __future__ import annotations

from sqlalchemy import func, select

from models import Outlet, User


def test_users_create_and_token(runner, client, session):
    result = runner.invoke(args=["users", "create", "zhang", "--role", "inspector", "--region", "150100",
                                 "--password-stdin"], input="a-long-password\n")
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "zhang"))
    assert user.region_code == "150100"
    token = runner.invoke(args=["users", "token", "zhang", "--days", "3"])
    assert token.exit_code == 0
    last_line = token.output.strip().splitlines()[-1]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {last_line}"}).get_json()["username"] == "zhang"


def test_users_create_refuses_bad_scope_and_short_password(runner):
    no_region = runner.invoke(args=["users", "create", "lihua", "--role", "inspector", "--password-stdin"],
                              input="a-long-password\n")
    assert no_region.exit_code != 0 and "所辖区域" in no_region.output
    short = runner.invoke(args=["users", "create", "lihua", "--role", "auditor", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "至少" in short.output
    unknown = runner.invoke(args=["users", "create", "lihua", "--role", "outlet_manager", "--outlet", "NOPE-1",
                                  "--password-stdin"], input="a-long-password\n")
    assert unknown.exit_code != 0 and "NOPE-1" in unknown.output


def test_token_for_unknown_user(runner):
    result = runner.invoke(args=["users", "token", "ghost"])
    assert result.exit_code != 0 and "ghost" in result.output


def test_seed_demo_makes_a_province_and_can_run_again(runner, client, session):
    first = runner.invoke(args=["seed-demo", "--days", "2"])
    assert first.exit_code == 0, first.output
    assert session.scalar(select(func.count()).select_from(Outlet)) >= 12
    _the_demo_shows_its_gaps(client, session)
    second = runner.invoke(args=["seed-demo", "--days", "2"])
    assert second.exit_code == 0, second.output
    for line in first.output.splitlines()[1:]:
        username, role, password = line.split()
        response = client.post("/login", data={"username": username, "password": password})
        assert response.status_code == 302, username
        assert client.get("/api/v1/me").get_json()["role"] == role
        client.post("/logout")


def _the_demo_shows_its_gaps(client, session):
    """Issue 15: declarations that outrun the scans, an uncovered outlet, a flag nobody reviewed, clues."""
    from models import Alert, Clue, OutletDay, User

    from greenshield.auth.services import issue_token

    days = {code: (declared, seen) for code, declared, seen in session.execute(
        select(Outlet.code, func.sum(OutletDay.xray_ok), func.sum(OutletDay.xray_verified_ok))
        .join(OutletDay, OutletDay.outlet_id == Outlet.id).group_by(Outlet.code))}
    declared, seen = days["CF-EMS-006"]
    assert 0.5 < seen / declared < 0.9
    assert days["HLBE-JT-013"][1] == 0 and days["BT-YD-014"][1] > 0.95 * days["BT-YD-014"][0]
    assert days["HHHT-EMS-001"][1] > 0.98 * days["HHHT-EMS-001"][0]
    admin = session.scalar(select(User).where(User.username == "admin"))
    headers = {"Authorization": f"Bearer {issue_token(session, admin, days=1)[1]}"}
    coverage = client.get("/api/v1/compliance/machine-coverage", headers=headers).get_json()
    assert [u["code"] for u in coverage["uncovered"]] == ["HLBE-JT-013"]
    assert session.scalar(select(func.count()).select_from(Alert).where(Alert.metric == "xray_review_overdue")) == 1
    assert sorted(c.status.value for c in session.scalars(select(Clue))) == ["handed_over", "open"]


def test_help_texts(runner):
    from greenshield.cli import main

    for args in (["--help"], ["serve", "--help"], ["users", "create", "--help"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0 and "Usage" in result.output
