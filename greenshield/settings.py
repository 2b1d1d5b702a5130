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
    storage_url: str | None = None  # where files live: file:///folder (default: the instance folder)
    # daily logs
    max_upload_bytes: int = 256 * 2**20
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
    # traceability
    trace_rate_limit: str = "60 per minute"
    trace_max_results: int = 1000
    watchlist_webhook_url: str | None = None
    access_log_checkpoints: str | None = None  # folder of signed checkpoints (default: in the instance folder)
    # audits
    audit_coverage_target: float = 0.05
    audit_targeted_consecutive_days: int = 3
    audit_inspectors_per_audit: int = 2
    audit_daily_capacity: int = 2  # audits an inspector takes a day
    # enforcement documents (责令限期改正通知书, 行政处罚决定书)
    enforcement_authority: str = "内蒙古自治区邮政管理局"
    document_prefix: str = "内邮"  # 内邮责改〔2026〕第12号
    # sign-in
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    login_rate_limit: str = "20 per minute"
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12

    @classmethod
    def from_config(cls, config: Mapping) -> Settings:
        """The settings of an app's configuration (missing keys keep their defaults)."""
        values = {f.name: config[f.name.upper()] for f in fields(cls) if f.name.upper() in config}
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
    def checkpoints_dir(self) -> Path:
        """Where signed access-log checkpoints are kept."""
        if self.access_log_checkpoints:
            return Path(self.access_log_checkpoints)
        return self.instance_path / "access-log" / "checkpoints"
