"""Issue 14's two target rows on real SIXray bags: a false-flag budget that holds, and what calibration alone does.

    python benchmarks/xray_budget_eval.py [--data ../shared/data/xray] [--train-bags 200] [--budget 0.03]
                                          [--model DIR] [--skip-retrain]

The 300 SIXray benign bags play one scanner. They are split once (fixed seed): ``--train-bags`` are the machine's
"recent scans", the rest are held out. Every held-out bag is scored clean and with 2 procedural threats projected
into it (SIXray classes: guns and gun parts, knives, wrenches, pliers, scissors), all through JPEG encode → decode →
score, so the threat is the only difference.

1. *Same scanner (commissioning)*: a model trained by TIP on the training bags, its threshold chosen for the budget
   on the clean scans it held back (``train_model(false_flag_budget=...)``, what ``greenshield xray train --machine
   CODE --from-events`` does). Targets: AUC ≥ 0.98, clean bags flagged ≤ 3 %, recall ≥ 90 %, heat-map peak on the
   threat ≥ 85 %.
2. *A scanner the default never saw, after calibration only*: the shipped default model (procedural data only),
   its threshold calibrated on the training bags' clean scans for the budget (what ``greenshield xray calibrate``
   does with a machine's recent scans). Targets: clean bags flagged ≤ 5 %, AUC ≥ 0.85.

Prints one line per row and writes benchmarks/out/xray_budget_eval.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inspection.xray.evaluate import evaluate_pairs, threshold_for_budget  # noqa: E402
from inspection.xray.imaging import decode_image  # noqa: E402
from inspection.xray.model import TrainedModel, load_default_model, load_bag, train_model  # noqa: E402
from inspection.xray.procedural import random_threats  # noqa: E402

SIXRAY_KINDS = ("pistol", "revolver", "gun_part", "knife", "dagger", "cleaver", "wrench", "pliers", "scissors")


def _clean_scores(model: TrainedModel, bags: list[Path]) -> np.ndarray:
    """Scores of clean scans as a machine would send them (JPEG round trip)."""
    scores = []
    for path in bags:
        image = load_bag(path)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        scores.append(model.score(decode_image(data.tobytes())).score)
    return np.array(scores)


def _row(name: str, model: TrainedModel, threshold: float, held_out: list[Path], seed: int, started: float) -> dict:
    threats = random_threats(120, np.random.default_rng([seed, 7]), SIXRAY_KINDS)
    result = evaluate_pairs(model, held_out, threats, seed=seed, threats_per_bag=2, encode="jpeg", threshold=threshold)
    m = result.metrics
    print(f"{name:44s} AUC {m.auc:.3f}  clean flagged {result.clean_flag_rate * 100:4.1f} %  recall {m.recall * 100:4.1f} %"
          f"  peak on threat {result.peak_on_threat_rate * 100:4.1f} % (in its box {result.peak_in_box_rate * 100:4.1f} %)"
          f"  (threshold {threshold:.4f}; {m.negatives} clean,"
          f" {m.positives} with threat; {time.perf_counter() - started:.0f} s)", flush=True)
    return {"threshold": threshold, **{k: v for k, v in result.as_dict().items() if k not in ("labels", "scores")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data" / "xray")
    parser.add_argument("--train-bags", type=int, default=200)
    parser.add_argument("--budget", type=float, default=0.03)
    parser.add_argument("--threats-per-bag", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", type=Path, help="the uncommissioned model to calibrate (default: the shipped one)")
    parser.add_argument("--skip-retrain", action="store_true", help="only row 2")
    parser.add_argument("--skip-default", action="store_true", help="only row 1")
    parser.add_argument("--held-back", type=float, default=0.25,
                        help="share of the commissioning bags held back to choose the threshold")
    parser.add_argument("--commission-bags", type=int, help="commission on this many of the training bags and "
                        "calibrate the commissioned model on the rest (its later scans), as the daily job would")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = parser.parse_args()

    benign = sorted((args.data / "sixray" / "benign").glob("*.jpg"))
    if not benign:
        print(f"no SIXray benign scans under {args.data}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(args.seed).permutation(len(benign))
    train = [benign[i] for i in order[: args.train_bags]]
    held_out = [benign[i] for i in order[args.train_bags :]]
    print(f"SIXray benign bags: {len(train)} as the machine's scans, {len(held_out)} held out; budget {args.budget}")
    report: dict = {"budget": args.budget, "train_bags": len(train), "held_out_bags": len(held_out)}

    started = time.perf_counter()
    default = TrainedModel.load(args.model) if args.model else load_default_model()
    if not args.skip_default:
        calibrated = threshold_for_budget(_clean_scores(default, train), args.budget)
        report["default_own_threshold"] = _row(f"{default.version}, its own threshold", default,
                                               default.threshold, held_out, args.seed + 1, started)
        report["default_calibrated"] = _row(f"{default.version}, calibrated on {len(train)} scans", default,
                                            calibrated, held_out, args.seed + 1, started)

    if not args.skip_retrain:
        started = time.perf_counter()
        threats = random_threats(360, np.random.default_rng([args.seed, 3]), SIXRAY_KINDS)
        commission = train[: args.commission_bags] if args.commission_bags else train
        later = train[args.commission_bags :] if args.commission_bags else []
        model = train_model(commission, threats, seed=args.seed, threats_per_bag=args.threats_per_bag,
                            validation_fraction=args.held_back,
                            false_flag_budget=args.budget, workers=args.workers, version="sixray-commissioned",
                            description="Benchmark only: TIP onto SIXray benign bags (academic data, never ship).")
        trained_in = time.perf_counter() - started
        model.save(args.out / f"xray_budget_commissioned{f'-{args.commission_bags}' if args.commission_bags else ''}"
                   f"{f'-held{args.held_back:g}' if args.held_back != 0.25 else ''}")
        validation = model.metadata["metrics"]["validation"]
        print(f"commissioned on {len(commission)} bags in {trained_in:.0f} s: threshold {model.threshold:.4f} on "
              f"{validation['clean_scans']} held-back clean scans (validation AUC {validation['auc']:.3f}, "
              f"recall {validation['recall']:.3f})", flush=True)
        report["commissioned"] = _row("commissioned on this scanner (TIP, budget)", model, model.threshold, held_out,
                                      args.seed + 1, time.perf_counter())
        report["commissioned"]["training_seconds"] = trained_in
        report["commissioned"]["validation"] = {k: v for k, v in validation.items() if k != "roc"}
        if later:
            threshold = threshold_for_budget(_clean_scores(model, later), args.budget)
            report["commissioned_calibrated"] = _row(f"  then calibrated on {len(later)} later scans", model,
                                                     threshold, held_out, args.seed + 1, time.perf_counter())
    name = "xray_budget_eval.json" if not (args.skip_default or args.skip_retrain) else \
        f"xray_budget_eval{'-default' if args.skip_retrain else '-commissioned'}" \
        f"{f'-{args.commission_bags}' if args.commission_bags else ''}" \
        f"{f'-held{args.held_back:g}' if args.held_back != 0.25 else ''}.json"
    (args.out / name).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
