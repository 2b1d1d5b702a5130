"""``greenshield worker``: the process that runs queued long work."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then stop (for tests and one-off catch-ups).")
@with_appcontext
def worker(burst: bool) -> None:
    """Run queued uploads and X-ray imports (needs REDIS_URL). Run as many as the cores allow, on any host that
    shares the database, the storage and Redis."""
    from rq import Worker

    from greenshield.context import settings
    from greenshield.jobs import bind
    from greenshield.work import services

    if not services.enabled(settings()):
        raise click.ClickException("REDIS_URL is not set: without workers, uploads and imports run in the web "
                                   "request itself.")
    bind(current_app._get_current_object())
    services.clean_abandoned(settings())  # jobs of a worker that died are retried now, not in an hour
    Worker([services.queue(settings())], connection=services.queue(settings()).connection).work(burst=burst)
