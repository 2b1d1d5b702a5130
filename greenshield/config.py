"""Configuration: defaults, then the environment, then the instance folder, then a test override."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from greenshield.settings import Settings


class FlaskDefaults:
    """Flask's and the extensions' own keys; the service's own settings are ``greenshield.settings.Settings``."""

    SECRET_KEY: str | None = None
    DATABASE_URL: str | None = None
    DATABASE_REPLICA_URL: str | None = None  # a read replica for dashboards and traces (PostgreSQL streaming)
    SQLALCHEMY_ECHO = False
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True  # off only with GREENSHIELD_PLAIN_HTTP=1 (serve --plain-http, the demo)
    RATELIMIT_STORAGE_URI = "memory://"  # one count per worker; redis://host:6379/0 shares it (production)
    RATELIMIT_HEADERS_ENABLED = True
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = 256 * 2**20
    API_TITLE = "GreenShield"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    LOG_FORMAT: str | None = None  # json | text; None: json under serve and scheduler
    LOG_LEVEL = "INFO"
    METRICS_ALLOW = ""  # addresses or networks that may scrape /metrics without an account, comma-separated


ENV_KEYS = {
    "DATABASE_URL": "DATABASE_URL",
    "DATABASE_REPLICA_URL": "DATABASE_REPLICA_URL",
    "GREENSHIELD_STORAGE_URL": "STORAGE_URL",
    "GREENSHIELD_S3_ENDPOINT_URL": "STORAGE_S3_ENDPOINT_URL",
    "GREENSHIELD_S3_REGION": "STORAGE_S3_REGION",
    "GREENSHIELD_S3_ACCESS_KEY": "STORAGE_S3_ACCESS_KEY",
    "GREENSHIELD_S3_SECRET_KEY": "STORAGE_S3_SECRET_KEY",
    "GREENSHIELD_S3_SSE": "STORAGE_S3_SSE",
    "GREENSHIELD_SECRET_KEY": "SECRET_KEY",
    "REDIS_URL": "REDIS_URL",
    "GREENSHIELD_REDIS_URL": "REDIS_URL",
    "GREENSHIELD_XRAY_DEFAULT_MODEL": "XRAY_DEFAULT_MODEL_DIR",
    "XRAY_FALSE_FLAG_BUDGET": "XRAY_FALSE_FLAG_BUDGET",
    "XRAY_CALIBRATION_MIN_SCANS": "XRAY_CALIBRATION_MIN_SCANS",
    "XRAY_CALIBRATION_MAX_SCANS": "XRAY_CALIBRATION_MAX_SCANS",
    "GREENSHIELD_LOG_FORMAT": "LOG_FORMAT",
    "GREENSHIELD_LOG_LEVEL": "LOG_LEVEL",
    "GREENSHIELD_METRICS_ALLOW": "METRICS_ALLOW",
    "GREENSHIELD_RATELIMIT_STORAGE_URI": "RATELIMIT_STORAGE_URI",
    "GREENSHIELD_TRUSTED_PROXIES": "TRUSTED_PROXIES",
    "GREENSHIELD_ACCESS_LOG_CHECKPOINTS": "ACCESS_LOG_CHECKPOINTS",
    "GREENSHIELD_ACCESS_LOG_SIGNING_KEY": "ACCESS_LOG_SIGNING_KEY",
    "GREENSHIELD_ACCESS_LOG_PUBLIC_KEY": "ACCESS_LOG_PUBLIC_KEY",
}
PLAIN_HTTP = "GREENSHIELD_PLAIN_HTTP"  # "1": the operator serves plain HTTP on purpose (no Secure cookie)


def load_config(app, override: dict | None) -> None:
    """Fill ``app.config`` in order: defaults, environment, instance ``config.py``, ``override``.

    The instance folder comes from ``GREENSHIELD_INSTANCE`` (default ``./instance``). When no secret key is
    configured one is generated once and kept in the instance folder, so sessions survive restarts.
    """
    app.config.from_object(FlaskDefaults)
    app.config.from_mapping(Settings.defaults())
    for env, key in ENV_KEYS.items():
        if os.environ.get(env):
            app.config[key] = os.environ[env]
    if os.environ.get(PLAIN_HTTP) == "1":
        app.config["SESSION_COOKIE_SECURE"] = False
    app.config.from_pyfile("config.py", silent=True)
    if override:
        app.config.update(override)
    instance = Path(app.instance_path)
    app.config.setdefault("INSTANCE_PATH", str(instance))
    if not app.config.get("DATABASE_URL"):
        ensure_instance_folder(instance)
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'greenshield.db'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance)


def instance_path_from_env() -> str:
    """The instance folder as an absolute path."""
    return str(Path(os.environ.get("GREENSHIELD_INSTANCE", "instance")).resolve())


def ensure_instance_folder(instance: Path) -> None:
    """Make the instance folder (and its parents) when missing; the folder itself is private (0700)."""
    if not instance.is_dir():
        instance.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(instance, 0o700)


def _instance_secret(instance: Path) -> str:
    ensure_instance_folder(instance)
    path = instance / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
