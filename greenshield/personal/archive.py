"""Content-addressed, encrypted archive of uploaded files, kept in the storage (``greenshield.storage``).

Each file is stored once under the key ``archive/<sha[:2]>/<sha>.gsa`` as ``GSA1 | key version | nonce |
AES-GCM ciphertext | tag``, encrypted and decrypted in chunks through a local temporary file, so a file of
any size is never held in memory.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from greenshield.personal.keyring import NONCE_BYTES, Vault
from greenshield.storage import Storage

MAGIC = b"GSA1"
CHUNK = 1 << 20
AAD = b"greenshield-archive"


class TooLarge(Exception):
    """The upload is larger than the configured limit."""


def spool(stream: BinaryIO, target: Path, *, max_bytes: int) -> tuple[str, int]:
    """Copy ``stream`` to ``target`` while hashing it; raises TooLarge past ``max_bytes`` (nothing kept)."""
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open_private(target) as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"the file is larger than the limit of {max_bytes // 2**20} MiB")
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size


def open_private(path: Path) -> BinaryIO:
    """Open ``path`` for writing, readable by the owner only from the moment it exists (it holds clear text)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def archive_key(sha256: str) -> str:
    return f"archive/{sha256[:2]}/{sha256}.gsa"


def archived(storage: Storage) -> list[str]:
    """The keys of every archived file."""
    return sorted(key for key in storage.keys("archive/") if key.endswith(".gsa"))


def store(storage: Storage, sha256: str, source: Path, vault: Vault) -> str:
    """Encrypt ``source`` into the archive under its SHA-256, unless it is there already; returns the key."""
    key = archive_key(sha256)
    if not storage.exists(key):
        _encrypt_into(storage, key, source, vault, replace=False)
    return key


def put_encrypted(storage: Storage, key: str, source: Path, vault: Vault) -> None:
    """Encrypt ``source`` into the storage under ``key`` as the archive does (a queued upload waiting for its
    worker); ``restore`` reads it back."""
    _encrypt_into(storage, key, source, vault, replace=True)


def _encrypt_into(storage: Storage, key: str, source: Path, vault: Vault, *, replace: bool) -> None:
    encryption_key = vault.keys[vault.active].encryption_key
    nonce = os.urandom(NONCE_BYTES)
    encryptor = Cipher(algorithms.AES(encryption_key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(AAD)
    tmp = source.with_name(f".{source.name}.{os.getpid()}.gsa.tmp")
    try:
        with open(source, "rb") as src, open_private(tmp) as out:
            out.write(MAGIC + vault.active.to_bytes(2, "big") + nonce)
            while chunk := src.read(CHUNK):
                out.write(encryptor.update(chunk))
            out.write(encryptor.finalize() + encryptor.tag)
        storage.put_file(key, tmp, replace=replace)
    finally:
        tmp.unlink(missing_ok=True)


def restore(storage: Storage, key: str, target: BinaryIO, vault: Vault) -> None:
    """Decrypt an archived file into ``target``; raises InvalidTag when it was tampered with."""
    with storage.open(key) as src:
        size = src.seek(0, os.SEEK_END)
        src.seek(0)
        header = src.read(len(MAGIC) + 2 + NONCE_BYTES)
        if header[:4] != MAGIC:
            raise ValueError(f"{key} is not a GreenShield archive file")
        version = int.from_bytes(header[4:6], "big")
        nonce = header[6:]
        src.seek(size - 16)
        tag = src.read(16)
        src.seek(len(header))
        decryptor = Cipher(algorithms.AES(vault.keys[version].encryption_key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(AAD)
        remaining = size - len(header) - 16
        while remaining > 0:
            chunk = src.read(min(CHUNK, remaining))
            remaining -= len(chunk)
            target.write(decryptor.update(chunk))
        target.write(decryptor.finalize())


def reencrypt(storage: Storage, key: str, vault: Vault, workdir: Path) -> None:
    """Re-encrypt one archived file under the vault's active key (key rotation): decrypted to a private
    temporary file in ``workdir``, encrypted again, then put in place of the old object."""
    workdir.mkdir(parents=True, exist_ok=True)
    plain = workdir / f".{Path(key).stem}.{os.getpid()}.plain.tmp"
    try:
        with open_private(plain) as out:
            restore(storage, key, out, vault)
        _encrypt_into(storage, key, plain, vault, replace=True)
    finally:
        plain.unlink(missing_ok=True)
