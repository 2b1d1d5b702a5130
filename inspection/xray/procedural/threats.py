"""Procedural threat objects (long axis along x, about 220 px long) with their densities and materials."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from inspection.xray.physics import METAL, MIXED
from inspection.xray.procedural._draw import (
    Rng,
    _disc,
    _ellipse,
    _poly,
    _profile,
    _rect,
    _rotate,
    _rounded_rect,
    _Scene,
)
from inspection.xray.tip import Threat


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
        blade = np.vstack(
            [np.stack([x_heel + blade_len * u, spine_y], 1), np.stack([x_heel + blade_len * u, edge_y], 1)[::-1]]
        )
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
        part.poly(
            _rounded_rect(x_heel - 5, y_spine + bw / 2 - guard_h / 2, x_heel + 3, y_spine + bw / 2 + guard_h / 2, 2),
            rng.uniform(1.0, 2.0),
            METAL,
            "round",
        )
    sizes = {"knife": (0.16, 0.34), "cleaver": (0.18, 0.32), "dagger": (0.16, 0.32)}
    return part.threat(style, sizes[style], rng)


def _pistol(rng: Rng) -> Threat:
    L = 220.0
    m = 8.0
    part = _Part(int(L + 2 * m), int(0.75 * L + 2 * m))
    sh = L * rng.uniform(0.14, 0.18)
    steel_frame = rng.random() < 0.4
    frame_d, frame_m = (
        (rng.uniform(1.2, 2.2), METAL) if steel_frame else (rng.uniform(0.5, 1.0), rng.uniform(0.15, 0.35))
    )
    slide = _rounded_rect(m, m, m + L, m + sh, 4)
    part.poly(slide, rng.uniform(1.4, 2.4), METAL, "tube", wall=0.55)
    part.poly(_rect(m + 0.25 * L, m + 0.35 * sh, m + L, m + 0.65 * sh), rng.uniform(0.6, 1.2), METAL, "round")
    part.poly(_rect(m + 0.12 * L, m + sh, m + 0.9 * L, m + sh + 0.06 * L), frame_d, frame_m, "flat")
    slant = L * rng.uniform(0.08, 0.16)
    gw = L * rng.uniform(0.19, 0.24)
    gl = L * rng.uniform(0.4, 0.5)
    top = m + sh
    grip = np.array(
        [
            [m + 0.02 * L, top],
            [m + 0.02 * L + gw, top],
            [m + 0.02 * L + gw - slant, top + gl],
            [m + 0.02 * L - slant, top + gl],
        ]
    )
    part.poly(grip, frame_d, frame_m, "round")
    mag = np.array(
        [
            [m + 0.06 * L, top + 4],
            [m + 0.02 * L + gw - 0.04 * L, top + 4],
            [m + 0.02 * L + gw - 0.04 * L - slant, top + gl + 3],
            [m + 0.06 * L - slant, top + gl + 3],
        ]
    )
    part.poly(mag, rng.uniform(0.8, 1.5), METAL, "tube", wall=0.8)
    for k in range(int(rng.integers(3, 8))):
        t = (k + 0.5) / 8
        cx = m + 0.04 * L + gw / 2 - slant * t
        part.shape(
            _ellipse(
                part.scene.shape,
                (cx, top + 8 + t * gl * 0.9),
                (gw * 0.3, gl * 0.045),
                math.degrees(math.atan2(gl, -slant)) - 90,
            ),
            rng.uniform(0.6, 1.1),
            METAL,
            "round",
        )
    guard_c = (m + 0.02 * L + gw + 0.1 * L, top + 0.07 * L)
    guard = _ellipse(part.scene.shape, guard_c, (0.1 * L, 0.075 * L), 0, max(2, int(0.025 * L)))
    guard[: int(top), :] = 0
    part.shape(guard, frame_d, frame_m)
    trigger = np.array(
        [
            [guard_c[0] - 2, top],
            [guard_c[0] + 3, top],
            [guard_c[0] - 1, top + 0.07 * L],
            [guard_c[0] - 5, top + 0.06 * L],
        ]
    )
    part.poly(trigger, 1.2, METAL, "flat")
    return part.threat("pistol", (0.13, 0.26), rng)


def _revolver(rng: Rng) -> Threat:
    L = 220.0
    m = 8.0
    part = _Part(int(L + 2 * m), int(0.7 * L + 2 * m))
    bl = L * rng.uniform(0.35, 0.55)
    bd = L * rng.uniform(0.06, 0.08)
    y_axis = m + 0.12 * L
    part.poly(
        _rect(m + L - bl, y_axis - bd / 2, m + L, y_axis + bd / 2), rng.uniform(2.0, 3.0), METAL, "tube", wall=0.45
    )
    part.poly(_rect(m + L - bl, y_axis - bd / 2 - 4, m + L, y_axis - bd / 2), 1.0, METAL, "flat")
    cx0, cx1 = m + L - bl - 0.2 * L, m + L - bl
    cyl_h = L * rng.uniform(0.2, 0.25)
    part.poly(_rounded_rect(cx0, y_axis - cyl_h / 2, cx1, y_axis + cyl_h / 2, 4), rng.uniform(2.0, 3.2), METAL, "round")
    for k in range(3):
        yy = y_axis - cyl_h / 3 + k * cyl_h / 3
        part.poly(_rect(cx0 + 3, yy - cyl_h * 0.07, cx1 - 3, yy + cyl_h * 0.07), rng.uniform(0.5, 1.0), METAL, "round")
    fr = np.array(
        [
            [cx0 - 0.12 * L, y_axis - cyl_h / 2],
            [cx0, y_axis - cyl_h / 2],
            [cx1, y_axis + cyl_h / 2],
            [cx1, y_axis + cyl_h / 2 + 0.05 * L],
            [cx0 - 0.14 * L, y_axis + cyl_h / 2 + 0.06 * L],
        ]
    )
    part.poly(fr, rng.uniform(1.4, 2.2), METAL, "flat")
    gx = cx0 - 0.14 * L
    gt = y_axis + cyl_h / 2
    grip = np.array([[gx, gt], [gx + 0.13 * L, gt], [gx + 0.02 * L, gt + 0.4 * L], [gx - 0.13 * L, gt + 0.37 * L]])
    part.poly(grip, rng.uniform(0.5, 0.9), rng.uniform(0.05, 0.3), "round")
    part.poly(
        np.array(
            [[gx + 0.03 * L, gt], [gx + 0.08 * L, gt], [gx - 0.02 * L, gt + 0.36 * L], [gx - 0.06 * L, gt + 0.35 * L]]
        ),
        rng.uniform(0.7, 1.3),
        METAL,
        "flat",
    )
    part.poly(
        np.array(
            [
                [cx0 - 0.15 * L, y_axis - cyl_h / 2 - 0.05 * L],
                [cx0 - 0.1 * L, y_axis - cyl_h / 2 - 0.06 * L],
                [cx0 - 0.05 * L, y_axis - cyl_h / 2],
                [cx0 - 0.12 * L, y_axis - cyl_h / 2],
            ]
        ),
        1.5,
        METAL,
        "flat",
    )
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
            part.shape(
                _ellipse(part.scene.shape, (cx, m + w / 2), (L * 0.03, w * 0.38), 0),
                rng.uniform(0.8, 1.5),
                METAL,
                "round",
            )
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
        nose = np.array(
            [
                [ox + unit, oy + 1],
                [ox + unit * 1.35, oy + unit * 0.14],
                [ox + unit * 1.45, oy + unit * 0.175],
                [ox + unit * 1.35, oy + unit * 0.21],
                [ox + unit, oy + unit * 0.35 - 1],
            ]
        )
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
    part.poly(
        np.array([[150, 18], [228, 18], [200, 32], [150, 32]], dtype=np.float64),
        rng.uniform(0.5, 0.9),
        METAL,
        "bevel",
        bevel=3.0,
    )
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
        arm = (
            _rotate(
                np.array([[0.0, -bw * 0.4], [-0.22 * L, -bw * 0.3], [-0.22 * L, bw * 0.3], [0.0, bw * 0.4]]),
                sign * opening / 2,
            )
            + pivot
        )
        part.poly(arm, steel, METAL, "flat")
        ring_c = _rotate(np.array([[-0.33 * L, sign * 0.08 * L]]), sign * opening / 2)[0] + pivot
        ring = _ellipse(
            part.scene.shape,
            tuple(ring_c),
            (0.12 * L, 0.07 * L),
            math.degrees(sign * opening / 2),
            max(3, int(0.035 * L)),
        )
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
    part.poly(
        np.array(
            [
                [m + 0.12 * L, cy - sw / 2],
                [m + 0.85 * L, cy - sw * 0.65],
                [m + 0.85 * L, cy + sw * 0.65],
                [m + 0.12 * L, cy + sw / 2],
            ]
        ),
        steel * 0.8,
        METAL,
        "round",
    )
    shape = part.scene.shape
    head = _disc(shape, (m + 0.9 * L, cy), 0.13 * L)
    if rng.random() < 0.7:
        jaw_angle = math.radians(rng.uniform(-20, 20))
        slot = _rotate(
            np.array([[0.0, -0.045 * L], [0.2 * L, -0.045 * L], [0.2 * L, 0.045 * L], [0.0, 0.045 * L]]), jaw_angle
        ) + (m + 0.9 * L, cy)
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
        handle = (
            _rotate(
                np.array([[0.0, -0.03 * L], [0.7 * L, -0.02 * L], [0.7 * L, 0.02 * L], [0.0, 0.03 * L]]), sign * spread
            )
            + pivot
        )
        part.poly(handle, steel * 0.7, METAL, "round")
        if grips:
            grip = (
                _rotate(
                    np.array(
                        [[0.25 * L, -0.045 * L], [0.72 * L, -0.04 * L], [0.72 * L, 0.04 * L], [0.25 * L, 0.045 * L]]
                    ),
                    sign * spread,
                )
                + pivot
            )
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
