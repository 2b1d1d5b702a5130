"""Where files live: X-ray images and heat maps, and the encrypted archive of uploaded daily logs.

The app reads and writes objects by key (``xray/images/ab/ab12….png``) through a :class:`Storage`; it never
builds a path itself. :class:`FileSystemStorage` keeps them under a folder (the instance folder by default),
which is what one machine or a shared network volume needs. Several web hosts share one storage; a centre that
wants an object store (S3-compatible) implements the same methods and names it in ``STORAGE_URL`` — the
seam is here, the implementation is not shipped (see docs/scaling.md).
"""
from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from greenshield.settings import Settings

KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
CHUNK = 1 << 20


class MissingObject(FileNotFoundError):
    """No object under that key (a FileNotFoundError, so callers that catch OSError keep working)."""


class Storage(Protocol):
    """Write-once objects by key. Keys are relative, ``/``-separated, of ``[A-Za-z0-9_.-]`` parts."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically, unless an object is there already (content-addressed)."""

    def put_file(self, key: str, source: Path, *, replace: bool = False) -> None:
        """Store the file ``source`` under ``key`` (streamed, atomically); an existing object stays unless
        ``replace`` (re-encryption under a new key)."""

    def get(self, key: str) -> bytes:
        """The object's bytes; raises MissingObject."""

    def open(self, key: str) -> BinaryIO:
        """The object as a readable, seekable binary file (large objects); raises MissingObject."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object if it is there."""

    def keys(self, prefix: str) -> Iterator[str]:
        """The keys that start with ``prefix`` (in no particular order)."""

    def describe(self) -> str:
        """Where the objects are, for operators."""


def check_key(key: str) -> str:
    if not KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"invalid storage key {key!r}")
    return key


class FileSystemStorage:
    """Objects as files under ``root``; writes go to a temporary file, are flushed to disk, then renamed."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        self._write(key, lambda out: out.write(data), replace=False)

    def put_file(self, key: str, source: Path, *, replace: bool = False) -> None:
        def copy(out: BinaryIO) -> None:
            with open(source, "rb") as src:
                shutil.copyfileobj(src, out, CHUNK)
        self._write(key, copy, replace=replace)

    def _write(self, key: str, write, *, replace: bool) -> None:
        path = self.path(key)
        if path.exists() and not replace:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.path(key), "rb")
        except FileNotFoundError:
            raise MissingObject(f"no stored object {key}") from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> Iterator[str]:
        folder, _, start = prefix.rpartition("/")
        base = self.root / check_key(folder) if folder else self.root
        if not base.is_dir():
            return
        for path in base.rglob(f"{start}*" if start else "*"):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(self.root).as_posix()

    def describe(self) -> str:
        return f"file://{self.root}"


def from_url(url: str) -> Storage:
    """A storage from ``STORAGE_URL``: ``file:///absolute/folder`` (the only scheme shipped)."""
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.path:
        return FileSystemStorage(unquote(parts.path))
    raise ValueError(f"STORAGE_URL {url!r}: only file:///absolute/folder is supported by this release")


def of(settings: Settings) -> Storage:
    """The storage the settings name: ``STORAGE_URL``, else the instance folder. One per process and place."""
    return _storage(settings.storage_url, str(settings.instance_path))


@functools.lru_cache(maxsize=8)
def _storage(url: str | None, instance_path: str) -> Storage:
    return from_url(url) if url else FileSystemStorage(instance_path)
