"""gunicorn, started from ``greenshield serve`` with the app factory (each worker builds its own app)."""
from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication


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


def run(*, host: str, port: int, workers: int, timeout: int) -> None:
    print(f"GreenShield listening on http://{host}:{port}/ with {workers} worker(s)", flush=True)
    _Server({"bind": f"{host}:{port}", "workers": workers, "timeout": timeout, "accesslog": "-",
             "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None}).run()
