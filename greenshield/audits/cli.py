"""``greenshield audits ...`` and ``greenshield scheduler``."""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from greenshield import db


@click.group("audits")
def audits() -> None:
    """Audit plans and the daily audit duties."""


@audits.command("verify-draw")
@click.argument("plan_id", type=int)
@with_appcontext
def verify_draw(plan_id: int) -> None:
    """Re-run plan PLAN_ID's draw from its stored inputs and seed; exit 1 when it does not give the same audits."""
    from audits.errors import NotFound
    from audits.plans import verify_plan
    from greenshield.errors import exception_message

    try:
        with db.job_session() as session:
            ok, differences = verify_plan(session, plan_id)
    except NotFound as exc:
        raise click.ClickException(exception_message(exc)) from None
    click.echo(json.dumps({"plan_id": plan_id, "reproducible": ok, "differences": differences}))
    if not ok:
        sys.exit(1)


@audits.command("run-daily")
@with_appcontext
def run_daily() -> None:
    """Run today's audit duties now: follow-ups at deadlines, overdue orders, targeted audits."""
    from greenshield.jobs import bind, daily_audit_duties

    bind(current_app._get_current_object())
    click.echo(json.dumps(daily_audit_duties()))


@click.command("scheduler")
@with_appcontext
def scheduler() -> None:
    """Run the scheduler: recurring audit draws and the periodic jobs, stored in the database.

    Run exactly one per installation (a second one does no harm: each firing is claimed once in the database).
    """
    import os

    from greenshield.scheduler import run

    os.umask(0o077)  # checkpoints' lock, metric files: the service's user alone
    run(current_app._get_current_object())
