"""The service's own settings, typed: the one home of their names, defaults and meaning.

``create_app`` builds a :class:`Settings` once from ``app.config`` (defaults here → environment → instance
``config.py`` → test override, see ``greenshield.config``) and services take it as an argument, so that they
never read ``current_app``. Flask's and the extensions' own keys (sessions, CSRF, rate-limit storage, OpenAPI)
stay in ``greenshield.config.FlaskDefaults``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Every setting of the service's own rules; in ``app.config`` under the upper-case name."""

    instance_path: Path = Path("instance")
    storage_url: str | None = None  # where files live: file:///folder (default: the instance folder), s3://bucket/prefix
    storage_s3_endpoint_url: str | None = None  # an S3-compatible endpoint (MinIO, Ceph RGW); None: AWS
    storage_s3_region: str | None = None
    storage_s3_access_key: str | None = None  # None: boto3's own chain (AWS_ACCESS_KEY_ID, ~/.aws, a role)
    storage_s3_secret_key: str | None = None
    storage_s3_sse: str = "AES256"  # server-side encryption of every object ("aws:kms" where the store has KMS)
    storage_s3_connect_timeout: float = 5.0  # seconds; an unreachable store fails fast (HTTP 503), nothing is kept
    # background work (RQ on Redis); without redis_url, long work runs inside the request
    redis_url: str | None = None
    queue_name: str = "greenshield"
    queue_upload_bytes: int = 8 * 2**20  # daily logs larger than this go to a worker (when redis_url is set)
    # daily logs
    max_upload_bytes: int = 256 * 2**20
    ingest_parallel_bytes: int = 4 * 2**20  # larger daily logs are read and sealed by a second process
    real_name_threshold: float = 0.998
    inspection_threshold: float = 0.998
    xray_threshold: float = 0.998
    screening_names_per_id: int = 3
    screening_outlets_per_id: int = 3
    screening_items_per_id: int = 20
    screening_sequential_run: int = 3
    # X-ray screening
    xray_max_image_bytes: int = 64 * 2**20
    xray_max_pixels: int = 40_000_000
    xray_retention_days: int = 30
    xray_default_model_dir: str | None = None
    xray_false_flag_budget: float = 0.03  # share of clean scans an operating threshold may flag
    xray_calibration_min_scans: int = 200  # a machine's own threshold needs this many eligible recent scans
    xray_calibration_max_scans: int = 1000  # ... and is chosen on at most this many, the most recent
    xray_verify_before_hours: float = 1  # a scan this long before the collection verifies the record ...
    xray_verify_after_hours: float = 72  # ... and this long after it
    xray_review_sla_hours: float = 4  # a flagged event not reviewed within this opens xray_review_overdue
    # traceability
    trace_rate_limit: str = "60 per minute"
    trace_max_results: int = 1000
    watchlist_webhook_url: str | None = None
    access_log_checkpoints: str | None = None  # folder of signed checkpoints (default: in the instance folder)
    access_log_checkpoint_every: int = 100  # a checkpoint after every N entries ...
    access_log_checkpoint_minutes: int = 10  # ... and every M minutes when entries were added
    access_log_signing_key: str | None = None  # Ed25519 private key file (default: <instance>/keys/)
    access_log_public_key: str | None = None  # the verifying key, kept outside the instance folder (the anchor)
    # audits
    audit_coverage_target: float = 0.05
    audit_targeted_consecutive_days: int = 3
    audit_inspectors_per_audit: int = 2
    audit_daily_capacity: int = 2  # audits an inspector takes a day
    # enforcement documents (责令限期改正通知书, 行政处罚决定书)
    enforcement_authority: str = "内蒙古自治区邮政管理局"
    document_prefix: str = "内邮"  # 内邮责改〔2026〕第12号
    # safety incidents (应急): hours from the incident to its first report, per grade (I gravest)
    incident_report_hours_i: int = 1
    incident_report_hours_ii: int = 2
    incident_report_hours_iii: int = 4
    incident_report_hours_iv: int = 24
    incident_webhook_url: str | None = None  # told of new incidents, escalations and the daily safety report
    daily_report_hour: int = 7  # China time at which the scheduler sends yesterday's daily safety report
    # sign-in
    login_rate_limit: str = "20 per minute"
    login_free_failures: int = 5  # failures of one account from one address before back-off starts
    login_address_free_failures: int = 20  # failures from one address, any accounts
    login_account_free_failures: int = 10  # failures of one account, any addresses
    login_backoff_max_seconds: int = 900  # the longest wait of one address (alone or for one account)
    login_account_max_seconds: int = 60  # the longest wait of an account from anywhere: never a lock-out
    login_alert_failures: int = 20  # failures of one account that notify the administrators
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    token_max_days: int = 90  # the longest validity of a bearer token
    # web
    trusted_proxies: int = 0  # reverse proxies in front that set X-Forwarded-For/-Proto/-Host (ProxyFix)

    @classmethod
    def from_config(cls, config: Mapping) -> Settings:
        """The settings of an app's configuration (missing keys keep their defaults)."""
        values = {f.name: config[f.name.upper()] for f in fields(cls) if f.name.upper() in config}
        for f in fields(cls):  # numbers given as text (the environment) become numbers
            if isinstance(values.get(f.name), str) and isinstance(f.default, (int, float)):
                values[f.name] = type(f.default)(values[f.name])
        values["instance_path"] = Path(config["INSTANCE_PATH"])
        return cls(**values)

    @classmethod
    def defaults(cls) -> dict[str, object]:
        """The defaults as ``app.config`` keys."""
        return {f.name.upper(): f.default for f in fields(cls) if f.name != "instance_path"}

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def thresholds(self) -> dict[str, float]:
        """The threshold of each rate (``real_name``, ``inspection``, ``xray``): under it, an alert."""
        return {"real_name": self.real_name_threshold, "inspection": self.inspection_threshold,
                "xray": self.xray_threshold}

    @property
    def incident_report_hours(self) -> dict:
        """The hours allowed for an incident's first report, per grade (``IncidentGrade`` -> hours)."""
        from models import IncidentGrade

        return {IncidentGrade.I: self.incident_report_hours_i, IncidentGrade.II: self.incident_report_hours_ii,
                IncidentGrade.III: self.incident_report_hours_iii, IncidentGrade.IV: self.incident_report_hours_iv}

    @property
    def checkpoints_dir(self) -> Path:
        """Where signed access-log checkpoints are kept."""
        if self.access_log_checkpoints:
            return Path(self.access_log_checkpoints)
        return self.instance_path / "access-log" / "checkpoints"

    @property
    def signing_key_path(self) -> Path:
        """The access-log checkpoint signing key (Ed25519, PEM)."""
        if self.access_log_signing_key:
            return Path(self.access_log_signing_key)
        return self.instance_path / "keys" / "access-log-signing.pem"
