"""gunicorn, started from ``greenshield serve`` with the app factory (each worker builds its own app)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger


class _Server(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from greenshield import create_app

        return create_app()


class _Logger(Logger):
    """gunicorn's own messages go through the root logger (JSON under ``serve``); its access log is off, as the
    app writes one access line per request itself."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            self.error_log.removeHandler(handler)
        self.error_log.propagate = True


def _spool_dir() -> Path:
    from greenshield.config import instance_path_from_env

    return Path(instance_path_from_env()) / "tmp"


def _child_exit(_server, worker) -> None:
    """In the master, after a worker ended however it ended (timeout, kill -9, out of memory): its metrics are
    marked dead and its clear-text spool files removed."""
    from greenshield.uploads import remove_spool_of
    from greenshield.observability import mark_worker_dead

    mark_worker_dead(worker.pid)
    remove_spool_of(_spool_dir(), worker.pid)


def _worker_abort(worker) -> None:
    """In a worker that timed out (SIGABRT), before it exits: remove its spool files at once."""
    from greenshield.uploads import remove_spool_of

    remove_spool_of(_spool_dir(), worker.pid)


def run(*, host: str, port: int, workers: int, timeout: int) -> None:
    print(f"GreenShield listening on http://{host}:{port}/ with {workers} worker(s)", flush=True)
    _Server({"bind": f"{host}:{port}", "workers": workers, "timeout": timeout, "accesslog": None,
             "logger_class": _Logger, "child_exit": _child_exit, "worker_abort": _worker_abort,
             "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None}).run()


@contextmanager
def scheduler_beside() -> Iterator[subprocess.Popen]:
    """``greenshield scheduler`` as a child process for as long as the block runs (the server), then stopped:
    SIGINT (it finishes the job at hand), SIGKILL after 20 s. A Ctrl-C in the terminal reaches both at once."""
    child = subprocess.Popen([sys.executable, "-c", "from greenshield.cli import main; main()", "scheduler"])
    print(f"GreenShield scheduler started beside the server (pid {child.pid})", flush=True)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        print("GreenShield scheduler stopped", flush=True)
