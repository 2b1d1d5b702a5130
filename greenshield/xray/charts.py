"""X-ray charts as inline SVG (no JavaScript): a model's ROC curve with its operating point, a machine's daily flag
rate against the false-flag budget. Labels come translated from the caller."""
from __future__ import annotations

from html import escape

from greenshield.compliance.charts import date_label_indices

CURVE, POINT, BUDGET = "#1d5fa8", "#b3261e", "#b8661b"


def roc_svg(points: list[dict], labels: dict[str, str], *, operating: tuple[float, float] | None = None,
            budget: float | None = None, size: int = 360) -> str:
    """The ROC curve (``points`` of ``{fpr, tpr}``) on a square plot, the chance diagonal, the budget as a vertical
    dashed line and the operating point (false-flag rate, recall) as a red ring."""
    left, top, right, bottom = 48, 28, 14, 40
    span = size - left - right

    def px(fpr: float, tpr: float) -> tuple[float, float]:
        return left + span * fpr, top + span * (1 - tpr)

    height = top + span + bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {height}" role="img" class="roc" '
             f'aria-label="{escape(labels["title"])}">',
             f'<rect x="{left}" y="{top}" width="{span}" height="{span}" fill="#fff" stroke="#d9e0dc"/>']
    for step in range(6):
        v = step / 5
        x, y = px(v, v)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + span}" stroke="#eef2f0"/>'
                     f'<line x1="{left}" x2="{left + span}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eef2f0"/>'
                     f'<text x="{x:.1f}" y="{top + span + 14}" text-anchor="middle" font-size="10">{v:.1f}</text>'
                     f'<text x="{left - 6}" y="{y + 3:.1f}" text-anchor="end" font-size="10">{v:.1f}</text>')
    (x0, y0), (x1, y1) = px(0, 0), px(1, 1)
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#bbb" stroke-dasharray="3 3"/>')
    if budget is not None:
        bx, _ = px(budget, 0)
        parts.append(f'<line class="budget" x1="{bx:.1f}" x2="{bx:.1f}" y1="{top}" y2="{top + span}" stroke="{BUDGET}" '
                     f'stroke-dasharray="6 4"><title>{escape(labels["budget"])} {budget * 100:.1f}%</title></line>')
    if points:
        line = " ".join("{:.1f},{:.1f}".format(*px(p["fpr"], p["tpr"])) for p in points)
        parts.append(f'<polyline class="curve" fill="none" stroke="{CURVE}" stroke-width="2.5" points="{line}"/>')
    if operating is not None:
        ox, oy = px(*operating)
        parts.append(f'<circle class="operating" cx="{ox:.1f}" cy="{oy:.1f}" r="6" fill="none" stroke="{POINT}" '
                     f'stroke-width="2.5"><title>{escape(labels["operating"])}</title></circle>')
    parts.append(f'<text x="{left + span / 2:.1f}" y="{height - 8}" text-anchor="middle" font-size="11">'
                 f'{escape(labels["fpr"])}</text>'
                 f'<text x="12" y="{top + span / 2:.1f}" text-anchor="middle" font-size="11" '
                 f'transform="rotate(-90 12 {top + span / 2:.1f})">{escape(labels["tpr"])}</text>'
                 f'<text x="{left}" y="16" font-size="12">{escape(labels["title"])}</text></svg>')
    return "".join(parts)


def flag_rate_svg(days: list[dict], budget: float, labels: dict[str, str], *, width: int = 720,
                  height: int = 220) -> str:
    """Bars of the daily flag rate (``days`` of ``{day, scans, flagged, flag_rate}``) with the budget as a dashed
    line."""
    left, right, top, bottom = 52, 12, 28, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([budget * 2, *(d["flag_rate"] for d in days)]) if days else budget * 2
    y_max = min(1.0, max(0.05, peak * 1.1))

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_max)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" class="flag-rate" '
             f'aria-label="{escape(labels["title"])}">',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#d9e0dc"/>']
    for step in range(5):
        v = y_max * step / 4
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eef2f0"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="10">{v * 100:.0f}%</text>')
    slot = plot_w / max(1, len(days))
    for i, d in enumerate(days):
        x = left + i * slot + slot * 0.15
        parts.append(f'<rect class="day" x="{x:.1f}" y="{y(d["flag_rate"]):.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{top + plot_h - y(d["flag_rate"]):.1f}" fill="{CURVE}"><title>{d["day"]} '
                     f'{d["flagged"]}/{d["scans"]} {d["flag_rate"] * 100:.1f}%</title></rect>')
    for i in date_label_indices(len(days), plot_w):
        parts.append(f'<text x="{left + (i + 0.5) * slot:.1f}" y="{height - 8}" text-anchor="middle" font-size="10">'
                     f'{days[i]["day"]:%m-%d}</text>')
    parts.append(f'<line class="budget" x1="{left}" x2="{left + plot_w}" y1="{y(budget):.1f}" y2="{y(budget):.1f}" '
                 f'stroke="{POINT}" stroke-dasharray="6 4"/>'
                 f'<text x="{left}" y="16" font-size="12">{escape(labels["title"])}</text>'
                 f'<text x="{left + plot_w}" y="16" text-anchor="end" font-size="12" fill="{POINT}">'
                 f'{escape(labels["budget"])} {budget * 100:.1f}%</text></svg>')
    return "".join(parts)
