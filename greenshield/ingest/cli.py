"""``greenshield ingest`` and ``greenshield keys rotate``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from greenshield import db


@click.command("ingest")
@click.argument("outlet_code")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="All-or-nothing: store no row when any row is invalid.")
@with_appcontext
def ingest(outlet_code: str, file: Path, strict: bool) -> None:
    """Ingest a daily-log FILE (CSV, XLSX, JSON Lines) for OUTLET_CODE, as the upload route does.

    Prints the batch summary as JSON on the last line; exits 1 when the batch or file is rejected.
    """
    from greenshield.context import settings
    from greenshield.errors import DomainError, NotFound, exception_message
    from greenshield.ingest.pipeline import upload_daily_log
    from greenshield.ingest.schemas import BatchOut
    from models import Outlet

    try:
        with db.job_session(write=True) as session:
            outlet = session.scalar(select(Outlet).where(Outlet.code == outlet_code.upper()))
            if outlet is None:
                raise NotFound("not_found.outlet", code=outlet_code)
            with open(file, "rb") as stream:
                outcome = upload_daily_log(session, settings(), outlet=outlet, stream=stream, filename=file.name,
                                           strict=strict, source="cli", user=None)
            body = BatchOut().dump(outcome.batch)
    except DomainError as exc:
        message = exception_message(exc)
        details = exc.details or ({exc.field: [message]} if exc.field else {})
        click.echo(json.dumps({"error": {"code": exc.api_code, "message": message, "details": details}},
                              ensure_ascii=False))
        sys.exit(1)
    if not outcome.created:
        click.echo(f"This file was ingested before as batch {body['batch_id']}; nothing new stored.")
    click.echo(json.dumps(body, ensure_ascii=False))
    if body["status"] == "rejected":
        sys.exit(1)


@click.group("keys")
def keys() -> None:
    """Personal-data encryption keys."""


@keys.command("rotate")
@with_appcontext
def rotate() -> None:
    """Make a new key version and re-encrypt and re-index all personal data (and archived files) under it."""
    from greenshield.context import settings, storage
    from greenshield.personal.rotation import rotate_keys

    with db.job_session() as session:
        version, counts = rotate_keys(session, settings().instance_path, storage())
    click.echo(f"Personal-data key version {version} is active; re-encrypted "
               + ", ".join(f"{n} {what}" for what, n in counts.items()) + ".")
