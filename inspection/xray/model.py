"""The anomaly model: gradient-boosted trees on cell features, trained with threat image projection.

Training takes benign bag scans (procedural ones for the shipped default, a centre's own clean scans when it
retrains) and threat objects. Each bag is seen clean and with threats projected into it (TIP); cells covered
by a projected threat are positives, cells of the clean scans negatives, so the only thing that separates
the classes is the threat. The scan's score is its most anomalous cell's probability; the heat map is the
cell probabilities drawn at the scan's own size. The operating threshold is chosen on held-out bags to reach
the target recall.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import joblib
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import ThreadpoolController

from inspection.xray.evaluate import compute_metrics, roc_points, threshold_for_budget, threshold_for_recall
from inspection.xray.features import CELL, FEATURE_NAMES, cell_features, density_map, grid_size
from inspection.xray.imaging import WORKING_SIZE, BagSource, XrayImage, decode_image, from_array, load_bag
from inspection.xray.tip import Threat, project

MODEL_FORMAT = 1
MODEL_FILE = "model.joblib"
METADATA_FILE = "model.json"

Progress = Callable[[str, int, int], None]
DEFAULT_FALSE_FLAG_BUDGET = 0.03

# Cell labels: positive if the projected threat covers this share of the cell and adds this much density.
_POSITIVE_COVER = 0.2
_POSITIVE_DENSITY = 0.04


_THREADPOOLS: list[ThreadpoolController] = []


def _one_thread() -> Any:
    """Context limiting OpenMP to one thread: the trees' thread pool spins badly when cores are shared
    (web workers, a busy host), and a scan's few hundred cells gain nothing from a second thread."""
    if not _THREADPOOLS:
        _THREADPOOLS.append(ThreadpoolController())
    return _THREADPOOLS[0].limit(limits=1, user_api="openmp")


class ModelFileError(ValueError):
    """A model directory that is missing, incomplete, altered or of another format."""


@dataclass(frozen=True)
class ScoreResult:
    """Outcome of scoring one scan.

    ``score`` in [0, 1], higher = more anomalous; ``flagged`` = score ≥ the model's threshold;
    ``heatmap`` uint8 of the scan's own height × width, brighter = more anomalous;
    ``peak`` (x, y) the scan pixel where the heat map is highest.
    """

    score: float
    flagged: bool
    heatmap: np.ndarray
    peak: tuple[int, int]


@dataclass
class TrainedModel:
    """A trained scorer with its operating threshold and metadata (version, training summary, metrics)."""

    estimator: HistGradientBoostingClassifier
    threshold: float
    metadata: dict[str, Any] = field(default_factory=dict)
    working_size: int = WORKING_SIZE

    @property
    def version(self) -> str:
        """The model's version string."""
        return str(self.metadata.get("version", "unversioned"))

    def cell_scores(self, image: XrayImage) -> np.ndarray:
        """Threat probability of every cell of a normalised scan, float32 grid × grid."""
        if image.working_size != self.working_size:
            raise ValueError(f"image normalised to {image.working_size} px, model expects {self.working_size}")
        g = grid_size(image)
        features = cell_features(image)
        content = features[:, FEATURE_NAMES.index("content")] > 0.0
        probabilities = np.zeros(g * g, np.float32)
        if content.any():
            with _one_thread():
                probabilities[content] = self.estimator.predict_proba(features[content])[:, 1]
        return probabilities.reshape(g, g)

    def score(self, image: XrayImage | np.ndarray | bytes) -> ScoreResult:
        """Score a scan (an :class:`XrayImage`, a decoded pixel array or encoded bytes) with its heat map.

        Raises :class:`~inspection.xray.imaging.InvalidImage` for bytes that are not an acceptable image.
        """
        if isinstance(image, bytes | bytearray | memoryview):
            image = decode_image(bytes(image), working_size=self.working_size)
        elif isinstance(image, np.ndarray):
            image = from_array(image, working_size=self.working_size)
        cells = self.cell_scores(image)
        score = float(cells.max())
        heat = image.to_original(cells_to_canvas(cells, image.working_size))
        heatmap = cv2.convertScaleAbs(heat, alpha=255.0)  # rounds and saturates to uint8
        py, px = np.unravel_index(int(np.argmax(heat)), heat.shape)
        return ScoreResult(score=score, flagged=score >= self.threshold, heatmap=heatmap, peak=(int(px), int(py)))

    def save(self, directory: str | Path) -> Path:
        """Write the model (``model.joblib``) and its metadata (``model.json``) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MODEL_FILE
        joblib.dump({"format": MODEL_FORMAT, "estimator": self.estimator}, path, compress=3)
        metadata = dict(self.metadata)
        metadata.update(
            format=MODEL_FORMAT,
            threshold=self.threshold,
            working_size=self.working_size,
            cell=CELL,
            features=list(FEATURE_NAMES),
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        )
        (directory / METADATA_FILE).write_text(
            json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> TrainedModel:
        """Read a model written by :meth:`save`.

        The model file is a pickle: load only directories you trust. Its SHA-256 is checked against the
        metadata. Raises :class:`ModelFileError` if files are missing, altered or of another format.
        """
        directory = Path(directory)
        try:
            metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
            blob = (directory / MODEL_FILE).read_bytes()
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"no readable model in {directory}: {exc}") from exc
        if metadata.get("format") != MODEL_FORMAT or metadata.get("features") != list(FEATURE_NAMES):
            raise ModelFileError(f"model in {directory} has another format or feature set")
        if hashlib.sha256(blob).hexdigest() != metadata.get("sha256"):
            raise ModelFileError(f"model file in {directory} does not match its metadata checksum")
        payload = joblib.load(directory / MODEL_FILE)
        return cls(
            estimator=payload["estimator"],
            threshold=float(metadata["threshold"]),
            metadata=metadata,
            working_size=int(metadata["working_size"]),
        )


def cells_to_canvas(cells: np.ndarray, working_size: int) -> np.ndarray:
    """Spread a cell grid over the working canvas (bilinear between cell centres)."""
    return cv2.resize(cells.astype(np.float32), (working_size, working_size), interpolation=cv2.INTER_LINEAR)


def threat_cells(clean: XrayImage, threat: XrayImage, mask: np.ndarray) -> np.ndarray:
    """Label the cells of a threat scan: 1 threat, 0 untouched, -1 too little of the threat to tell."""
    g = grid_size(threat)
    size = g * CELL
    cover = threat.to_canvas(mask.astype(np.float32))[:size, :size]
    cover = cover.reshape(g, CELL, g, CELL).mean(axis=(1, 3))
    if clean.crop == threat.crop:
        added = np.maximum(density_map(threat.transmission) - density_map(clean.transmission), 0.0)[:size, :size]
        added = added.reshape(g, CELL, g, CELL).mean(axis=(1, 3))
    else:
        added = np.full((g, g), _POSITIVE_DENSITY, np.float32)
    labels = np.full((g, g), -1, np.int8)
    labels[cover <= 0.0] = 0
    labels[(cover >= _POSITIVE_COVER) & (added >= _POSITIVE_DENSITY)] = 1
    return labels.ravel()


def _augment(bag: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random flip / quarter turn of a bag (applied before projection, so pairs share it)."""
    k = int(rng.integers(4))
    bag = np.rot90(bag, k) if k else bag
    if rng.random() < 0.5:
        bag = bag[:, ::-1]
    return np.ascontiguousarray(bag)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip of an 8-bit scan (scanners and uploads often store JPEG); other depths unchanged."""
    if image.dtype != np.uint8:
        return image
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if ok else None
    return image if decoded is None else decoded.reshape(image.shape)


def _estimator(seed: int, iterations: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        learning_rate=0.08,
        max_iter=iterations,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )


def _fit(
    estimator: HistGradientBoostingClassifier, x: np.ndarray, y: np.ndarray, positive_share: float = 0.1
) -> HistGradientBoostingClassifier:
    # A feature missing everywhere (colour features when every training scan is grey) cannot be binned.
    x[:, np.isnan(x).all(axis=0)] = 0.0
    positives = max(int((y == 1).sum()), 1)
    negatives = max(int((y == 0).sum()), 1)
    weight = np.where(y == 1, positive_share * negatives / positives / (1 - positive_share), 1.0)
    return estimator.fit(x, y, sample_weight=weight)


@dataclass(frozen=True)
class _Plan:
    """How each training bag is turned into cells (shared by all bags of one training run)."""

    seed: int
    threats_per_bag: int
    hardening_range: tuple[float, float]
    jpeg_probability: float
    negative_fraction: float


def _bag_cells(source: BagSource, index: int, threats: Sequence[Threat], plan: _Plan) -> tuple[np.ndarray, np.ndarray]:
    """Features of the threat cells (projected threats) and of the clean cells of one training bag.

    Uses its own random generator seeded by (seed, bag index), so the result does not depend on the
    order or thread in which bags are processed.
    """
    rng = np.random.default_rng([plan.seed, index])
    bag = _augment(load_bag(source), rng)
    quality = int(rng.integers(75, 96)) if rng.random() < plan.jpeg_probability else None
    clean = from_array(bag if quality is None else _jpeg(bag, quality))
    clean_features = cell_features(clean)
    keep = clean_features[:, FEATURE_NAMES.index("content")] > 0.0
    if plan.negative_fraction < 1.0:
        keep &= rng.random(len(keep)) < plan.negative_fraction
    negatives = clean_features[keep]
    positives = []
    for _ in range(plan.threats_per_bag):
        threat = threats[int(rng.integers(len(threats)))]
        image, mask = project(bag, threat, rng=rng, hardening=float(rng.uniform(*plan.hardening_range)))
        with_threat = from_array(image if quality is None else _jpeg(image, quality))
        labels = threat_cells(clean, with_threat, mask)
        positives.append(cell_features(with_threat)[labels == 1])
    return np.concatenate(positives), negatives


def _bag_scores(
    model: TrainedModel, source: BagSource, index: int, threats: Sequence[Threat], plan: _Plan
) -> list[tuple[int, float]]:
    """(label, score) of a held-out bag, clean and with ``threats_per_bag`` projected threats."""
    rng = np.random.default_rng([plan.seed, index])
    bag = _augment(load_bag(source), rng)
    scores = [(0, model.score(bag).score)]
    for _ in range(plan.threats_per_bag):
        threat = threats[int(rng.integers(len(threats)))]
        image, _mask = project(bag, threat, rng=rng, hardening=float(rng.uniform(*plan.hardening_range)))
        scores.append((1, model.score(image).score))
    return scores


def _map(fn: Callable[[int], Any], indices: Sequence[int], workers: int, stage: str, report: Progress) -> list[Any]:
    """Apply ``fn`` to every index (in threads when ``workers`` > 1: OpenCV and NumPy release the GIL),
    reporting progress; results keep the order of ``indices``."""
    results: list[Any] = []
    if workers <= 1:
        for done, index in enumerate(indices):
            results.append(fn(index))
            report(stage, done + 1, len(indices))
        return results
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, result in enumerate(pool.map(fn, indices)):
            results.append(result)
            report(stage, done + 1, len(indices))
    return results


def operating_point(
    labels: np.ndarray, scores: np.ndarray, *, false_flag_budget: float | None, target_recall: float | None = None
) -> tuple[float, dict[str, Any]]:
    """The threshold and model-card metrics of validation scores (1 = projected threat, 0 = clean scan).

    With a ``false_flag_budget`` the threshold flags at most that share of the clean scans
    (:func:`~inspection.xray.evaluate.threshold_for_budget`); otherwise it reaches ``target_recall``.
    The metrics hold the recall and false-flag rate at the threshold, the ROC points, the budget and the
    number of clean scans it was chosen on.
    """
    labels, scores = np.asarray(labels).astype(int), np.asarray(scores, dtype=np.float64)
    if false_flag_budget is not None:
        threshold = threshold_for_budget(scores[labels == 0], false_flag_budget)
    elif target_recall is not None:
        threshold = threshold_for_recall(labels, scores, target_recall)
    else:
        raise ValueError("give a false-flag budget or a target recall")
    metrics = compute_metrics(labels, scores, threshold).as_dict()
    metrics.update(false_flag_budget=false_flag_budget, clean_scans=int((labels == 0).sum()),
                   roc=roc_points(labels, scores))
    return threshold, metrics


def _split(count: int, seed: int, validation_fraction: float) -> tuple[list[int], list[int]]:
    """(validation, training) bag indices: the same for a given count, seed and fraction."""
    order = np.random.default_rng(seed).permutation(count)
    n_val = max(2, int(round(count * validation_fraction)))
    return [int(i) for i in order[:n_val]], [int(i) for i in order[n_val:]]


def validation_scores(
    model: TrainedModel,
    benign_images: Sequence[BagSource],
    threats: Sequence[Threat],
    *,
    seed: int = 0,
    validation_fraction: float = 0.25,
    threats_per_bag: int = 2,
    hardening_range: tuple[float, float] = (1.2, 2.5),
    workers: int = 1,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) of the bags :func:`train_model` holds out with the same arguments: each clean and with
    ``threats_per_bag`` projected threats. Lets a model's operating point be chosen again without retraining."""
    val_idx, _train_idx = _split(len(benign_images), seed, validation_fraction)
    plan = _Plan(seed, threats_per_bag, hardening_range, 0.0, 1.0)
    report = progress or (lambda stage, done, total: None)
    scored = _map(
        lambda i: _bag_scores(model, benign_images[i], i, threats, plan), val_idx, workers, "validation", report
    )
    labels = np.array([label for bag in scored for label, _score in bag])
    scores = np.array([score for bag in scored for _label, score in bag])
    return labels, scores


def train_model(
    benign_images: Sequence[BagSource],
    threats: Sequence[Threat],
    *,
    seed: int = 0,
    false_flag_budget: float | None = DEFAULT_FALSE_FLAG_BUDGET,
    target_recall: float | None = None,
    validation_fraction: float = 0.25,
    threats_per_bag: int = 2,
    hardening_range: tuple[float, float] = (1.2, 2.5),
    iterations: int = 150,
    jpeg_probability: float = 0.3,
    negative_fraction: float = 1.0,
    workers: int = 1,
    version: str | None = None,
    description: str = "",
    progress: Progress | None = None,
) -> TrainedModel:
    """Train a model from benign bag scans and threat objects by threat image projection.

    ``benign_images`` are clean bag scans (arrays or file paths: grey or colour, any depth and size);
    ``threats`` are projected ``threats_per_bag`` times into every bag. A ``validation_fraction`` of the
    bags is held out: their clean scans fix the threshold so that at most ``false_flag_budget`` of clean
    scans are flagged (or, with ``false_flag_budget=None``, so that ``target_recall`` of the projected threats
    are), and clean and threat scans together measure the model. A ``jpeg_probability`` share of the training
    bags is stored as JPEG (clean and with threats alike); ``negative_fraction`` of the clean cells is kept for
    fitting (less memory and time on large sets). ``workers`` threads prepare the bags.
    ``progress(stage, done, total)`` is called as work advances.
    Deterministic for a given ``seed`` whatever the number of workers.
    Raises ``ValueError`` if there are fewer than 4 bags or no threats, or for a budget or recall outside (0, 1).
    """
    if len(benign_images) < 4 or not threats:
        raise ValueError("training needs at least 4 benign bags and one threat")
    if false_flag_budget is not None and not 0.0 < false_flag_budget < 1.0:
        raise ValueError("false_flag_budget must be in (0, 1)")
    if false_flag_budget is None and (target_recall is None or not 0.0 < target_recall <= 1.0):
        raise ValueError("target_recall must be in (0, 1]")
    val_idx, train_idx = _split(len(benign_images), seed, validation_fraction)
    report = progress or (lambda stage, done, total: None)
    plan = _Plan(seed, threats_per_bag, hardening_range, jpeg_probability, negative_fraction)

    cells = _map(lambda i: _bag_cells(benign_images[i], i, threats, plan), train_idx, workers, "features", report)
    x_pos = np.concatenate([pos for pos, _neg in cells])
    x_neg = np.concatenate([neg for _pos, neg in cells])
    del cells
    if len(x_pos) == 0:
        raise ValueError("no threat cells could be labelled; are the bags empty?")
    report("fit", 0, 1)
    x = np.concatenate([x_pos, x_neg])
    y = np.concatenate([np.ones(len(x_pos), np.int8), np.zeros(len(x_neg), np.int8)])
    with _one_thread():
        estimator = _fit(_estimator(seed, iterations), x, y)
    del x
    report("fit", 1, 1)

    model = TrainedModel(estimator=estimator, threshold=0.5)
    labels_arr, scores_arr = validation_scores(
        model, benign_images, threats, seed=seed, validation_fraction=validation_fraction,
        threats_per_bag=threats_per_bag, hardening_range=hardening_range, workers=workers, progress=report,
    )
    threshold, metrics = operating_point(labels_arr, scores_arr, false_flag_budget=false_flag_budget,
                                         target_recall=target_recall)
    created = datetime.now(UTC)
    model.threshold = threshold
    model.metadata = {
        "version": version or f"xray-{created:%Y%m%d-%H%M%S}-s{seed}",
        "created_at": created.isoformat(timespec="seconds"),
        "description": description,
        "threshold": threshold,
        "false_flag_budget": false_flag_budget,
        "target_recall": target_recall,
        "training": {
            "seed": seed,
            "benign_bags": len(train_idx),
            "validation_bags": len(val_idx),
            "validation_fraction": validation_fraction,
            "threats": len(threats),
            "threat_kinds": sorted({t.kind for t in threats}),
            "threats_per_bag": threats_per_bag,
            "positive_cells": int(len(x_pos)),
            "negative_cells": int(len(x_neg)),
            "hardening_range": list(hardening_range),
            "iterations": iterations,
            "negative_fraction": negative_fraction,
            "jpeg_probability": jpeg_probability,
        },
        "metrics": {"validation": metrics},
    }
    return model


def default_model_dir() -> Path:
    """Directory of the shipped default model (inside the package)."""
    return Path(__file__).resolve().parent / "default_model"


def load_default_model() -> TrainedModel:
    """Load the shipped default model, trained on procedural data only (see ``build_default``).

    Raises :class:`ModelFileError` if it is missing or damaged.
    """
    return TrainedModel.load(default_model_dir())
