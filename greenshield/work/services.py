"""Background work on Redis (RQ): large daily-log uploads and X-ray imports run in ``greenshield worker``
processes, not inside a web request.

A job is a ``BackgroundJob`` row (the truth: what was asked, by whom, what came of it) plus an RQ job that
carries only its id. The web request keeps the upload encrypted in the storage (``incoming/<id>.gsa``, it may hold
personal data), commits the row, then enqueues. A worker runs the job in its own transaction; a refusal (an
unusable file) ends it as ``failed`` with its code, anything else is retried (RQ ``Retry``; a worker killed
mid-job leaves the job "abandoned", which RQ's registry clean-up retries, and the scheduler runs that clean-up
every minute). Work is idempotent: a daily log's batch is unique per outlet and file, so a retried job never
stores a row twice.

Without ``REDIS_URL`` (the embedded default) nothing is queued: the same work runs inside the request.

Work whose truth is already in the database (an X-ray machine due for calibration) needs no ``BackgroundJob``
row: ``enqueue_task`` hands a worker the function to run, and the scheduler is the safety net for a lost task.
"""
from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from greenshield.personal import archive
from greenshield.personal.keyring import Vault
from greenshield.settings import Settings
from greenshield.storage import Storage
from models import BackgroundJob, JobKind, JobStatus, utcnow

log = logging.getLogger(__name__)
RETRIES = 3  # attempts after the first; a retry is queued at once (an abandoned job, a lost database connection)
JOB_TIMEOUT = 3 * 3600  # seconds a job may run; a 5 M-row log takes well under an hour


def enabled(settings: Settings) -> bool:
    """Whether long work goes to workers (``REDIS_URL`` is set)."""
    return bool(settings.redis_url)


@functools.lru_cache(maxsize=4)
def _connection(url: str):
    from redis import Redis

    return Redis.from_url(url)


def queue(settings: Settings):
    """The RQ queue of this service."""
    from rq import Queue

    return Queue(settings.queue_name, connection=_connection(settings.redis_url), default_timeout=JOB_TIMEOUT)


def input_key(job_id: str) -> str:
    return f"incoming/{job_id}.gsa"


def create(session: Session, store: Storage, vault: Vault, *, kind: JobKind, source: Path, sha256: str, size: int,
           filename: str, user_id: int | None, outlet_id: int | None = None,
           options: dict | None = None) -> BackgroundJob:
    """A queued job whose input is the file ``source``, kept encrypted in the storage. Flushes; the caller
    commits, then calls ``enqueue`` (a worker must find the row)."""
    job = BackgroundJob(id=str(uuid.uuid4()), kind=kind, status=JobStatus.QUEUED, outlet_id=outlet_id,
                        user_id=user_id, filename=filename[:255], size_bytes=size, sha256=sha256,
                        options=options or {}, attempts=0, result={}, error_params={})
    job.input_key = input_key(job.id)
    archive.put_encrypted(store, job.input_key, source, vault)
    session.add(job)
    session.flush()
    return job


RUNNERS = {JobKind.DAILY_LOG: "greenshield.ingest.jobs.run_daily_log_job",
           JobKind.XRAY_IMPORT: "greenshield.xray.jobs.run_import_job"}


def enqueue(settings: Settings, job: BackgroundJob) -> None:
    """Hand a committed job to the workers."""
    from rq import Retry

    queue(settings).enqueue(RUNNERS[job.kind], job.id, job_id=job.id, retry=Retry(max=RETRIES), result_ttl=86400,
                            failure_ttl=7 * 86400)


def enqueue_task(settings: Settings, func: str, *args) -> bool:
    """Hand the workers ``func(*args)`` (text ``"module.function"``), retried like a job. False when Redis cannot be
    reached: the caller's work is recorded in the database and the scheduler picks it up later."""
    from redis.exceptions import RedisError
    from rq import Retry

    try:
        queue(settings).enqueue(func, *args, retry=Retry(max=RETRIES), result_ttl=86400, failure_ttl=7 * 86400)
    except RedisError:
        log.warning("could not queue %s; the scheduler will run it", func, exc_info=True)
        return False
    return True


def progress(done: int) -> None:
    """Record how far the running job has come (rows read), for the job's page; nothing outside a worker."""
    from rq import get_current_job

    current = get_current_job()
    if current is not None:
        current.meta["done"] = done
        current.save_meta()


def progress_of(settings: Settings, job: BackgroundJob) -> int | None:
    """How far a running job has come, as its worker last said (None when unknown)."""
    if not enabled(settings) or job.status is not JobStatus.RUNNING:
        return None
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        return Job.fetch(job.id, connection=_connection(settings.redis_url)).meta.get("done")
    except NoSuchJobError:
        return None


def start(session: Session, job: BackgroundJob) -> bool:
    """Mark the job running (one more attempt); False when it has finished already (a retry of done work)."""
    if job.status in (JobStatus.DONE, JobStatus.FAILED):
        return False
    job.status, job.started_at, job.attempts = JobStatus.RUNNING, utcnow(), job.attempts + 1
    session.flush()
    return True


def finish(session: Session, job: BackgroundJob, *, result: dict | None = None,
           error: tuple[str, dict] | None = None) -> None:
    """End the job as done (with its ``result``) or failed (with an ``error`` code and parameters). Flushes; the
    caller commits, then removes the input (``discard_input``)."""
    job.finished_at = utcnow()
    if error is None:
        job.status, job.result = JobStatus.DONE, result or {}
    else:
        job.status, (job.error_code, job.error_params) = JobStatus.FAILED, error
    session.flush()


def discard_input(store: Storage, job_id: str) -> None:
    store.delete(input_key(job_id))


def clean_abandoned(settings: Settings) -> int:
    """Retry (or fail) the jobs of workers that died mid-job: RQ's clean-up of the started-job registry, run by
    the scheduler every minute so that a killed worker's job does not wait for another worker's hourly one."""
    if not enabled(settings):
        return 0
    from rq.registry import StartedJobRegistry

    registry = StartedJobRegistry(queue=queue(settings))
    before = registry.count
    registry.cleanup()
    return before - registry.count


def run(job_id: str, work: Callable[[Session, Settings, Storage, BackgroundJob], dict]) -> str:
    """Run a job in the worker: ``work(session, settings, storage, job)`` returns the result; a DomainError ends
    the job as failed with its code; anything else propagates (RQ retries). Returns the job's status."""
    from greenshield import db
    from greenshield.context import settings_of
    from greenshield.jobs import job_app
    from greenshield.storage import of as storage_of
    from models.errors import DomainError

    app = job_app()
    settings = settings_of(app)
    store = storage_of(settings)
    status = JobStatus.DONE
    with app.app_context():
        with db.job_session(write=True) as session:
            job = session.get(BackgroundJob, job_id)
            if job is None or not start(session, job):
                return job.status.value if job else "missing"
        try:
            with db.job_session(write=True) as session:
                job = session.get(BackgroundJob, job_id)
                finish(session, job, result=work(session, settings, store, job))
        except DomainError as exc:
            with db.job_session(write=True) as session:
                finish(session, session.get(BackgroundJob, job_id), error=(exc.code, exc.params))
            log.info("background job %s refused: %s", job_id, exc.code)
            status = JobStatus.FAILED
    discard_input(store, job_id)
    return status.value


def retry_abandoned() -> int:
    """Every minute (scheduler): retry the jobs of workers that died mid-job; nothing without workers."""
    from greenshield.context import settings_of
    from greenshield.jobs import job_app

    return clean_abandoned(settings_of(job_app()))
