"""Local features of a normalised scan on a grid of cells.

The working canvas (see :mod:`inspection.xray.imaging`) is cut into square cells. For every cell we
describe what a screener looks at: how dense it is (optical density ``A = -ln T``), how much denser than
its surroundings (morphological top-hats at two scales, i.e. objects thinner than ~10 and ~26 pixels lying
on top of the clutter), edges and their orientation (gradients, structure-tensor coherence: blades and
barrels are long straight edges), and, for dual-energy colour scans, the material (share of the density on
the red channel: high for metal). Each cell also gets its neighbourhood (3×3 and 7×7 cells) and the whole
scan's density level, so a dark cell in a dense bag is judged against that bag.

Everything is computed on the fixed-size canvas, so the scan's own size, aspect ratio and file format do
not enter the features. Colour features are NaN for grey scans (the model handles missing values).
"""

from __future__ import annotations

import cv2
import numpy as np

from inspection.xray.imaging import XrayImage

CELL = 12
_MIN_T = np.float32(1.0 / 1024.0)
_SMALL_KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (11, 11))
_LARGE_KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (27, 27))

FEATURE_NAMES: tuple[str, ...] = (
    "a_mean", "a_max", "a_min", "a_std", "a_gt06", "a_gt10", "a_gt15",
    "th_small_mean", "th_small_max", "th_large_mean", "th_large_max",
    "grad_mean", "grad_max", "coherence", "coherence_3", "orient_0", "orient_45", "orient_90", "orient_135",
    "content",
    "a_mean_3", "a_mean_7", "a_max_3max", "th_large_3", "th_large_7", "th_large_3max", "th_small_3",
    "th_small_3max", "grad_3", "grad_7", "a_gt10_3", "a_gt10_7", "content_7", "a_mean_minus_7",
    "th_large_minus_7",
    "img_a_mean", "img_a_p90", "img_th_large_p90", "img_a_gt10",
    "z_mean", "z_max", "metal_mean", "metal_max", "metal_frac", "metal_3", "metal_7", "metal_3max",
    "img_metal_p90",
)
FEATURE_COUNT = len(FEATURE_NAMES)


def grid_size(image: XrayImage) -> int:
    """Number of cells along each side of the canvas."""
    return image.working_size // CELL


def _pool_mean(a: np.ndarray, g: int) -> np.ndarray:
    return a.reshape(g, CELL, g, CELL).mean(axis=(1, 3), dtype=np.float32)


def _pool_max(a: np.ndarray, g: int) -> np.ndarray:
    return a.reshape(g, CELL, g, CELL).max(axis=(1, 3))


def _pool_min(a: np.ndarray, g: int) -> np.ndarray:
    return a.reshape(g, CELL, g, CELL).min(axis=(1, 3))


def _box(a: np.ndarray, k: int) -> np.ndarray:
    return cv2.blur(a, (k, k), borderType=cv2.BORDER_REFLECT)


def _dilate(a: np.ndarray) -> np.ndarray:
    return cv2.dilate(a, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REFLECT)


def density_map(transmission: np.ndarray) -> np.ndarray:
    """Optical density ``-ln T`` (float32) of a transmission map, T floored at 1/1024."""
    return -np.log(np.maximum(transmission, _MIN_T))


def cell_features(image: XrayImage) -> np.ndarray:
    """Feature matrix of a scan: one row per cell (row-major over the grid), :data:`FEATURE_COUNT` columns."""
    g = grid_size(image)
    size = g * CELL
    a = density_map(image.transmission[:size, :size])
    th_small = a - cv2.morphologyEx(a, cv2.MORPH_OPEN, _SMALL_KERNEL)
    th_large = a - cv2.morphologyEx(a, cv2.MORPH_OPEN, _LARGE_KERNEL)
    gx = cv2.Sobel(a, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(a, cv2.CV_32F, 0, 1, ksize=3)
    gxx, gyy, gxy = gx * gx, gy * gy, gx * gy
    grad = np.sqrt(gxx + gyy)

    a_mean = _pool_mean(a, g)
    a_max = _pool_max(a, g)
    a_gt10 = _pool_mean((a > 1.0).astype(np.float32), g)
    thl_mean = _pool_mean(th_large, g)
    ths_max = _pool_max(th_small, g)
    grad_mean = _pool_mean(grad, g)
    content = _pool_mean((a > 0.05).astype(np.float32), g)
    jxx, jyy, jxy = _pool_mean(gxx, g), _pool_mean(gyy, g), _pool_mean(gxy, g)
    energy = jxx + jyy + 1e-4
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / energy
    jxx3, jyy3, jxy3 = _box(jxx, 3), _box(jyy, 3), _box(jxy, 3)
    coherence3 = np.sqrt((jxx3 - jyy3) ** 2 + 4 * jxy3**2) / (jxx3 + jyy3 + 1e-4)
    # Orientation histogram from the structure tensor: energy along 0°, 45°, 90°, 135°.
    diag = 0.5 * (jxx + jyy)
    orient = [jxx / energy, (diag + jxy) / energy, jyy / energy, (diag - jxy) / energy]

    content_cells = content > 0.3
    inside = a_mean[content_cells] if content_cells.any() else a_mean.ravel()
    thl_inside = thl_mean[content_cells] if content_cells.any() else thl_mean.ravel()
    img = [
        float(inside.mean()),
        float(np.percentile(inside, 90)),
        float(np.percentile(thl_inside, 90)),
        float(a_gt10[content_cells].mean()) if content_cells.any() else 0.0,
    ]

    columns = [
        a_mean, a_max, _pool_min(a, g), np.sqrt(np.maximum(_pool_mean(a * a, g) - a_mean**2, 0.0)),
        _pool_mean((a > 0.6).astype(np.float32), g), a_gt10, _pool_mean((a > 1.5).astype(np.float32), g),
        _pool_mean(th_small, g), ths_max, thl_mean, _pool_max(th_large, g),
        grad_mean, _pool_max(grad, g), coherence, coherence3, *orient,
        content,
        _box(a_mean, 3), _box(a_mean, 7), _dilate(a_max), _box(thl_mean, 3), _box(thl_mean, 7),
        _dilate(thl_mean), _box(ths_max, 3), _dilate(ths_max), _box(grad_mean, 3), _box(grad_mean, 7),
        _box(a_gt10, 3), _box(a_gt10, 7), _box(content, 7), a_mean - _box(a_mean, 7),
        thl_mean - _box(thl_mean, 7),
    ]
    columns += [np.full((g, g), v, np.float32) for v in img]
    columns += _colour_columns(image, a, g, content_cells)
    return np.stack([c.astype(np.float32).ravel() for c in columns], axis=1)


def _colour_columns(image: XrayImage, a: np.ndarray, g: int, content_cells: np.ndarray) -> list[np.ndarray]:
    if image.colour is None:
        return [np.full((g, g), np.nan, np.float32) for _ in range(9)]
    size = g * CELL
    od = -np.log(np.maximum(image.colour[:size, :size], _MIN_T))
    total = od.sum(axis=2)
    z = np.where(total > 0.15, od[:, :, 2] / np.maximum(total, 1e-3), 0.0).astype(np.float32)
    metal = a * z
    metal_mean = _pool_mean(metal, g)
    inside = metal_mean[content_cells] if content_cells.any() else metal_mean.ravel()
    return [
        _pool_mean(z, g),
        _pool_max(z, g),
        metal_mean,
        _pool_max(metal, g),
        _pool_mean(((z > 0.45) & (a > 0.3)).astype(np.float32), g),
        _box(metal_mean, 3),
        _box(metal_mean, 7),
        _dilate(metal_mean),
        np.full((g, g), float(np.percentile(inside, 90)), np.float32),
    ]
