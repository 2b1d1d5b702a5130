"""The ``greenshield`` command: database, demo data, accounts, the web server, and each feature's verbs."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext

from greenshield import create_app
from models import Role


main = FlaskGroup(
    create_app=create_app, add_version_option=False, name="greenshield",
    help="GreenShield: delivery-channel security back office (绿盾).\n\n"
         "Configuration comes from DATABASE_URL, GREENSHIELD_INSTANCE and GREENSHIELD_SECRET_KEY.",
)
"""The ``greenshield`` console script; the commands themselves are registered on each app by ``register``."""


def register(app) -> None:
    """Add the core commands to ``app.cli`` (features add theirs the same way)."""
    from greenshield.audits.cli import audits, scheduler
    from greenshield.incidents.cli import incidents
    from greenshield.ingest.cli import ingest, keys
    from greenshield.partitions import db_cli
    from greenshield.trace.cli import access_log, trace
    from greenshield.work.cli import worker
    from greenshield.xray.cli import xray

    for command in (init_db, seed_demo, users, serve, backup_cmd, restore_cmd, ingest, keys, audits, scheduler, xray,
                    access_log, trace, worker, incidents):
        app.cli.add_command(command)
    app.cli.add_command(db_cli)


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Migrate the database to the newest schema and load the reference data (safe to run again).

    Makes the instance folder (0700) when it does not exist yet."""
    from greenshield import db, migrate

    os.umask(0o077)
    prepare_database(current_app)
    click.echo(f"Database ready at revision {migrate.current_revision(db.database().engine)}; reference data loaded.")


def prepare_database(app) -> None:
    """Migrate to head, load reference data, make the personal-data keys and register the default X-ray model."""
    from greenshield import db, migrate
    from greenshield.config import ensure_instance_folder
    from greenshield.personal import ensure_key_state
    from greenshield.context import settings_of
    from greenshield.reference import load_reference_data
    from greenshield.xray.services import ensure_default_model

    settings = settings_of(app)
    ensure_instance_folder(settings.instance_path)
    migrate.upgrade(app.extensions[db.EXTENSION].engine)
    with app.app_context(), db.job_session() as session:
        load_reference_data(session)
        ensure_key_state(session, settings.instance_path)
        ensure_default_model(session, settings)


@click.command("seed-demo")
@click.option("--days", default=28, show_default=True, help="How many days of collection logs to generate.")
@click.option("--seed", default=2026, show_default=True, help="Random seed, so the demo is reproducible.")
@with_appcontext
def seed_demo(days: int, seed: int) -> None:
    """Fill the database with a believable demo province and print one account of each role."""
    from greenshield import db
    from greenshield.context import settings
    from greenshield.demo import seed_demo_province

    with db.job_session() as session:
        accounts = seed_demo_province(session, settings(), days=days, seed=seed)
    click.echo("Demo accounts (for evaluation only; change or deactivate them in production):")
    for username, role, password in accounts:
        click.echo(f"  {username:<12} {role:<15} {password}")


@click.group()
def users() -> None:
    """Manage accounts and API tokens."""


@users.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--outlet", "outlets", multiple=True, help="Outlet code (outlet managers; repeat for several).")
@click.option("--region", help="GB/T 2260 region code (inspectors: 150000 for the whole province).")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--agency", help="Agency of an investigator (e.g. 呼和浩特市公安局).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
@with_appcontext
def users_create(username, role, outlets, region, display_name, agency, password_stdin) -> None:
    """Create the account USERNAME with a role and its scope."""
    from greenshield import db
    from greenshield.auth.services import create_user
    from greenshield.errors import DomainError, exception_message

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with db.job_session() as session:
            create_user(session, username=username, password=password, role=Role(role), region_code=region,
                        outlet_codes=[o.upper() for o in outlets], display_name=display_name, agency=agency)
    except DomainError as exc:
        raise click.ClickException(exception_message(exc)) from None
    click.echo(f"Created {role} {username}.")


@users.command("token")
@click.argument("username")
@click.option("--days", default=30, show_default=True, help="Days until the token expires (1 to TOKEN_MAX_DAYS, 90).")
@with_appcontext
def users_token(username, days) -> None:
    """Issue a bearer token for USERNAME; the token is the last line printed."""
    from sqlalchemy import select

    from greenshield import db
    from greenshield.auth.services import issue_token
    from greenshield.context import settings_of
    from greenshield.errors import DomainError, exception_message
    from models import User

    try:
        with db.job_session() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None or not user.active:
                raise click.ClickException(f"No active user {username}.")
            token, plain = issue_token(session, user, days=days, max_days=settings_of(current_app).token_max_days)
            expires = token.expires_at
    except DomainError as exc:
        raise click.ClickException(exception_message(exc)) from None
    click.echo(f"Token for {username}, expires {expires:%Y-%m-%d %H:%M} UTC:")
    click.echo(plain)


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_cmd(target: Path) -> None:
    """Write a consistent copy of the database to TARGET while the service runs (keys are not included)."""
    from greenshield.backup import BackupError, backup

    try:
        backup(current_app.config["DATABASE_URL"], target)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backup written to {target} ({target.stat().st_size} bytes). Back up instance/keys separately.")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_cmd(source: Path, yes: bool) -> None:
    """Replace the database with the backup SOURCE. Stop the web workers and the scheduler first."""
    from greenshield.backup import BackupError, restore

    if not yes:
        click.confirm("This replaces every row of the database with the backup. Continue?", abort=True)
    try:
        restore(current_app.config["DATABASE_URL"], source)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Database restored from {source}.")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="gunicorn worker processes.")
@click.option("--timeout", default=300, show_default=True, help="Seconds a worker may take for one request (large uploads).")
@click.option("--plain-http", is_flag=True, help="Serve plain HTTP on purpose (a laptop demo, no TLS proxy in front): "
              "session cookies without the Secure flag. Sets GREENSHIELD_PLAIN_HTTP=1.")
@click.option("--with-scheduler", is_flag=True,
              help="Also run the scheduler (`greenshield scheduler`) as a child process, stopped with the server: "
                   "one command for a demo or a single-machine installation.")
def serve(host, port, workers, timeout, plain_http, with_scheduler) -> None:
    """Serve the web UI and API with gunicorn (the production WSGI server).

    Logs are JSON lines on stderr (GREENSHIELD_LOG_FORMAT=text for development); the workers' metrics are
    summed in instance/metrics/web, emptied at start. Session cookies are Secure (HTTPS only) unless
    --plain-http is given. Clear spool files of dead ingests are swept at start. With --with-scheduler the
    scheduler runs beside it and stops when the server stops (Ctrl-C, SIGTERM).
    """
    from greenshield import observability
    from greenshield.config import PLAIN_HTTP
    from greenshield.server import run, scheduler_beside
    from greenshield.uploads import sweep_spool

    os.umask(0o077)
    if plain_http:
        os.environ[PLAIN_HTTP] = "1"

    config = click.get_current_context().ensure_object(ScriptInfo).load_app().config
    observability.configure_logging(config["LOG_FORMAT"] or "json", config["LOG_LEVEL"])
    observability.use_metrics_folder(observability.metrics_folder(config["INSTANCE_PATH"], "web"))
    sweep_spool(Path(config["INSTANCE_PATH"]) / "tmp")
    if not with_scheduler:
        run(host=host, port=port, workers=workers, timeout=timeout)
        return
    with scheduler_beside():
        run(host=host, port=port, workers=workers, timeout=timeout)
