"""Ingest a daily-log file: archive it, validate its rows, store records in bulk, update rates and findings.

One call is one transaction (the caller's): a batch is stored whole or not at all.
"""
from __future__ import annotations

import datetime as dt
import gc
import json
import pickle
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

from sqlalchemy import String, any_, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from greenshield.ingest.reading import Sealed, rows_here, rows_in_child, young_collections_only
from greenshield.personal import archive
from greenshield.errors import Conflict, Invalid
from greenshield.personal.keyring import REJECTED_ROW, Vault
from greenshield.storage import Storage
from inspection.columns import COLUMNS, ENCRYPTED, Column, Type
from inspection.dailylog import InvalidLogFile, LogRecord, RowError, open_daily_log
from inspection.identity import birth_date_problem
from inspection.screening import BatchScreening, IdNumbers
from models import (BatchError, BatchStatus, CollectionRecord, ContractCustomer, Outlet, RejectedRow, UploadBatch,
                    User, utcnow)
from models.base import CHINA, china_today

CHUNK_ROWS = 5000
PROGRESS_ROWS = 20_000  # a worker reports how far it has read every this many rows


@dataclass
class IngestOutcome:
    batch: UploadBatch
    created: bool
    touched: set[tuple[int, dt.date]] = field(default_factory=set)
    screening: BatchScreening = field(default_factory=BatchScreening)




# --- the record as the daily-log table stores it ------------------------------------------------------------

_PLAIN: tuple[Column, ...] = tuple(c for c in COLUMNS.values()
                                   if not c.personal.encrypted and c.type is not Type.OUTLET)


def decrypt_rejected_row(vault: Vault, blob: bytes) -> dict[str, str]:
    """The cells of a rejected row as the uploader typed them (``RejectedRow.values_enc``)."""
    return json.loads(vault.decrypt(blob, REJECTED_ROW) or "{}")


def _values(keys: list[str]):
    """A function returning the attributes ``keys`` of an object as a tuple (``attrgetter`` in C when it can)."""
    if len(keys) >= 2:
        return attrgetter(*keys)
    return lambda record: tuple(getattr(record, key) for key in keys)


_TABLE = CollectionRecord.__table__
_WRITER_SET = ("batch_id", "row_no", "version", "is_current", "collected_on", "real_name_compliant",
               "content_hash", "created_at")
"""Columns the writer fills itself: provenance, versioning and what it derives (day, compliance, hash)."""
RECORD_COLUMNS: tuple[str, ...] = tuple(_TABLE.c[name].name for name in (
    *(name for c in COLUMNS.values() if c.type is Type.OUTLET for name in c.stored_in),
    *_WRITER_SET,
    *(c.stored_in[0] for c in ENCRYPTED),
    *(c.stored_in[1] for c in ENCRYPTED),
    *(c.key for c in _PLAIN),
))
"""The columns of ``collection_records`` the bulk writer names, in the order of its row tuples: the outlet,
``_WRITER_SET``, the ciphertexts then the blind indexes of ``ENCRYPTED``, then the plain columns of ``COLUMNS``."""
_plain_values = _values([c.key for c in _PLAIN])
_COLLECTED_ON, _CREATED_AT = map(RECORD_COLUMNS.index, ("collected_on", "created_at"))
_DATETIMES = tuple(RECORD_COLUMNS.index(c.key) for c in _PLAIN if c.type is Type.DATETIME)
_SENDER_ID = ENCRYPTED.index(COLUMNS["sender_id_no"])  # screening looks at the sender's ID


def _sqlite_datetime(value: dt.datetime) -> str:
    """What SQLAlchemy's SQLite DATETIME stores for a UTCDateTime: naive UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00"


class _RecordWriter:
    """Buffers validated records and writes them in chunks, versioning corrections.

    The records go to the driver as plain tuples: SQLite by one ``executemany`` per chunk, PostgreSQL by
    ``COPY ... FROM STDIN``. Both run on the session's connection, inside its transaction (and savepoint).
    A waybill repeated in the file is found against what the batch already wrote (the per-chunk look-up of
    current versions), so nothing is kept per row of the file; ``reject`` receives each repeated row.
    """

    def __init__(self, session: Session, batch: UploadBatch, outlet: Outlet, vault: Vault,
                 reject: Callable[[RowError, dict], None] = lambda error, raw: None):
        self.session, self.batch, self.outlet, self.vault, self.reject = session, batch, outlet, vault, reject
        self.pending: list[tuple[LogRecord, dict, Sealed]] = []
        self.accepted = self.skipped = self.corrected = 0
        self.analysed = False
        self.touched_days: set[dt.date] = set()
        self.screening = BatchScreening()
        # the first row of each waybill skipped as unchanged: the only rows of the file a repeat is not found
        # against in the database (a re-sent file's unchanged rows; nothing for new records)
        self._skipped_rows: dict[str, int] = {}
        today = china_today()
        self.today = today
        self.filings = {c.code: c for c in session.scalars(
            select(ContractCustomer).where(ContractCustomer.outlet_id == outlet.id))}
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self._days: dict[dt.date, dt.date] = {}  # one date object per day
        self._day_text: dict[dt.date, str] = {}
        self._problems: dict[tuple[str, dt.date], str] = {}

    def add(self, rec: LogRecord, raw: dict, sealed: Sealed) -> None:
        self.pending.append((rec, raw, sealed))
        if len(self.pending) >= CHUNK_ROWS:
            self.flush()

    def _compliant(self, rec: LogRecord, day: dt.date) -> bool:
        if rec.is_letter:  # letters are exempt from real-name checks (PRODUCT.md)
            return True
        if rec.real_name_verified and rec.sender_id_type and rec.sender_id_no:
            return True
        filing = self.filings.get((rec.contract_customer_code or "").upper())  # registry codes are upper-case
        return filing is not None and filing.valid_on(day)

    def _current(self, waybills: set[str]) -> dict:
        """The current version of each of ``waybills`` already stored for the outlet: one query per chunk.

        PostgreSQL gets the chunk's waybills as one array parameter (``= ANY``) rather than 5,000 binds.
        """
        if self.postgres:
            matches = CollectionRecord.waybill_no == any_(bindparam("waybills", list(waybills),
                                                                   type_=postgresql.ARRAY(String)))
        else:
            matches = CollectionRecord.waybill_no.in_(waybills)
        return {row.waybill_no: row for row in self.session.execute(
            select(CollectionRecord.waybill_no, CollectionRecord.id, CollectionRecord.version,
                   CollectionRecord.content_hash, CollectionRecord.collected_on, CollectionRecord.sender_id_hmac,
                   CollectionRecord.batch_id, CollectionRecord.row_no)
            .where(CollectionRecord.outlet_id == self.outlet.id, CollectionRecord.is_current.is_(True), matches))}

    def _repeated(self, rec: LogRecord, first: int, raw: dict) -> None:
        self.reject(RowError(rec.row, "waybill_no", "validation_error.waybill_repeated", {"first_row": first}), raw)

    def flush(self) -> None:
        if not self.pending:
            return
        chunk, self.pending = self.pending, []
        current = self._current({rec.waybill_no for rec, _, _ in chunk})
        rows: list[list] = []
        superseded = []
        first_rows: dict[str, int] = {}  # waybill -> first row in this chunk
        batch_id, outlet_id = self.batch.id, self.outlet.id
        plain_values = _plain_values
        days, touched, problems, skipped_rows = self._days, self.touched_days, self._problems, self._skipped_rows
        found = self.screening
        china = CHINA
        for rec, raw, (encrypted, indexes, digest) in chunk:
            waybill = rec.waybill_no
            first = first_rows.get(waybill) or skipped_rows.get(waybill)
            previous = current.get(waybill)
            if first is None and previous is not None and previous.batch_id == batch_id:
                first = previous.row_no
            if first is not None:
                self._repeated(rec, first, raw)
                continue
            first_rows[waybill] = rec.row
            if previous is not None and previous.content_hash == digest:
                self.skipped += 1
                skipped_rows[waybill] = rec.row
                continue
            version = 1
            if previous is not None:
                superseded.append(previous.id)
                touched.add(previous.collected_on)
                if previous.sender_id_hmac:  # its ID's patterns may no longer hold: screen it again
                    found.superseded.add((previous.sender_id_hmac, previous.collected_on))
                version = previous.version + 1
                self.corrected += 1
            day = rec.collected_at.astimezone(china).date()
            day = days.setdefault(day, day)
            rows.append([outlet_id, batch_id, rec.row, version, True, day, self._compliant(rec, day), digest, None,
                         *encrypted, *indexes, *plain_values(rec)])
            touched.add(day)
            id_no = rec.sender_id_no
            if id_no and rec.sender_id_type != "CREDIT_CODE":  # a company's code serves many senders: not screened
                id_hmac = indexes[_SENDER_ID]
                numbers = found.numbers.get(day)
                if numbers is None:
                    numbers = found.numbers[day] = IdNumbers()
                numbers.add(id_no)
                if rec.sender_id_type in BIRTH_DATE_TYPES:
                    if len(id_no) == 18:  # the problem depends on the birth date only: ~30k of them
                        key = (id_no[6:14], day)
                        problem = problems.get(key)
                        if problem is None:
                            problem = problems[key] = birth_date_problem(id_no, day) or ""
                    else:
                        problem = birth_date_problem(id_no, day) or ""
                    if problem:
                        found.problems.setdefault((id_hmac, day), (id_no, problem))
        gc.collect(1)  # the automatic collector is off during the ingest (reading.young_collections_only)
        if superseded:
            self.session.execute(update(CollectionRecord).where(CollectionRecord.id.in_(superseded))
                                 .values(is_current=False))
        if rows:
            if self.postgres:
                self._copy(rows)
            else:
                self._executemany(rows)
            self.accepted += len(rows)
            found.batch_id = batch_id
            if self.postgres and not self.analysed:
                self._analyse_if_unplanned()
                self.analysed = True

    def _executemany(self, rows: list[list]) -> None:
        """SQLite: one executemany of plain tuples, the values as SQLAlchemy's SQLite types store them."""
        now = _sqlite_datetime(utcnow())
        day_text = self._day_text
        for row in rows:
            for at in _DATETIMES:
                if row[at] is not None:
                    row[at] = _sqlite_datetime(row[at])
            day = row[_COLLECTED_ON]
            text_ = day_text.get(day)
            if text_ is None:
                text_ = day_text[day] = day.isoformat()
            row[_COLLECTED_ON] = text_
            row[_CREATED_AT] = now
        sql = (f"INSERT INTO collection_records ({', '.join(RECORD_COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(RECORD_COLUMNS))})")
        self.session.connection().exec_driver_sql(sql, [tuple(row) for row in rows])

    def _copy(self, rows: list[list]) -> None:
        """PostgreSQL: ``COPY FROM STDIN`` on the session's own connection, so it is part of the transaction."""
        now = utcnow()
        driver = self.session.connection().connection.driver_connection
        sql = f"COPY collection_records ({', '.join(RECORD_COLUMNS)}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            write = copy.write_row
            for row in rows:
                row[_CREATED_AT] = now
                write(row)

    def _analyse_if_unplanned(self) -> None:
        """ANALYZE the parts of the records table that hold rows but have no statistics yet (a new table or
        monthly partition, or one whose only analysed batch rolled back: statistics are transactional).

        Without statistics PostgreSQL plans the per-chunk current-version lookup and the screening queries as
        scans of the whole outlet or day, which makes a large first batch quadratic. Once statistics exist
        later batches skip this: ANALYZE takes a SHARE UPDATE EXCLUSIVE lock that two uploads cannot hold at
        once, and holding it to the end of a long batch would queue uploads of every outlet behind it. If
        another transaction holds that lock, the batch goes on without waiting.
        """
        unplanned = self.session.scalars(text(
            "SELECT c.relname FROM pg_partition_tree('collection_records') t JOIN pg_class c ON c.oid = t.relid "
            "WHERE t.isleaf AND pg_relation_size(c.oid) > 0 AND NOT EXISTS (SELECT FROM pg_stats s "
            "WHERE s.schemaname = current_schema() AND s.tablename = c.relname AND s.attname = 'waybill_no')"
        )).all()
        if not unplanned:
            return
        before = self.session.scalar(text("SELECT current_setting('lock_timeout')"))
        savepoint = self.session.begin_nested()
        try:
            self.session.execute(text("SELECT set_config('lock_timeout', '200ms', true)"))
            self.session.execute(text("ANALYZE " + ", ".join(f'"{name}"' for name in unplanned)))
            self.session.execute(text("SELECT set_config('lock_timeout', :before, true)"), {"before": before})
        except OperationalError:
            savepoint.rollback()  # someone else is analysing or vacuuming the table: do without
        else:
            savepoint.commit()


BIRTH_DATE_TYPES = {"RESIDENT_ID", "TEMP_RESIDENT_ID", "HMT_RESIDENCE"}


class _RejectedRows:
    """The rejected rows of a batch, each as its ``BatchError`` rows and its ``RejectedRow`` (the cells
    encrypted), kept until the records are settled. Past a chunk they go to a temporary file, so a file of
    millions of bad rows does not fill the memory; the file holds nothing in clear (errors never repeat a
    cell, the cells are encrypted) and is gone once read."""

    def __init__(self) -> None:
        self.count = 0
        self._buffer: list[tuple[list[dict], dict]] = []
        self._file = None

    def add(self, errors: list[dict], row: dict) -> None:
        self._buffer.append((errors, row))
        self.count += 1
        if len(self._buffer) >= CHUNK_ROWS:
            if self._file is None:
                self._file = tempfile.TemporaryFile()
            pickle.dump(self._buffer, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._buffer = []

    def chunks(self) -> Iterator[list[tuple[list[dict], dict]]]:
        """The rows in the order they were added, a chunk at a time (once)."""
        if self._file is not None:
            self._file.seek(0)
            with self._file:
                while True:
                    try:
                        yield pickle.load(self._file)
                    except EOFError:
                        break
            self._file = None
        if self._buffer:
            yield self._buffer
            self._buffer = []


def existing_batch(session: Session, outlet: Outlet, sha256: str) -> UploadBatch | None:
    return session.scalar(select(UploadBatch).where(UploadBatch.outlet_id == outlet.id,
                                                    UploadBatch.sha256 == sha256))


def ingest_daily_log(session: Session, *, outlet: Outlet, path: Path, sha256: str, size: int, filename: str,
                     strict: bool, source: str, user: User | None, vault: Vault, storage: Storage,
                     progress: Callable[[int], None] | None = None, parallel: bool = False) -> IngestOutcome:
    """Ingest the file at ``path`` (already spooled and hashed) for ``outlet``; with ``parallel`` a second
    process reads, validates and seals the rows while this one writes them (``reading.rows_in_child``).

    Returns the batch and whether it is new (the same file again returns the first batch). Raises a DomainError
    when the file as a whole is unusable: nothing is stored then. Flushes, never commits.
    """
    if not outlet.active:
        raise Conflict("outlet_inactive", code=outlet.code)
    if session.get_bind().dialect.name == "postgresql":
        # Uploads to one outlet queue, as on SQLite: two corrections of a waybill must not race for a version.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": outlet.id})
    earlier = existing_batch(session, outlet, sha256)
    if earlier is not None:
        return IngestOutcome(earlier, created=False)
    reader = open_daily_log(path)  # raises InvalidLogFile (the domain's error) for an unreadable file
    with reader:
        if reader.missing:
            raise Invalid("missing_columns", details={"missing": reader.missing},
                          columns=[f"{COLUMNS[k].alias_zh} ({k})" for k in reader.missing])
        batch = UploadBatch(outlet=outlet, sha256=sha256, filename=filename[:255], size_bytes=size,
                            format=reader.format, encoding=reader.encoding, strict=strict,
                            status=BatchStatus.ACCEPTED, warnings=list(reader.warnings), source=source,
                            uploaded_by_id=user.id if user else None)
        session.add(batch)
        session.flush()
        rejects = _RejectedRows()
        total = 0
        savepoint = session.begin_nested()
        encrypt = vault.encrypter(REJECTED_ROW)

        def reject(row_no: int, row_errors: list[RowError], raw: dict) -> None:
            cells = {k: v for k, v in raw.items() if k in COLUMNS and v}
            rejects.add([{"batch_id": batch.id, "row": e.row, "column": e.column[:32], "code": e.code,
                          "params": e.params} for e in row_errors],
                        {"batch_id": batch.id, "row": row_no,
                         "values_enc": encrypt(json.dumps(cells, ensure_ascii=False))})

        writer = _RecordWriter(session, batch, outlet, vault,
                               reject=lambda error, raw: reject(error.row, [error], raw))
        rows = (rows_in_child if parallel else rows_here)(path, outlet.code, vault)
        try:
            with young_collections_only():
                for row_no, raw, result, sealed in rows:
                    total += 1
                    if progress is not None and not total % PROGRESS_ROWS:
                        progress(total)
                    if sealed is None:
                        reject(row_no, result, raw)
                    else:
                        writer.add(result, raw, sealed)
                writer.flush()
        except InvalidLogFile:
            savepoint.rollback()
            raise
        finally:
            rows.close()  # stops the reading process when writing failed
        if total == 0:
            savepoint.rollback()
            raise Invalid("no_rows")
        if strict and rejects.count:
            savepoint.rollback()
            writer = _RecordWriter(session, batch, outlet, vault)
        else:
            savepoint.commit()
    for chunk in rejects.chunks():  # outside the records' savepoint: a strict batch keeps its reasons
        session.execute(insert(BatchError), [error for errors, _ in chunk for error in errors])
        session.execute(insert(RejectedRow), [row for _, row in chunk])
    batch.rows_total = total
    batch.rows_rejected = total if strict and rejects.count else rejects.count
    batch.rows_accepted = total - batch.rows_rejected
    batch.rows_skipped = writer.skipped
    batch.rows_corrected = writer.corrected
    batch.status = (BatchStatus.REJECTED if batch.rows_accepted == 0 else
                    BatchStatus.PARTIAL if batch.rows_rejected else BatchStatus.ACCEPTED)
    session.flush()
    archive.store(storage, sha256, path, vault)  # only files that became a batch: a refused one leaves no copy
    return IngestOutcome(batch, created=True, touched={(outlet.id, d) for d in writer.touched_days},
                         screening=writer.screening)
