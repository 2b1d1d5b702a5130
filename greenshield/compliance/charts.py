"""A trend chart of the three rates as inline SVG: no JavaScript, no external assets, prints well.

Readable when rates coincide (a lax outlet's real-name rate often equals its X-ray rate): each series has its own
colour, dash pattern, marker shape and width, drawn widest first, so a line lying on another still shows. The
legend sits above the plot and names the threshold too; the threshold's value is written in the left margin, where
no line crosses it; the dates below never overlap.
"""
from __future__ import annotations

import math
from html import escape

# key, colour, dash pattern, stroke width, marker
SERIES = (("real_name_rate", "#1f7a4d", "", 5.0, "circle"),
          ("inspection_rate", "#1d5fa8", "8 4", 3.0, "square"),
          ("xray_rate", "#b8661b", "2 3", 1.8, "diamond"),
          ("xray_rate_verified", "#6b3fa0", "1 2", 1.2, "square"))
THRESHOLD_COLOUR = "#b3261e"
LABEL_WIDTH = 44  # the width a "MM-DD" date label needs, with a gap


def _marker(shape: str, cx: float, cy: float, colour: str, title: str) -> str:
    if shape == "square":
        body = f'<rect x="{cx - 3:.1f}" y="{cy - 3:.1f}" width="6" height="6" fill="{colour}">'
        end = "</rect>"
    elif shape == "diamond":
        body = (f'<polygon points="{cx:.1f},{cy - 4:.1f} {cx + 4:.1f},{cy:.1f} {cx:.1f},{cy + 4:.1f} '
                f'{cx - 4:.1f},{cy:.1f}" fill="#fff" stroke="{colour}" stroke-width="1.5">')
        end = "</polygon>"
    else:
        body = f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{colour}">'
        end = "</circle>"
    return f"{body}<title>{escape(title)}</title>{end}"


def date_label_indices(count: int, plot_width: float) -> list[int]:
    """Which of ``count`` evenly spaced days get a date label: as many as fit without overlapping, always the
    first and the last."""
    if count <= 1:
        return list(range(count))
    spacing = plot_width / (count - 1)
    stride = max(1, math.ceil(LABEL_WIDTH / spacing))
    chosen = list(range(0, count, stride))
    if chosen[-1] != count - 1:
        if (count - 1 - chosen[-1]) < stride:
            chosen.pop()  # too close to the last day, whose label wins
        chosen.append(count - 1)
    return chosen


def trend_svg(days: list[dict], threshold: float, labels: dict[str, str], *, width: int = 880,
              height: int = 300) -> str:
    """Lines of the real-name, inspection and X-ray rates (and the verified X-ray rate when ``labels`` names it)
    with a dashed threshold line, a legend above."""
    left, right, top, bottom = 60, 16, 36, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    series = [s for s in SERIES if s[0] in labels]  # the rates the caller names (the verified X-ray rate is optional)
    values = [d[k] for d in days for k, *_ in series if d.get(k) is not None]
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
    threshold_y = y(threshold)
    for step in range(5):
        v = y_min + (y_max - y_min) * step / 4
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eef2f0"/>')
        if abs(y(v) - threshold_y) >= 12:  # the threshold's own label has this place
            parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11">'
                         f'{v * 100:.1f}%</text>')
    parts.append(f'<line class="threshold" x1="{left}" x2="{left + plot_w}" y1="{threshold_y:.1f}" '
                 f'y2="{threshold_y:.1f}" stroke="{THRESHOLD_COLOUR}" stroke-dasharray="6 4"/>'
                 f'<text class="threshold-label" x="{left - 6}" y="{threshold_y + 4:.1f}" text-anchor="end" '
                 f'font-size="11" font-weight="bold" fill="{THRESHOLD_COLOUR}">{threshold * 100:.1f}%</text>')
    for key, colour, dash, stroke, shape in series:
        points = " ".join(f"{x(i):.1f},{y(d[key]):.1f}" for i, d in enumerate(days) if d.get(key) is not None)
        if not points:
            continue
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline class="series {key}" fill="none" stroke="{colour}" stroke-width="{stroke}"'
                     f'{dashes} stroke-linejoin="round" points="{points}"/>')
        for i, d in enumerate(days):
            if d.get(key) is not None:
                parts.append(_marker(shape, x(i), y(d[key]), colour,
                                     f'{d["date"]} {labels[key]} {d[key] * 100:.2f}%'))
    for i in date_label_indices(len(days), plot_w):
        parts.append(f'<text class="date" x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                     f'font-size="11">{days[i]["date"]:%m-%d}</text>')
    legend_x = left
    for key, colour, dash, stroke, shape in series:
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="legend"><line x1="{legend_x}" x2="{legend_x + 28}" y1="14" y2="14" stroke="{colour}" '
                     f'stroke-width="{min(stroke, 3)}"{dashes}/>{_marker(shape, legend_x + 14, 14, colour, labels[key])}'
                     f'<text x="{legend_x + 34}" y="18" font-size="12">{escape(labels[key])}</text></g>')
        legend_x += 150
    parts.append(f'<g class="legend"><line x1="{legend_x}" x2="{legend_x + 28}" y1="14" y2="14" '
                 f'stroke="{THRESHOLD_COLOUR}" stroke-dasharray="6 4"/><text x="{legend_x + 34}" y="18" font-size="12" '
                 f'fill="{THRESHOLD_COLOUR}">{escape(labels["threshold"])} {threshold * 100:.1f}%</text></g>')
    parts.append("</svg>")
    return "".join(parts)
