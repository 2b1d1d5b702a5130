"""Drawing helpers for the procedural scans: anti-aliased shapes, thickness profiles, a density scene."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from inspection.xray.physics import colour_density

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

    def add_cover(
        self, cover: np.ndarray, density: float, material: float, profile: str = "flat", x0: int = 0, y0: int = 0
    ) -> None:
        self.add(_profile(cover, profile) * np.float32(density), material, x0, y0)

    def add_curve(
        self, points: np.ndarray, thickness: float, density: float, material: float, closed: bool = False
    ) -> None:
        """Draw a polyline (e.g. a cable) with a round cross-section."""
        pad = int(thickness) + 3
        x0, y0 = np.floor(points.min(axis=0)).astype(int) - pad
        x1, y1 = np.ceil(points.max(axis=0)).astype(int) + pad
        cover = _lines((y1 - y0, x1 - x0), [points - (x0, y0)], int(round(thickness)), closed)
        profile = "round" if thickness >= 3 else "flat"
        self.add(_profile(cover, profile) * np.float32(density), material, int(x0), int(y0))
