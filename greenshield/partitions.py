"""Monthly partitions of collection records and X-ray events on PostgreSQL, made ahead of time.

The migration (revision 5a7c2221703e) partitions the two tables by month (Asia/Shanghai) with a DEFAULT
partition that catches any row of a month without its own. ``ensure_partitions`` keeps the months to come
ready; the scheduler runs it daily (``partitions-ahead``) and ``greenshield db partitions`` runs it by hand.
SQLite is not partitioned: there everything here does nothing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import click
from flask.cli import with_appcontext
from sqlalchemy import Connection, text

from models.base import CHINA, china_today

TIMEZONE = CHINA.tzname(None)  # "Asia/Shanghai", as PostgreSQL names it
KEYS = {"collection_records": "collected_on", "xray_events": "scanned_at"}
"""Each partitioned table and its partition column."""
LOCK = (0x6773, 0x7061)  # pg_advisory_xact_lock(int, int): a key space apart from the single-key locks


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    bounds: str
    rows: int
    """Live rows as the statistics counters have them (inserts and deletes counted as they commit)."""


def partition_name(table: str, month: dt.date) -> str:
    """``collection_records_y2026m12`` for December 2026."""
    return f"{table}_y{month:%Y}m{month:%m}"


def ensure_partitions(connection: Connection, *, months_ahead: int = 3, today: dt.date | None = None) -> list[str]:
    """Create the missing monthly partitions of both tables, from ``today``'s month (Asia/Shanghai) to
    ``months_ahead`` months later, and one for every month whose rows sit in a DEFAULT partition.

    Rows of a new partition's month that the DEFAULT partition holds move into it in the same transaction, so
    the DEFAULT partition drains. Safe to run again, and concurrently (an advisory lock queues the callers).
    Returns the names of the partitions created; on SQLite, which is not partitioned, does nothing.
    """
    if connection.dialect.name != "postgresql":
        return []
    first = (today or china_today()).replace(day=1)
    ahead = [first]
    for _ in range(months_ahead):
        ahead.append(_next_month(ahead[-1]))
    connection.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": LOCK[0], "b": LOCK[1]})
    created = []
    for table, key in KEYS.items():
        existing = set(connection.scalars(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:t AS regclass)"), {"t": table}))
        default = f"{table}_default"
        stranded = set()
        if default in existing and (any(partition_name(table, m) not in existing for m in ahead)
                                    or connection.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {default})"))):
            # Creating a partition locks DEFAULT anyway (to check it); locking first keeps writers from
            # adding rows of a month between our look at DEFAULT and the partition that takes them.
            connection.execute(text(f"LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE"))
            stranded = set(connection.scalars(text(f"SELECT DISTINCT {_month_of(key)} FROM {default}")))
        for month in sorted(set(ahead) | stranded):
            name = partition_name(table, month)
            if name not in existing:
                _create(connection, table, key, name, month, move=month in stranded)
                created.append(name)
    return created


def list_partitions(connection: Connection) -> list[Partition]:
    """Every partition of both tables with its bounds, in order; empty on SQLite."""
    if connection.dialect.name != "postgresql":
        return []
    rows = connection.execute(text(
        "SELECT p.relname, c.relname, pg_get_expr(c.relpartbound, c.oid), pg_stat_get_live_tuples(c.oid) "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = ANY(:tables) ORDER BY p.relname, c.relname"), {"tables": list(KEYS)})
    return [Partition(*row) for row in rows]


def create_partitions_ahead() -> list[str]:
    """Daily scheduled job: the partitions of this month and the next three exist (see ``ensure_partitions``)."""
    from greenshield import db
    from greenshield.jobs import job_app

    with job_app().app_context(), db.job_session() as session:
        return ensure_partitions(session.connection())


def _create(connection: Connection, table: str, key: str, name: str, month: dt.date, *, move: bool) -> None:
    low, high = _bound(key, month), _bound(key, _next_month(month))
    if not move:
        connection.execute(text(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{low}') TO ('{high}')"))
        return
    # A new partition must not overlap rows still in DEFAULT: build it beside, move the rows, then attach.
    default = f"{table}_default"
    connection.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    connection.execute(text(
        f"WITH moved AS (DELETE FROM {default} WHERE {key} >= '{low}' AND {key} < '{high}' RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved"))
    connection.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')"))


def _month_of(key: str) -> str:
    return (f"date_trunc('month', {key})::date" if key == "collected_on"
            else f"date_trunc('month', {key} AT TIME ZONE '{TIMEZONE}')::date")


def _bound(key: str, month: dt.date) -> str:
    """The first instant of ``month``: a date, or midnight in Asia/Shanghai (UTC+8 all year)."""
    return month.isoformat() if key == "collected_on" else f"{month.isoformat()} 00:00:00+08"


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


@click.group("db")
def db_cli() -> None:
    """Database maintenance."""


@db_cli.command("partitions")
@click.option("--months-ahead", default=3, show_default=True, type=click.IntRange(0, 120),
              help="Make sure partitions exist up to this many months after the current one.")
@with_appcontext
def partitions_cmd(months_ahead: int) -> None:
    """Create the missing monthly partitions (PostgreSQL) and list them all."""
    from greenshield import db

    with db.job_session() as session:
        connection = session.connection()
        if connection.dialect.name != "postgresql":
            click.echo("SQLite is not partitioned: nothing to do.")
            return
        created = ensure_partitions(connection, months_ahead=months_ahead)
        partitions = list_partitions(connection)
    click.echo(f"Created {len(created)} partition(s){': ' + ', '.join(created) if created else ''}.")
    for p in partitions:
        click.echo(f"{p.table:<20} {p.name:<30} {p.bounds:<70} ~{p.rows} rows")
