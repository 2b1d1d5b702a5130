"""One engine per app and one session per request or job: commit at the boundary, roll back on error."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

EXTENSION = "greenshield.db"


class Database:
    """The engine and session factory of one app (``app.extensions['greenshield.db']``), and, when a read
    replica is configured (``DATABASE_REPLICA_URL``), the engine that dashboards and trace searches read from."""

    def __init__(self, url: str, echo: bool = False, replica_url: str | None = None):
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.replica = make_engine(replica_url, echo=echo) if replica_url else None
        self.bound = False

    def bind_to(self, connection: Connection | None) -> None:
        """Make every new session join ``connection`` with savepoints (tests roll it back), or undo it. While
        bound, reads use that connection too (the test's data is not committed, a replica could not see it)."""
        self.bound = connection is not None
        if connection is None:
            self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        else:
            self.sessionmaker = sessionmaker(
                bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )

    def dispose(self) -> None:
        self.engine.dispose()
        if self.replica is not None:
            self.replica.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, echo: bool = False) -> Engine:
    """An engine; SQLite gets WAL, foreign keys, a busy timeout and real transactions (BEGIN issued by us)."""
    url = normalise_url(url)
    # hide_parameters: a database error in a log never shows the values of a statement (names, ciphertexts)
    if not url.startswith("sqlite"):
        return create_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)
    engine = create_engine(url, echo=echo, connect_args={"timeout": 60}, hide_parameters=True)
    path = engine.url.database

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        _private_files(path)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        # 80 MiB of page cache: bulk inserts touch seven indexes (128 MiB saved ~5 µs a row, but a large ingest
        # and its reading process must stay under 400 MiB together: docs/performance.md)
        cursor.execute("PRAGMA cache_size=-81920")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Writers take the lock up front so that two writers queue instead of deadlocking on upgrade.
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _private_files(path: str | None) -> None:
    """The SQLite database and its WAL and shared-memory files readable by the service's user alone (0600)."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            continue


def init_app(app: Flask) -> None:
    database = Database(app.config["DATABASE_URL"], echo=app.config["SQLALCHEMY_ECHO"],
                        replica_url=app.config.get("DATABASE_REPLICA_URL"))
    app.extensions[EXTENSION] = database

    @app.after_request
    def _commit(response):
        session: Session | None = g.pop("_db_session", None)
        if session is not None:
            try:
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
            finally:
                session.close()
        return response

    @app.teardown_appcontext
    def _close(_exc):
        for name in ("_db_session", "_db_read_session"):
            session: Session | None = g.pop(name, None)
            if session is not None:
                session.rollback()
                session.close()


def database() -> Database:
    return current_app.extensions[EXTENSION]


def session() -> Session:
    """The session of the current request or app context, opened on first use."""
    if "_db_session" not in g:
        db = database()
        s = db.sessionmaker()
        if db.dialect == "sqlite" and g.get("_db_write"):
            s.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        g._db_session = s
    return g._db_session


def read_session() -> Session:
    """A session for reads that may lag the primary by a moment: the replica's when ``DATABASE_REPLICA_URL`` is
    set, else the request's own session. Never write through it (a replica refuses writes)."""
    db = database()
    if db.replica is None or db.bound:
        return session()
    if "_db_read_session" not in g:
        g._db_read_session = Session(db.replica, expire_on_commit=False)
    return g._db_read_session


def mark_write() -> None:
    """Declare that this request writes (SQLite then takes the write lock at BEGIN)."""
    g._db_write = True


@contextmanager
def job_session(write: bool = True) -> Iterator[Session]:
    """A session for a CLI command or scheduled job: committed when the block succeeds, else rolled back.

    ``write`` (default): SQLite takes the write lock at BEGIN, so that concurrent writers queue instead of
    failing; pass False for a read-only job.
    """
    db = database()
    s = db.sessionmaker()
    if write and db.dialect == "sqlite":
        s.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()
