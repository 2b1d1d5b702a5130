"""Personal data at rest: AES-256-GCM ciphertexts and HMAC-SHA256 blind indexes, keys outside the database.

Keys live in ``<instance>/keys/pii.json`` (made by ``init-db`` when missing, mode 0600) or in the
``GREENSHIELD_PII_KEYS`` environment variable (the same JSON). Each version has an encryption key and an
index key. Ciphertexts start with their key version, so a rotation can re-encrypt row by row; which version
the blind indexes use is recorded in the database (``pii_key_state``), so a rotation that stops halfway is
never mistaken for a finished one.
"""
from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_VAR = "GREENSHIELD_PII_KEYS"
NONCE_BYTES = 12


class PiiKeyError(Exception):
    """The personal-data keys are missing or do not fit the stored data."""


@dataclass(frozen=True)
class KeyVersion:
    version: int
    encryption_key: bytes
    index_key: bytes


class Vault:
    """Encrypts, decrypts and blind-indexes personal data with one key version active."""

    def __init__(self, keys: dict[int, KeyVersion], active: int):
        if active not in keys:
            raise PiiKeyError(f"personal-data key version {active} is not among the configured keys")
        self.keys = keys
        self.active = active
        self._aead = {v: AESGCM(k.encryption_key) for v, k in keys.items()}
        self._index_key = keys[active].index_key

    def encrypt(self, value: str | None, purpose: bytes) -> bytes | None:
        """``version (2 bytes) | nonce | ciphertext+tag``; ``purpose`` binds it to its column."""
        if value is None:
            return None
        nonce = os.urandom(NONCE_BYTES)
        return self.active.to_bytes(2, "big") + nonce + self._aead[self.active].encrypt(nonce, value.encode(), purpose)

    def decrypt(self, blob: bytes | None, purpose: bytes) -> str | None:
        if blob is None:
            return None
        version = int.from_bytes(blob[:2], "big")
        aead = self._aead.get(version)
        if aead is None:
            raise PiiKeyError(f"no key for personal-data key version {version}")
        return aead.decrypt(blob[2:2 + NONCE_BYTES], blob[2 + NONCE_BYTES:], purpose).decode()

    def index(self, value: str | None, purpose: bytes) -> str | None:
        """The blind index of an already normalised value (hex HMAC-SHA256), or None."""
        if value is None:
            return None
        return hmac.digest(self._index_key, purpose + b"\x00" + value.encode(), "sha256").hex()

    def indexer(self, purpose: bytes) -> Callable[[str | None], str | None]:
        """``index`` for one purpose, bound once: the bulk ingest calls it for five fields of every row. The
        HMAC keyed with the purpose's prefix is made once and copied per value."""
        keyed = hmac.new(self._index_key, purpose + b"\x00", "sha256")

        def index(value: str | None) -> str | None:
            if value is None:
                return None
            h = keyed.copy()
            h.update(value.encode())
            return h.hexdigest()

        return index

    def encrypter(self, purpose: bytes) -> Callable[[str | None], bytes | None]:
        """``encrypt`` for one purpose with the active key, bound once (same output format)."""
        head, seal, urandom = self.active.to_bytes(2, "big"), self._aead[self.active].encrypt, os.urandom

        def encrypt(value: str | None) -> bytes | None:
            if value is None:
                return None
            nonce = urandom(NONCE_BYTES)
            return head + nonce + seal(nonce, value.encode(), purpose)

        return encrypt

    def with_active(self, version: int) -> Vault:
        return Vault(self.keys, version)


ID_NO = b"sender_id_no"
PHONE = b"sender_phone"
STAFF_ID_NO = b"staff_id_no"
REJECTED_ROW = b"rejected_row"  # the cells of a rejected daily-log row, kept for the error report


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def key_file(instance_path: str | Path) -> Path:
    return Path(instance_path) / "keys" / "pii.json"


def load_keyring(instance_path: str | Path) -> dict[int, KeyVersion]:
    """The configured key versions, from the environment or the instance folder; {} when there are none."""
    raw = os.environ.get(ENV_VAR)
    if raw is None:
        path = key_file(instance_path)
        if not path.exists():
            return {}
        raw = path.read_text()
    try:
        doc = json.loads(raw)
        return {int(v): KeyVersion(int(v), _unb64(k["encryption"]), _unb64(k["index"]))
                for v, k in doc["keys"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise PiiKeyError(f"the personal-data key file is malformed: {exc}") from None


def write_keyring(instance_path: str | Path, keys: dict[int, KeyVersion]) -> None:
    """Write the key file atomically with mode 0600 (refused when the keys come from the environment)."""
    if os.environ.get(ENV_VAR) is not None:
        raise PiiKeyError(f"keys come from {ENV_VAR}; update that variable instead")
    path = key_file(instance_path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    doc = {"keys": {str(v): {"encryption": _b64(k.encryption_key), "index": _b64(k.index_key)}
                    for v, k in sorted(keys.items())}}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def new_key(version: int) -> KeyVersion:
    return KeyVersion(version, secrets.token_bytes(32), secrets.token_bytes(32))


def ensure_keyring(instance_path: str | Path) -> dict[int, KeyVersion]:
    """The keyring, creating version 1 when none exists yet."""
    keys = load_keyring(instance_path)
    if not keys:
        keys = {1: new_key(1)}
        write_keyring(instance_path, keys)
    return keys
