"""``greenshield access-log verify|checkpoint`` and ``greenshield trace verify-export``."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from greenshield import db
from greenshield.context import settings

DIR = click.Path(file_okay=False, path_type=Path)
KEY = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("access-log")
def access_log() -> None:
    """The tamper-evident access log of traceability queries."""


def _checkpoints(given: Path | None) -> Path:
    return given or settings().checkpoints_dir


@access_log.command("verify")
@click.option("--checkpoints", type=DIR, help="Checkpoint folder (default: <instance>/access-log/checkpoints).")
@click.option("--public-key", type=KEY, help="Checkpoint public key (default: ACCESS_LOG_PUBLIC_KEY, else the one "
              "beside the signing key).")
@with_appcontext
def verify(checkpoints: Path | None, public_key: Path | None) -> None:
    """Check every entry's hash and link, every signed checkpoint and their order, and the head against the
    newest checkpoint; exit 1 naming the first bad entry."""
    from greenshield.trace import accesslog
    from greenshield.trace.services import verifying_key_path

    key_path = public_key or verifying_key_path(settings())
    key = accesslog.load_public_key(key_path) if key_path.exists() else None
    if public_key is None and not settings().access_log_public_key:
        click.echo("warning: verifying with the public key beside the signing key; set ACCESS_LOG_PUBLIC_KEY to "
                   "the auditors' copy kept outside the instance folder (see docs/operations.md)", err=True)
    folder = _checkpoints(checkpoints)
    with db.job_session() as session:
        result = accesslog.verify(session, folder, key)
    if key is None and result.checkpoints:
        click.echo(f"warning: no public key at {key_path}; checkpoint signatures were not checked", err=True)
    if not result.ok:
        click.echo(f"Access log FAILED verification: first bad entry is seq {result.first_bad_seq}: {result.reason}")
        click.echo(f"({result.entries} entries verified before it; {result.checkpoints} checkpoints in {folder})")
        sys.exit(1)
    click.echo(f"Access log intact: {result.entries} entries (last seq {result.last_seq}), "
               f"{result.checkpoints} checkpoints in {folder}; {result.uncovered} newest entries not yet covered "
               "by a checkpoint.")


@access_log.command("checkpoint")
@click.option("--checkpoints", type=DIR, help="Checkpoint folder (default: <instance>/access-log/checkpoints).")
@with_appcontext
def checkpoint(checkpoints: Path | None) -> None:
    """Sign the newest entry into a checkpoint file now (the scheduler does it every few minutes)."""
    from greenshield.trace import accesslog

    with db.job_session() as session:
        point = accesslog.write_checkpoint(session, _checkpoints(checkpoints),
                                           accesslog.signing_key_at(settings().signing_key_path))
    if point is None:
        click.echo("The access log is empty; no checkpoint written.")
    else:
        click.echo(f"Checkpoint of entry {point.seq} ({point.entry_hash}) in {point.path}")


@click.group("trace")
def trace() -> None:
    """Traceability: evidence exports."""


@trace.command("verify-export")
@click.argument("zip_file", type=KEY)
@click.option("--public-key", type=KEY, help="Key the manifest is signed with (default: this instance's).")
@with_appcontext
def verify_export(zip_file: Path, public_key: Path | None) -> None:
    """Check an evidence export: every file against the manifest's SHA-256 sums, and the manifest's signature."""
    from greenshield.trace import accesslog
    from greenshield.trace.export import verify_export as check

    from greenshield.trace.services import verifying_key_path

    key_path = public_key or verifying_key_path(settings())
    key = accesslog.load_public_key(key_path) if key_path.exists() else None
    problems = check(zip_file, key)
    for problem in problems:
        click.echo(f"FAIL {problem}")
    if problems:
        sys.exit(1)
    click.echo(f"{zip_file.name}: every file matches the manifest" +
               ("; the manifest's signature holds." if key else "; no public key, signature not checked."))
