"""Content-addressed, encrypted archive of uploaded files in the instance folder.

Each file is stored once under ``archive/<sha[:2]>/<sha>.gsa`` as ``GSA1 | key version | nonce | AES-GCM
ciphertext | tag``, streamed in chunks, so a file of any size is never held in memory.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from greenshield.pii import NONCE_BYTES, Vault

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
        with _open_private(target) as out:
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


def _open_private(path: Path) -> BinaryIO:
    """Open ``path`` for writing, readable by the owner only from the moment it exists (it holds clear text)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def archive_path(root: Path, sha256: str) -> Path:
    return root / "archive" / sha256[:2] / f"{sha256}.gsa"


def store(root: Path, sha256: str, source: Path, vault: Vault) -> Path:
    """Encrypt ``source`` into the archive under its SHA-256, unless it is there already."""
    path = archive_path(root, sha256)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    key = vault.keys[vault.active].encryption_key
    nonce = os.urandom(NONCE_BYTES)
    encryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(AAD)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(source, "rb") as src, open(tmp, "wb") as out:
        out.write(MAGIC + vault.active.to_bytes(2, "big") + nonce)
        while chunk := src.read(CHUNK):
            out.write(encryptor.update(chunk))
        out.write(encryptor.finalize() + encryptor.tag)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return path


def restore(path: Path, target: BinaryIO, vault: Vault) -> None:
    """Decrypt an archived file into ``target``; raises InvalidTag when it was tampered with."""
    size = path.stat().st_size
    with open(path, "rb") as src:
        header = src.read(len(MAGIC) + 2 + NONCE_BYTES)
        if header[:4] != MAGIC:
            raise ValueError(f"{path} is not a GreenShield archive file")
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


def reencrypt(path: Path, vault: Vault) -> None:
    """Re-encrypt one archived file under the vault's active key (key rotation)."""
    tmp_plain = path.with_suffix(".plain.tmp")
    try:
        with _open_private(tmp_plain) as plain:
            restore(path, plain, vault)
        path_new = path.with_suffix(".new")
        shutil.move(path, path_new)
        try:
            sha = path.stem
            store(path.parents[2], sha, tmp_plain, vault)
        except BaseException:
            shutil.move(path_new, path)
            raise
        path_new.unlink()
    finally:
        tmp_plain.unlink(missing_ok=True)
