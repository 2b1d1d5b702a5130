"""Time scoring of a 1024×1024 scan with its heat map on one core.

    python benchmarks/xray_score.py [--runs 60]

Prints p50 / p95 milliseconds of wall time and of CPU time (``time.process_time``: what one core spends,
meaningful on a shared, busy host where wall time includes waiting for the core) for: score + heat map from
decoded pixels (the speed goal: ≤ 50 ms), the same from PNG bytes (adds decoding), and the heat-map PNG
encoding, for a colour and a 16-bit grey scan.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspection.xray.imaging import encode_png  # noqa: E402
from inspection.xray.model import load_default_model  # noqa: E402
from inspection.xray.procedural import benign_bag, quantise, scanner_effects  # noqa: E402


def _times(fn, runs: int) -> tuple[float, float, float, float]:
    fn()
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000.0)
        cpu.append((time.process_time() - started_cpu) * 1000.0)
    return (
        float(np.percentile(wall, 50)),
        float(np.percentile(wall, 95)),
        float(np.percentile(cpu, 50)),
        float(np.percentile(cpu, 95)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    model = load_default_model()
    rng = np.random.default_rng(0)
    scans = {
        "colour 8-bit": quantise(scanner_effects(benign_bag(rng, size=(1024, 1024), colour=True), rng), 8),
        "grey 16-bit": quantise(scanner_effects(benign_bag(rng, size=(1024, 1024), colour=False), rng), 16),
    }
    print(f"model {model.version}, {args.runs} runs each, cv2 and OpenMP limited to 1 thread")
    with threadpool_limits(1):
        for name, pixels in scans.items():
            png = encode_png(pixels)
            heat = model.score(pixels).heatmap
            rows = {
                "score + heat map (pixels)": lambda pixels=pixels: model.score(pixels),
                "decode + score + heat map (PNG bytes)": lambda png=png: model.score(png),
                "heat map PNG encoding": lambda heat=heat: encode_png(heat),
            }
            for label, fn in rows.items():
                p50, p95, c50, c95 = _times(fn, args.runs)
                print(
                    f"{name:13s} {label:38s} wall p50 {p50:6.1f} p95 {p95:6.1f} ms | "
                    f"cpu p50 {c50:6.1f} p95 {c95:6.1f} ms"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
