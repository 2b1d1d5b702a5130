"""Where files live: X-ray images and heat maps, audit photos, and the encrypted archive of uploaded daily logs.

The app reads and writes objects by key (``xray/images/ab/ab12….png``) through a :class:`Storage`; it never
builds a path itself. ``STORAGE_URL`` chooses the implementation:

- :class:`FileSystemStorage` (``file:///folder``, default: the instance folder) — one machine, or a shared
  network volume;
- :class:`S3Storage` (``s3://bucket/prefix``) — an S3-compatible object store (MinIO, Ceph RGW, a cloud's), which
  several web hosts and workers share; server-side encryption on every object (see docs/operations.md).

An unreachable store raises :class:`StorageUnavailable` (HTTP 503): the request's database work is rolled back,
so nothing is half-written.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from greenshield.settings import Settings
from models.errors import DomainError

KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
CHUNK = 1 << 20


class MissingObject(FileNotFoundError):
    """No object under that key (a FileNotFoundError, so callers that catch OSError keep working)."""


class StorageUnavailable(DomainError):
    """The store cannot be reached or refuses the service's credentials; nothing was stored."""

    code = "storage_unavailable"


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


class S3Storage:
    """Objects in an S3-compatible bucket, under ``prefix``: written once (a content-addressed key that exists
    is left alone), server-side encrypted (``sse``, default ``AES256``), large files in multipart uploads, large
    reads spooled to a local temporary file."""

    MULTIPART_BYTES = 64 * 2**20
    SPOOL_BYTES = 16 * 2**20

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None, sse: str | None = "AES256",
                 connect_timeout: float = 5.0):
        import boto3  # deferred: the file-system default never loads it
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(connect_timeout=connect_timeout, read_timeout=60, signature_version="s3v4",
                          retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"}))
        self.extra = {"ServerSideEncryption": sse} if sse else {}

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    @contextlib.contextmanager
    def _calling(self, key: str | None = None) -> Iterator[None]:
        """Turn the client's failures into the storage's: MissingObject, StorageUnavailable."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if key is not None and code in ("NoSuchKey", "404", "NotFound"):
                raise MissingObject(f"no stored object {key}") from None
            raise StorageUnavailable("storage_unavailable.refused", reason=code or "error") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable("storage_unavailable", reason=type(exc).__name__) from exc

    def put(self, key: str, data: bytes) -> None:
        if self.exists(key):
            return
        with self._calling():
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **self.extra)

    def put_file(self, key: str, source: Path, *, replace: bool = False) -> None:
        from boto3.s3.transfer import TransferConfig

        if not replace and self.exists(key):
            return
        config = TransferConfig(multipart_threshold=self.MULTIPART_BYTES, multipart_chunksize=16 * 2**20,
                                use_threads=False)
        with self._calling():  # a failed multipart upload is aborted: no partial object remains
            self.client.upload_file(str(source), self.bucket, self._key(key), ExtraArgs=self.extra, Config=config)

    def get(self, key: str) -> bytes:
        with self._calling(key):
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def open(self, key: str) -> BinaryIO:
        stream = tempfile.SpooledTemporaryFile(max_size=self.SPOOL_BYTES)
        try:
            with self._calling(key):
                self.client.download_fileobj(self.bucket, self._key(key), stream)
        except BaseException:
            stream.close()
            raise
        stream.seek(0)
        return stream

    def exists(self, key: str) -> bool:
        try:
            with self._calling(key):
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except MissingObject:
            return False
        return True

    def delete(self, key: str) -> None:
        with self._calling():
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self, prefix: str) -> Iterator[str]:
        with self._calling():
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                        Prefix=self.prefix + prefix)
            for page in pages:
                for item in page.get("Contents", ()):
                    yield item["Key"][len(self.prefix):]

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"


def from_settings(settings: Settings) -> Storage:
    """The storage ``STORAGE_URL`` names: ``file:///absolute/folder``, ``s3://bucket/prefix`` (with the
    ``STORAGE_S3_*`` settings), or, when it is not set, the instance folder."""
    url = settings.storage_url
    if not url:
        return FileSystemStorage(settings.instance_path)
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.path:
        return FileSystemStorage(unquote(parts.path))
    if parts.scheme == "s3" and parts.netloc:
        return S3Storage(parts.netloc, unquote(parts.path), endpoint_url=settings.storage_s3_endpoint_url,
                         region=settings.storage_s3_region, access_key=settings.storage_s3_access_key,
                         secret_key=settings.storage_s3_secret_key, sse=settings.storage_s3_sse or None,
                         connect_timeout=settings.storage_s3_connect_timeout)
    raise ValueError(f"STORAGE_URL {url!r}: use file:///absolute/folder or s3://bucket/prefix")


def of(settings: Settings) -> Storage:
    """The storage the settings name (``from_settings``), one per process and configuration."""
    return _storage(settings)


@functools.lru_cache(maxsize=8)
def _storage(settings: Settings) -> Storage:
    return from_settings(settings)
