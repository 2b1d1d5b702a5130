"""partition collection records and X-ray events by month (PostgreSQL only; SQLite stays as it is)

``collection_records`` becomes ``PARTITION BY RANGE (collected_on)`` and ``xray_events`` ``PARTITION BY RANGE
(scanned_at)`` (months of Asia/Shanghai), with one partition per month that has rows, the current month and
three ahead, and a DEFAULT partition. The primary keys become unique indexes on (id, partition column) and the
unique version of a waybill one on (outlet_id, waybill_no, version, collected_on): indexes, not constraints,
because pg_restore --clean (15) cannot drop a partition's inherited constraints and so could not restore a
backup. The foreign keys that point at these two tables by id alone are dropped (PostgreSQL cannot reference a
partitioned table by part of its key). The id sequences are kept, so new ids continue after the old ones. See
docs/scaling.md.

Revision ID: 5a7c2221703e
Revises: 04af1347f828
Create Date: 2026-11-29 12:09:03.316066
"""
import datetime as dt
from zoneinfo import ZoneInfo

from alembic import op
from sqlalchemy import text

revision = '5a7c2221703e'
down_revision = '04af1347f828'
branch_labels = None
depends_on = None

MONTHS_AHEAD = 3
TIMEZONE = "Asia/Shanghai"
KEYS = {"collection_records": "collected_on", "xray_events": "scanned_at"}
UNIQUE = {"collection_records": ("uq_collection_records_outlet_id_waybill_no_version",
                                 "outlet_id, waybill_no, version")}
INBOUND_FOREIGN_KEYS = [  # (table, name, column, referred table)
    ("case_results", "fk_case_results_record_id_collection_records", "record_id", "collection_records"),
    ("finding_records", "fk_finding_records_record_id_collection_records", "record_id", "collection_records"),
    ("xray_reviews", "fk_xray_reviews_event_id_xray_events", "event_id", "xray_events"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, _, _ in INBOUND_FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
    for table, key in KEYS.items():
        _partition(table, key)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in KEYS:
        _unpartition(table)
    for table, name, column, referred in INBOUND_FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES {referred} (id)")


def _partition(table: str, key: str) -> None:
    """Copy ``table`` into a new table partitioned by month of ``key``, with the same columns, indexes,
    outbound foreign keys and id sequence."""
    bind = op.get_bind()
    old = f"{table}_unpartitioned"
    indexes, foreign_keys, sequence = _definitions(table)
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    for name, _ in indexes:
        op.execute(f'DROP INDEX "{name}"')
    op.execute(f"ALTER TABLE {old} DROP CONSTRAINT pk_{table}")
    unique = UNIQUE.get(table)
    if unique:
        op.execute(f"ALTER TABLE {old} DROP CONSTRAINT {unique[0]}")
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
               f"PARTITION BY RANGE ({key})")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")
    month_of = (f"date_trunc('month', {key})::date" if key == "collected_on"
                else f"date_trunc('month', {key} AT TIME ZONE '{TIMEZONE}')::date")
    months = set(bind.scalars(text(f"SELECT DISTINCT {month_of} FROM {old}")))
    first = dt.datetime.now(ZoneInfo(TIMEZONE)).date().replace(day=1)
    for _ in range(MONTHS_AHEAD + 1):
        months.add(first)
        first = _next_month(first)
    for month in sorted(months):
        low, high = _bound(key, month), _bound(key, _next_month(month))
        op.execute(f"CREATE TABLE {table}_y{month:%Y}m{month:%m} PARTITION OF {table} "
                   f"FOR VALUES FROM ('{low}') TO ('{high}')")
    op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")  # indexes and checks after the copy: faster
    op.execute(f"CREATE UNIQUE INDEX pk_{table} ON {table} (id, {key})")
    if unique:
        op.execute(f"CREATE UNIQUE INDEX {unique[0]}_{key} ON {table} ({unique[1]}, {key})")
    for name, definition in foreign_keys:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for _, definition in indexes:
        op.execute(definition)
    op.execute(f"DROP TABLE {old}")
    op.execute(f"ANALYZE {table}")


def _unpartition(table: str) -> None:
    """Copy the partitioned ``table`` back into one plain table with the keys it had before."""
    key = KEYS[table]
    old = f"{table}_partitioned"
    indexes, foreign_keys, sequence = _definitions(table)
    unique = UNIQUE.get(table)
    keys = {f"pk_{table}"} | ({f"{unique[0]}_{key}"} if unique else set())
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    for name, _ in indexes:
        op.execute(f'DROP INDEX "{name}"')
    indexes = [(name, definition) for name, definition in indexes if name not in keys]
    op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id)")
    if unique:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {unique[0]} UNIQUE ({unique[1]})")
    for name, definition in foreign_keys:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for _, definition in indexes:
        op.execute(definition)
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")
    op.execute(f"DROP TABLE {old}")  # and its partitions
    op.execute(f"ANALYZE {table}")


def _definitions(table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """The table's indexes that back no constraint and its foreign keys, as (name, DDL), and its id sequence.

    The index DDL names ``table``, so after a rename it builds the index on the new table of that name.
    """
    bind = op.get_bind()
    indexes = bind.execute(text(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = CAST(:t AS regclass) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY c.relname"),
        {"t": table}).all()
    foreign_keys = bind.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:t AS regclass) AND contype = 'f' ORDER BY conname"), {"t": table}).all()
    sequence = bind.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table})
    # An index of a partitioned table reads "ON ONLY table"; built on the new table it must recurse.
    indexes = [(name, ddl.replace(" ON ONLY ", " ON ", 1)) for name, ddl in indexes]
    return indexes, [tuple(r) for r in foreign_keys], sequence


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(key: str, month: dt.date) -> str:
    """A partition bound: the first day of ``month``, as a date or as midnight in Asia/Shanghai (UTC+8, no DST)."""
    return month.isoformat() if key == "collected_on" else f"{month.isoformat()} 00:00:00+08"
