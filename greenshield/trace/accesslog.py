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
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import String, event, select, text, type_coerce
from sqlalchemy.orm import Session

from models import AccessLogEntry, User, utcnow

log = logging.getLogger(__name__)
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


LENIENT = ("at", "result_count", "user_id", "seq")


def raw_columns():
    """The access log's columns, with those whose stored value a tampering could leave of the wrong type (SQLite
    keeps whatever is written) read as they are, so that reading an altered entry never fails."""
    table = AccessLogEntry.__table__
    return [type_coerce(column, String).label(column.name) if column.name in LENIENT else column
            for column in table.c]


def lenient(row: Mapping) -> dict:
    """A row read with ``raw_columns`` as an entry's values, with ``readable`` False when a value could not be
    read as its type (the entry was altered outside the application)."""
    values, readable = dict(row), True
    at = values["at"]
    if isinstance(at, str):
        try:
            at = dt.datetime.fromisoformat(at)
        except ValueError:
            at, readable = None, False
    if isinstance(at, dt.datetime) and at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    values["at"] = at
    for name in ("result_count", "user_id", "seq"):
        value = values[name]
        if value is not None and not isinstance(value, int):
            try:
                values[name] = int(value) if str(value).strip().lstrip("-").isdigit() else None
            except (TypeError, ValueError):
                values[name] = None
            readable = readable and values[name] is not None and str(values[name]) == str(value).strip()
    values["readable"] = readable
    return values


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
    checkpointer: Checkpointer | None = None

    def log(self, session: Session, *, result_count: int = 0, outcome: str = "ok") -> AccessLogEntry:
        """Append this request's entry (``access`` must be set); flushes, the caller commits."""
        access = self.access
        entry = append(session, user=self.user, action=access.action, case_no=access.case_no,
                       query_type=access.query_type, subject_hash=access.subject_hash, result_count=result_count,
                       outcome=outcome, client_addr=self.client_addr, request_id=self.request_id)
        self.logged = True
        if self.checkpointer is not None:
            self.checkpointer.after_append(session, entry)
        return entry


def append(session: Session, *, user: User | None, action: str, case_no: str | None = None, query_type: str | None = None,
           subject_hash: str | None = None, result_count: int = 0, outcome: str = "ok",
           client_addr: str | None = None, request_id: str | None = None) -> AccessLogEntry:
    """Append one entry, chained to the last one (sequence = last + 1). Flushes; the caller commits.
    ``user`` None: a caller who was not signed in (a bad token, no session, a forged form); the client address
    then says who.

    The entry becomes part of the log only when the caller's transaction commits; a rolled-back transaction
    leaves no gap because the next append takes the same sequence number.
    """
    _serialise_appends(session)
    last = session.execute(select(AccessLogEntry.seq, AccessLogEntry.entry_hash)
                           .order_by(AccessLogEntry.seq.desc()).limit(1)).first()
    seq, prev_hash = (last.seq + 1, last.entry_hash) if last else (1, GENESIS)
    values = {"seq": seq, "at": utcnow(), "user_id": user.id if user else None,
              "username": user.username if user else None, "role": user.role.value if user else None,
              "agency": user.agency if user else None, "action": action, "case_no": case_no, "query_type": query_type,
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
    """The Ed25519 key that signs checkpoints, in ``<instance>/keys/`` (made when missing)."""
    return signing_key_at(_keys_dir(instance_path) / SIGNING_KEY_FILE)


def signing_key_at(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key in ``path`` (PEM), made with its public half (``*.pub.pem`` beside it) when missing."""
    path = Path(path)
    if not path.exists():
        _create_once(path, Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    public = public_key_beside(path)
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


def public_key_beside(private_path: Path) -> Path:
    """Where the public half of the signing key in ``private_path`` is written."""
    name = private_path.name.removesuffix(".pem")
    return private_path.with_name(f"{name}.pub.pem")


# --- checkpoints ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    entry_hash: str
    at: str
    path: Path
    prev: str | None = None  # the link to the checkpoint before (None in checkpoints of before links)

    @property
    def link(self) -> str:
        """What the next checkpoint names as ``prev``: the SHA-256 of this one's signed part."""
        return hashlib.sha256(_signed_part(self.seq, self.entry_hash, self.at, self.prev)).hexdigest()


def _signed_part(seq: int, entry_hash: str, at: str, prev: str | None = None) -> bytes:
    fields = {"seq": seq, "entry_hash": entry_hash, "at": at}
    if prev is not None:
        fields["prev"] = prev
    return canonical(fields)


def _lock(directory: Path):
    """An exclusive lock on the checkpoint folder: writers (the scheduler, web workers) take turns."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _unlock(fd: int) -> None:
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def newest_checkpoint(directory: Path | None) -> Checkpoint | None:
    """The checkpoint of the highest sequence number in ``directory`` (signature not checked), or None."""
    if directory is None or not directory.is_dir():
        return None
    files = sorted(directory.glob("checkpoint-*.json"))
    for path in reversed(files):
        try:
            return _read_checkpoint(path, None)
        except BadCheckpoint:
            continue
    return None


def sign_checkpoint(directory: Path, key: Ed25519PrivateKey, seq: int, entry_hash: str) -> Checkpoint:
    """Sign entry ``seq`` (a committed entry) into ``directory``, linked to the newest checkpoint there.
    An entry at or below the newest checkpoint is not signed again: the newest is returned."""
    fd = _lock(directory)
    try:
        newest = newest_checkpoint(directory)
        if newest is not None and newest.seq >= seq:
            return newest
        at = _iso(utcnow())
        prev = newest.link if newest is not None else GENESIS
        signature = key.sign(_signed_part(seq, entry_hash, at, prev))
        doc = {"seq": seq, "entry_hash": entry_hash, "at": at, "prev": prev,
               "signature": base64.b64encode(signature).decode()}
        path = directory / f"checkpoint-{seq:012d}.json"
        _create_once(path, json.dumps(doc, indent=1).encode(), mode=0o644)
        return Checkpoint(seq, entry_hash, at, path, prev)
    finally:
        _unlock(fd)


def write_checkpoint(session: Session, directory: Path, key: Ed25519PrivateKey) -> Checkpoint | None:
    """Sign the last committed entry's sequence and hash into ``directory`` (one file per sequence number).

    Returns None when the log is empty; when the newest checkpoint already covers the last entry, it is
    returned as it is.
    """
    last = session.execute(select(AccessLogEntry.seq, AccessLogEntry.entry_hash)
                           .order_by(AccessLogEntry.seq.desc()).limit(1)).first()
    if last is None:
        return None
    return sign_checkpoint(directory, key, last.seq, last.entry_hash)


def checkpoint_due(session: Session, directory: Path, *, every: int, minutes: int) -> bool:
    """Whether entries were added since the newest checkpoint and either ``every`` of them or ``minutes``
    have passed since it."""
    head = session.scalar(select(AccessLogEntry.seq).order_by(AccessLogEntry.seq.desc()).limit(1))
    if head is None:
        return False
    newest = newest_checkpoint(directory)
    if newest is None:
        return True
    if head <= newest.seq:
        return False
    age = utcnow() - dt.datetime.fromisoformat(newest.at)
    return head - newest.seq >= every or age >= dt.timedelta(minutes=minutes)


@dataclass
class Checkpointer:
    """Signs a checkpoint once an appended entry whose sequence number is a multiple of ``every`` commits (the
    scheduler adds one every few minutes besides, see ``checkpoint_due``)."""

    directory: Path
    key_path: Path
    every: int

    @classmethod
    def of(cls, settings) -> Checkpointer:
        """The checkpointer the settings describe: their folder, signing key and interval of entries."""
        return cls(settings.checkpoints_dir, settings.signing_key_path, settings.access_log_checkpoint_every)

    def after_append(self, session: Session, entry: AccessLogEntry) -> None:
        if self.every <= 0 or entry.seq % self.every:
            return
        seq, entry_hash = entry.seq, entry.entry_hash

        def sign(_session) -> None:
            try:
                sign_checkpoint(self.directory, signing_key_at(self.key_path), seq, entry_hash)
            except OSError:
                log.exception("could not write the access-log checkpoint of entry %s", seq)

        event.listen(session, "after_commit", sign, once=True)


class BadCheckpoint(ValueError):
    def __init__(self, seq: int | None, message: str):
        super().__init__(message)
        self.seq = seq


def _read_checkpoint(path: Path, key: Ed25519PublicKey | None) -> Checkpoint:
    try:
        doc = json.loads(path.read_text())
        seq, entry_hash, at = int(doc["seq"]), str(doc["entry_hash"]), str(doc["at"])
        prev = str(doc["prev"]) if "prev" in doc else None
        signature = base64.b64decode(doc["signature"], validate=True)
        dt.datetime.fromisoformat(at)
    except (ValueError, KeyError, TypeError) as exc:
        raise BadCheckpoint(None, f"checkpoint {path.name} is unreadable ({exc})") from None
    if key is not None:
        try:
            key.verify(signature, _signed_part(seq, entry_hash, at, prev))
        except InvalidSignature:
            raise BadCheckpoint(seq, f"checkpoint {path.name} has an invalid signature") from None
    return Checkpoint(seq, entry_hash, at, path, prev)


# --- verification -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: ``ok``, or the first bad entry's sequence number and why; and how many entries at
    the head no checkpoint covers yet (those alone could be removed or rewritten without a trace)."""

    ok: bool
    entries: int
    checkpoints: int
    last_seq: int | None
    first_bad_seq: int | None = None
    reason: str | None = None
    newest_checkpoint_seq: int | None = None
    uncovered: int = 0
    code: str | None = None  # the reason as a code of greenshield.errors.MESSAGES, for pages in any language
    params: dict | None = None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "checkpoints": self.checkpoints, "last_seq": self.last_seq,
                "first_bad_seq": self.first_bad_seq, "reason": self.reason,
                "newest_checkpoint_seq": self.newest_checkpoint_seq, "uncovered": self.uncovered}


CLOCK_SKEW = dt.timedelta(minutes=2)  # an entry may commit this long after a checkpoint signed before it


def _checkpoint_chain(points: list[Checkpoint]) -> list[tuple[int, str, str, dict]]:
    """Problems of the checkpoints among themselves: each names the one before it (``prev``), and their times
    grow with their sequence numbers. A removed or forged checkpoint breaks this."""
    problems = []
    before = None
    for point in points:
        if point.prev is not None:
            expected = before.link if before is not None else GENESIS
            if before is not None and before.prev is None:
                expected = point.prev  # the first linked checkpoint after unlinked ones: nothing to compare
            if point.prev != expected:
                problems.append((point.seq, f"checkpoint {point.path.name} does not follow checkpoint "
                                            f"{before.path.name if before else '(none)'}: a checkpoint was removed, "
                                            "replaced or forged", "access_log.checkpoint_unlinked",
                                 {"file": point.path.name}))
        if before is not None and dt.datetime.fromisoformat(point.at) < dt.datetime.fromisoformat(before.at):
            problems.append((point.seq, f"checkpoint {point.path.name} was signed before checkpoint "
                                        f"{before.path.name}", "access_log.checkpoint_order",
                             {"file": point.path.name, "before": before.path.name}))
        before = point
    return problems


def verify(session: Session, checkpoints_dir: Path | None, public_key: Ed25519PublicKey | None) -> Verification:
    """Walk the whole log in sequence order and check every link, every checkpoint, and the head against the
    newest checkpoint.

    Finds: an altered entry (its hash does not match its fields), a removed one (a gap in the sequence), an
    inserted or moved one (an entry that does not chain to the one before it, or whose sequence number changed);
    a checkpoint that does not match its entry, names an entry that no longer exists (the log was truncated),
    carries a bad signature, or does not follow the checkpoint before it (one was removed or forged); and entries
    after the newest checkpoint dated before it was signed (the tail was rewritten). With checkpoints but no
    ``public_key`` the signatures are not checked.
    """
    problems: list[tuple[int, str, str, dict]] = []
    checkpoints: dict[int, Checkpoint] = {}
    files = sorted(checkpoints_dir.glob("checkpoint-*.json")) if checkpoints_dir and checkpoints_dir.is_dir() else []
    for path in files:
        try:
            point = _read_checkpoint(path, public_key)
        except BadCheckpoint as exc:
            problems.append((exc.seq if exc.seq is not None else 0, str(exc), "access_log.bad_checkpoint",
                             {"file": path.name}))
            continue
        checkpoints[point.seq] = point
    ordered = [checkpoints[seq] for seq in sorted(checkpoints)]
    problems += _checkpoint_chain(ordered)
    newest = ordered[-1] if ordered else None
    newest_at = dt.datetime.fromisoformat(newest.at) if newest else None
    expected, prev_hash, count, last_seq, broken = 1, GENESIS, 0, None, False
    table = AccessLogEntry.__table__
    rows = session.execute(select(*raw_columns()).order_by(table.c.seq).execution_options(yield_per=10_000))
    for row in rows:
        entry = lenient(row._mapping)
        seq = entry["seq"]
        problem = _check_entry(entry, expected, prev_hash)
        if problem is None and seq in checkpoints and checkpoints[seq].entry_hash != entry["entry_hash"]:
            problem = (seq, f"entry {seq} does not match checkpoint {checkpoints[seq].path.name}: the log was "
                            "rewritten up to this entry", "access_log.checkpoint_mismatch",
                       {"seq": seq, "file": checkpoints[seq].path.name})
        if (problem is None and newest is not None and seq > newest.seq and entry["at"] is not None
                and entry["at"] < newest_at - CLOCK_SKEW):
            problem = (seq, f"entry {seq} is dated before checkpoint {newest.path.name} was signed but comes after "
                            "it: entries after the checkpoint were rewritten", "access_log.rewritten_after_checkpoint",
                       {"seq": seq, "file": newest.path.name})
        if problem is not None:
            problems.append(problem)
            broken = True
            break
        count, last_seq, expected, prev_hash = count + 1, seq, seq + 1, entry["entry_hash"]
    rows.close()
    beyond = sorted(seq for seq in checkpoints if seq > (last_seq or 0))
    if beyond and not broken:
        missing = (last_seq or 0) + 1
        problems.append((missing, f"entries {missing} to {beyond[-1]} are missing but checkpoint "
                                  f"{checkpoints[beyond[-1]].path.name} signed entry {beyond[-1]}: the log was "
                                  f"truncated after entry {last_seq or 0}", "access_log.truncated",
                         {"first": missing, "last": beyond[-1], "after": last_seq or 0}))
    uncovered = max(0, (last_seq or 0) - (newest.seq if newest else 0))
    newest_seq = newest.seq if newest else None
    if problems:
        seq, reason, code, params = min(problems, key=lambda problem: problem[:2])
        return Verification(False, count, len(files), last_seq, seq, reason, newest_seq, uncovered, code, params)
    return Verification(True, count, len(files), last_seq, newest_checkpoint_seq=newest_seq, uncovered=uncovered)


def entry_intact(entry) -> bool:
    """Whether one entry (read with ``lenient``) still matches its own hash (its link to the one before is
    ``verify``'s business)."""
    if not entry.get("readable", True) or entry["at"] is None:
        return False
    try:
        return chain_hash(entry["prev_hash"], hashed_fields(entry)) == entry["entry_hash"]
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


def _check_entry(entry, expected: int, prev_hash: str) -> tuple[int, str, str, dict] | None:
    seq = entry["seq"]
    if not entry.get("readable", True):
        return (seq, f"entry {seq} holds values of the wrong type: it was altered outside the application",
                "access_log.unreadable", {"seq": seq})
    if seq != expected:
        return expected, (f"entry {expected} is missing (removed): the log goes from entry {expected - 1} "
                          f"to entry {seq}"), "access_log.missing", {"seq": expected, "before": expected - 1, "next": seq}
    if chain_hash(entry["prev_hash"], hashed_fields(entry)) != entry["entry_hash"]:
        return (seq, f"entry {seq} does not match its hash: it was altered (or moved to another position)",
                "access_log.altered", {"seq": seq})
    if entry["prev_hash"] != prev_hash:
        return seq, (f"entry {seq} does not chain to entry {seq - 1}: an entry was inserted, removed or "
                     f"reordered here, or entry {seq - 1} was altered and re-hashed"), "access_log.not_chained", \
            {"seq": seq, "before": seq - 1}
    return None
