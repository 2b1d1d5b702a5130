"""``greenshield incidents ...``: the daily safety report for operators."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from greenshield import db


@click.group("incidents")
def incidents() -> None:
    """Safety incidents and the daily safety report."""


@incidents.command("daily-report")
@click.option("--region", default="150000", show_default=True, help="GB/T 2260 code of the region")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="the day (default: yesterday)")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the printable report (A4 PDF) here")
@with_appcontext
def daily_report(region: str, day: dt.datetime | None, pdf_path: Path | None) -> None:
    """Print a region's daily safety report as JSON (and write its PDF)."""
    from greenshield.context import settings_of
    from greenshield.incidents import report as daily
    from greenshield.incidents.documents import render_daily_report
    from greenshield.incidents.schemas import DailyReportOut
    from models import Region

    settings = settings_of(current_app)
    with db.job_session(write=False) as session:
        found = session.get(Region, region)
        if found is None:
            raise click.ClickException(f"no region {region}")
        built = daily.build(session, found, day.date() if day else daily.yesterday(), settings)
        if pdf_path is not None:
            pdf_path.write_bytes(render_daily_report(built, settings))
        click.echo(json.dumps(DailyReportOut().dump(built), ensure_ascii=False))


@incidents.command("send-daily-reports")
@with_appcontext
def send_daily_reports() -> None:
    """Send yesterday's daily safety reports now (what the scheduler does each morning; once a day)."""
    from greenshield.incidents.jobs import send_daily_reports as send
    from greenshield.jobs import bind

    bind(current_app._get_current_object())
    click.echo(json.dumps({"regions": send()}))
