"""Risk weighting of the draw: outlets that look worse are drawn more often, every outlet still can be."""
from __future__ import annotations

from dataclasses import dataclass

from audits.credit import DRAW_FACTOR


@dataclass(frozen=True)
class RiskFactors:
    """What the centre knows about an outlet, over recent windows."""

    days_below_threshold: int = 0    # outlet-days under any rate threshold, last 30 days
    open_alerts: int = 0
    findings: int = 0                # abnormal real-name findings, last 90 days
    flagged_xray: int = 0            # flagged X-ray events, last 30 days
    xray_unverified: float = 0.0     # share of items declared X-ray screened that no machine saw, last 30 days
    past_rectifications: int = 0     # rectification orders, last 2 years
    days_since_last_audit: int | None = None  # None: never audited
    credit_level: str = "A"          # the worse of the outlet's and its enterprise's credit (audits.credit)


def risk_weight(f: RiskFactors) -> float:
    """1 for an outlet with nothing against it, up to about 15 for the worst, each factor capped so that no
    single one dominates; then multiplied by the credit level's factor (×1 for A up to ×2 for D)."""
    weight = 1.0
    weight += min(f.days_below_threshold, 30) / 10
    weight += min(f.open_alerts, 10) * 0.3
    weight += min(f.findings, 10) * 0.3
    weight += min(f.flagged_xray, 20) * 0.1
    weight += min(max(f.xray_unverified, 0.0), 1.0) * 3
    weight += min(f.past_rectifications, 5) * 0.5
    weight += 1.0 if f.days_since_last_audit is None else min(f.days_since_last_audit, 365) / 365
    return round(weight * DRAW_FACTOR.get(f.credit_level, 1.0), 4)
