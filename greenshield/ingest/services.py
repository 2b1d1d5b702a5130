"""Ingest a daily-log file: archive it, validate its rows, store records in bulk, update rates and findings.

One call is one transaction (the caller's): a batch is stored whole or not at all.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from greenshield import archive
from greenshield.errors import DomainError
from greenshield.pii import ID_NO, PHONE, Vault
from inspection.dailylog import COLUMNS, InvalidLogFile, LogRecord, RowError, open_daily_log, validate_row
from inspection.identity import birth_date_problem
from models import (BatchError, BatchStatus, CollectionRecord, ContractCustomer, Outlet, UploadBatch, User,
                    utcnow)

CHINA = dt.timezone(dt.timedelta(hours=8))
CHUNK_ROWS = 5000


class RejectedFile(DomainError):
    """The file as a whole cannot be ingested (nothing was stored)."""

    status = 422
    code = "invalid_file"


@dataclass
class IngestOutcome:
    batch: UploadBatch
    created: bool
    touched: set[tuple[int, dt.date]] = field(default_factory=set)
    screen_rows: list[tuple[str, str | None, dt.date, str]] = field(default_factory=list)


def file_error(exc: InvalidLogFile) -> RejectedFile:
    status = 413 if exc.code == "too_large" else 415 if exc.code in ("unsupported_format",) else 422
    return RejectedFile(exc.message, code=exc.code, status=status, details=exc.details)


def content_hash(rec: LogRecord, id_hmac: str | None, phone_hmac: str | None) -> str:
    """What makes two versions of a waybill 'identical': every stored field (personal data by its index)."""
    parts = (rec.collected_at.isoformat(), rec.sender_name or "", rec.sender_id_type or "", id_hmac or "",
             phone_hmac or "", rec.item_name, rec.item_category or "", str(rec.quantity), str(rec.real_name_verified),
             str(rec.inspected), str(rec.xray_screened), rec.courier_id or "", rec.contract_customer_code or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class _RecordWriter:
    """Buffers validated records and writes them in chunks with Core executemany, versioning corrections."""

    def __init__(self, session: Session, batch: UploadBatch, outlet: Outlet, vault: Vault):
        self.session, self.batch, self.outlet, self.vault = session, batch, outlet, vault
        self.pending: list[LogRecord] = []
        self.accepted = self.skipped = self.corrected = 0
        self.analysed = False
        self.touched_days: set[dt.date] = set()
        # (id blind index, clear id or None for a superseded record's, day, birth-date problem or '')
        self.screen_rows: list[tuple[str, str | None, dt.date, str]] = []
        today = dt.datetime.now(CHINA).date()
        self.today = today
        self.filings = {c.code: c for c in session.scalars(
            select(ContractCustomer).where(ContractCustomer.outlet_id == outlet.id))}

    def add(self, rec: LogRecord) -> None:
        self.pending.append(rec)
        if len(self.pending) >= CHUNK_ROWS:
            self.flush()

    def _compliant(self, rec: LogRecord, day: dt.date) -> bool:
        if rec.real_name_verified and rec.sender_id_type and rec.sender_id_no:
            return True
        filing = self.filings.get((rec.contract_customer_code or "").upper())  # registry codes are upper-case
        return filing is not None and filing.valid_on(day)

    def flush(self) -> None:
        if not self.pending:
            return
        chunk, self.pending = self.pending, []
        waybills = {r.waybill_no for r in chunk}
        current = {row.waybill_no: row for row in self.session.execute(
            select(CollectionRecord.waybill_no, CollectionRecord.id, CollectionRecord.version,
                   CollectionRecord.content_hash, CollectionRecord.collected_on, CollectionRecord.sender_id_hmac)
            .where(CollectionRecord.outlet_id == self.outlet.id, CollectionRecord.is_current.is_(True),
                   CollectionRecord.waybill_no.in_(waybills)))}
        rows, superseded = [], []
        in_chunk: dict[str, dict] = {}
        vault, batch_id, outlet_id = self.vault, self.batch.id, self.outlet.id
        for rec in chunk:
            id_hmac = vault.index(rec.sender_id_no, ID_NO)
            phone_hmac = vault.index(rec.sender_phone, PHONE)
            digest = content_hash(rec, id_hmac, phone_hmac)
            earlier = in_chunk.get(rec.waybill_no)
            if earlier is not None:
                if earlier["content_hash"] == digest:
                    self.skipped += 1
                    continue
                earlier["is_current"] = False
                version = earlier["version"] + 1
                self.corrected += 1
            else:
                previous = current.get(rec.waybill_no)
                if previous is not None and previous.content_hash == digest:
                    self.skipped += 1
                    continue
                version = 1
                if previous is not None:
                    superseded.append(previous.id)
                    self.touched_days.add(previous.collected_on)
                    if previous.sender_id_hmac:  # its ID's patterns may no longer hold: screen it again
                        self.screen_rows.append((previous.sender_id_hmac, None, previous.collected_on, ""))
                    version = previous.version + 1
                    self.corrected += 1
            day = rec.collected_at.astimezone(CHINA).date()
            row = {
                "outlet_id": outlet_id, "waybill_no": rec.waybill_no, "version": version, "is_current": True,
                "batch_id": batch_id, "row_no": rec.row, "collected_at": rec.collected_at, "collected_on": day,
                "sender_name": rec.sender_name or "", "sender_id_type": rec.sender_id_type,
                "sender_id_enc": vault.encrypt(rec.sender_id_no, ID_NO), "sender_id_hmac": id_hmac,
                "sender_phone_enc": vault.encrypt(rec.sender_phone, PHONE), "sender_phone_hmac": phone_hmac,
                "item_name": rec.item_name, "item_category": rec.item_category, "quantity": rec.quantity,
                "real_name_verified": rec.real_name_verified, "inspected": rec.inspected,
                "xray_screened": rec.xray_screened, "real_name_compliant": self._compliant(rec, day),
                "courier_id": rec.courier_id, "contract_customer_code": rec.contract_customer_code,
                "content_hash": digest,
            }
            in_chunk[rec.waybill_no] = row
            rows.append(row)
            self.touched_days.add(day)
            if rec.sender_id_no:
                problem = birth_date_problem(rec.sender_id_no, day) if rec.sender_id_type in BIRTH_DATE_TYPES else None
                self.screen_rows.append((id_hmac, rec.sender_id_no, day, problem or ""))
        if superseded:
            self.session.execute(update(CollectionRecord).where(CollectionRecord.id.in_(superseded))
                                 .values(is_current=False))
        if rows:
            now = utcnow()
            for row in rows:
                row["created_at"] = now
            # Core's executemany on the table: one statement for the chunk (the ORM bulk path would split it
            # into groups by which columns happen to be NULL).
            self.session.execute(CollectionRecord.__table__.insert(), rows)
            self.accepted += len(rows)
            if not self.analysed and self.session.get_bind().dialect.name == "postgresql":
                # Fresh rows have no statistics yet: without this the planner scans whole days per lookup.
                self.session.execute(text("ANALYZE collection_records"))
                self.analysed = True


BIRTH_DATE_TYPES = {"RESIDENT_ID", "TEMP_RESIDENT_ID", "HMT_RESIDENCE"}


def existing_batch(session: Session, outlet: Outlet, sha256: str) -> UploadBatch | None:
    return session.scalar(select(UploadBatch).where(UploadBatch.outlet_id == outlet.id,
                                                    UploadBatch.sha256 == sha256))


def ingest_daily_log(session: Session, *, outlet: Outlet, path: Path, sha256: str, size: int, filename: str,
                     strict: bool, source: str, user: User | None, vault: Vault, instance: Path) -> IngestOutcome:
    """Ingest the file at ``path`` (already spooled and hashed) for ``outlet``.

    Returns the batch and whether it is new (the same file again returns the first batch). Raises RejectedFile
    when the file as a whole is unusable: nothing is stored then. Flushes, never commits.
    """
    if not outlet.active:
        raise RejectedFile(f"Outlet {outlet.code} is deactivated and takes no uploads.", code="outlet_inactive",
                           status=409)
    if session.get_bind().dialect.name == "postgresql":
        # Uploads to one outlet queue, as on SQLite: two corrections of a waybill must not race for a version.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": outlet.id})
    earlier = existing_batch(session, outlet, sha256)
    if earlier is not None:
        return IngestOutcome(earlier, created=False)
    try:
        reader = open_daily_log(path)
    except InvalidLogFile as exc:
        raise file_error(exc) from None
    with reader:
        if reader.missing:
            names = ", ".join(f"{k} ({COLUMNS[k].alias_zh})" for k in reader.missing)
            raise RejectedFile(f"Required columns are missing: {names}.", code="missing_columns",
                               details={"missing": reader.missing})
        batch = UploadBatch(outlet=outlet, sha256=sha256, filename=filename[:255], size_bytes=size,
                            format=reader.format, encoding=reader.encoding, strict=strict,
                            status=BatchStatus.ACCEPTED, warnings=list(reader.warnings), source=source,
                            uploaded_by_id=user.id if user else None)
        session.add(batch)
        session.flush()
        errors: list[RowError] = []
        total = 0
        savepoint = session.begin_nested()
        writer = _RecordWriter(session, batch, outlet, vault)
        try:
            for row_no, raw in reader.rows():
                total += 1
                result = validate_row(row_no, raw, outlet_code=outlet.code)
                if isinstance(result, list):
                    errors.extend(result)
                else:
                    writer.add(result)
            writer.flush()
        except InvalidLogFile as exc:
            savepoint.rollback()
            raise file_error(exc) from None
        if total == 0:
            savepoint.rollback()
            raise RejectedFile("The file has a header row but no data rows.", code="no_rows")
        rejected_rows = len({e.row for e in errors})
        if strict and errors:
            savepoint.rollback()
            writer = _RecordWriter(session, batch, outlet, vault)
        else:
            savepoint.commit()
    if errors:
        session.execute(insert(BatchError), [{"batch_id": batch.id, "row": e.row, "column": e.column[:32],
                                              "message": e.message[:255]} for e in errors])
    batch.rows_total = total
    batch.rows_rejected = total if strict and errors else rejected_rows
    batch.rows_accepted = total - batch.rows_rejected
    batch.rows_skipped = writer.skipped
    batch.rows_corrected = writer.corrected
    batch.status = (BatchStatus.REJECTED if batch.rows_accepted == 0 else
                    BatchStatus.PARTIAL if batch.rows_rejected else BatchStatus.ACCEPTED)
    session.flush()
    archive.store(instance, sha256, path, vault)  # only files that became a batch: a refused one leaves no copy
    return IngestOutcome(batch, created=True, touched={(outlet.id, d) for d in writer.touched_days},
                         screen_rows=writer.screen_rows)
