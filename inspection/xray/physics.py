"""Beer–Lambert rendering shared by threat projection and the procedural scans.

An object is described by its optical density ``a = μ·t`` (dimensionless; transmission ``exp(-a)`` on a
single-energy grey scanner) and its material ``m`` in [0, 1]: 0 organic (clothes, food, plastics),
0.5 mixed/light metal (aluminium, glass, electronics), 1 metal (steel, brass). Densities add along the
beam, so transmissions multiply.

Dual-energy scanners show material as pseudo-colour (orange organic, green mixed, blue metal). We render
it with one optical-density gain per BGR channel and material, ``C_c = exp(-Σ a·g_c(m))``. The gains are
normalised so the luminance of a thin layer matches the grey transmission, which keeps grey and colour
renderings of one scene consistent.
"""

from __future__ import annotations

import numpy as np

# Luminance weights of cv2.COLOR_BGR2GRAY (B, G, R).
LUMA = np.array([0.114, 0.587, 0.299], dtype=np.float32)

# Share of the optical density falling on each channel (B, G, R) for organic, mixed and metal, chosen to
# reproduce the common orange / green / blue convention of dual-energy pseudo-colour displays.
_SHARES = np.array(
    [
        [0.67, 0.25, 0.08],  # organic → orange
        [0.42, 0.19, 0.40],  # mixed → green
        [0.12, 0.23, 0.65],  # metal → blue
    ],
    dtype=np.float32,
)
CHANNEL_GAINS = _SHARES / (_SHARES @ LUMA)[:, None]

ORGANIC = 0.0
MIXED = 0.5
METAL = 1.0


def channel_gains(material: np.ndarray | float) -> np.ndarray:
    """Per-channel (B, G, R) optical-density gains for a material value or map in [0, 1].

    Returns shape (..., 3): organic at 0, mixed at 0.5, metal at 1, linear in between.
    """
    m = np.clip(np.asarray(material, dtype=np.float32), 0.0, 1.0) * 2.0
    low = np.minimum(m, 1.0)[..., None]
    high = np.maximum(m - 1.0, 0.0)[..., None]
    return (CHANNEL_GAINS[0] * (1.0 - low) + CHANNEL_GAINS[1] * (low - high) + CHANNEL_GAINS[2] * high).astype(
        np.float32
    )


def colour_density(density: np.ndarray, material: np.ndarray | float) -> np.ndarray:
    """Per-channel optical density (H×W×3, BGR) of a layer with grey density ``density`` and ``material``."""
    return density[..., None] * channel_gains(material)


def harden(density: np.ndarray, hardening: float | None) -> np.ndarray:
    """Effective optical density after beam hardening: ``c·ln(1 + a/c)`` (``None`` = no hardening).

    A polychromatic beam loses its soft photons first, so thick metal attenuates less than ``exp(-μt)``
    predicts; scanners' displays compress dense regions further. Lower ``c`` = stronger compression.
    """
    if hardening is None:
        return density
    c = np.float32(hardening)
    return (c * np.log1p(np.maximum(density, 0.0) / c)).astype(np.float32)


def transmit(density: np.ndarray) -> np.ndarray:
    """Transmission ``exp(-density)`` as float32 (grey H×W or colour H×W×3)."""
    return np.exp(-np.maximum(density, 0.0)).astype(np.float32)
