"""Procedural X-ray data: threat objects and benign bags, generated from geometry and Beer–Lambert physics.

Nothing here reads an image: the default model is trained on these alone. Optical densities use effective
linear attenuation coefficients for a ~140 kVp baggage scanner (effective energy ~70-90 keV):
steel ≈ 3-4 /cm, aluminium ≈ 0.6 /cm, lead ≈ 15 /cm, water/plastics ≈ 0.18-0.2 /cm. So a 2-3 mm knife
blade has μt ≈ 0.6-1.2, a pistol slide (two ~4 mm steel walls and a barrel) ≈ 2-3.5, a folded shirt ≈ 0.1.

Threats (:func:`make_threat`) come back as :class:`~inspection.xray.tip.Threat` at about 220 px along their
long axis; :func:`benign_bag` renders a whole bag (shell, trolley frame, wheels, zips, clothes, cables,
bottles, electronics, shoes, books, keys, cutlery, umbrellas…) in grey or pseudo-colour;
:func:`scanner_effects` adds the scanner's blur, noise, line gains and edge enhancement.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from inspection.xray.physics import METAL, MIXED, ORGANIC, colour_density, harden, transmit
from inspection.xray.tip import Threat

Rng = np.random.Generator

_SHIFT = 4
_ONE = 1 << _SHIFT


def _pts(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, dtype=np.float64) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _poly(shape: tuple[int, int], polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of filled polygons."""
    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(canvas, [_pts(p) for p in polygons], 255, cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def _lines(shape: tuple[int, int], polylines: Sequence[np.ndarray], thickness: int, closed: bool = False) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    cv2.polylines(canvas, [_pts(p) for p in polylines], closed, 255, max(1, thickness), cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def _disc(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    cx, cy = centre
    cv2.circle(canvas, (round(cx * _ONE), round(cy * _ONE)), max(1, round(radius * _ONE)), 255, -1, cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def _ellipse(
    shape: tuple[int, int], centre: tuple[float, float], axes: tuple[float, float], angle: float, thickness: int = -1
) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    c = (round(centre[0] * _ONE), round(centre[1] * _ONE))
    a = (max(1, round(axes[0] * _ONE)), max(1, round(axes[1] * _ONE)))
    cv2.ellipse(canvas, c, a, angle, 0, 360, 255, thickness, cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def _profile(cover: np.ndarray, kind: str = "round", *, wall: float = 0.7, bevel: float | None = None) -> np.ndarray:
    """Thickness profile (0-1) of a shape from its coverage: 'flat', 'round' (cylinder), 'tube', 'bevel'."""
    if kind == "flat":
        return cover
    binary = (cover > 0.5).astype(np.uint8)
    dist = cv2.distanceTransform(binary, cv2.DIST_L2, 3) + 0.5
    if kind == "bevel":
        width = bevel if bevel is not None else max(1.0, float(dist.max()) * 0.5)
        return cover * np.minimum(dist / width, 1.0)
    x = np.clip(dist / max(float(dist.max()), 1.0), 0.0, 1.0)
    s = 1.0 - x
    outer = np.sqrt(np.maximum(1.0 - s * s, 0.0))
    if kind == "round":
        return cover * outer
    inner = np.sqrt(np.maximum(wall * wall - s * s, 0.0))
    tube = outer - inner
    return cover * tube / max(float(tube.max()), 1e-6)


def _rotate(points: np.ndarray, angle: float, centre: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    p = np.asarray(points, dtype=np.float64) - centre
    return np.stack([p[:, 0] * c - p[:, 1] * s, p[:, 0] * s + p[:, 1] * c], axis=1) + centre


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _rounded_rect(x0: float, y0: float, x1: float, y1: float, r: float, n: int = 6) -> np.ndarray:
    r = max(0.0, min(r, (x1 - x0) / 2, (y1 - y0) / 2))
    pts = []
    for cx, cy, start in ((x1 - r, y0 + r, -90), (x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90), (x0 + r, y0 + r, 180)):
        for k in range(n + 1):
            a = math.radians(start + 90 * k / n)
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return np.array(pts)


def _smooth_noise(shape: tuple[int, int], rng: Rng, cell: float) -> np.ndarray:
    """Smooth random field in [0, 1] with features about ``cell`` pixels across."""
    h, w = shape
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    field = cv2.resize(rng.random((gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(field.min()), float(field.max())
    return (field - lo) / max(hi - lo, 1e-6)


class _Scene:
    """Accumulates grey and per-channel optical density of a scene."""

    def __init__(self, height: int, width: int) -> None:
        self.grey = np.zeros((height, width), np.float32)
        self.colour = np.zeros((height, width, 3), np.float32)

    @property
    def shape(self) -> tuple[int, int]:
        return self.grey.shape  # type: ignore[return-value]

    def add(self, density: np.ndarray, material: float | np.ndarray, x0: int = 0, y0: int = 0) -> None:
        """Add a density patch whose top-left corner sits at (x0, y0), clipped to the scene."""
        h, w = density.shape
        H, W = self.grey.shape
        ax0, ay0, ax1, ay1 = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
        if ax1 <= ax0 or ay1 <= ay0:
            return
        patch = density[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0]
        if isinstance(material, np.ndarray):
            material = material[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0]
        self.grey[ay0:ay1, ax0:ax1] += patch
        self.colour[ay0:ay1, ax0:ax1] += colour_density(patch, material)

    def add_shape(
        self,
        points: np.ndarray,
        density: float,
        material: float,
        *,
        profile: str = "flat",
        wall: float = 0.7,
    ) -> None:
        """Fill a polygon given in scene coordinates with a density profile."""
        x0, y0 = np.floor(points.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 2
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        cover = _poly((y1 - y0, x1 - x0), [points - (x0, y0)])
        self.add(_profile(cover, profile, wall=wall) * np.float32(density), material, int(x0), int(y0))

    def add_cover(self, cover: np.ndarray, density: float, material: float, profile: str = "flat", x0: int = 0, y0: int = 0) -> None:
        self.add(_profile(cover, profile) * np.float32(density), material, x0, y0)

    def add_curve(self, points: np.ndarray, thickness: float, density: float, material: float, closed: bool = False) -> None:
        """Draw a polyline (e.g. a cable) with a round cross-section."""
        pad = int(thickness) + 3
        x0, y0 = np.floor(points.min(axis=0)).astype(int) - pad
        x1, y1 = np.ceil(points.max(axis=0)).astype(int) + pad
        cover = _lines((y1 - y0, x1 - x0), [points - (x0, y0)], int(round(thickness)), closed)
        profile = "round" if thickness >= 3 else "flat"
        self.add(_profile(cover, profile) * np.float32(density), material, int(x0), int(y0))


# --------------------------------------------------------------------------------------------- threats


class _Part:
    """Builds a threat from parts on a local canvas, long axis along x."""

    def __init__(self, width: int, height: int) -> None:
        self.scene = _Scene(height, width)
        self.weighted = np.zeros((height, width), np.float32)

    def shape(self, cover: np.ndarray, density: float, material: float, profile: str = "flat", **kw: float) -> None:
        d = _profile(cover, profile, **kw) * np.float32(density)
        self.scene.add(d, material)
        self.weighted += d * np.float32(material)

    def poly(self, points: np.ndarray, density: float, material: float, profile: str = "flat", **kw: float) -> None:
        self.shape(_poly(self.scene.shape, [points]), density, material, profile, **kw)

    def threat(self, kind: str, size_range: tuple[float, float], rng: Rng) -> Threat:
        att = self.scene.grey
        mask = att > 0.05
        material = np.where(att > 1e-4, self.weighted / np.maximum(att, 1e-4), METAL).astype(np.float32)
        if rng.random() < 0.5:
            att, mask, material = att[::-1], mask[::-1], material[::-1]
        ys, xs = np.nonzero(mask)
        y0, y1 = max(0, ys.min() - 3), ys.max() + 4
        x0, x1 = max(0, xs.min() - 3), xs.max() + 4
        crop = (slice(y0, y1), slice(x0, x1))
        return Threat(
            kind=kind,
            attenuation=np.ascontiguousarray(att[crop], dtype=np.float32),
            mask=np.ascontiguousarray(mask[crop]),
            material=np.ascontiguousarray(material[crop]),
            size_range=size_range,
        )


def _knife(rng: Rng, style: str = "knife") -> Threat:
    L = 220.0
    m = 8.0
    blade_len = L * rng.uniform(0.5, 0.66)
    bw = L * (rng.uniform(0.22, 0.32) if style == "cleaver" else rng.uniform(0.09, 0.17))
    hw = bw * rng.uniform(0.55, 0.85) if style != "cleaver" else L * rng.uniform(0.08, 0.11)
    H = int(max(bw, hw) * 1.5 + 2 * m + (bw * 0.5 if style == "dagger" else 0))
    part = _Part(int(L + 2 * m), H)
    x_heel = m + (L - blade_len)
    y_spine = m + (0.25 * bw if style == "dagger" else 0.1 * bw)
    u = np.linspace(0.0, 1.0, 24)
    if style == "dagger":
        mid = y_spine + bw / 2
        half = bw / 2 * (1 - u**1.6)
        top = np.stack([x_heel + blade_len * u, mid - half], 1)
        bottom = np.stack([x_heel + blade_len * u, mid + half], 1)[::-1]
        blade = np.vstack([top, bottom])
    elif style == "cleaver":
        blade = _rect(x_heel, y_spine, x_heel + blade_len, y_spine + bw)
    else:
        clip = rng.uniform(0.6, 0.85)
        tip_y = y_spine + bw * rng.uniform(0.05, 0.4)
        spine_y = y_spine + (tip_y - y_spine) * (np.maximum(u - clip, 0.0) / (1 - clip)) ** 1.5
        edge_y = y_spine + bw - (y_spine + bw - tip_y) * u ** rng.uniform(2.0, 4.0)
        blade = np.vstack([np.stack([x_heel + blade_len * u, spine_y], 1), np.stack([x_heel + blade_len * u, edge_y], 1)[::-1]])
    steel = rng.uniform(0.55, 1.3)
    part.poly(blade, steel, METAL, "bevel", bevel=max(2.0, bw * 0.25))
    hy = y_spine + (bw - hw) / 2 if style != "dagger" else y_spine + (bw - hw) / 2
    handle = _rounded_rect(m, hy, x_heel, hy + hw, hw * 0.35)
    if rng.random() < 0.65:
        part.poly(handle, rng.uniform(0.35, 0.9), rng.uniform(0.0, 0.35), "round")
        tang = _rect(m + 4, hy + hw * 0.3, x_heel, hy + hw * 0.7)
        part.poly(tang, steel * rng.uniform(0.4, 0.9), METAL, "flat")
        for k in range(int(rng.integers(0, 4))):
            cx = m + (x_heel - m) * (0.2 + 0.25 * k)
            part.shape(_disc(part.scene.shape, (cx, hy + hw / 2), hw * 0.12), 0.6, METAL, "round")
    else:
        part.poly(handle, rng.uniform(0.8, 1.8), METAL, "round")
    if style == "dagger" or rng.random() < 0.4:
        guard_h = bw * (1.5 if style == "dagger" else 1.15)
        part.poly(_rounded_rect(x_heel - 5, y_spine + bw / 2 - guard_h / 2, x_heel + 3, y_spine + bw / 2 + guard_h / 2, 2), rng.uniform(1.0, 2.0), METAL, "round")
    sizes = {"knife": (0.16, 0.34), "cleaver": (0.18, 0.32), "dagger": (0.16, 0.32)}
    return part.threat(style, sizes[style], rng)


def _pistol(rng: Rng) -> Threat:
    L = 220.0
    m = 8.0
    part = _Part(int(L + 2 * m), int(0.75 * L + 2 * m))
    sh = L * rng.uniform(0.14, 0.18)
    steel_frame = rng.random() < 0.4
    frame_d, frame_m = (rng.uniform(1.2, 2.2), METAL) if steel_frame else (rng.uniform(0.5, 1.0), rng.uniform(0.15, 0.35))
    slide = _rounded_rect(m, m, m + L, m + sh, 4)
    part.poly(slide, rng.uniform(1.4, 2.4), METAL, "tube", wall=0.55)
    part.poly(_rect(m + 0.25 * L, m + 0.35 * sh, m + L, m + 0.65 * sh), rng.uniform(0.6, 1.2), METAL, "round")
    part.poly(_rect(m + 0.12 * L, m + sh, m + 0.9 * L, m + sh + 0.06 * L), frame_d, frame_m, "flat")
    slant = L * rng.uniform(0.08, 0.16)
    gw = L * rng.uniform(0.19, 0.24)
    gl = L * rng.uniform(0.4, 0.5)
    top = m + sh
    grip = np.array([[m + 0.02 * L, top], [m + 0.02 * L + gw, top], [m + 0.02 * L + gw - slant, top + gl], [m + 0.02 * L - slant, top + gl]])
    part.poly(grip, frame_d, frame_m, "round")
    mag = np.array([[m + 0.06 * L, top + 4], [m + 0.02 * L + gw - 0.04 * L, top + 4], [m + 0.02 * L + gw - 0.04 * L - slant, top + gl + 3], [m + 0.06 * L - slant, top + gl + 3]])
    part.poly(mag, rng.uniform(0.8, 1.5), METAL, "tube", wall=0.8)
    for k in range(int(rng.integers(3, 8))):
        t = (k + 0.5) / 8
        cx = m + 0.04 * L + gw / 2 - slant * t
        part.shape(_ellipse(part.scene.shape, (cx, top + 8 + t * gl * 0.9), (gw * 0.3, gl * 0.045), math.degrees(math.atan2(gl, -slant)) - 90), rng.uniform(0.6, 1.1), METAL, "round")
    guard_c = (m + 0.02 * L + gw + 0.1 * L, top + 0.07 * L)
    guard = _ellipse(part.scene.shape, guard_c, (0.1 * L, 0.075 * L), 0, max(2, int(0.025 * L)))
    guard[: int(top), :] = 0
    part.shape(guard, frame_d, frame_m)
    trigger = np.array([[guard_c[0] - 2, top], [guard_c[0] + 3, top], [guard_c[0] - 1, top + 0.07 * L], [guard_c[0] - 5, top + 0.06 * L]])
    part.poly(trigger, 1.2, METAL, "flat")
    return part.threat("pistol", (0.13, 0.26), rng)


def _revolver(rng: Rng) -> Threat:
    L = 220.0
    m = 8.0
    part = _Part(int(L + 2 * m), int(0.7 * L + 2 * m))
    bl = L * rng.uniform(0.35, 0.55)
    bd = L * rng.uniform(0.06, 0.08)
    y_axis = m + 0.12 * L
    part.poly(_rect(m + L - bl, y_axis - bd / 2, m + L, y_axis + bd / 2), rng.uniform(2.0, 3.0), METAL, "tube", wall=0.45)
    part.poly(_rect(m + L - bl, y_axis - bd / 2 - 4, m + L, y_axis - bd / 2), 1.0, METAL, "flat")
    cx0, cx1 = m + L - bl - 0.2 * L, m + L - bl
    cyl_h = L * rng.uniform(0.2, 0.25)
    part.poly(_rounded_rect(cx0, y_axis - cyl_h / 2, cx1, y_axis + cyl_h / 2, 4), rng.uniform(2.0, 3.2), METAL, "round")
    for k in range(3):
        yy = y_axis - cyl_h / 3 + k * cyl_h / 3
        part.poly(_rect(cx0 + 3, yy - cyl_h * 0.07, cx1 - 3, yy + cyl_h * 0.07), rng.uniform(0.5, 1.0), METAL, "round")
    fr = np.array([[cx0 - 0.12 * L, y_axis - cyl_h / 2], [cx0, y_axis - cyl_h / 2], [cx1, y_axis + cyl_h / 2], [cx1, y_axis + cyl_h / 2 + 0.05 * L], [cx0 - 0.14 * L, y_axis + cyl_h / 2 + 0.06 * L]])
    part.poly(fr, rng.uniform(1.4, 2.2), METAL, "flat")
    gx = cx0 - 0.14 * L
    gt = y_axis + cyl_h / 2
    grip = np.array([[gx, gt], [gx + 0.13 * L, gt], [gx + 0.02 * L, gt + 0.4 * L], [gx - 0.13 * L, gt + 0.37 * L]])
    part.poly(grip, rng.uniform(0.5, 0.9), rng.uniform(0.05, 0.3), "round")
    part.poly(np.array([[gx + 0.03 * L, gt], [gx + 0.08 * L, gt], [gx - 0.02 * L, gt + 0.36 * L], [gx - 0.06 * L, gt + 0.35 * L]]), rng.uniform(0.7, 1.3), METAL, "flat")
    part.poly(np.array([[cx0 - 0.15 * L, y_axis - cyl_h / 2 - 0.05 * L], [cx0 - 0.1 * L, y_axis - cyl_h / 2 - 0.06 * L], [cx0 - 0.05 * L, y_axis - cyl_h / 2], [cx0 - 0.12 * L, y_axis - cyl_h / 2]]), 1.5, METAL, "flat")
    guard = _ellipse(part.scene.shape, (cx0 + 0.02 * L, gt + 0.04 * L), (0.08 * L, 0.07 * L), 0, max(2, int(0.022 * L)))
    guard[: int(gt + 0.03 * L), :] = 0
    part.shape(guard, 1.4, METAL)
    return part.threat("revolver", (0.14, 0.3), rng)


def _gun_part(rng: Rng) -> Threat:
    L = 220.0
    m = 8.0
    kind = ("barrel", "magazine", "slide")[int(rng.integers(3))]
    if kind == "barrel":
        d = L * rng.uniform(0.07, 0.1)
        part = _Part(int(L + 2 * m), int(d * 1.8 + 2 * m))
        part.poly(_rect(m, m + 0.2 * d, m + L, m + 1.2 * d), rng.uniform(1.8, 3.0), METAL, "tube", wall=0.5)
        part.poly(_rounded_rect(m, m, m + 0.25 * L, m + 1.4 * d, 4), rng.uniform(1.0, 1.8), METAL, "round")
        return part.threat("gun_barrel", (0.1, 0.22), rng)
    if kind == "magazine":
        w = L * rng.uniform(0.22, 0.3)
        part = _Part(int(L + 2 * m), int(w + 2 * m))
        part.poly(_rounded_rect(m, m, m + L, m + w, 6), rng.uniform(0.8, 1.4), METAL, "tube", wall=0.85)
        n = int(rng.integers(4, 12))
        for k in range(n):
            cx = m + 12 + k * (L - 24) / max(n, 1)
            part.shape(_ellipse(part.scene.shape, (cx, m + w / 2), (L * 0.03, w * 0.38), 0), rng.uniform(0.8, 1.5), METAL, "round")
        return part.threat("magazine", (0.07, 0.14), rng)
    h = L * rng.uniform(0.14, 0.18)
    part = _Part(int(L + 2 * m), int(h + 2 * m))
    part.poly(_rounded_rect(m, m, m + L, m + h, 5), rng.uniform(1.6, 2.6), METAL, "tube", wall=0.55)
    part.poly(_rect(m + 0.6 * L, m + 0.1 * h, m + 0.75 * L, m + 0.45 * h), -0.8, METAL, "flat")
    return part.threat("slide", (0.12, 0.24), rng)


def _bullets(rng: Rng) -> Threat:
    unit = 30.0
    n = int(rng.integers(2, 9))
    cols = int(math.ceil(math.sqrt(n)))
    part = _Part(int(cols * unit * 1.6 + 20), int(math.ceil(n / cols) * unit * 0.55 + 20 + unit * 0.6))
    brass = rng.uniform(0.7, 1.2)
    lead = rng.uniform(1.4, 2.4)
    for k in range(n):
        ox = 10 + (k % cols) * unit * 1.6 + rng.uniform(-2, 2)
        oy = 10 + (k // cols) * unit * 0.5 + rng.uniform(-2, 2)
        case = _rect(ox, oy, ox + unit, oy + unit * 0.35)
        part.poly(case, brass, METAL, "tube", wall=0.8)
        nose = np.array([[ox + unit, oy + 1], [ox + unit * 1.35, oy + unit * 0.14], [ox + unit * 1.45, oy + unit * 0.175], [ox + unit * 1.35, oy + unit * 0.21], [ox + unit, oy + unit * 0.35 - 1]])
        part.poly(nose, lead, METAL, "round")
    return part.threat("ammunition", (0.04, 0.1), rng)


def _blade(rng: Rng) -> Threat:
    style = ("utility_blade", "razor_blade", "box_cutter")[int(rng.integers(3))]
    if style == "razor_blade":
        part = _Part(120, 70)
        cover = _poly((70, 120), [_rect(8, 8, 112, 62)])
        cover -= _poly((70, 120), [_rect(30, 31, 90, 39)])
        cover -= _disc((70, 120), (60, 35), 7)
        part.shape(np.clip(cover, 0, 1), rng.uniform(0.3, 0.55), METAL)
        return part.threat(style, (0.035, 0.07), rng)
    if style == "utility_blade":
        part = _Part(140, 60)
        trap = np.array([[20, 10], [110, 10], [130, 48], [8, 48]], dtype=np.float64)
        part.poly(trap, rng.uniform(0.4, 0.8), METAL, "bevel", bevel=4.0)
        return part.threat(style, (0.04, 0.08), rng)
    part = _Part(236, 50)
    part.poly(_rounded_rect(8, 10, 160, 40, 10), rng.uniform(0.4, 0.8), rng.uniform(0.1, 0.3), "round")
    part.poly(_rect(12, 20, 150, 30), rng.uniform(0.5, 0.9), METAL, "flat")
    part.poly(np.array([[150, 18], [228, 18], [200, 32], [150, 32]], dtype=np.float64), rng.uniform(0.5, 0.9), METAL, "bevel", bevel=3.0)
    return part.threat(style, (0.09, 0.17), rng)


def _scissors(rng: Rng) -> Threat:
    L = 200.0
    m = 10.0
    part = _Part(int(L + 2 * m), int(0.55 * L + 2 * m))
    pivot = (m + 0.45 * L, m + 0.27 * L)
    opening = math.radians(rng.uniform(4, 30))
    steel = rng.uniform(0.6, 1.2)
    metal_handles = rng.random() < 0.3
    for sign in (-1.0, 1.0):
        bw = L * rng.uniform(0.05, 0.08)
        blade = np.array([[0.0, -bw * 0.3], [0.55 * L, -bw * 0.1], [0.55 * L, 0.0], [0.0, bw]])
        blade = _rotate(blade, sign * opening / 2) + pivot
        part.poly(blade, steel, METAL, "bevel", bevel=3.0)
        arm = _rotate(np.array([[0.0, -bw * 0.4], [-0.22 * L, -bw * 0.3], [-0.22 * L, bw * 0.3], [0.0, bw * 0.4]]), sign * opening / 2) + pivot
        part.poly(arm, steel, METAL, "flat")
        ring_c = _rotate(np.array([[-0.33 * L, sign * 0.08 * L]]), sign * opening / 2)[0] + pivot
        ring = _ellipse(part.scene.shape, tuple(ring_c), (0.12 * L, 0.07 * L), math.degrees(sign * opening / 2), max(3, int(0.035 * L)))
        if metal_handles:
            part.shape(ring, steel * 1.5, METAL, "round")
        else:
            part.shape(ring, rng.uniform(0.5, 0.9), rng.uniform(0.05, 0.3), "round")
    part.shape(_disc(part.scene.shape, pivot, 0.025 * L), 1.6, METAL, "round")
    return part.threat("scissors", (0.1, 0.22), rng)


def _battery(rng: Rng) -> Threat:
    if rng.random() < 0.6:
        n = int(rng.integers(1, 7))
        length, dia = 130.0, 36.0
        part = _Part(int(length + 20), int(n * dia + 20))
        for k in range(n):
            y0 = 10 + k * dia
            part.poly(_rect(10, y0, 10 + length, y0 + dia - 1), rng.uniform(1.0, 1.8), rng.uniform(0.7, 0.9), "round")
            part.poly(_rect(10 + length, y0 + dia * 0.3, 10 + length + 5, y0 + dia * 0.7), 1.2, METAL, "flat")
            part.poly(_rect(14, y0 + dia * 0.45, 6 + length, y0 + dia * 0.55), 0.6, METAL, "flat")
        if n > 1:
            for x in (12.0, 10 + length - 2):
                part.poly(_rect(x - 2, 10, x + 4, 10 + n * dia), 0.8, METAL, "flat")
        return part.threat("battery", (0.05, 0.1) if n == 1 else (0.07, 0.16), rng)
    w, h = 160.0, rng.uniform(70, 110)
    part = _Part(int(w + 20), int(h + 20))
    part.poly(_rounded_rect(10, 10, 10 + w, 10 + h, 5), rng.uniform(1.0, 1.8), rng.uniform(0.6, 0.8), "flat")
    part.poly(_rect(10 + w - 18, 12, 10 + w - 4, 8 + h), 0.7, MIXED, "flat")
    for k in range(2):
        part.poly(_rect(10 + w - 4, 20 + k * 20, 10 + w + 6, 26 + k * 20), 1.0, METAL, "flat")
    return part.threat("battery", (0.08, 0.18), rng)


def _wrench(rng: Rng) -> Threat:
    L = 220.0
    m = 12.0
    part = _Part(int(L + 2 * m + 20), int(0.32 * L + 2 * m))
    cy = m + 0.16 * L
    steel = rng.uniform(1.5, 2.8)
    sw = L * rng.uniform(0.06, 0.09)
    part.poly(np.array([[m + 0.12 * L, cy - sw / 2], [m + 0.85 * L, cy - sw * 0.65], [m + 0.85 * L, cy + sw * 0.65], [m + 0.12 * L, cy + sw / 2]]), steel * 0.8, METAL, "round")
    shape = part.scene.shape
    head = _disc(shape, (m + 0.9 * L, cy), 0.13 * L)
    if rng.random() < 0.7:
        jaw_angle = math.radians(rng.uniform(-20, 20))
        slot = _rotate(np.array([[0.0, -0.045 * L], [0.2 * L, -0.045 * L], [0.2 * L, 0.045 * L], [0.0, 0.045 * L]]), jaw_angle) + (m + 0.9 * L, cy)
        head = np.clip(head - _poly(shape, [slot]), 0, 1)
    else:
        head = np.clip(head + _disc(shape, (m + 0.82 * L, cy + 0.05 * L), 0.07 * L), 0, 1)
    part.shape(head, steel, METAL, "bevel", bevel=4.0)
    ring = np.clip(_disc(shape, (m + 0.08 * L, cy), 0.1 * L) - _disc(shape, (m + 0.08 * L, cy), 0.055 * L), 0, 1)
    if rng.random() < 0.7:
        part.shape(ring, steel, METAL, "bevel", bevel=3.0)
    return part.threat("wrench", (0.13, 0.32), rng)


def _pliers(rng: Rng) -> Threat:
    L = 200.0
    m = 10.0
    part = _Part(int(L + 2 * m), int(0.4 * L + 2 * m))
    pivot = (m + 0.3 * L, m + 0.2 * L)
    steel = rng.uniform(1.5, 2.6)
    spread = math.radians(rng.uniform(3, 12))
    grips = rng.random() < 0.7
    for sign in (-1.0, 1.0):
        handle = _rotate(np.array([[0.0, -0.03 * L], [0.7 * L, -0.02 * L], [0.7 * L, 0.02 * L], [0.0, 0.03 * L]]), sign * spread) + pivot
        part.poly(handle, steel * 0.7, METAL, "round")
        if grips:
            grip = _rotate(np.array([[0.25 * L, -0.045 * L], [0.72 * L, -0.04 * L], [0.72 * L, 0.04 * L], [0.25 * L, 0.045 * L]]), sign * spread) + pivot
            part.poly(grip, rng.uniform(0.3, 0.6), rng.uniform(0.05, 0.3), "round")
    jaw = np.array([[0.0, -0.06 * L], [-0.3 * L, -0.015 * L], [-0.3 * L, 0.015 * L], [0.0, 0.06 * L]]) + pivot
    part.poly(jaw, steel, METAL, "round")
    part.shape(_disc(part.scene.shape, pivot, 0.05 * L), steel * 1.3, METAL, "round")
    return part.threat("pliers", (0.1, 0.22), rng)


THREAT_MAKERS: dict[str, Callable[[Rng], Threat]] = {
    "knife": _knife,
    "cleaver": lambda rng: _knife(rng, "cleaver"),
    "dagger": lambda rng: _knife(rng, "dagger"),
    "pistol": _pistol,
    "revolver": _revolver,
    "gun_part": _gun_part,
    "ammunition": _bullets,
    "blade": _blade,
    "scissors": _scissors,
    "battery": _battery,
    "wrench": _wrench,
    "pliers": _pliers,
}
THREAT_KINDS = tuple(THREAT_MAKERS)


def make_threat(kind: str, rng: Rng) -> Threat:
    """Generate one threat of a kind in :data:`THREAT_KINDS` (knife, pistol, scissors, battery, …)."""
    try:
        maker = THREAT_MAKERS[kind]
    except KeyError:
        raise ValueError(f"unknown threat kind {kind!r}; known: {', '.join(THREAT_KINDS)}") from None
    return maker(rng)


def random_threats(count: int, rng: Rng, kinds: Sequence[str] = THREAT_KINDS) -> list[Threat]:
    """Generate ``count`` threats cycling through ``kinds`` in a random order."""
    start = int(rng.integers(len(kinds)))
    order = [kinds[(start + i) % len(kinds)] for i in range(count)]
    rng.shuffle(order)
    return [make_threat(kind, rng) for kind in order]


# --------------------------------------------------------------------------------------------- benign bags


def _place(rng: Rng, bw: float, bh: float, margin: float) -> tuple[float, float]:
    return float(rng.uniform(margin, bw - margin)), float(rng.uniform(margin, bh - margin))


def _at(points: np.ndarray, centre: tuple[float, float], angle: float) -> np.ndarray:
    """Centre local points on ``centre`` rotated by ``angle`` (radians)."""
    return _rotate(points - points.mean(axis=0), angle) + centre


def _shell(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    outline = _rounded_rect(2, 2, bw - 2, bh - 2, min(bw, bh) * rng.uniform(0.03, 0.12))
    h, w = scene.shape
    cover = _poly((h, w), [outline])
    dist = cv2.distanceTransform((cover > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    rim = np.exp(-dist / rng.uniform(3, 10)).astype(np.float32)
    fabric = rng.uniform(0.06, 0.3) * (0.8 + 0.4 * _smooth_noise((h, w), rng, 60))
    scene.add(cover * (fabric + rng.uniform(0.2, 0.9) * rim).astype(np.float32), rng.uniform(0.0, 0.45))
    if rng.random() < 0.5:  # hard-shell ribs
        n = int(rng.integers(2, 7))
        for k in range(n):
            y = bh * (k + 1) / (n + 1)
            scene.add_curve(np.array([[8, y], [bw - 8, y]]), rng.uniform(3, 8), rng.uniform(0.1, 0.3), ORGANIC)


def _trolley(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    along_x = rng.random() < 0.6
    length = (bw if along_x else bh) * rng.uniform(0.75, 0.98)
    span = bh if along_x else bw
    width = min(bw, bh) * rng.uniform(0.025, 0.055)
    metal = rng.uniform(0.55, 1.0)
    density = rng.uniform(0.7, 2.0)
    gap = span * rng.uniform(0.2, 0.35)
    start = rng.uniform(0.0, (bw if along_x else bh) - length)
    for offset in (span / 2 - gap, span / 2 + gap):
        rect = _rect(start, offset - width / 2, start + length, offset + width / 2)
        if not along_x:
            rect = rect[:, ::-1]
        scene.add_shape(rect, density, metal, profile="tube", wall=rng.uniform(0.5, 0.85))
    if rng.random() < 0.8:
        across = start + rng.uniform(0.0, 0.3) * length
        bar = _rect(across, span / 2 - gap - width, across + width * rng.uniform(1.5, 3.5), span / 2 + gap + width)
        if not along_x:
            bar = bar[:, ::-1]
        scene.add_shape(bar, density * 0.7, metal, profile="round")


def _wheels(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    r = min(bw, bh) * rng.uniform(0.03, 0.055)
    corners = [(r * 1.5, r * 1.5), (bw - r * 1.5, r * 1.5), (r * 1.5, bh - r * 1.5), (bw - r * 1.5, bh - r * 1.5)]
    for cx, cy in corners[: int(rng.integers(2, 5))]:
        size = int(4 * r + 4)
        ox, oy = int(cx - 2 * r), int(cy - 2 * r)
        local = (cx - ox, cy - oy)
        scene.add_cover(_disc((size, size), local, r * 1.3), rng.uniform(0.4, 0.9), rng.uniform(0.1, 0.4), "round", ox, oy)
        scene.add_cover(_disc((size, size), local, r * 0.35), rng.uniform(0.8, 1.8), METAL, "round", ox, oy)
        scene.add_cover(_poly((size, size), [_rect(local[0] - r * 0.2, local[1] - r * 1.6, local[0] + r * 0.2, local[1])]), rng.uniform(0.5, 1.2), METAL, "flat", ox, oy)


def _zip(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    inset = rng.uniform(0.04, 0.12) * min(bw, bh)
    path = _rounded_rect(inset, inset, bw - inset, bh - inset, inset)
    scene.add_curve(path, rng.uniform(2, 4), rng.uniform(0.25, 0.6), rng.uniform(0.6, 0.95), closed=True)
    for _ in range(int(rng.integers(1, 3))):
        x, y = path[int(rng.integers(len(path)))]
        tab = _at(_rect(0, 0, rng.uniform(8, 16), rng.uniform(4, 7)), (x, y), rng.uniform(0, math.pi))
        scene.add_shape(tab, rng.uniform(0.7, 1.5), METAL)


def _clothes(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    h, w = scene.shape
    pw, ph = int(bw * rng.uniform(0.3, 0.8)), int(bh * rng.uniform(0.3, 0.8))
    x0, y0 = int(rng.uniform(0, max(1, bw - pw))), int(rng.uniform(0, max(1, bh - ph)))
    blob = _smooth_noise((ph, pw), rng, max(pw, ph) / 2.5)
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    falloff = 1.0 - ((xx / pw - 0.5) ** 2 + (yy / ph - 0.5) ** 2) * 2.0
    region = np.clip((blob * 0.6 + falloff - 0.55) * 6.0, 0.0, 1.0)
    folds = _smooth_noise((ph, pw), rng, rng.uniform(8, 25))
    density = rng.uniform(0.15, 0.9) * (0.55 + 0.45 * folds) * region
    scene.add(density.astype(np.float32), rng.uniform(0.0, 0.3), x0, y0)
    if rng.random() < 0.3:  # buttons, rivets
        for _ in range(int(rng.integers(2, 8))):
            cx, cy = x0 + rng.uniform(0.2, 0.8) * pw, y0 + rng.uniform(0.2, 0.8) * ph
            r = rng.uniform(2, 5)
            scene.add_cover(_disc((int(4 * r), int(4 * r)), (2 * r, 2 * r), r), rng.uniform(0.3, 1.0), rng.uniform(0.4, 1.0), "round", int(cx - 2 * r), int(cy - 2 * r))
    if rng.random() < 0.15:  # underwire
        c = (x0 + pw / 2, y0 + ph / 2)
        arc = np.array([[c[0] + 25 * math.cos(t), c[1] + 18 * math.sin(t)] for t in np.linspace(0, math.pi, 20)])
        scene.add_curve(_at(arc, c, rng.uniform(0, 2 * math.pi)), 2, rng.uniform(0.4, 0.8), METAL)


def _spline(points: np.ndarray, n: int = 12) -> np.ndarray:
    out = []
    p = np.vstack([points[:1], points, points[-1:]])
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        for t in np.linspace(0, 1, n, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    out.append(points[-1])
    return np.array(out)


def _cable(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    if rng.random() < 0.35:  # coiled cable
        c = _place(rng, bw, bh, 0.15 * min(bw, bh))
        r = min(bw, bh) * rng.uniform(0.05, 0.15)
        turns = int(rng.integers(3, 10))
        ang = rng.uniform(0, math.pi)
        for _ in range(turns):
            pts = np.array([[c[0] + r * (1 + rng.uniform(-0.1, 0.1)) * math.cos(t), c[1] + r * rng.uniform(0.5, 1.0) * math.sin(t)] for t in np.linspace(0, 2 * math.pi, 40)])
            scene.add_curve(_at(pts, c, ang), rng.uniform(1.5, 3.5), rng.uniform(0.2, 0.5), rng.uniform(0.5, 0.8), closed=True)
        return
    n = int(rng.integers(3, 7))
    pts = np.array([_place(rng, bw, bh, 10) for _ in range(n)])
    thickness = rng.uniform(1.5, 5.0)
    scene.add_curve(_spline(pts), thickness, rng.uniform(0.25, 0.7), rng.uniform(0.45, 0.85))
    if rng.random() < 0.5:  # plug
        plug = _at(_rect(0, 0, rng.uniform(12, 25), rng.uniform(8, 14)), tuple(pts[-1]), rng.uniform(0, math.pi))
        scene.add_shape(plug, rng.uniform(0.6, 1.4), MIXED, profile="round")


def _bottle(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    u = min(bw, bh)
    length, width = u * rng.uniform(0.2, 0.45), u * rng.uniform(0.07, 0.15)
    body = np.vstack([_rounded_rect(0, 0, length, width, width * 0.3), ])
    neck = _rect(length - 2, width * 0.3, length + width * 0.6, width * 0.7)
    c, ang = _place(rng, bw, bh, length * 0.6), rng.uniform(0, math.pi)
    pts_body = _at(body, c, ang)
    centre_shift = _rotate(neck - body.mean(axis=0), ang) + c
    kind = rng.random()
    if kind < 0.6:  # liquid in plastic
        scene.add_shape(pts_body, rng.uniform(0.5, 1.6), rng.uniform(0.02, 0.3), profile="round")
        scene.add_shape(centre_shift, rng.uniform(0.3, 0.8), ORGANIC, profile="round")
    elif kind < 0.8:  # glass
        scene.add_shape(pts_body, rng.uniform(1.0, 2.0), rng.uniform(0.45, 0.6), profile="round")
        scene.add_shape(centre_shift, rng.uniform(0.8, 1.4), MIXED, profile="round")
    else:  # aluminium can / aerosol
        scene.add_shape(pts_body, rng.uniform(0.5, 1.2), rng.uniform(0.45, 0.65), profile="tube", wall=0.85)
        scene.add_shape(centre_shift, rng.uniform(0.8, 1.5), METAL, profile="round")


def _electronics(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    u = min(bw, bh)
    kind = rng.random()
    if kind < 0.45:  # laptop / tablet
        w, h = u * rng.uniform(0.35, 0.7), u * rng.uniform(0.25, 0.45)
    elif kind < 0.8:  # phone, charger, hard disk
        w, h = u * rng.uniform(0.1, 0.2), u * rng.uniform(0.06, 0.1)
    else:  # camera / hair dryer body
        w, h = u * rng.uniform(0.15, 0.3), u * rng.uniform(0.1, 0.18)
    c, ang = _place(rng, bw, bh, max(w, h) * 0.5), rng.uniform(0, math.pi)
    size = int(math.hypot(w, h)) + 6
    local = np.zeros((size, size), np.float32)
    lc = (size / 2, size / 2)
    outline = _at(_rounded_rect(0, 0, w, h, 4), lc, ang)
    base = _poly((size, size), [outline])
    material = rng.uniform(0.4, 0.85)
    local += base * rng.uniform(0.3, 0.9)
    n = int(rng.integers(3, 15))
    for _ in range(n):
        cw, ch = w * rng.uniform(0.05, 0.3), h * rng.uniform(0.05, 0.3)
        offset = (rng.uniform(-0.4, 0.4) * w, rng.uniform(-0.4, 0.4) * h)
        comp = _at(_rect(0, 0, cw, ch), (lc[0] + offset[0], lc[1] + offset[1]), 0.0)
        comp = _rotate(comp, ang, lc)
        local += _poly((size, size), [comp]) * rng.uniform(0.2, 1.2) * base
    if rng.random() < 0.6:  # flat battery pouch / screen frame
        bx = _rotate(_at(_rect(0, 0, w * 0.8, h * 0.35), (lc[0], lc[1] + h * 0.25), 0.0), ang, lc)
        local += _poly((size, size), [bx]) * rng.uniform(0.4, 1.0)
    local += _lines((size, size), [outline], 2, True) * rng.uniform(0.2, 0.8)
    scene.add(local, material, int(c[0] - size / 2), int(c[1] - size / 2))
    for _ in range(int(rng.integers(0, 5))):  # screws, connectors
        p = _rotate(np.array([[lc[0] + rng.uniform(-0.45, 0.45) * w, lc[1] + rng.uniform(-0.45, 0.45) * h]]), ang, lc)[0]
        scene.add_cover(_disc((8, 8), (4, 4), rng.uniform(1.2, 2.5)), rng.uniform(0.6, 1.5), METAL, "round", int(c[0] - size / 2 + p[0] - 4), int(c[1] - size / 2 + p[1] - 4))


def _shoes(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    u = min(bw, bh)
    length, width = u * rng.uniform(0.25, 0.4), u * rng.uniform(0.09, 0.14)
    c, ang = _place(rng, bw, bh, length * 0.6), rng.uniform(0, math.pi)
    density = rng.uniform(0.5, 1.4)
    for k in (-0.6, 0.6):
        centre = (c[0] - k * width * math.sin(ang), c[1] + k * width * math.cos(ang))
        sole = _at(_rounded_rect(0, 0, length, width, width * 0.45), centre, ang)
        scene.add_shape(sole, density, rng.uniform(0.0, 0.25), profile="round")
        if rng.random() < 0.5:
            shank = _at(_rect(0, 0, length * 0.3, width * 0.12), centre, ang)
            scene.add_shape(shank, rng.uniform(0.4, 0.9), METAL)


def _book(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    u = min(bw, bh)
    w, h = u * rng.uniform(0.15, 0.4), u * rng.uniform(0.12, 0.3)
    c = _place(rng, bw, bh, max(w, h) * 0.5)
    scene.add_shape(_at(_rect(0, 0, w, h), c, rng.uniform(0, math.pi)), rng.uniform(0.4, 1.4), rng.uniform(0.0, 0.25))


def _small_metal(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    u = min(bw, bh)
    c = _place(rng, bw, bh, 0.08 * u)
    ang = rng.uniform(0, 2 * math.pi)
    s = u * rng.uniform(0.6, 1.2) / 400.0
    kind = int(rng.integers(9))
    if kind == 0:  # coins
        for _ in range(int(rng.integers(1, 6))):
            r = rng.uniform(7, 12) * s
            p = (c[0] + rng.uniform(-15, 15) * s, c[1] + rng.uniform(-15, 15) * s)
            size = int(2 * r + 6)
            scene.add_cover(_disc((size, size), (size / 2, size / 2), r), rng.uniform(0.5, 1.2), METAL, "flat", int(p[0] - size / 2), int(p[1] - size / 2))
    elif kind == 1:  # key
        outline = np.array(
            [[0, 0], [20, 0], [20, 6], [58, 6], [58, 9], [54, 12], [50, 10], [46, 13], [42, 11], [38, 13], [20, 13], [20, 20], [0, 20]],
            dtype=np.float64,
        )
        scene.add_shape(_at(outline * s, c, ang), rng.uniform(0.5, 1.0), METAL)
    elif kind == 2:  # belt buckle
        outer = _at(_rounded_rect(0, 0, 40 * s, 30 * s, 4 * s), c, ang)
        scene.add_curve(outer, max(2.0, 4 * s), rng.uniform(0.8, 1.6), METAL, closed=True)
        scene.add_curve(_at(np.array([[0, 0], [0, 28 * s]]), c, ang), max(2.0, 3 * s), 1.0, METAL)
    elif kind == 3:  # fork / spoon
        length = rng.uniform(120, 180) * s
        handle = _at(np.array([[0, -3 * s], [length * 0.65, -2 * s], [length * 0.65, 2 * s], [0, 3 * s]]), c, ang)
        scene.add_shape(handle, rng.uniform(0.4, 0.9), METAL, profile="round")
        head_c = (c[0] + math.cos(ang) * length * 0.45, c[1] + math.sin(ang) * length * 0.45)
        size = int(length * 0.5)
        head = _ellipse((size, size), (size / 2, size / 2), (length * 0.17, 9 * s), math.degrees(ang))
        scene.add_cover(head, rng.uniform(0.3, 0.7), METAL, "flat", int(head_c[0] - size / 2), int(head_c[1] - size / 2))
    elif kind == 4:  # pen
        length = rng.uniform(100, 150) * s
        body = _at(_rect(0, 0, length, 7 * s), c, ang)
        scene.add_shape(body, rng.uniform(0.2, 0.5), rng.uniform(0.0, 0.3), profile="round")
        scene.add_curve(_at(np.array([[0, 0], [length * 0.5, 0]]), c, ang), max(1.5, 1.5 * s), rng.uniform(0.5, 1.0), METAL)
    elif kind == 5:  # glasses
        for dx in (-16, 16):
            p = (c[0] + dx * s * math.cos(ang), c[1] + dx * s * math.sin(ang))
            size = int(40 * s) + 6
            ring = _ellipse((size, size), (size / 2, size / 2), (14 * s, 10 * s), math.degrees(ang), max(1, int(2 * s)))
            scene.add_cover(ring, rng.uniform(0.4, 0.9), rng.uniform(0.5, 0.9), "flat", int(p[0] - size / 2), int(p[1] - size / 2))
    elif kind == 6:  # umbrella
        length = u * rng.uniform(0.35, 0.6)
        for k in range(int(rng.integers(5, 9))):
            off = rng.uniform(-6, 6) * s
            rod = _at(np.array([[0, off], [length, off * 0.2]]), c, ang)
            scene.add_curve(rod, max(1.5, 2 * s), rng.uniform(0.3, 0.6), METAL)
        scene.add_curve(_at(np.array([[0, 0], [length * 1.05, 0]]), c, ang), max(2.0, 4 * s), rng.uniform(0.5, 1.0), METAL)
        scene.add_shape(_at(_rect(0, 0, length * 0.3, 14 * s), c, ang), rng.uniform(0.3, 0.6), ORGANIC, profile="round")
    elif kind == 7:  # hanger
        pts = np.array([[0, 30], [45, 0], [90, 30], [0, 30]], dtype=np.float64) * s
        scene.add_curve(_at(pts, c, ang), max(1.5, 2.5 * s), rng.uniform(0.5, 1.0), METAL)
    else:  # jewellery chain / earbuds
        pts = np.array([_place(rng, 60 * s, 60 * s, 0) for _ in range(4)]) + c
        scene.add_curve(_spline(pts), max(1.5, 2 * s), rng.uniform(0.3, 0.8), METAL)


def _hardware(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    """Screws, rivets, clips and zip pulls: the many small metal parts of a bag, scattered or in a row."""
    u = min(bw, bh)
    start = np.array(_place(rng, bw, bh, 0.05 * u))
    step = rng.uniform(-1, 1, 2) * u * rng.uniform(0.02, 0.08)
    in_row = rng.random() < 0.5
    for k in range(int(rng.integers(3, 14))):
        centre = start + step * k if in_row else np.array(_place(rng, bw, bh, 0.03 * u))
        w, h = rng.uniform(2, 7) * u / 400, rng.uniform(2, 12) * u / 400
        part = _at(_rect(0, 0, max(w, 1.5), max(h, 1.5)), (float(centre[0]), float(centre[1])), rng.uniform(0, math.pi))
        scene.add_shape(part, rng.uniform(0.4, 1.3), rng.uniform(0.7, 1.0))


def _rod_bundle(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    """Tent poles, umbrella ribs, tripod legs: many long parallel metal tubes, slightly fanned."""
    u = min(bw, bh)
    length = max(bw, bh) * rng.uniform(0.25, 0.6)
    count = int(rng.integers(4, 22))
    centre = _place(rng, bw, bh, 0.2 * u)
    angle = rng.uniform(0, math.pi)
    spacing = rng.uniform(2.5, 6.0) * u / 400
    fan = rng.uniform(0.0, 0.08)
    width = rng.uniform(2.0, 5.0) * u / 400
    density = rng.uniform(0.3, 0.9)
    for k in range(count):
        offset = (k - count / 2) * spacing + rng.normal(0, spacing * 0.3)
        tilt = angle + (k - count / 2) * fan / count + rng.normal(0, 0.01)
        shift = rng.uniform(-0.1, 0.1) * length
        rod = np.array([[-length / 2 + shift, offset], [length / 2 + shift, offset]], dtype=np.float64)
        rod = _rotate(rod, tilt) + centre
        scene.add_curve(rod, max(1.5, width), density, rng.uniform(0.75, 1.0))


def _cookware(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    """Pots, pans, thermos flasks: large thin-walled metal shapes, dense at the rim, often with a handle."""
    u = min(bw, bh)
    r = u * rng.uniform(0.1, 0.22)
    c = _place(rng, bw, bh, r * 1.1)
    squash = rng.uniform(0.35, 1.0)
    angle = rng.uniform(0, 180)
    size = int(2 * r + 8)
    body = _ellipse((size, size), (size / 2, size / 2), (r, r * squash), angle)
    scene.add_cover(body, rng.uniform(0.4, 1.2), rng.uniform(0.55, 0.95), "tube", int(c[0] - size / 2), int(c[1] - size / 2))
    if rng.random() < 0.7:
        a = math.radians(angle)
        start = (c[0] + r * math.cos(a), c[1] + r * math.sin(a))
        handle = np.array([start, (start[0] + r * 0.9 * math.cos(a), start[1] + r * 0.9 * math.sin(a))])
        scene.add_curve(handle, max(3.0, r * 0.12), rng.uniform(0.5, 1.3), rng.uniform(0.3, 1.0))


def _appliance(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    """Chargers, hair dryers, shavers, speakers: a metal-rich box with very dense parts (motor, transformer,
    cells) and wires."""
    u = min(bw, bh)
    w, h = u * rng.uniform(0.12, 0.35), u * rng.uniform(0.1, 0.25)
    c, ang = _place(rng, bw, bh, max(w, h) * 0.6), rng.uniform(0, math.pi)
    scene.add_shape(_at(_rounded_rect(0, 0, w, h, 5), c, ang), rng.uniform(0.3, 1.0), rng.uniform(0.6, 0.9))
    for _ in range(int(rng.integers(1, 5))):
        pw, ph = w * rng.uniform(0.15, 0.45), h * rng.uniform(0.15, 0.5)
        offset = _rotate(np.array([[rng.uniform(-0.3, 0.3) * w, rng.uniform(-0.3, 0.3) * h]]), ang)[0]
        part = _at(_rounded_rect(0, 0, pw, ph, min(pw, ph) * 0.4), (c[0] + offset[0], c[1] + offset[1]), ang + rng.uniform(-0.3, 0.3))
        scene.add_shape(part, rng.uniform(1.0, 3.0), rng.uniform(0.7, 1.0), profile="round")
    for _ in range(int(rng.integers(0, 4))):
        pts = np.array([_place(rng, bw, bh, 10) for _ in range(3)])
        pts[0] = c
        scene.add_curve(_spline(pts), rng.uniform(1.5, 3.0), rng.uniform(0.3, 0.7), rng.uniform(0.5, 0.8))


_BAG_ITEMS: tuple[tuple[Callable[[_Scene, Rng, float, float], None], float], ...] = (
    (_clothes, 3.0),
    (_cable, 1.2),
    (_bottle, 0.9),
    (_electronics, 0.8),
    (_shoes, 0.4),
    (_book, 0.5),
    (_small_metal, 2.5),
    (_hardware, 1.5),
    (_rod_bundle, 0.4),
    (_cookware, 0.3),
    (_appliance, 0.5),
)


def _bag_density(rng: Rng, bw: int, bh: int, clutter: float) -> _Scene:
    scene = _Scene(bh, bw)
    _shell(scene, rng, bw, bh)
    if rng.random() < 0.75:
        _trolley(scene, rng, bw, bh)
    if rng.random() < 0.5:
        _wheels(scene, rng, bw, bh)
    if rng.random() < 0.7:
        _zip(scene, rng, bw, bh)
    makers = [m for m, _ in _BAG_ITEMS]
    weights = np.array([w for _, w in _BAG_ITEMS])
    for _ in range(int(round(clutter * rng.uniform(6, 22)))):
        makers[int(rng.choice(len(makers), p=weights / weights.sum()))](scene, rng, bw, bh)
    return scene


def benign_bag(
    rng: Rng,
    *,
    size: tuple[int, int] | None = None,
    colour: bool | None = None,
    clutter: float | None = None,
    hardening: float | None = 1.5,
) -> np.ndarray:
    """Render a benign bag scan with no threat, as float32 transmission in [0, 1] (bright = air).

    ``size`` is (height, width), random around 400-560 px unless given; ``colour`` picks a BGR
    pseudo-colour scan (H×W×3) or a grey one (H×W), random unless given; ``clutter`` (about 0.3-1.5)
    scales how many items are packed; ``hardening`` compresses dense regions (see
    :func:`~inspection.xray.physics.harden`), use the same value when projecting threats into it. Scanner effects are not applied (see :func:`scanner_effects`).
    """
    if size is None:
        longest = int(rng.integers(400, 561))
        aspect = float(rng.uniform(0.7, 1.35))
        size = (longest, int(longest * aspect)) if aspect < 1 else (int(longest / aspect), longest)
    height, width = size
    colour = bool(rng.random() < 0.5) if colour is None else colour
    clutter = float(rng.uniform(0.3, 1.2)) if clutter is None else clutter
    bag_long = int(max(height, width) * rng.uniform(0.8, 1.0))
    bag_short = int(bag_long * rng.uniform(0.55, 0.95))
    scene = _bag_density(rng, bag_long, bag_short, clutter)
    scale_density = np.float32(rng.uniform(0.5, 1.1))

    angle = rng.uniform(-40, 40) + (90 if rng.random() < 0.3 else 0)
    rotation = cv2.getRotationMatrix2D((bag_long / 2, bag_short / 2), angle, 1.0)
    corners = np.array([[0, 0, 1], [bag_long, 0, 1], [bag_long, bag_short, 1], [0, bag_short, 1]], dtype=np.float64)
    turned = corners @ rotation.T
    extent = turned.max(axis=0) - turned.min(axis=0)
    fit = min(width / extent[0], height / extent[1]) * rng.uniform(0.82, 0.99)
    matrix = rotation * fit
    centre_out = np.array([width / 2 + rng.uniform(-0.03, 0.03) * width, height / 2 + rng.uniform(-0.03, 0.03) * height])
    matrix[:, 2] += centre_out - (turned.min(axis=0) + extent / 2) * fit
    warp = {"dsize": (width, height), "flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
    grey = cv2.warpAffine(scene.grey, matrix, **warp) * scale_density
    hardened = harden(grey, hardening)
    if not colour:
        return transmit(hardened)
    ratio = hardened / np.maximum(grey, 1e-6)
    return transmit(cv2.warpAffine(scene.colour, matrix, **warp) * (scale_density * ratio)[:, :, None])


def scanner_effects(image: np.ndarray, rng: Rng) -> np.ndarray:
    """Apply a scanner's look to a float transmission image (grey or BGR): detector blur, edge
    enhancement, per-line gain, quantum noise and a display gamma. Returns float32 in [0, 1].

    Use generators seeded alike to give both images of a with/without-threat pair the same effects.
    """
    out = image.astype(np.float32)
    sigma = rng.uniform(0.3, 1.1)
    out = cv2.GaussianBlur(out, (0, 0), sigma)
    if rng.random() < 0.6:
        amount = rng.uniform(0.2, 1.2)
        soft = cv2.GaussianBlur(out, (0, 0), rng.uniform(1.5, 4.0))
        out = out + amount * (out - soft)
    height = out.shape[0]
    lines = (1.0 + rng.normal(0.0, rng.uniform(0.0, 0.01), size=(height, 1))).astype(np.float32)
    out = out * (lines if out.ndim == 2 else lines[:, :, None])
    noise_level = rng.uniform(0.003, 0.02)
    noise = rng.normal(0.0, 1.0, size=out.shape).astype(np.float32)
    out = out + noise_level * np.sqrt(np.clip(out, 0.0, 1.0)) * noise
    out = np.clip(out, 0.0, 1.0) ** np.float32(rng.uniform(0.8, 1.25))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def quantise(image: np.ndarray, bits: int = 8) -> np.ndarray:
    """Store a float transmission image as an 8- or 16-bit integer image."""
    top = 2**bits - 1
    return np.round(np.clip(image, 0.0, 1.0) * top).astype(np.uint8 if bits <= 8 else np.uint16)


class ProceduralBags(Sequence[np.ndarray]):
    """A deterministic, lazily rendered sequence of finished benign scans (scanner effects applied).

    Item ``i`` depends only on ``seed`` and ``i``: grey scans are stored 8- or 16-bit, colour scans 8-bit,
    so training sees the same kinds of arrays an upload produces.
    """

    def __init__(self, count: int, seed: int, *, hardening_range: tuple[float, float] = (1.2, 2.5)) -> None:
        self.count = count
        self.seed = seed
        self.hardening_range = hardening_range

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if not -self.count <= index < self.count:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index % self.count])
        bag = benign_bag(rng, hardening=float(rng.uniform(*self.hardening_range)))
        bag = scanner_effects(bag, rng)
        bits = 16 if bag.ndim == 2 and rng.random() < 0.5 else 8
        return quantise(bag, bits)
