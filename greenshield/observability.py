"""Operations: request ids, structured logs without personal data, and Prometheus metrics at ``/metrics``.

Every request gets an id (``g.request_id``, the ``X-Request-ID`` response header) and one access log line.
Log lines are JSON (or plain text for development) on stderr and never carry personal data: the access line
names the route rule, not the URL, and every line is scrubbed of anything shaped like an ID or mobile number.

Metrics live in this process, or, under ``greenshield serve`` (gunicorn) and ``greenshield scheduler``, in
prometheus_client's multiprocess files in ``instance/metrics/``, so that a scrape of any worker sees the sum
over all workers and the scheduler. Nothing here imports prometheus_client until a metric is used.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import SimpleNamespace

from flask import Blueprint, Flask, Response, current_app, g, has_request_context, request

from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow
from greenshield.context import request_id

ACCESS = logging.getLogger("greenshield.access")
# Anything shaped like a resident ID (18 characters) or a mainland mobile number is masked in every log line.
PII_SHAPES = re.compile(r"(?<![0-9A-Za-z])(?:\d{6}(?:18|19|20)\d{9}[\dXx]|\d{15}|(?:\+?86[- ]?)?1[3-9]\d{9})"
                        r"(?![0-9A-Za-z])")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
INGEST_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

_METRICS_LOCK = threading.Lock()

bp = Blueprint("observability", __name__)


# --- request ids --------------------------------------------------------------------------------------------


def _start_request() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _finish_request(response: Response) -> Response:
    """Answer with the request id, write the access line and observe the latency (runs after every other hook)."""
    response.headers["X-Request-ID"] = request_id()
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    user_id, role = g.get("log_user", (None, None))
    ACCESS.info("%s %s %s", request.method, route, response.status_code, extra={
        "method": request.method, "path": route, "status": response.status_code,
        "duration_ms": round(seconds * 1000, 1), "user_id": user_id, "role": role,
    })
    method = request.method if request.method in HTTP_METHODS else "other"  # clients choose methods: bound them
    metrics().request_seconds.labels(route=route, method=method,
                                     status=f"{response.status_code // 100}xx").observe(seconds)
    return response


def remember_user(response: Response) -> Response:
    """Keep the caller's id and role for the access line while the request's session is still open."""
    user = g.get("user")
    if user is not None:
        g.log_user = (user.id, user.role.value)
    return response


# --- logs ---------------------------------------------------------------------------------------------------


def scrub(text: str) -> str:
    """``text`` with every ID-number-like and mobile-number-like run of digits masked."""
    return PII_SHAPES.sub(lambda m: m.group(0)[:2] + "*" * (len(m.group(0)) - 2), text)


class _RequestFields(logging.Filter):
    """Adds ``request_id`` to every record made while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context() and "request_id" in g:
            record.request_id = g.request_id
        return True


class TextFormatter(logging.Formatter):
    """One readable line per record, for development: time, level, logger, request id, message, extras."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s", "%Y-%m-%dT%H:%M:%SZ",
                         defaults={"request_id": "-"})
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if getattr(record, "duration_ms", None) is not None:
            line += f" {record.duration_ms}ms user={record.user_id} role={record.role}"
        return scrub(line)


def json_formatter() -> logging.Formatter:
    """python-json-logger's formatter: ``timestamp`` (UTC), ``level``, ``logger``, ``message``, extras; scrubbed."""
    from pythonjsonlogger.json import JsonFormatter

    class Scrubbed(JsonFormatter):
        def format(self, record: logging.LogRecord) -> str:
            return scrub(super().format(record))

    return Scrubbed("%(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level", "name": "logger"},
                    timestamp=True, json_ensure_ascii=False)


def log_handler(fmt: str = "json", stream=None) -> logging.Handler:
    """A handler writing records to ``stream`` (stderr) as JSON or text lines, with the request id.

    Raises ValueError for a format other than json or text.
    """
    if fmt not in ("json", "text"):
        raise ValueError(f"GREENSHIELD_LOG_FORMAT must be json or text, not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_RequestFields())
    return handler


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    """Send every log record of this process to stderr, one JSON object (or text line) each.

    Called by the long-running commands (``serve``, ``scheduler``), not by the app factory. Raises ValueError
    for an unknown format.
    """
    handler = log_handler(fmt)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


# --- metrics ------------------------------------------------------------------------------------------------


def metrics() -> SimpleNamespace:
    """The process's metrics, made on first use (after ``use_metrics_folder``, when a command calls it)."""
    with _METRICS_LOCK:  # scheduler jobs finish in several threads
        return _make_metrics()


@cache
def _make_metrics() -> SimpleNamespace:
    from prometheus_client import Counter, Histogram

    return SimpleNamespace(
        request_seconds=Histogram("greenshield_http_request_duration_seconds",
                                  "Time to answer a request, by route rule, method and status class.",
                                  ["route", "method", "status"], buckets=SECONDS_BUCKETS),
        ingest_rows=Counter("greenshield_ingest_rows_total", "Daily-log rows ingested, by outcome and source.",
                            ["outcome", "source"]),
        ingest_batches=Counter("greenshield_ingest_batches_total", "Daily-log batches, by status and source.",
                               ["status", "source"]),
        ingest_seconds=Histogram("greenshield_ingest_duration_seconds",
                                 "Time to ingest one daily-log file (spool, validate, store, screen, recount).",
                                 ["source"], buckets=INGEST_BUCKETS),
        scoring_seconds=Histogram("greenshield_xray_scoring_duration_seconds",
                                  "Time to score one X-ray image with the active model.", buckets=SECONDS_BUCKETS),
        job_runs=Counter("greenshield_scheduler_job_runs_total", "Scheduled job runs, by job id and outcome.",
                         ["job", "outcome"]),
    )


@contextmanager
def ingest_timer(source: str) -> Iterator[None]:
    """Observe how long the block (one daily-log ingest from ``source``: api, web, cli) takes."""
    started = time.perf_counter()
    try:
        yield
    finally:
        metrics().ingest_seconds.labels(source=source).observe(time.perf_counter() - started)


def count_ingest(outcome, source: str) -> None:
    """Count the rows of a newly stored batch (a repeated file counts nothing)."""
    if not outcome.created:
        return
    batch, m = outcome.batch, metrics()
    m.ingest_batches.labels(status=batch.status.value, source=source).inc()
    for name in ("accepted", "rejected", "skipped"):
        m.ingest_rows.labels(outcome=name, source=source).inc(getattr(batch, f"rows_{name}") or 0)


def scoring_timer():
    """A context manager observing the time of one X-ray scoring."""
    return metrics().scoring_seconds.time()


def count_job_run(job: str, outcome: str) -> None:
    metrics().job_runs.labels(job=job, outcome=outcome).inc()


def metrics_folder(instance: str | Path, process: str) -> Path:
    """Where ``process`` ("web" or "scheduler") keeps its multiprocess metric files."""
    return Path(instance) / "metrics" / process


def use_metrics_folder(folder: Path) -> None:
    """Make this process and its children write metrics to ``folder`` (emptied first): multiprocess mode.

    Call before the first metric is used, i.e. before gunicorn forks its workers.
    """
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    if "prometheus_client" in sys.modules:
        from prometheus_client import values
        values.ValueClass = values.get_value_class()


def mark_worker_dead(pid: int) -> None:
    """gunicorn ``child_exit``: drop a dead worker's live gauges (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


class _MergedFolders:
    """The multiprocess metric files of the web workers and of the scheduler, summed."""

    def __init__(self, folders: list[Path]):
        self.folders = folders

    def collect(self):
        from prometheus_client.multiprocess import MultiProcessCollector

        files = sorted(str(f) for folder in self.folders if folder.is_dir() for f in folder.glob("*.db"))
        return MultiProcessCollector.merge(files, accumulate=True)


class _ServerProcesses:
    """``process_*`` metrics of the gunicorn master and each worker, labelled by ``pid``."""

    def collect(self):
        from prometheus_client import Metric, ProcessCollector

        master = os.getppid()
        try:
            pids = [master, *map(int, Path(f"/proc/{master}/task/{master}/children").read_text().split())]
        except OSError:
            pids = [master, os.getpid()]
        for pid in pids:
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():
                labelled = Metric(family.name, family.documentation, family.type)
                for sample in family.samples:
                    labelled.add_sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
                yield labelled


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus text format, summed over every process writing to the metrics folders."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    metrics()
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    registry.register(_MergedFolders([Path(folder), metrics_folder(current_app.config["INSTANCE_PATH"],
                                                                   "scheduler")]))
    registry.register(_ServerProcesses())
    return generate_latest(registry), CONTENT_TYPE_LATEST


def scrape_allowed_by_address() -> bool:
    """Whether this unauthenticated request comes straight from an address listed in ``METRICS_ALLOW``.

    A request that passed a proxy (``Forwarded`` / ``X-Forwarded-For``) never qualifies: behind a reverse proxy
    every caller would seem to come from the proxy's address.
    """
    networks = [n.strip() for n in (current_app.config.get("METRICS_ALLOW") or "").split(",") if n.strip()]
    if not networks or request.headers.get("Authorization") or request.headers.get("Forwarded") \
            or request.headers.get("X-Forwarded-For"):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
        return any(address in ipaddress.ip_network(n, strict=False) for n in networks)
    except ValueError:
        return False


def _scrape_by_address() -> Response | None:
    """``before_request`` ahead of the access policy: a scraper at an allowed address needs no account."""
    if request.endpoint == "observability.metrics" and scrape_allowed_by_address():
        return _metrics_response()
    return None


def _metrics_response() -> Response:
    body, content_type = exposition()
    return Response(body, content_type=content_type)


@bp.route("/metrics", endpoint="metrics")
@allow(Capability.READ_METRICS)
def metrics_view():
    """Prometheus metrics: administrators, or anyone at an address listed in ``GREENSHIELD_METRICS_ALLOW``."""
    return _metrics_response()


def init_app(app: Flask) -> None:
    """Register the request hooks and ``/metrics``. Call first, so that every request has an id before the access
    policy runs and the access line is written after every other hook (``remember_user`` goes last)."""
    app.before_request(_start_request)
    app.before_request(_scrape_by_address)
    app.after_request(_finish_request)
    app.register_blueprint(bp)
