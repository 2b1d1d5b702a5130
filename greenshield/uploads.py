"""Uploaded files on their way in: copied to a private spool file in ``<instance>/tmp`` while hashed and size-limited,
and removed however the process that held them ends."""
from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from greenshield.errors import Invalid
from greenshield.personal import archive
from greenshield.settings import Settings


def sweep_spool(folder: Path) -> None:
    """Remove clear-text spool files left by ingest processes that died (killed, out of memory, power cut)."""
    for path in folder.glob("upload-*-*"):
        try:
            pid = int(path.name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except (ValueError, PermissionError):
            continue


def remove_spool_of(folder: Path, pid: int) -> int:
    """Remove the spool files of process ``pid`` (a gunicorn worker that timed out, was killed or crashed);
    returns how many."""
    removed = 0
    for path in folder.glob(f"upload-{pid}-*"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


@contextlib.contextmanager
def spooled(settings: Settings, stream: BinaryIO) -> Iterator[tuple[Path, str, int]]:
    """The upload copied to a private file in ``<instance>/tmp`` with its SHA-256 and size, removed afterwards."""
    instance = settings.instance_path
    sweep_spool(instance / "tmp")
    spool_path = instance / "tmp" / f"upload-{os.getpid()}-{uuid.uuid4().hex}"
    try:
        try:
            sha256, size = archive.spool(stream, spool_path, max_bytes=settings.max_upload_bytes)
        except archive.TooLarge:
            raise Invalid("too_large.upload", field="file", max_mib=settings.max_upload_bytes // 2**20) from None
        if size == 0:
            raise Invalid("empty_file", field="file")
        yield spool_path, sha256, size
    finally:
        spool_path.unlink(missing_ok=True)
