"""Monthly partitions of collection records and X-ray events on PostgreSQL: the migrated schema, where rows land,
partitions made ahead by the scheduler and by ``greenshield db partitions``, and the migration's way back."""
from __future__ import annotations

import datetime as dt
import io
import os

import cv2
import numpy as np
import pytest
from alembic import command
from apscheduler.util import ref_to_obj
from sqlalchemy import text

from greenshield import migrate, partitions
from greenshield.scheduler import PERIODIC_JOBS
from inspection.xray.procedural import benign_bag
from models import Staff, StaffRole, XrayMachine
from models.base import CHINA
from tests.helpers import log_row, upload_rows

ON_POSTGRES = (os.environ.get("TEST_DATABASE_URL") or "").startswith(("postgresql:", "postgres:", "postgresql+"))
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="only PostgreSQL is partitioned (SQLite stays one table "
                                                           "per model); .ci/run runs these on PostgreSQL")
PAST = dt.date(2025, 3, 10)  # a month no partition was made for
BEFORE_PARTITIONING = "04af1347f828"


@pytest.fixture
def admin(make_user, bearer):
    return bearer(make_user("admin"))


@pytest.fixture
def machine(session, make_outlet):
    outlet = make_outlet("PT-OUT-01")
    m = XrayMachine(code="PT-OUT-01-X1", outlet=outlet, model="CX5030", installed_on=dt.date(2024, 1, 1), active=True)
    session.add_all([m, Staff(staff_id="PT-S01", name="安检员乙", outlet=outlet, role=StaffRole.SCREENER,
                              certificate_no="AJY9", active=True)])
    session.flush()
    return m


def scan(client, headers, at: dt.datetime, waybill: str) -> int:
    image = benign_bag(np.random.default_rng(3), size=(120, 160), colour=False)
    data = cv2.imencode(".png", np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))[1].tobytes()
    response = client.post("/api/v1/xray-events", headers=headers, data={
        "image": (io.BytesIO(data), "scan.png"), "machine_code": "PT-OUT-01-X1", "waybill_no": waybill,
        "scanned_at": at.isoformat(), "operator_id": "OP-1"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def partition_of(session, table: str, row_id: int) -> str:
    return session.scalar(text(f"SELECT tableoid::regclass::text FROM {table} WHERE id = :id"), {"id": row_id})


def record_ids(session, waybill: str) -> list[int]:
    return list(session.scalars(text("SELECT id FROM collection_records WHERE waybill_no = :w ORDER BY id"),
                                {"w": waybill}))


def this_month() -> dt.date:
    return dt.datetime.now(CHINA).date().replace(day=1)


@postgres_only
def test_both_tables_are_partitioned_by_month_with_a_default(session):
    keys = dict(session.execute(text(
        "SELECT c.relname, a.attname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] WHERE p.partstrat = 'r'")).all())
    assert keys == {"collection_records": "collected_on", "xray_events": "scanned_at"}
    months = [this_month()]
    for _ in range(3):
        months.append(partitions._next_month(months[-1]))
    names = {p.name for p in partitions.list_partitions(session.connection())}
    for table in keys:
        assert {f"{table}_default", *(partitions.partition_name(table, m) for m in months)} <= names
    unique = dict(session.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('collection_records', 'xray_events') "
        "AND starts_with(indexdef, 'CREATE UNIQUE')")).all())
    assert unique == {
        "pk_collection_records": "CREATE UNIQUE INDEX pk_collection_records ON ONLY public.collection_records "
                                 "USING btree (id, collected_on)",
        "pk_xray_events": "CREATE UNIQUE INDEX pk_xray_events ON ONLY public.xray_events USING btree (id, scanned_at)",
        "uq_collection_records_outlet_id_waybill_no_version_collected_on":
            "CREATE UNIQUE INDEX uq_collection_records_outlet_id_waybill_no_version_collected_on ON ONLY "
            "public.collection_records USING btree (outlet_id, waybill_no, version, collected_on)"}
    referencing = session.scalars(text(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' "
        "AND confrelid IN ('collection_records'::regclass, 'xray_events'::regclass)")).all()
    assert referencing == []


@postgres_only
def test_ingested_records_and_scans_land_in_their_months_partition(client, admin, make_outlet, session, machine):
    today = dt.datetime.now(CHINA).date()
    outlet = make_outlet()
    upload_rows(client, admin, outlet.code, [log_row("SF10000001", day=today, at="00:00:01")])
    [record] = record_ids(session, "SF10000001")
    assert partition_of(session, "collection_records", record) == partitions.partition_name(
        "collection_records", today.replace(day=1))
    event = scan(client, admin, dt.datetime.now(CHINA) - dt.timedelta(minutes=1), "SF10000002")
    assert partition_of(session, "xray_events", event) == partitions.partition_name("xray_events", this_month())


@postgres_only
def test_a_row_of_a_month_without_partition_waits_in_default_until_its_partition_is_made(
        client, admin, make_outlet, session, machine):
    outlet = make_outlet()
    upload_rows(client, admin, outlet.code, [log_row("SF20000001", day=PAST), log_row("SF20000002", day=PAST)])
    event = scan(client, admin, dt.datetime(2025, 3, 31, 23, 30, tzinfo=CHINA), "SF20000003")  # 15:30 UTC
    records = record_ids(session, "SF20000001") + record_ids(session, "SF20000002")
    assert {partition_of(session, "collection_records", r) for r in records} == {"collection_records_default"}
    assert partition_of(session, "xray_events", event) == "xray_events_default"

    created = partitions.ensure_partitions(session.connection())

    assert {"collection_records_y2025m03", "xray_events_y2025m03"} <= set(created)
    assert {partition_of(session, "collection_records", r) for r in records} == {"collection_records_y2025m03"}
    assert partition_of(session, "xray_events", event) == "xray_events_y2025m03"  # March in China, not in UTC
    assert session.scalar(text("SELECT count(*) FROM collection_records_default")) == 0
    assert session.scalar(text("SELECT count(*) FROM xray_events_default")) == 0
    correction = upload_rows(client, admin, outlet.code, [log_row("SF20000001", day=PAST, item_name="茶叶")])
    assert correction["rows_corrected"] == 1
    assert {partition_of(session, "collection_records", r) for r in record_ids(session, "SF20000001")} == {
        "collection_records_y2025m03"}


@postgres_only
def test_ensure_partitions_makes_the_months_ahead_once(session):
    connection = session.connection()
    created = partitions.ensure_partitions(connection, months_ahead=2, today=dt.date(2030, 11, 20))
    assert created == [f"{t}_y{m}" for t in ("collection_records", "xray_events")
                       for m in ("2030m11", "2030m12", "2031m01")]
    assert partitions.ensure_partitions(connection, months_ahead=2, today=dt.date(2030, 11, 20)) == []
    session.execute(text("SET LOCAL TimeZone = 'UTC'"))  # how the bounds of timestamps are shown
    bounds = {p.name: p.bounds for p in partitions.list_partitions(connection)}
    assert bounds["collection_records_y2030m12"] == "FOR VALUES FROM ('2030-12-01') TO ('2031-01-01')"
    assert bounds["xray_events_y2030m12"] == ("FOR VALUES FROM ('2030-11-30 16:00:00+00') "
                                              "TO ('2030-12-31 16:00:00+00')")


def test_the_scheduler_makes_partitions_ahead_daily(app, session):
    from greenshield import jobs

    [(_, func, trigger)] = [job for job in PERIODIC_JOBS if job[0] == "partitions-ahead"]
    assert ref_to_obj(func) is partitions.create_partitions_ahead
    assert str(trigger) == "cron[hour='0', minute='40']"
    jobs.bind(app)
    try:
        partitions.create_partitions_ahead()
    finally:
        jobs.bind(None)
    if ON_POSTGRES:
        names = {p.name for p in partitions.list_partitions(session.connection())}
        assert partitions.partition_name("xray_events", this_month()) in names


def test_the_command_says_sqlite_is_not_partitioned(runner):
    if ON_POSTGRES:
        pytest.skip("on PostgreSQL the command creates and lists partitions (tested below)")
    result = runner.invoke(args=["db", "partitions"])
    assert result.exit_code == 0, result.output
    assert "SQLite is not partitioned" in result.output


@postgres_only
def test_the_command_creates_and_lists_partitions(runner):
    result = runner.invoke(args=["db", "partitions", "--months-ahead", "5"])
    assert result.exit_code == 0, result.output
    fifth = this_month()
    for _ in range(5):
        fifth = partitions._next_month(fifth)
    assert partitions.partition_name("collection_records", fifth) in result.output.splitlines()[0]
    assert "collection_records_default" in result.output and "xray_events_default" in result.output


@postgres_only
def test_downgrade_and_upgrade_keep_the_rows(client, admin, make_outlet, session, machine):
    outlet = make_outlet()
    today = dt.datetime.now(CHINA).date()
    upload_rows(client, admin, outlet.code, [log_row("SF30000001", day=PAST), log_row("SF30000002", day=today,
                                                                                       at="00:00:01")])
    scan(client, admin, dt.datetime(2025, 3, 12, 8, 0, tzinfo=CHINA), "SF30000001")
    def rows():
        return {t: [dict(r._mapping) for r in session.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
                for t in partitions.KEYS}

    def columns_of(table_rows, names):  # a column added after BEFORE_PARTITIONING is gone there
        return [{name: row[name] for name in names} for row in table_rows]

    before = rows()
    connection = session.connection()

    command.downgrade(migrate.alembic_config(connection), BEFORE_PARTITIONING)
    assert session.scalar(text("SELECT count(*) FROM pg_partitioned_table")) == 0
    downgraded = rows()
    assert {t: columns_of(before[t], downgraded[t][0]) for t in partitions.KEYS} == downgraded
    assert session.scalar(text("SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                               "AND confrelid IN ('collection_records'::regclass, 'xray_events'::regclass)")) == 3
    assert session.scalars(text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype IN ('p', 'u') "
                                "AND conrelid = 'collection_records'::regclass ORDER BY contype")).all() == [
        "PRIMARY KEY (id)", "UNIQUE (outlet_id, waybill_no, version)"]

    command.upgrade(migrate.alembic_config(connection), "head")
    assert session.scalar(text("SELECT count(*) FROM pg_partitioned_table")) == 2
    upgraded = rows()  # a column added after BEFORE_PARTITIONING comes back empty: a downgrade drops its values
    assert {t: columns_of(upgraded[t], downgraded[t][0]) for t in partitions.KEYS} == downgraded
    assert {t: [set(row) for row in upgraded[t]] for t in partitions.KEYS} == \
        {t: [set(row) for row in before[t]] for t in partitions.KEYS}
    [old] = record_ids(session, "SF30000001")
    assert partition_of(session, "collection_records", old) == "collection_records_y2025m03"  # a month with rows
    upload_rows(client, admin, outlet.code, [log_row("SF30000003", day=today, at="00:00:02")])
    assert record_ids(session, "SF30000003")[0] > max(r["id"] for r in before["collection_records"])
