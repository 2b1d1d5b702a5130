"""A read replica (``DATABASE_REPLICA_URL``): dashboards and trace searches read from it, every write goes to the
primary. The "replica" here is the same database opened read-only (SQLite ``mode=ro``; PostgreSQL
``default_transaction_read_only``), so a write sent to it would fail and the test would see it."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from greenshield import create_app, db as gdb
from greenshield.auth.services import create_user, issue_token
from models import AccessLogEntry, CollectionRecord, Enterprise, Outlet, OutletKind, Region, Role
from tests.helpers import DAY, log_row, resident_id, upload_rows


def read_only(url: str) -> str:
    if url.startswith("sqlite:///"):
        return f"sqlite:///file:{url[len('sqlite:///'):]}?mode=ro&uri=true"
    return url + "?options=-c%20default_transaction_read_only%3Don"


@pytest.fixture
def replicated(scratch_database, tmp_path):
    """An app on a scratch database with a read-only "replica" of it, seeded with an outlet and four accounts;
    yields (app, statements sent to the replica, bearer headers per role)."""
    from greenshield.cli import prepare_database

    env, _engine = scratch_database
    app = create_app({"DATABASE_URL": env["DATABASE_URL"], "DATABASE_REPLICA_URL": read_only(env["DATABASE_URL"]),
                      "INSTANCE_PATH": env["GREENSHIELD_INSTANCE"], "SECRET_KEY": "test", "TESTING": True})
    prepare_database(app)
    database = app.extensions[gdb.EXTENSION]
    statements: list[str] = []
    event.listen(database.replica, "before_cursor_execute",
                 lambda _c, _cur, statement, *_args: statements.append(statement))
    with app.app_context(), gdb.job_session() as session:
        session.add(Outlet(code="RP-OUT-1", name="副本测试网点", enterprise=session.scalar(
            select(Enterprise).where(Enterprise.code == "SF")), region=session.get(Region, "150100"),
            kind=OutletKind.OUTLET, active=True))
        session.flush()
        headers = {}
        for role, extra in (("admin", {}), ("inspector", {"region_code": "150000"}), ("investigator", {}),
                            ("auditor", {})):
            user = create_user(session, username=f"rp-{role}", password="correct-horse-battery", role=Role(role),
                               display_name=role, **extra)
            if role == "investigator":
                user.agency = "呼和浩特市公安局"
            session.flush()
            headers[role] = {"Authorization": f"Bearer {issue_token(session, user, days=1)[1]}"}
    yield app, statements, headers
    database.dispose()


def test_dashboards_and_traces_read_from_the_replica_and_writes_go_to_the_primary(replicated):
    app, statements, h = replicated
    client = app.test_client()
    suspect = resident_id(77)
    upload_rows(client, h["admin"], "RP-OUT-1", [log_row(f"SF70000000{i}", sender_id_no=suspect) for i in range(3)])

    statements.clear()
    summary = client.get(f"/api/v1/compliance/summary?date={DAY}", headers=h["inspector"])
    assert summary.status_code == 200 and [r["outlet_code"] for r in summary.get_json()] == ["RP-OUT-1"]
    assert any("outlet_days" in s for s in statements)  # the league table came from the replica
    page = client.get("/dashboard/", headers=h["inspector"])
    assert page.status_code == 200

    case = client.post("/api/v1/cases", headers=h["investigator"], json={
        "case_no": "RP-2026-1", "legal_basis": "《刑事诉讼法》", "purpose": "副本测试",
        "valid_until": (dt.date.today() + dt.timedelta(days=5)).isoformat()}).get_json()
    assert client.post(f"/api/v1/cases/{case['id']}/approve", headers=h["auditor"]).status_code == 200
    statements.clear()
    traced = client.post("/api/v1/trace", headers=h["investigator"],
                         json={"case_no": "RP-2026-1", "sender_id_type": "RESIDENT_ID", "sender_id_no": suspect})
    assert traced.status_code == 200, traced.get_json()
    assert traced.get_json()["count"] == 3
    assert any("collection_records" in s for s in statements)  # the search ran on the replica
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for s in statements)

    with app.app_context(), gdb.job_session(write=False) as session:  # the writes are on the primary
        assert session.scalar(select(func.count()).select_from(CollectionRecord)) == 3
        assert session.scalar(select(AccessLogEntry.action).order_by(AccessLogEntry.seq.desc()).limit(1)) == "trace"


def test_the_replica_refuses_writes(replicated):
    app, _statements, _h = replicated
    with app.extensions[gdb.EXTENSION].replica.connect() as connection:
        with pytest.raises(DBAPIError):
            connection.execute(text("UPDATE outlets SET name = 'x'"))


def test_without_a_replica_reads_use_the_request_session(app, db):
    with app.test_request_context():
        assert db.replica is None and gdb.read_session() is gdb.session()
