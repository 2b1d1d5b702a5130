"""The access log: append-only, hash-chained, with signed checkpoints kept outside the database.

Each entry stores the hash of the entry before it and its own hash, SHA-256 over that previous hash and the
canonical JSON of its fields (sequence number included), so an entry that is altered, removed, inserted or moved
breaks the chain where it happened. The database refuses UPDATE and DELETE (triggers). Someone who can drop the
triggers could still rewrite the whole chain after some entry; the checkpoints reveal that: Ed25519-signed
``{seq, entry_hash, at}`` files in ``<instance>/access-log/checkpoints/``, written by a periodic job with a key
pair in ``<instance>/keys/``. Query subjects are stored only as a keyed hash (HMAC-SHA256 under a key of its
own in ``<instance>/keys/``), never in clear.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from models import AccessLogEntry, User, utcnow

GENESIS = "0" * 64
ADVISORY_LOCK = 0x47534C4F47  # "GSLOG": PostgreSQL appenders queue on it
HASHED_FIELDS = ("seq", "at", "user_id", "username", "role", "agency", "action", "case_no", "query_type",
                 "subject_hash", "result_count", "outcome", "client_addr", "request_id")
SIGNING_KEY_FILE = "access-log-signing.pem"
PUBLIC_KEY_FILE = "access-log-signing.pub.pem"
SUBJECT_KEY_FILE = "access-log-subject.key"
_LIMITS = {"username": 64, "agency": 128, "action": 32, "case_no": 64, "query_type": 32, "outcome": 32,
           "client_addr": 64, "request_id": 64}


def canonical(fields: dict) -> bytes:
    """The fields of an entry as canonical JSON (sorted keys, no spaces, UTF-8), as they are hashed."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, fields: dict) -> str:
    """The hash of an entry: SHA-256 over the previous entry's hash, a newline and the entry's canonical JSON."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(fields)).hexdigest()


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def hashed_fields(entry) -> dict:
    """The hashed fields of an entry (an ``AccessLogEntry`` or a row mapping), time as UTC ISO 8601."""
    if isinstance(entry, Mapping):
        fields = {name: entry[name] for name in HASHED_FIELDS}
    else:
        fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
    fields["at"] = _iso(fields["at"])
    return fields


def _serialise_appends(session: Session) -> None:
    """Appends queue one behind the other. PostgreSQL: a transaction-scoped advisory lock. SQLite: writing
    requests and jobs hold the database's write lock from BEGIN IMMEDIATE (``greenshield.db``), which does it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})


@dataclass
class Access:
    """What one access-log entry is about: the action, the case, the kind of query and its subject's hash."""

    action: str
    case_no: str | None = None
    query_type: str | None = None
    subject_hash: str | None = None


@dataclass
class Actor:
    """Who acts, as the access log records them, and what their request's entry is about.

    The shell makes one per request (``greenshield.context.actor``) and hands it to the use cases. A use case
    says what the request does (``access``) before it may refuse, and a refusal's ``outcome``; it sets
    ``logged`` once it has written the entry itself. Requests refused before or outside the use case are then
    logged by the traceability blueprints from what is noted here.
    """

    user: User | None
    client_addr: str | None = None
    request_id: str | None = None
    access: Access | None = None
    outcome: str | None = None
    logged: bool = False

    def log(self, session: Session, *, result_count: int = 0, outcome: str = "ok") -> AccessLogEntry:
        """Append this request's entry (``access`` must be set); flushes, the caller commits."""
        access = self.access
        entry = append(session, user=self.user, action=access.action, case_no=access.case_no,
                       query_type=access.query_type, subject_hash=access.subject_hash, result_count=result_count,
                       outcome=outcome, client_addr=self.client_addr, request_id=self.request_id)
        self.logged = True
        return entry


def append(session: Session, *, user: User, action: str, case_no: str | None = None, query_type: str | None = None,
           subject_hash: str | None = None, result_count: int = 0, outcome: str = "ok",
           client_addr: str | None = None, request_id: str | None = None) -> AccessLogEntry:
    """Append one entry, chained to the last one (sequence = last + 1). Flushes; the caller commits.

    The entry becomes part of the log only when the caller's transaction commits; a rolled-back transaction
    leaves no gap because the next append takes the same sequence number.
    """
    _serialise_appends(session)
    last = session.execute(select(AccessLogEntry.seq, AccessLogEntry.entry_hash)
                           .order_by(AccessLogEntry.seq.desc()).limit(1)).first()
    seq, prev_hash = (last.seq + 1, last.entry_hash) if last else (1, GENESIS)
    values = {"seq": seq, "at": utcnow(), "user_id": user.id, "username": user.username, "role": user.role.value,
              "agency": user.agency, "action": action, "case_no": case_no, "query_type": query_type,
              "subject_hash": subject_hash, "result_count": result_count, "outcome": outcome,
              "client_addr": client_addr, "request_id": request_id}
    for name, limit in _LIMITS.items():
        if values[name] is not None:
            values[name] = values[name][:limit]
    entry = AccessLogEntry(**values, prev_hash=prev_hash, entry_hash=chain_hash(prev_hash, hashed_fields(values)))
    session.add(entry)
    session.flush()
    return entry


# --- keys -------------------------------------------------------------------------------------------------


def _keys_dir(instance_path: str | Path) -> Path:
    return Path(instance_path) / "keys"


def _create_once(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``path`` unless it exists, atomically: two processes making it at once agree on one content."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def subject_key(instance_path: str | Path) -> bytes:
    """The key of the subject hashes (made on first use; keep it with the personal-data keys)."""
    path = _keys_dir(instance_path) / SUBJECT_KEY_FILE
    if not path.exists():
        _create_once(path, secrets.token_hex(32).encode())
    return bytes.fromhex(path.read_text().strip())


def subject_hash(key: bytes, query_type: str, subject: str) -> str:
    """The keyed hash of a normalised query subject: equal subjects of one type give equal hashes."""
    return hmac.new(key, query_type.encode() + b"\x00" + subject.encode(), hashlib.sha256).hexdigest()


def signing_key(instance_path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 key that signs checkpoints; the pair is made in ``<instance>/keys/`` when missing."""
    keys = _keys_dir(instance_path)
    path = keys / SIGNING_KEY_FILE
    if not path.exists():
        _create_once(path, Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    public = keys / PUBLIC_KEY_FILE
    if not public.exists():
        _create_once(public, private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), mode=0o644)
    return private


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """The checkpoint verification key from a PEM file (``<instance>/keys/access-log-signing.pub.pem``)."""
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def public_key_path(instance_path: str | Path) -> Path:
    return _keys_dir(instance_path) / PUBLIC_KEY_FILE


# --- checkpoints ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    entry_hash: str
    at: str
    path: Path


def _signed_part(seq: int, entry_hash: str, at: str) -> bytes:
    return canonical({"seq": seq, "entry_hash": entry_hash, "at": at})


def write_checkpoint(session: Session, directory: Path, key: Ed25519PrivateKey) -> Checkpoint | None:
    """Sign the last entry's sequence and hash into ``directory`` (one file per sequence number).

    Returns None when the log is empty; an existing checkpoint of the same entry is returned as it is.
    """
    last = session.execute(select(AccessLogEntry.seq, AccessLogEntry.entry_hash)
                           .order_by(AccessLogEntry.seq.desc()).limit(1)).first()
    if last is None:
        return None
    path = directory / f"checkpoint-{last.seq:012d}.json"
    if path.exists():
        return _read_checkpoint(path, None)
    at = _iso(utcnow())
    signature = key.sign(_signed_part(last.seq, last.entry_hash, at))
    doc = {"seq": last.seq, "entry_hash": last.entry_hash, "at": at,
           "signature": base64.b64encode(signature).decode()}
    directory.mkdir(parents=True, exist_ok=True)
    _create_once(path, json.dumps(doc, indent=1).encode(), mode=0o644)
    return Checkpoint(last.seq, last.entry_hash, at, path)


class BadCheckpoint(ValueError):
    def __init__(self, seq: int | None, message: str):
        super().__init__(message)
        self.seq = seq


def _read_checkpoint(path: Path, key: Ed25519PublicKey | None) -> Checkpoint:
    try:
        doc = json.loads(path.read_text())
        seq, entry_hash, at = int(doc["seq"]), str(doc["entry_hash"]), str(doc["at"])
        signature = base64.b64decode(doc["signature"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise BadCheckpoint(None, f"checkpoint {path.name} is unreadable ({exc})") from None
    if key is not None:
        try:
            key.verify(signature, _signed_part(seq, entry_hash, at))
        except InvalidSignature:
            raise BadCheckpoint(seq, f"checkpoint {path.name} has an invalid signature") from None
    return Checkpoint(seq, entry_hash, at, path)


# --- verification -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: ``ok``, or the first bad entry's sequence number and why."""

    ok: bool
    entries: int
    checkpoints: int
    last_seq: int | None
    first_bad_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "checkpoints": self.checkpoints, "last_seq": self.last_seq,
                "first_bad_seq": self.first_bad_seq, "reason": self.reason}


def verify(session: Session, checkpoints_dir: Path | None, public_key: Ed25519PublicKey | None) -> Verification:
    """Walk the whole log in sequence order and check every link and every checkpoint.

    Finds: an altered entry (its hash does not match its fields), a removed one (a gap in the sequence), an
    inserted or moved one (an entry that does not chain to the one before it, or whose sequence number changed),
    and a checkpoint that does not match its entry, names an entry that no longer exists (the log was truncated),
    or carries a bad signature. With checkpoints but no ``public_key`` the signatures are not checked.
    """
    problems: list[tuple[int, str]] = []
    checkpoints: dict[int, Checkpoint] = {}
    files = sorted(checkpoints_dir.glob("checkpoint-*.json")) if checkpoints_dir and checkpoints_dir.is_dir() else []
    for path in files:
        try:
            point = _read_checkpoint(path, public_key)
        except BadCheckpoint as exc:
            problems.append((exc.seq if exc.seq is not None else 0, str(exc)))
            continue
        checkpoints[point.seq] = point
    expected, prev_hash, count, last_seq, broken = 1, GENESIS, 0, None, False
    table = AccessLogEntry.__table__
    rows = session.execute(select(table).order_by(table.c.seq).execution_options(yield_per=10_000))
    for row in rows:
        entry = row._mapping
        seq = entry["seq"]
        problem = _check_entry(entry, expected, prev_hash)
        if problem is None and seq in checkpoints and checkpoints[seq].entry_hash != entry["entry_hash"]:
            problem = (seq, f"entry {seq} does not match checkpoint {checkpoints[seq].path.name}: the log was "
                            "rewritten up to this entry")
        if problem is not None:
            problems.append(problem)
            broken = True
            break
        count, last_seq, expected, prev_hash = count + 1, seq, seq + 1, entry["entry_hash"]
    rows.close()
    beyond = sorted(seq for seq in checkpoints if seq > (last_seq or 0))
    if beyond and not broken:
        missing = (last_seq or 0) + 1
        problems.append((missing, f"entries {missing} to {beyond[0]} are missing but checkpoint "
                                  f"{checkpoints[beyond[0]].path.name} signed entry {beyond[0]}: the log was truncated "
                                  f"after entry {last_seq or 0}"))
    if problems:
        seq, reason = min(problems)
        return Verification(False, count, len(files), last_seq, seq, reason)
    return Verification(True, count, len(files), last_seq)


def _check_entry(entry, expected: int, prev_hash: str) -> tuple[int, str] | None:
    seq = entry["seq"]
    if seq != expected:
        return expected, (f"entry {expected} is missing (removed): the log goes from entry {expected - 1} "
                          f"to entry {seq}")
    if chain_hash(entry["prev_hash"], hashed_fields(entry)) != entry["entry_hash"]:
        return seq, f"entry {seq} does not match its hash: it was altered (or moved to another position)"
    if entry["prev_hash"] != prev_hash:
        return seq, (f"entry {seq} does not chain to entry {seq - 1}: an entry was inserted, removed or "
                     f"reordered here, or entry {seq - 1} was altered and re-hashed")
    return None
