"""Shared fixtures: one migrated database per test run (SQLite, or PostgreSQL with TEST_DATABASE_URL),
a ``db`` that rolls back after every test, and factories that return callables."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from greenshield import create_app, db as gdb
from greenshield.auth.services import create_user, issue_token
from models import Enterprise, Outlet, OutletKind, Region, Role

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_report_header(config):
    storage = "s3 at " + os.environ["GREENSHIELD_TEST_S3_ENDPOINT"] if os.environ.get("GREENSHIELD_TEST_STORAGE") == "s3" \
        else "instance folder"
    return f"database: {os.environ.get('TEST_DATABASE_URL') or 'sqlite (temporary file)'}; files: {storage}"


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def database_url(instance_dir) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{instance_dir / 'test.db'}"
    engine = create_engine(gdb.normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def app_config(database_url, instance_dir) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance_dir),
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "LOGIN_RATE_LIMIT": "10000 per minute",
        "SESSION_COOKIE_SECURE": False,  # the test client speaks plain http://localhost
        **s3_storage_config(),
    }


def s3_storage_config() -> dict:
    """With GREENSHIELD_TEST_STORAGE=s3 (``.ci/run``'s storage pass), the app's files go to a new bucket of the
    S3-protocol server at GREENSHIELD_TEST_S3_ENDPOINT instead of the instance folder."""
    if os.environ.get("GREENSHIELD_TEST_STORAGE") != "s3":
        return {}
    import uuid

    import boto3

    endpoint, bucket = os.environ["GREENSHIELD_TEST_S3_ENDPOINT"], f"gs-ci-{uuid.uuid4().hex[:12]}"
    config = {"STORAGE_URL": f"s3://{bucket}/greenshield", "STORAGE_S3_ENDPOINT_URL": endpoint,
              "STORAGE_S3_ACCESS_KEY": "greenshield-ci", "STORAGE_S3_SECRET_KEY": "greenshield-ci-secret",
              "STORAGE_S3_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="greenshield-ci",
                 aws_secret_access_key="greenshield-ci-secret").create_bucket(Bucket=bucket)
    return config


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing():
    """argon2id with small parameters: the same algorithm, without 60 ms per test user."""
    from argon2 import PasswordHasher

    from greenshield.auth import services

    original = services._hasher
    services._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    services._hasher = original


@pytest.fixture(scope="session", autouse=True)
def dumps_as_marshmallow():
    """Every response the suite dumps by a compiled plan (``greenshield.dumping.Out``) is checked against
    marshmallow's own ``Schema.dump`` of the same object: the fast path must never change a response."""
    from marshmallow import Schema

    from greenshield.dumping import Out

    fast = Out.dump

    def checked(self, obj, *, many=None):
        result = fast(self, obj, many=many)
        expected = Schema.dump(self, obj, many=many)
        assert result == expected and _same_order(result, expected), \
            f"{type(self).__name__}: the compiled plan dumped {result!r}, marshmallow {expected!r}"
        return result

    checked.__wrapped__ = fast
    Out.dump = checked
    yield
    Out.dump = fast


def _same_order(a, b) -> bool:
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_order(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(_same_order(x, y) for x, y in zip(a, b))
    return True


@pytest.fixture(scope="session")
def app(app_config):
    from greenshield.cli import prepare_database

    app = create_app(app_config)
    prepare_database(app)
    yield app
    app.extensions[gdb.EXTENSION].engine.dispose()


@pytest.fixture
def configure(app, monkeypatch):
    """``configure(trace_max_results=2, ...)``: this test's app runs with these settings changed."""
    from greenshield.context import SETTINGS, settings_of

    def change(**changes):
        monkeypatch.setitem(app.extensions, SETTINGS, settings_of(app).replace(**changes))

    return change


@pytest.fixture
def settings(app):
    """The app's settings (as services take them)."""
    from greenshield.context import settings_of

    return settings_of(app)


@pytest.fixture
def db(app):
    """The app's database, bound to one connection whose transaction is rolled back after the test."""
    database = app.extensions[gdb.EXTENSION]
    connection = database.engine.connect()
    transaction = connection.begin()
    database.bind_to(connection)
    try:
        yield database
    finally:
        database.bind_to(None)
        transaction.rollback()
        connection.close()


@pytest.fixture
def session(app, db):
    """A session inside the test's transaction, for arranging data and checking what was stored."""
    s = db.sessionmaker()
    yield s
    s.close()


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def runner(app, db):
    return app.test_cli_runner()


@pytest.fixture
def make_outlet(session):
    counter = iter(range(1, 10_000))

    def make(code: str | None = None, *, region: str = "150100", enterprise: str = "SF", kind: str = "outlet") -> Outlet:
        outlet = Outlet(code=code or f"TEST-{next(counter):04d}", name=f"测试网点 {code or ''}".strip(),
                        enterprise=session.scalar(select(Enterprise).where(Enterprise.code == enterprise)),
                        region=session.get(Region, region), kind=OutletKind(kind), active=True)
        session.add(outlet)
        session.flush()
        return outlet

    return make


@pytest.fixture
def make_user(session):
    counter = iter(range(1, 10_000))

    def make(role: str = "admin", *, username: str | None = None, region: str | None = None,
             outlets: list[str] = (), password: str = "correct-horse-battery") -> object:
        role_ = Role(role)
        if role_ is Role.INSPECTOR and region is None:
            region = "150000"
        user = create_user(session, username=username or f"{role.replace('_', '')}{next(counter)}", password=password,
                           role=role_, region_code=region, outlet_codes=list(outlets), display_name=role)
        session.flush()
        return user

    return make


@pytest.fixture
def bearer(session):
    """``bearer(user)`` -> headers with a fresh API token of that user."""
    def make(user, days: int = 1) -> dict[str, str]:
        _, plain = issue_token(session, user, days=days)
        session.flush()
        return {"Authorization": f"Bearer {plain}"}

    return make


@pytest.fixture
def login(session):
    """``login(client, user)`` signs the test client in with a session cookie, as the login page does."""
    def sign_in(client, user):
        from greenshield.auth.services import start_session

        sid = start_session(session, user)
        now = dt.datetime.now(dt.timezone.utc).timestamp()
        with client.session_transaction() as cookie:
            cookie.update(sid=sid, auth=now, seen=now)
        return client

    return sign_in


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip naming why (CI turns that skip into a failure)."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("GREENSHIELD_REQUIRE_SHARED_DATA"):
            pytest.fail(f"shared data folder {SHARED_DATA} is absent and GREENSHIELD_REQUIRE_SHARED_DATA is set")
        pytest.skip(f"shared data folder {SHARED_DATA} is absent (only a fresh user clone lacks it)")
    return SHARED_DATA


@pytest.fixture
def scratch_database(tmp_path):
    """A fresh instance folder and an empty database of its own (SQLite, or a scratch PostgreSQL database next
    to TEST_DATABASE_URL), for tests that run real processes: ``(env for subprocesses, engine)``."""
    import uuid

    base = os.environ.get("TEST_DATABASE_URL")
    scratch = admin = None
    if base:
        scratch = f"gs_scratch_{uuid.uuid4().hex[:8]}"
        admin = create_engine(gdb.normalise_url(base), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
        url = base.rsplit("/", 1)[0] + "/" + scratch
    else:
        url = f"sqlite:///{tmp_path / 'scratch.db'}"
    env = {**os.environ, "GREENSHIELD_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": url}
    engine = create_engine(gdb.normalise_url(url))
    yield env, engine
    engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()


def run_cli(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the ``greenshield`` console script of this environment; raise with its output when it fails."""
    done = subprocess.run([str(Path(sys.executable).parent / "greenshield"), *args], env=env, input=stdin,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"greenshield {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done


# --- fixtures shared by several test modules ----------------------------------------------------------------


@pytest.fixture(scope="module")
def bags():
    """A clean generated bag and the same bag with a pistol projected into it (grey, 420 × 560)."""
    import numpy as np

    from inspection.xray.procedural import benign_bag, random_threats
    from inspection.xray.tip import project

    rng = np.random.default_rng(7)
    clean = benign_bag(rng, size=(420, 560), colour=False)
    threat = project(clean, random_threats(1, rng, kinds=("pistol",))[0], rng=rng)[0]
    return clean, threat


@pytest.fixture
def machine(session, make_outlet):
    """X-ray machine XR-OUT-01-X1 at outlet XR-OUT-01, with a screener."""
    from models import Staff, StaffRole, XrayMachine

    outlet = make_outlet("XR-OUT-01")
    m = XrayMachine(code="XR-OUT-01-X1", outlet=outlet, model="CX5030", installed_on=dt.date(2024, 1, 1), active=True)
    session.add_all([m, Staff(staff_id="XR-S01", name="安检员甲", outlet=outlet, role=StaffRole.SCREENER,
                              certificate_no="AJY1", active=True)])
    session.flush()
    return m


@pytest.fixture
def sender(make_user, bearer):
    """Headers of the manager of XR-OUT-01 (sends X-ray events)."""
    return bearer(make_user("outlet_manager", outlets=["XR-OUT-01"]))


@pytest.fixture
def world(session, make_outlet, make_user, bearer):
    """Two outlets in two cities and one person of each traceability role (two investigators, two inspectors)."""
    from types import SimpleNamespace

    from tests.helpers import AGENCY

    outlet = make_outlet("TR-OUT-1", region="150100")
    far_outlet = make_outlet("TR-OUT-2", region="150200")
    people = {
        "admin": make_user("admin"), "auditor": make_user("auditor"), "manager": make_user("outlet_manager",
                                                                                           outlets=[outlet.code]),
        "inspector": make_user("inspector", region="150100"), "far_inspector": make_user("inspector", region="150200"),
        "investigator": make_user("investigator"), "other_investigator": make_user("investigator"),
    }
    for key in ("investigator", "other_investigator"):
        people[key].agency = AGENCY
    session.flush()
    headers = {key: bearer(user) for key, user in people.items()}
    return SimpleNamespace(outlet=outlet, far_outlet=far_outlet, people=people, h=headers)
