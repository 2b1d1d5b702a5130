"""Procedural benign bags: shell, frame, clutter and the scanner's look, in grey or pseudo-colour."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from inspection.xray.physics import METAL, MIXED, ORGANIC, harden, transmit
from inspection.xray.procedural._draw import (
    Rng,
    _disc,
    _ellipse,
    _lines,
    _poly,
    _rect,
    _rotate,
    _rounded_rect,
    _Scene,
    _smooth_noise,
)


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
        scene.add_cover(
            _disc((size, size), local, r * 1.3), rng.uniform(0.4, 0.9), rng.uniform(0.1, 0.4), "round", ox, oy
        )
        scene.add_cover(_disc((size, size), local, r * 0.35), rng.uniform(0.8, 1.8), METAL, "round", ox, oy)
        scene.add_cover(
            _poly((size, size), [_rect(local[0] - r * 0.2, local[1] - r * 1.6, local[0] + r * 0.2, local[1])]),
            rng.uniform(0.5, 1.2),
            METAL,
            "flat",
            ox,
            oy,
        )


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
            scene.add_cover(
                _disc((int(4 * r), int(4 * r)), (2 * r, 2 * r), r),
                rng.uniform(0.3, 1.0),
                rng.uniform(0.4, 1.0),
                "round",
                int(cx - 2 * r),
                int(cy - 2 * r),
            )
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
            out.append(
                0.5
                * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3)
            )
    out.append(points[-1])
    return np.array(out)


def _cable(scene: _Scene, rng: Rng, bw: float, bh: float) -> None:
    if rng.random() < 0.35:  # coiled cable
        c = _place(rng, bw, bh, 0.15 * min(bw, bh))
        r = min(bw, bh) * rng.uniform(0.05, 0.15)
        turns = int(rng.integers(3, 10))
        ang = rng.uniform(0, math.pi)
        for _ in range(turns):
            pts = np.array(
                [
                    [
                        c[0] + r * (1 + rng.uniform(-0.1, 0.1)) * math.cos(t),
                        c[1] + r * rng.uniform(0.5, 1.0) * math.sin(t),
                    ]
                    for t in np.linspace(0, 2 * math.pi, 40)
                ]
            )
            scene.add_curve(
                _at(pts, c, ang), rng.uniform(1.5, 3.5), rng.uniform(0.2, 0.5), rng.uniform(0.5, 0.8), closed=True
            )
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
    body = np.vstack(
        [
            _rounded_rect(0, 0, length, width, width * 0.3),
        ]
    )
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
        p = _rotate(np.array([[lc[0] + rng.uniform(-0.45, 0.45) * w, lc[1] + rng.uniform(-0.45, 0.45) * h]]), ang, lc)[
            0
        ]
        scene.add_cover(
            _disc((8, 8), (4, 4), rng.uniform(1.2, 2.5)),
            rng.uniform(0.6, 1.5),
            METAL,
            "round",
            int(c[0] - size / 2 + p[0] - 4),
            int(c[1] - size / 2 + p[1] - 4),
        )


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
            scene.add_cover(
                _disc((size, size), (size / 2, size / 2), r),
                rng.uniform(0.5, 1.2),
                METAL,
                "flat",
                int(p[0] - size / 2),
                int(p[1] - size / 2),
            )
    elif kind == 1:  # key
        outline = np.array(
            [
                [0, 0],
                [20, 0],
                [20, 6],
                [58, 6],
                [58, 9],
                [54, 12],
                [50, 10],
                [46, 13],
                [42, 11],
                [38, 13],
                [20, 13],
                [20, 20],
                [0, 20],
            ],
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
        scene.add_cover(
            head, rng.uniform(0.3, 0.7), METAL, "flat", int(head_c[0] - size / 2), int(head_c[1] - size / 2)
        )
    elif kind == 4:  # pen
        length = rng.uniform(100, 150) * s
        body = _at(_rect(0, 0, length, 7 * s), c, ang)
        scene.add_shape(body, rng.uniform(0.2, 0.5), rng.uniform(0.0, 0.3), profile="round")
        scene.add_curve(
            _at(np.array([[0, 0], [length * 0.5, 0]]), c, ang), max(1.5, 1.5 * s), rng.uniform(0.5, 1.0), METAL
        )
    elif kind == 5:  # glasses
        for dx in (-16, 16):
            p = (c[0] + dx * s * math.cos(ang), c[1] + dx * s * math.sin(ang))
            size = int(40 * s) + 6
            ring = _ellipse((size, size), (size / 2, size / 2), (14 * s, 10 * s), math.degrees(ang), max(1, int(2 * s)))
            scene.add_cover(
                ring, rng.uniform(0.4, 0.9), rng.uniform(0.5, 0.9), "flat", int(p[0] - size / 2), int(p[1] - size / 2)
            )
    elif kind == 6:  # umbrella
        length = u * rng.uniform(0.35, 0.6)
        for _ in range(int(rng.integers(5, 9))):
            off = rng.uniform(-6, 6) * s
            rod = _at(np.array([[0, off], [length, off * 0.2]]), c, ang)
            scene.add_curve(rod, max(1.5, 2 * s), rng.uniform(0.3, 0.6), METAL)
        scene.add_curve(
            _at(np.array([[0, 0], [length * 1.05, 0]]), c, ang), max(2.0, 4 * s), rng.uniform(0.5, 1.0), METAL
        )
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
    scene.add_cover(
        body, rng.uniform(0.4, 1.2), rng.uniform(0.55, 0.95), "tube", int(c[0] - size / 2), int(c[1] - size / 2)
    )
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
        part = _at(
            _rounded_rect(0, 0, pw, ph, min(pw, ph) * 0.4),
            (c[0] + offset[0], c[1] + offset[1]),
            ang + rng.uniform(-0.3, 0.3),
        )
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
    :func:`~inspection.xray.physics.harden`), use the same value when projecting threats into it.
    Scanner effects are not applied (see :func:`scanner_effects`).
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
    centre_out = np.array(
        [width / 2 + rng.uniform(-0.03, 0.03) * width, height / 2 + rng.uniform(-0.03, 0.03) * height]
    )
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


def domain_randomise(image: np.ndarray, rng: Rng) -> np.ndarray:
    """Give a finished scan the look of another scanner, so that a model trained on such scans transfers to
    machines it never saw: the detector's pitch (resolution), its element gains (column stripes) and noise,
    the vendor's colour map (per-channel gamma, channel crosstalk, saturation), the belt under the bag and the
    tunnel walls at the image edges, and the air level. Float in [0, 1] in and out, same shape.
    """
    out = image.astype(np.float32)
    height, width = out.shape[:2]
    if rng.random() < 0.5:  # coarser detector pitch
        factor = float(rng.uniform(0.4, 0.9))
        small = cv2.resize(out, (max(8, int(width * factor)), max(8, int(height * factor))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR if rng.random() < 0.5 else cv2.INTER_CUBIC)
    density = -np.log(np.clip(out, 1e-4, 1.0))
    if rng.random() < 0.5:  # the belt: a thin even layer under the whole bag
        band = np.zeros((height, 1), np.float32)
        top = int(rng.uniform(0.0, 0.2) * height)
        band[top : height - int(rng.uniform(0.0, 0.2) * height)] = rng.uniform(0.01, 0.06)
        density = density + (band if density.ndim == 2 else band[:, :, None])
    if rng.random() < 0.3:  # tunnel walls or curtain edges along the top and bottom
        for rows in (slice(0, int(rng.integers(2, 12))), slice(height - int(rng.integers(2, 12)), height)):
            density[rows] = density[rows] + rng.uniform(0.2, 1.5)
    columns = (rng.normal(0.0, rng.uniform(0.0, 0.02), size=(1, width))).astype(np.float32)
    density = density + (columns if density.ndim == 2 else columns[:, :, None]) * np.minimum(density, 1.0)
    out = np.exp(-np.maximum(density, 0.0)).astype(np.float32)
    if out.ndim == 3:
        mix = np.eye(3, dtype=np.float32) + rng.uniform(-0.12, 0.12, size=(3, 3)).astype(np.float32) * (1 - np.eye(3))
        mix /= mix.sum(axis=1, keepdims=True)
        out = np.clip(out.reshape(-1, 3) @ mix.T, 0.0, 1.0).reshape(out.shape)
        out = out ** rng.uniform(0.75, 1.3, size=3).astype(np.float32)
        grey = out.mean(axis=2, keepdims=True)
        out = grey + (out - grey) * np.float32(rng.uniform(0.6, 1.4))
    noise = rng.normal(0.0, 1.0, size=out.shape).astype(np.float32)
    out = out + np.float32(rng.uniform(0.0, 0.025)) * np.sqrt(np.clip(out, 0.0, 1.0)) * noise
    out = out * np.float32(rng.uniform(0.96, 1.04))  # air level
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

    def __init__(self, count: int, seed: int, *, hardening_range: tuple[float, float] = (1.2, 2.5),
                 domain_randomisation: float = 0.0) -> None:
        self.count = count
        self.seed = seed
        self.hardening_range = hardening_range
        self.domain_randomisation = domain_randomisation  # share of bags given another scanner's look

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if not -self.count <= index < self.count:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index % self.count])
        bag = benign_bag(rng, hardening=float(rng.uniform(*self.hardening_range)))
        bag = scanner_effects(bag, rng)
        bits = 16 if bag.ndim == 2 and rng.random() < 0.5 else 8
        if self.domain_randomisation and rng.random() < self.domain_randomisation:
            bag = domain_randomise(bag, np.random.default_rng([self.seed, index % self.count, 7]))
        return quantise(bag, bits)
