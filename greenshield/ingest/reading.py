"""The rows of a daily log, validated and sealed (personal data encrypted and blind-indexed, content hashed), read
here or by a second process while this one writes.

Reading, validating and sealing a row costs about as much CPU as storing it; for a large file a child process
does the first part and hands over chunks of finished rows through a bounded queue, so the two overlap on two
cores and memory stays bounded (at most ``QUEUED_CHUNKS`` chunks in flight). The child uses no database and no
Flask: it is given the file's path, the outlet's code and the personal-data keys.
"""
from __future__ import annotations

import gc
import multiprocessing
import queue
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from operator import attrgetter
from pathlib import Path

from greenshield.personal.keyring import KeyVersion, Vault
from inspection.columns import ENCRYPTED, content_hash, purpose
from inspection.dailylog import InvalidLogFile, LogRecord, RowError, open_daily_log, validate_row


@contextmanager
def young_collections_only() -> Iterator[None]:
    """Turn the automatic cyclic garbage collector off for a bulk loop whose caller runs ``gc.collect(1)`` once
    per chunk. Each row allocates a few dozen tuples, lists and strings, none cyclic, and the automatic passes
    (every 700 allocations, and full ones over all of the application's objects) took about a fifth of the
    ingest's CPU; per chunk the young generations are still collected, so memory stays bounded."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


Sealed = tuple[list, list, str]
"""A valid record's ciphertexts and blind indexes (one per column of ``ENCRYPTED``) and its content hash."""
Row = tuple[int, dict, LogRecord | list[RowError], Sealed | None]
"""(row number, the raw cells, the record or its errors, the sealed record or None)."""

CHUNK_ROWS = 1000  # rows per message from the child
QUEUED_CHUNKS = 2  # messages in flight: what bounds the memory between the two processes
_FIELDS = attrgetter(*(name for name in LogRecord.__slots__ if name != "row"))
_personal_values = attrgetter(*(c.key for c in ENCRYPTED)) if len(ENCRYPTED) > 1 else (
    lambda record: (getattr(record, ENCRYPTED[0].key),))


class Sealer:
    """Seals records for one vault: the encrypters and indexers bound once (the ingest calls it per row)."""

    def __init__(self, vault: Vault):
        self._personal = tuple((vault.encrypter(purpose(c)), vault.indexer(purpose(c))) for c in ENCRYPTED)

    def __call__(self, record: LogRecord) -> Sealed:
        encrypted, indexes = [], []
        for (encrypt, index), clear in zip(self._personal, _personal_values(record)):
            encrypted.append(encrypt(clear))
            indexes.append(index(clear))
        return encrypted, indexes, content_hash(record, indexes)


def rows_here(path: Path, outlet_code: str, vault: Vault) -> Iterator[Row]:
    """Read, validate and seal every row in this process. Raises ``InvalidLogFile`` as ``DailyLogReader.rows``."""
    seal = Sealer(vault)
    with open_daily_log(path) as reader:
        for row_no, raw in reader.rows():
            result = validate_row(row_no, raw, outlet_code=outlet_code)
            yield row_no, raw, result, None if isinstance(result, list) else seal(result)


def rows_in_child(path: Path, outlet_code: str, vault: Vault) -> Iterator[Row]:
    """The same rows, read, validated and sealed by a child process (``spawn``: nothing of this process's
    state, database connections least of all, is inherited). The child ends with the iteration; closing the
    iterator early (an error while writing) stops it. Raises ``InvalidLogFile`` as the child met it."""
    context = multiprocessing.get_context("spawn")
    chunks = context.Queue(maxsize=QUEUED_CHUNKS)
    child = context.Process(target=_produce, name="greenshield-ingest-reader", daemon=True,
                            args=(str(path), outlet_code, vault.keys, vault.active, chunks, CHUNK_ROWS))
    child.start()
    try:
        while True:
            try:
                message = chunks.get(timeout=5)
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError(f"the ingest's reading process ended (exit code {child.exitcode})") from None
                continue
            kind, body = message
            if kind == "rows":
                for row_no, raw, values, sealed in body:
                    yield row_no, raw, (LogRecord(row_no, *values) if sealed is not None else values), sealed
            elif kind == "end":
                break
            elif kind == "invalid":
                code, details, params = body
                raise InvalidLogFile(code, details=details, **params)
            else:
                raise RuntimeError(f"the ingest's reading process failed:\n{body}")
        child.join(timeout=30)
    finally:
        if child.is_alive():
            child.terminate()
            child.join(timeout=5)
        chunks.close()
        chunks.cancel_join_thread()


def _produce(path: str, outlet_code: str, keys: dict[int, KeyVersion], active: int,
             chunks: multiprocessing.Queue, chunk_rows: int) -> None:
    """The child: send chunks of (row number, raw cells, the record's values or its errors, sealed or None)."""
    try:
        seal = Sealer(Vault(keys, active))
        chunk = []
        with open_daily_log(path) as reader, young_collections_only():
            for row_no, raw in reader.rows():
                result = validate_row(row_no, raw, outlet_code=outlet_code)
                if isinstance(result, list):
                    chunk.append((row_no, raw, result, None))
                else:
                    chunk.append((row_no, raw, _FIELDS(result), seal(result)))
                if len(chunk) >= chunk_rows:
                    chunks.put(("rows", chunk))
                    chunk = []
                    gc.collect(1)
        chunks.put(("rows", chunk))
        chunks.put(("end", None))
    except InvalidLogFile as exc:
        chunks.put(("invalid", (exc.code, exc.details, exc.params)))
    except BaseException:  # noqa: BLE001 - anything else is the parent's to report
        chunks.put(("crash", traceback.format_exc()))
