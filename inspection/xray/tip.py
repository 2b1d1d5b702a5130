"""Threat image projection (TIP): put a threat into a bag scan the way X-rays would have seen it.

Transmissions multiply (Beer–Lambert): ``I = I_bag · exp(-μt)``. A projected threat can therefore only
darken the bag, never brighten it. The threat is placed at a random position inside the bag, rotated,
scaled relative to the bag, foreshortened by a random tilt (a tilted flat object looks narrower and is
crossed by a longer path, so it is denser), magnified and blurred by its depth between detector and source.

Grey scans are multiplied directly. Colour (dual-energy pseudo-colour) scans are multiplied per channel with
the gains of the threat's material (see :mod:`inspection.xray.physics`), so steel shows blue/dark and
plastics orange, as on the scanner's own display.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from inspection.xray.physics import METAL, channel_gains, harden


@dataclass(frozen=True)
class Threat:
    """A threat object seen from above, long axis along x.

    ``attenuation``: float32 optical density μ·t per pixel; ``mask``: bool silhouette; ``material``:
    float32 map in [0, 1] (0 organic … 1 metal); ``size_range``: the object's longest side as a fraction
    of the bag's longest side when projected (its real size relative to a suitcase).
    """

    kind: str
    attenuation: np.ndarray
    mask: np.ndarray
    material: np.ndarray
    size_range: tuple[float, float] = (0.15, 0.35)


def _full_scale(bag: np.ndarray) -> float:
    if bag.dtype == np.uint8:
        return 255.0
    if np.issubdtype(bag.dtype, np.integer):
        return float(max(int(bag.max()), 1))
    return 1.0


def _grey(bag: np.ndarray) -> np.ndarray:
    """Grey transmission in [0, 1] of a bag (grey or BGR, any dtype), for placement only."""
    unit = bag.astype(np.float32) / np.float32(_full_scale(bag))
    if unit.ndim == 3:
        unit = cv2.cvtColor(np.ascontiguousarray(unit[:, :, :3]), cv2.COLOR_BGR2GRAY)
    return unit


def _pick_position(
    grey: np.ndarray, radius: float, rng: np.random.Generator, *, level: float = 0.9
) -> tuple[float, float]:
    """A random point inside the bag's content, at least about ``radius`` from its border when possible."""
    height, width = grey.shape
    step = max(1, max(height, width) // 128)
    content = (grey[::step, ::step] < level).astype(np.uint8)
    content = cv2.morphologyEx(content, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    for shrink in (0.6, 0.3, 0.0):
        k = int(radius * shrink / step) * 2 + 1
        region = cv2.erode(content, np.ones((k, k), np.uint8)) if k > 1 else content
        ys, xs = np.nonzero(region)
        if ys.size:
            i = int(rng.integers(ys.size))
            return (xs[i] + rng.random()) * step, (ys[i] + rng.random()) * step
    return width / 2.0, height / 2.0


def project_threat(
    bag: np.ndarray,
    threat_attenuation: np.ndarray,
    mask: np.ndarray,
    *,
    rng: np.random.Generator,
    material: np.ndarray | float = METAL,
    size_range: tuple[float, float] = (0.15, 0.35),
    angle: float | None = None,
    depth_range: tuple[float, float] = (0.0, 1.0),
    max_tilt_degrees: float = 55.0,
    density_range: tuple[float, float] = (0.85, 1.2),
    position: tuple[float, float] | None = None,
    hardening: float | None = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Project a threat into a bag scan and return ``(image, mask_in_bag)``.

    ``bag`` is grey (H×W) or BGR (H×W×3), uint8, uint16 or float in [0, 1], bright = high transmission;
    the result has the same shape and dtype and is nowhere brighter than ``bag``. ``threat_attenuation``
    is the threat's optical density μ·t, ``mask`` its silhouette and ``material`` a scalar or map in [0, 1]
    used for the colour of colour scans. The threat's longest side becomes a random fraction
    (``size_range``) of the bag's longest side; ``angle`` (degrees) and ``position`` (x, y in bag pixels)
    are random unless given. ``hardening`` compresses dense parts as a polychromatic beam and the
    scanner's display do (see :func:`~inspection.xray.physics.harden`; ``None`` = none).
    ``mask_in_bag`` is a bool H×W map of where the threat landed.
    """
    if threat_attenuation.shape != mask.shape:
        raise ValueError("threat attenuation and mask shapes differ")
    height, width = bag.shape[:2]
    grey = _grey(bag)
    material_map = np.broadcast_to(np.asarray(material, dtype=np.float32), mask.shape)

    depth = float(rng.uniform(*depth_range))
    magnification = 1.0 + 0.25 * depth
    longest = max(height, width) * float(rng.uniform(*size_range)) * magnification
    scale = longest / max(mask.shape)
    # Objects mostly lie flat in a bag: small tilts are far more common than steep ones.
    tilt = math.radians(max_tilt_degrees * float(rng.random()) ** 2)
    foreshorten = math.cos(tilt)
    sx, sy = (scale * foreshorten, scale) if rng.random() < 0.5 else (scale, scale * foreshorten)
    density = float(rng.uniform(*density_range)) / max(foreshorten, 0.4)
    theta = math.radians(float(rng.uniform(0.0, 360.0)) if angle is None else angle)
    if position is None:
        position = _pick_position(grey, 0.5 * longest, rng)

    h, w = mask.shape
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    linear = np.array([[cos_t * sx, -sin_t * sy], [sin_t * sx, cos_t * sy]])
    offset = np.array(position) - linear @ np.array([w / 2.0, h / 2.0])
    corners = linear @ np.array([[0, w, w, 0], [0, 0, h, h]], dtype=np.float64) + offset[:, None]
    blur = (0.3 + 1.0 * depth) * max(1.0, max(height, width) / 512.0)
    pad = int(3 * blur) + 2
    x0 = max(0, int(math.floor(corners[0].min())) - pad)
    y0 = max(0, int(math.floor(corners[1].min())) - pad)
    x1 = min(width, int(math.ceil(corners[0].max())) + pad)
    y1 = min(height, int(math.ceil(corners[1].max())) + pad)
    mask_in_bag = np.zeros((height, width), dtype=bool)
    if x1 <= x0 or y1 <= y0:
        return bag.copy(), mask_in_bag

    matrix = np.hstack([linear, (offset - [x0, y0])[:, None]]).astype(np.float64)
    size = (x1 - x0, y1 - y0)
    warp = {"dsize": size, "flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
    att = cv2.warpAffine(threat_attenuation.astype(np.float32), matrix, **warp) * np.float32(density)
    cover = cv2.warpAffine(mask.astype(np.float32), matrix, **warp)
    mat = cv2.warpAffine(np.ascontiguousarray(material_map), matrix, **warp)
    if blur > 0.35:
        att = cv2.GaussianBlur(att, (0, 0), blur)
    att = harden(np.maximum(att, 0.0), hardening)
    mask_in_bag[y0:y1, x0:x1] = cover > 0.5

    region = bag[y0:y1, x0:x1].astype(np.float32)
    if bag.ndim == 2:
        factor = np.exp(-att)
    else:
        gains = channel_gains(np.where(cover > 0.01, mat, METAL))
        factor = np.exp(-att[:, :, None] * gains)
        if bag.shape[2] == 4:
            factor = np.concatenate([factor, np.ones_like(factor[:, :, :1])], axis=2)
    projected = region * np.minimum(factor, 1.0)
    out = bag.copy()
    if np.issubdtype(bag.dtype, np.integer):
        out[y0:y1, x0:x1] = np.floor(projected + 0.5).astype(bag.dtype)
    else:
        out[y0:y1, x0:x1] = projected.astype(bag.dtype)
    return out, mask_in_bag


def project(
    bag: np.ndarray,
    threat: Threat,
    *,
    rng: np.random.Generator,
    angle: float | None = None,
    position: tuple[float, float] | None = None,
    hardening: float | None = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Project a :class:`Threat` into ``bag`` with its own material and size range (see :func:`project_threat`)."""
    return project_threat(
        bag,
        threat.attenuation,
        threat.mask,
        rng=rng,
        material=threat.material,
        size_range=threat.size_range,
        angle=angle,
        position=position,
        hardening=hardening,
    )
