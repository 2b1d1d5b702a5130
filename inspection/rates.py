"""Rate arithmetic of the three systems: compliant records over all records of an outlet-day."""
from __future__ import annotations

from dataclasses import dataclass

METRICS = ("real_name", "inspection", "xray")


def rate(ok: int, total: int) -> float | None:
    """``ok / total`` in [0, 1]; None when nothing was collected (no rate, not a perfect one)."""
    if total < 0 or ok < 0 or ok > total:
        raise ValueError(f"impossible counts: {ok} of {total}")
    return ok / total if total else None


@dataclass(frozen=True)
class DayCounts:
    """Counts of one outlet-day: parcels and, per system, how many kept it."""

    parcels: int
    real_name_ok: int
    real_name_adjusted_ok: int
    inspected_ok: int
    xray_ok: int
    xray_verified_ok: int = 0  # declared screened and seen by a networked machine in the window

    @property
    def real_name_rate(self) -> float | None:
        return rate(self.real_name_ok, self.parcels)

    @property
    def adjusted_real_name_rate(self) -> float | None:
        return rate(self.real_name_adjusted_ok, self.parcels)

    @property
    def inspection_rate(self) -> float | None:
        return rate(self.inspected_ok, self.parcels)

    @property
    def xray_rate(self) -> float | None:
        return rate(self.xray_ok, self.parcels)

    @property
    def xray_rate_verified(self) -> float | None:
        return rate(self.xray_verified_ok, self.parcels)

    def metric_rate(self, metric: str) -> float | None:
        return {"real_name": self.real_name_rate, "inspection": self.inspection_rate, "xray": self.xray_rate}[metric]


def below(value: float | None, threshold: float) -> bool:
    """``rate < threshold``; a day without parcels is never below."""
    return value is not None and value < threshold
