"""A trend chart of the three rates as inline SVG: no JavaScript, no external assets, prints well."""
from __future__ import annotations

import math
from html import escape

SERIES = (("real_name_rate", "#1f7a4d"), ("inspection_rate", "#1d5fa8"), ("xray_rate", "#b8661b"))


def trend_svg(days: list[dict], threshold: float, labels: dict[str, str], *, width: int = 880,
              height: int = 280) -> str:
    """Polylines of the real-name, inspection and X-ray rates with a dashed threshold line."""
    left, right, top, bottom = 56, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [d[k] for d in days for k, _ in SERIES if d.get(k) is not None]
    low = min([threshold, *values]) if values else threshold
    y_min = max(0.0, math.floor((low - 0.002) * 200) / 200)
    y_max = 1.0

    def x(i: int) -> float:
        return left + (plot_w * i / max(1, len(days) - 1))

    def y(v: float) -> float:
        return top + plot_h * (y_max - v) / (y_max - y_min or 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="trend" aria-label="{escape(labels["title"])}">',
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#d9e0dc"/>']
    for step in range(5):
        v = y_min + (y_max - y_min) * step / 4
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eef2f0"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11">{v * 100:.1f}%</text>')
    parts.append(f'<line class="threshold" x1="{left}" x2="{left + plot_w}" y1="{y(threshold):.1f}" '
                 f'y2="{y(threshold):.1f}" stroke="#b3261e" stroke-dasharray="6 4"/>'
                 f'<text x="{left + plot_w - 4}" y="{y(threshold) - 4:.1f}" text-anchor="end" font-size="11" '
                 f'fill="#b3261e">{escape(labels["threshold"])} {threshold * 100:.1f}%</text>')
    for key, colour in SERIES:
        points = " ".join(f"{x(i):.1f},{y(d[key]):.1f}" for i, d in enumerate(days) if d.get(key) is not None)
        if points:
            parts.append(f'<polyline class="series {key}" fill="none" stroke="{colour}" stroke-width="2" '
                         f'points="{points}"/>')
            for i, d in enumerate(days):
                if d.get(key) is not None:
                    parts.append(f'<circle cx="{x(i):.1f}" cy="{y(d[key]):.1f}" r="2.5" fill="{colour}">'
                                 f'<title>{d["date"]} {escape(labels[key])} {d[key] * 100:.2f}%</title></circle>')
    stride = max(1, len(days) // 8)
    for i, d in enumerate(days):
        if i % stride == 0 or i == len(days) - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" font-size="11">'
                         f'{d["date"]:%m-%d}</text>')
    legend_x = left
    for key, colour in SERIES:
        parts.append(f'<rect x="{legend_x}" y="{height - 14}" width="12" height="4" fill="{colour}"/>'
                     f'<text x="{legend_x + 16}" y="{height - 9}" font-size="11">{escape(labels[key])}</text>')
        legend_x += 150
    parts.append("</svg>")
    return "".join(parts)
