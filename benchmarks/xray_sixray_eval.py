"""Evaluate X-ray models on real SIXray benign bags with and without projected threats.

    python benchmarks/xray_sixray_eval.py [--data ../shared/data/xray] [--train-bags 200] [--procedural 0]

The 300 SIXray benign bags are split once (fixed seed) into training bags and held-out bags. Three things are
measured on the held-out bags, each scored clean and with procedural threats projected into it (TIP), both
through the upload path (JPEG round trip, decode, score), so the threat is the only difference:

1. the shipped default model (procedural data only, never saw a real scan);
2. a model retrained by TIP onto the training SIXray bags (plus ``--procedural`` procedural bags), the way a
   centre retrains on its own clean scans. It is written to benchmarks/out/ and is *not* the shipped default.

Threat sets: ``sixray`` = the five SIXray classes (guns and gun parts, knives, wrenches, pliers, scissors),
``all`` = every procedural kind (adds blades, batteries, ammunition: smaller and harder).
The SIXray threat images are never used: their source differs from the benign images (see the data README).
Writes benchmarks/out/xray_sixray_eval.json and ROC plots next to it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inspection.xray.evaluate import evaluate_pairs, roc_plot_png  # noqa: E402
from inspection.xray.model import TrainedModel, load_default_model, train_model  # noqa: E402
from inspection.xray.procedural import THREAT_KINDS, ProceduralBags, random_threats  # noqa: E402

SIXRAY_KINDS = ("pistol", "revolver", "gun_part", "knife", "dagger", "cleaver", "wrench", "pliers", "scissors")
THREAT_SETS = {"sixray": SIXRAY_KINDS, "all": THREAT_KINDS}


class _Bar:
    def __init__(self) -> None:
        self.bars: dict[str, tqdm] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self.bars.get(stage)
        if bar is None or bar.total != total or done < bar.n:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()


def _evaluate(name: str, model: TrainedModel, bags: list[Path], kinds: tuple[str, ...], seed: int, out: Path) -> dict:
    threats = random_threats(120, np.random.default_rng([seed, 7]), kinds)
    started = time.perf_counter()
    result = evaluate_pairs(model, bags, threats, seed=seed, threats_per_bag=2, encode="jpeg", progress=_Bar())
    (out / f"xray_roc_{name}.png").write_bytes(
        roc_plot_png(result.labels, result.scores, threshold=model.threshold, title=name)
    )
    m = result.metrics
    print(
        f"{name:34s} AUC {m.auc:.3f}  recall {m.recall:.3f}  clean flagged {result.clean_flag_rate:.3f}  "
        f"peak on threat {result.peak_on_threat_rate:.3f}  (threshold {m.threshold:.3f}, "
        f"{m.negatives} clean / {m.positives} with threat, {time.perf_counter() - started:.0f} s)"
    )
    return result.as_dict()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data" / "xray")
    parser.add_argument("--train-bags", type=int, default=200, help="SIXray benign bags used for retraining")
    parser.add_argument("--procedural", type=int, default=0, help="procedural bags added to the retraining")
    parser.add_argument("--threats", choices=sorted(THREAT_SETS), default="sixray", help="threat set to train on")
    parser.add_argument("--threats-per-bag", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--model", type=Path, default=None, help="evaluate this model directory instead of the default")
    parser.add_argument("--no-retrain", action="store_true", help="only evaluate the default (or --model)")
    args = parser.parse_args()

    benign = sorted((args.data / "sixray" / "benign").glob("*.jpg"))
    if not benign:
        print(f"no SIXray benign scans under {args.data}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(args.seed).permutation(len(benign))
    train = [benign[i] for i in order[: args.train_bags]]
    held_out = [benign[i] for i in order[args.train_bags :]]
    print(f"SIXray benign bags: {len(train)} for retraining, {len(held_out)} held out for evaluation")
    report: dict = {"split": {"train": [p.name for p in train], "held_out": [p.name for p in held_out]}}

    default = TrainedModel.load(args.model) if args.model else load_default_model()
    for kinds_name, kinds in THREAT_SETS.items():
        report[f"default/{kinds_name}"] = _evaluate(
            f"default-{kinds_name}", default, held_out, kinds, args.seed + 1, args.out
        )

    if args.no_retrain:
        (args.out / "xray_sixray_eval.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        return 0
    started = time.perf_counter()
    bags: list = list(train)
    if args.procedural:
        bags += [ProceduralBags(args.procedural, args.seed)[i] for i in range(args.procedural)]
    threats = random_threats(360, np.random.default_rng([args.seed, 3]), THREAT_SETS[args.threats])
    retrained = train_model(
        bags,
        threats,
        seed=args.seed,
        threats_per_bag=args.threats_per_bag,
        version=f"sixray-tip-{args.threats}",
        description="Benchmark only: TIP onto SIXray benign training bags (academic data, never ship).",
        progress=_Bar(),
    )
    retrained.save(args.out / "xray_sixray_model")
    validation = retrained.metadata["metrics"]["validation"]
    print(
        f"retrained on {len(train)} SIXray + {args.procedural} procedural bags in "
        f"{time.perf_counter() - started:.0f} s: validation AUC {validation['auc']:.3f}, "
        f"threshold {retrained.threshold:.3f}"
    )
    report["retrained"] = {"metadata": retrained.metadata}
    for kinds_name, kinds in THREAT_SETS.items():
        report[f"retrained/{kinds_name}"] = _evaluate(
            f"retrained-{kinds_name}", retrained, held_out, kinds, args.seed + 1, args.out
        )
    (args.out / "xray_sixray_eval.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out / 'xray_sixray_eval.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
