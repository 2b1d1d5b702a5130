"""Local features of a normalised scan on a grid of cells.

The working canvas (see :mod:`inspection.xray.imaging`) is cut into square cells. For every cell we
describe what a screener looks at: how dense it is (optical density ``A = -ln T``), how much denser than
its surroundings (morphological top-hats at two scales, i.e. objects thinner than ~10 and ~26 pixels lying
on top of the clutter), edges and their orientation (gradients, structure-tensor coherence), ridges and
blobs (Hessian at three scales), the shape of the dense structure around the cell (density profiles along
and across its main axis: bars continue, blades taper and end, guns are compact), and, for dual-energy
colour scans, the material (share of the density on the red channel: high for metal). Each cell also gets
its neighbourhood (3×3 and 7×7 cells), its rank in the scan and the whole scan's density level, so a dark
cell in a dense bag is judged against that bag.

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
    "a_mean",
    "a_max",
    "a_min",
    "a_std",
    "a_gt06",
    "a_gt10",
    "a_gt15",
    "th_small_mean",
    "th_small_max",
    "th_large_mean",
    "th_large_max",
    "grad_mean",
    "grad_max",
    "coherence",
    "coherence_3",
    "orient_0",
    "orient_45",
    "orient_90",
    "orient_135",
    "content",
    "a_mean_3",
    "a_mean_7",
    "a_max_3max",
    "th_large_3",
    "th_large_7",
    "th_large_3max",
    "th_small_3",
    "th_small_3max",
    "grad_3",
    "grad_7",
    "a_gt10_3",
    "a_gt10_7",
    "content_7",
    "a_mean_minus_7",
    "th_large_minus_7",
    "img_a_mean",
    "img_a_p90",
    "img_th_large_p90",
    "img_a_gt10",
    "ridge2_mean",
    "ridge2_max",
    "ridge5_mean",
    "ridge5_max",
    "blob5_max",
    "blob9_max",
    "along1_min",
    "along1_max",
    "along2_min",
    "along2_max",
    "along4_min",
    "along4_max",
    "across1_min",
    "across1_max",
    "across2_min",
    "across2_max",
    "th_large_rank",
    "a_max_rank",
    *(f"along_{i}" for i in range(11)),
    *(f"across_{i}" for i in range(11)),
    *(f"taper_{i}" for i in range(10)),
    "profile_background",
    "z_mean",
    "z_max",
    "metal_mean",
    "metal_max",
    "metal_frac",
    "metal_3",
    "metal_7",
    "metal_3max",
    "img_metal_p90",
)
FEATURE_COUNT = len(FEATURE_NAMES)


def grid_size(image: XrayImage) -> int:
    """Number of cells along each side of the canvas."""
    return image.working_size // CELL


def _pool_mean(a: np.ndarray, g: int) -> np.ndarray:
    return cv2.resize(a, (g, g), interpolation=cv2.INTER_AREA)


def _pool_max(a: np.ndarray, g: int) -> np.ndarray:
    cell = a.shape[0] // g
    kernel = np.ones((cell, cell), np.uint8)
    return cv2.dilate(a, kernel, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[::cell, ::cell]


def _pool_min(a: np.ndarray, g: int) -> np.ndarray:
    cell = a.shape[0] // g
    kernel = np.ones((cell, cell), np.uint8)
    return cv2.erode(a, kernel, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[::cell, ::cell]


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
        a_mean,
        a_max,
        _pool_min(a, g),
        np.sqrt(np.maximum(_pool_mean(a * a, g) - a_mean**2, 0.0)),
        _pool_mean((a > 0.6).astype(np.float32), g),
        a_gt10,
        _pool_mean((a > 1.5).astype(np.float32), g),
        _pool_mean(th_small, g),
        ths_max,
        thl_mean,
        _pool_max(th_large, g),
        grad_mean,
        _pool_max(grad, g),
        coherence,
        coherence3,
        *orient,
        content,
        _box(a_mean, 3),
        _box(a_mean, 7),
        _dilate(a_max),
        _box(thl_mean, 3),
        _box(thl_mean, 7),
        _dilate(thl_mean),
        _box(ths_max, 3),
        _dilate(ths_max),
        _box(grad_mean, 3),
        _box(grad_mean, 7),
        _box(a_gt10, 3),
        _box(a_gt10, 7),
        _box(content, 7),
        a_mean - _box(a_mean, 7),
        thl_mean - _box(thl_mean, 7),
    ]
    columns += [np.full((g, g), v, np.float32) for v in img]
    columns += _hessian_columns(a, g)
    columns += _directional_columns(thl_mean, jxx3, jyy3, jxy3)
    columns += [_rank(thl_mean, content_cells), _rank(a_max, content_cells)]
    columns += _oriented_profiles(a, thl_mean)
    columns += _colour_columns(image, a, g, content_cells)
    return np.stack([c.astype(np.float32).ravel() for c in columns], axis=1)


def _hessian_columns(a: np.ndarray, g: int) -> list[np.ndarray]:
    """Ridge (line-like) and blob strength of dense structures at a few scales, pooled per cell.

    Scale-normalised (σ²·Hessian), so the coarse scales are computed at half resolution.
    """
    half = cv2.resize(a, (a.shape[1] // 2, a.shape[0] // 2), interpolation=cv2.INTER_AREA)
    out = []
    for image, sigma, name in ((a, 2.0, "fine"), (half, 2.5, "mid"), (half, 4.5, "coarse")):
        smooth = cv2.GaussianBlur(image, (0, 0), sigma)
        dxx = cv2.Sobel(smooth, cv2.CV_32F, 2, 0, ksize=3)
        dyy = cv2.Sobel(smooth, cv2.CV_32F, 0, 2, ksize=3)
        dxy = cv2.Sobel(smooth, cv2.CV_32F, 1, 1, ksize=3)
        half_trace = 0.5 * (dxx + dyy)
        root = np.sqrt(0.25 * (dxx - dyy) ** 2 + dxy * dxy)
        scale = np.float32(sigma * sigma)
        ridge = np.maximum(-(half_trace - root) * scale, 0.0)  # dense ridge: strong negative curvature across
        blob = np.maximum(-(half_trace + root) * scale, 0.0)  # dense blob: negative curvature both ways
        if name == "coarse":
            out.append(_pool_max(blob, g))
            continue
        out += [_pool_mean(ridge, g), _pool_max(ridge, g)]
        if name == "mid":
            out.append(_pool_max(blob, g))
    return out


def _directional_columns(field: np.ndarray, jxx: np.ndarray, jyy: np.ndarray, jxy: np.ndarray) -> list[np.ndarray]:
    """Samples of a cell map along and across each cell's dominant edge direction (1, 2, 4 cells away).

    Taken as (min, max) of the two sides, so they do not depend on rotation or mirroring: a trolley bar
    continues on both sides, a blade ends on one, a compact object on both.
    """
    g = field.shape[0]
    theta = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # direction of strongest gradient
    along_x, along_y = -np.sin(theta), np.cos(theta)  # edges run perpendicular to the gradient
    ys, xs = np.mgrid[0:g, 0:g].astype(np.float32)
    out = []
    for dx, dy, distances in ((along_x, along_y, (1, 2, 4)), (-along_y, along_x, (1, 2))):
        for d in distances:
            sides = [
                cv2.remap(
                    field,
                    xs + sign * d * dx,
                    ys + sign * d * dy,
                    cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=0,
                )
                for sign in (1.0, -1.0)
            ]
            out += [np.minimum(*sides), np.maximum(*sides)]
    return out


_ALONG = np.array([-60, -45, -30, -20, -10, 0, 10, 20, 30, 45, 60], np.float32)
_ACROSS = np.array([-20, -14, -9, -5, -2, 0, 2, 5, 9, 14, 20], np.float32)
_TAPER = np.array([-12, -6, 0, 6, 12], np.float32)


def _canonical(profile: np.ndarray) -> np.ndarray:
    """Flip (cells × n) profiles so the heavier half comes last: independent of direction sign."""
    n = profile.shape[1]
    flip = profile[:, : n // 2].sum(axis=1) > profile[:, n - n // 2 :].sum(axis=1)
    profile[flip] = profile[flip, ::-1]
    return profile


def _oriented_profiles(a: np.ndarray, mass: np.ndarray) -> list[np.ndarray]:
    """Density profiles along and across the main axis of the dense structure around each cell.

    The axis is the principal axis of the excess density (``mass``) in a 5×5-cell window, so the
    profiles follow a blade or a bar whatever its rotation. Along: ±60 px; across: ±20 px at the
    centre; taper: across at ±20 px along the axis.
    """
    g = mass.shape[0]
    ys, xs = np.mgrid[0:g, 0:g].astype(np.float32)
    w = np.maximum(mass, 0.0) + 1e-3
    m0 = _box(w, 5)
    mx, my = _box(w * xs, 5) / m0, _box(w * ys, 5) / m0
    cxx = _box(w * xs * xs, 5) / m0 - mx * mx
    cyy = _box(w * ys * ys, 5) / m0 - my * my
    cxy = _box(w * xs * ys, 5) / m0 - mx * my
    theta = (0.5 * np.arctan2(2 * cxy, cxx - cyy)).ravel()
    ux, uy = np.cos(theta)[:, None], np.sin(theta)[:, None]
    cx = ((xs.ravel() + 0.5) * CELL)[:, None]
    cy = ((ys.ravel() + 0.5) * CELL)[:, None]
    fine = cv2.GaussianBlur(a, (0, 0), 1.5)
    coarse = cv2.GaussianBlur(a, (0, 0), 3.0)

    def sample(image: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        px = (cx + u * ux - v * uy).astype(np.float32)
        py = (cy + u * uy + v * ux).astype(np.float32)
        return cv2.remap(image, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    along = sum(sample(coarse, _ALONG[None, :], np.full_like(_ALONG, off)[None, :]) for off in (-3.0, 0.0, 3.0)) / 3
    across = sum(sample(fine, np.full_like(_ACROSS, off)[None, :], _ACROSS[None, :]) for off in (-6.0, 0.0, 6.0)) / 3
    taper = np.concatenate(
        [sample(fine, np.full_like(_TAPER, u)[None, :], _TAPER[None, :]) for u in (-20.0, 20.0)], axis=1
    )
    along = _canonical(along)
    across = _canonical(across)
    # The taper pair follows the along orientation: put the denser end last.
    swap = taper[:, :5].sum(axis=1) > taper[:, 5:].sum(axis=1)
    taper[swap] = np.concatenate([taper[swap, 5:], taper[swap, :5]], axis=1)
    background = np.minimum(across[:, 0], across[:, -1])
    columns = [along[:, i] for i in range(along.shape[1])]
    columns += [across[:, i] for i in range(across.shape[1])]
    columns += [taper[:, i] for i in range(taper.shape[1])]
    columns.append(background)
    return [c.reshape(g, g) for c in columns]


def _rank(field: np.ndarray, content_cells: np.ndarray) -> np.ndarray:
    """Each cell's value as a percentile among the scan's content cells (0-1)."""
    values = np.sort(field[content_cells]) if content_cells.any() else np.sort(field.ravel())
    return (np.searchsorted(values, field, side="right") / max(values.size, 1)).astype(np.float32)


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
