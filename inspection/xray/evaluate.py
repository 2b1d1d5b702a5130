"""Measuring a model: ROC AUC, recall and false-flag rate at the threshold, confusion matrix, ROC plot,
and the with/without-threat pair evaluation where the only difference between the two scans is the threat.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from inspection.xray.features import CELL
from inspection.xray.imaging import BagSource, decode_image, load_bag
from inspection.xray.tip import Threat, project


class Scorer(Protocol):
    """What evaluation needs of a model (``inspection.xray.model.TrainedModel`` is one; the model module imports
    this one, so evaluation names only the behaviour)."""

    def score(self, data: Any) -> Any: ...

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Metrics:
    """Detection metrics at an operating threshold (flag = score ≥ threshold).

    ``confusion`` is ``((TN, FP), (FN, TP))`` with rows = truth (benign, threat), columns = decision.
    ``auc`` is ``None`` when only one class is present.
    """

    auc: float | None
    threshold: float
    recall: float
    false_flag_rate: float
    precision: float
    confusion: tuple[tuple[int, int], tuple[int, int]]
    positives: int
    negatives: int

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        (tn, fp), (fn, tp) = self.confusion
        return {
            "auc": self.auc,
            "threshold": self.threshold,
            "recall": self.recall,
            "false_flag_rate": self.false_flag_rate,
            "precision": self.precision,
            "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
            "positives": self.positives,
            "negatives": self.negatives,
        }


def threshold_for_recall(labels: np.ndarray, scores: np.ndarray, target_recall: float) -> float:
    """The highest threshold that still flags at least ``target_recall`` of the threat scans."""
    positive = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(labels) == 1])
    if positive.size == 0:
        raise ValueError("no threat scans to set a threshold on")
    misses = int(np.floor((1.0 - target_recall) * positive.size + 1e-9))
    return float(positive[min(misses, positive.size - 1)])


def threshold_for_budget(clean_scores: np.ndarray, budget: float) -> float:
    """The operating threshold that flags at most ``budget`` of clean scans (flag = score ≥ threshold).

    A split-conformal quantile: with n held-back clean scores, the threshold lies just above the
    ⌈(n + 1)(1 − budget)⌉-th smallest, so a new clean scan from the same source is flagged with probability
    at most ``budget`` (whatever the score's distribution). With too few scans for the budget
    (n < 1/budget − 1) it lies above the highest one. Raises ``ValueError`` without scores or for a budget
    outside (0, 1).
    """
    if not 0.0 < budget < 1.0:
        raise ValueError("the false-flag budget must be in (0, 1)")
    ordered = np.sort(np.asarray(clean_scores, dtype=np.float64))
    if ordered.size == 0:
        raise ValueError("no clean scans to set a threshold on")
    rank = int(np.ceil((ordered.size + 1) * (1.0 - budget) - 1e-9))
    return float(np.nextafter(ordered[min(rank, ordered.size) - 1], np.inf))


def roc_points(labels: np.ndarray, scores: np.ndarray, *, max_points: int = 60) -> list[dict[str, float]]:
    """The ROC curve as at most ``max_points`` points ``{fpr, tpr, threshold}`` (for a model card and a chart).

    Empty when only one class is present.
    """
    labels = np.asarray(labels).astype(int)
    if not 0 < int(labels.sum()) < labels.size:
        return []
    fpr, tpr, thresholds = roc_curve(labels, np.asarray(scores, dtype=np.float64))
    keep = np.unique(np.round(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr)))).astype(int))
    return [{"fpr": round(float(fpr[i]), 4), "tpr": round(float(tpr[i]), 4),
             "threshold": round(float(min(thresholds[i], 1.0)), 6)} for i in keep]


def compute_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Metrics:
    """Metrics of scores against labels (1 = threat, 0 = benign) at ``threshold``."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    flagged = scores >= threshold
    tp = int((flagged & (labels == 1)).sum())
    fp = int((flagged & (labels == 0)).sum())
    fn = int((~flagged & (labels == 1)).sum())
    tn = int((~flagged & (labels == 0)).sum())
    both = 0 < int(labels.sum()) < labels.size
    return Metrics(
        auc=float(roc_auc_score(labels, scores)) if both else None,
        threshold=float(threshold),
        recall=tp / (tp + fn) if tp + fn else 0.0,
        false_flag_rate=fp / (fp + tn) if fp + tn else 0.0,
        precision=tp / (tp + fp) if tp + fp else 0.0,
        confusion=((tn, fp), (fn, tp)),
        positives=tp + fn,
        negatives=tn + fp,
    )


def roc_plot_png(
    labels: np.ndarray, scores: np.ndarray, *, threshold: float | None = None, title: str = "ROC", size: int = 520
) -> bytes:
    """A ROC curve as PNG bytes, drawn with OpenCV; the operating point is marked when ``threshold`` is given."""
    labels = np.asarray(labels).astype(int)
    fpr, tpr, _ = roc_curve(labels, scores)
    auc = roc_auc_score(labels, scores)
    img = np.full((size, size, 3), 255, np.uint8)
    left, top, right, bottom = 64, 40, size - 24, size - 56
    span_x, span_y = right - left, bottom - top

    def to_px(x: float, y: float) -> tuple[int, int]:
        return int(round(left + x * span_x)), int(round(bottom - y * span_y))

    grid, ink, font = (225, 225, 225), (40, 40, 40), cv2.FONT_HERSHEY_SIMPLEX
    for k in range(11):
        v = k / 10
        cv2.line(img, to_px(v, 0), to_px(v, 1), grid, 1)
        cv2.line(img, to_px(0, v), to_px(1, v), grid, 1)
        if k % 2 == 0:
            cv2.putText(img, f"{v:.1f}", (to_px(v, 0)[0] - 12, bottom + 18), font, 0.4, ink, 1, cv2.LINE_AA)
            cv2.putText(img, f"{v:.1f}", (left - 34, to_px(0, v)[1] + 4), font, 0.4, ink, 1, cv2.LINE_AA)
    cv2.rectangle(img, to_px(0, 1), to_px(1, 0), ink, 1)
    cv2.line(img, to_px(0, 0), to_px(1, 1), (170, 170, 170), 1, cv2.LINE_AA)
    points = np.array([to_px(x, y) for x, y in zip(fpr, tpr, strict=True)], np.int32).reshape(-1, 1, 2)
    cv2.polylines(img, [points], False, (180, 90, 20), 2, cv2.LINE_AA)
    if threshold is not None:
        m = compute_metrics(labels, np.asarray(scores), threshold)
        cv2.circle(img, to_px(m.false_flag_rate, m.recall), 6, (30, 30, 200), 2, cv2.LINE_AA)
        text = f"threshold {threshold:.3f}: recall {m.recall:.2f}, false flags {m.false_flag_rate:.2f}"
        cv2.putText(img, text, (left, size - 12), font, 0.42, (30, 30, 200), 1, cv2.LINE_AA)
    cv2.putText(img, f"{title}  AUC = {auc:.3f}", (left, 26), font, 0.55, ink, 1, cv2.LINE_AA)
    cv2.putText(img, "false-flag rate", (right - 120, bottom + 36), font, 0.42, ink, 1, cv2.LINE_AA)
    cv2.putText(img, "recall", (8, top - 8), font, 0.42, ink, 1, cv2.LINE_AA)
    ok, buffer = cv2.imencode(".png", img)
    if not ok:
        raise RuntimeError("ROC plot could not be encoded")
    return buffer.tobytes()


def peak_on_threat(peak: tuple[int, int], mask: np.ndarray, tolerance: int) -> bool:
    """Whether a heat-map peak (x, y) lies on the threat's silhouette or within ``tolerance`` pixels of it."""
    x, y = peak
    h, w = mask.shape
    y0, y1 = max(0, y - tolerance), min(h, y + tolerance + 1)
    x0, x1 = max(0, x - tolerance), min(w, x + tolerance + 1)
    return bool(mask[y0:y1, x0:x1].any())


def peak_in_box(peak: tuple[int, int], mask: np.ndarray) -> bool:
    """Whether a heat-map peak (x, y) lies inside the bounding box of the threat's silhouette."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return False
    x, y = peak
    return bool(xs.min() <= x <= xs.max() and ys.min() <= y <= ys.max())


@dataclass(frozen=True)
class PairEvaluation:
    """Results of a with/without-threat pair evaluation.

    ``metrics`` covers all scans (clean = 0, with threat = 1); ``peak_on_threat_rate`` is the share of
    threat scans whose heat-map peak lies on the projected threat (within half a cell), ``peak_in_box_rate``
    inside the threat's bounding box; ``clean_flag_rate`` the share of clean scans flagged; ``per_kind`` the
    detection (recall) and peak rates per threat kind.
    """

    metrics: Metrics
    peak_on_threat_rate: float
    clean_flag_rate: float
    labels: np.ndarray
    scores: np.ndarray
    kinds: list[str]
    per_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    peak_in_box_rate: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (without the per-scan arrays)."""
        return {
            "metrics": self.metrics.as_dict(),
            "peak_on_threat_rate": self.peak_on_threat_rate,
            "peak_in_box_rate": self.peak_in_box_rate,
            "clean_flag_rate": self.clean_flag_rate,
            "per_kind": self.per_kind,
        }


def _round_trip(image: np.ndarray, encode: Literal["png", "jpeg"] | None, quality: int) -> bytes | np.ndarray:
    if encode is None:
        return image
    if encode == "jpeg" and image.dtype != np.uint8:
        image = (image.astype(np.float32) * (255.0 / max(float(image.max()), 1.0))).round().astype(np.uint8)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if encode == "jpeg" else []
    ok, buffer = cv2.imencode(".jpg" if encode == "jpeg" else ".png", image, params)
    if not ok:
        raise ValueError("scan could not be encoded")
    return buffer.tobytes()


def evaluate_pairs(
    model: Scorer,
    bags: Sequence[BagSource],
    threats: Sequence[Threat],
    *,
    seed: int = 0,
    threats_per_bag: int = 1,
    hardening_range: tuple[float, float] = (1.2, 2.5),
    threshold: float | None = None,
    encode: Literal["png", "jpeg"] | None = "png",
    jpeg_quality: int = 95,
    progress: Progress | None = None,
) -> PairEvaluation:
    """Score every bag clean and with ``threats_per_bag`` projected threats, through the upload path.

    Each scan is encoded (``encode``: PNG, JPEG or ``None`` to skip) and decoded as an upload would be;
    the clean scan gets the same round trip so the threat is the only difference. ``threshold`` defaults
    to the model's own. Deterministic for a given ``seed``.
    """

    rng = np.random.default_rng(seed)
    threshold = model.threshold if threshold is None else threshold
    report = progress or (lambda stage, done, total: None)
    labels: list[int] = []
    scores: list[float] = []
    kinds: list[str] = []
    peaks: list[bool] = []
    boxes: list[bool] = []

    def score(image: np.ndarray) -> Any:
        data = _round_trip(image, encode, jpeg_quality)
        scan = decode_image(data, working_size=model.working_size) if isinstance(data, bytes) else data
        return model.score(scan)

    for done, source in enumerate(bags):
        bag = load_bag(source)
        scores.append(score(bag).score)
        labels.append(0)
        kinds.append("clean")
        for _ in range(threats_per_bag):
            threat = threats[int(rng.integers(len(threats)))]
            image, mask = project(bag, threat, rng=rng, hardening=float(rng.uniform(*hardening_range)))
            result = score(image)
            scores.append(result.score)
            labels.append(1)
            kinds.append(threat.kind)
            # Half a cell, in the scan's pixels: the heat map cannot be sharper than its cells.
            tolerance = max(2, int(round(0.5 * CELL * max(bag.shape[:2]) / model.working_size)))
            peaks.append(peak_on_threat(result.peak, mask, tolerance))
            boxes.append(peak_in_box(result.peak, mask))
        report("pairs", done + 1, len(bags))

    labels_arr, scores_arr = np.array(labels), np.array(scores)
    metrics = compute_metrics(labels_arr, scores_arr, threshold)
    threat_kinds = [k for k in kinds if k != "clean"]
    peaks_arr = np.array(peaks, dtype=bool)
    threat_scores = scores_arr[labels_arr == 1]
    per_kind = {}
    for kind in sorted(set(threat_kinds)):
        sel = np.array([k == kind for k in threat_kinds])
        per_kind[kind] = {
            "count": int(sel.sum()),
            "recall": float((threat_scores[sel] >= threshold).mean()),
            "peak_on_threat_rate": float(peaks_arr[sel].mean()),
        }
    return PairEvaluation(
        metrics=metrics,
        peak_on_threat_rate=float(peaks_arr.mean()) if peaks_arr.size else 0.0,
        peak_in_box_rate=float(np.mean(boxes)) if boxes else 0.0,
        clean_flag_rate=metrics.false_flag_rate,
        labels=labels_arr,
        scores=scores_arr,
        kinds=kinds,
        per_kind=per_kind,
    )


def evaluate_labelled(
    model: Scorer,
    images: Sequence[BagSource | bytes],
    labels: Sequence[int],
    *,
    threshold: float | None = None,
    progress: Progress | None = None,
) -> Metrics:
    """Metrics of a model on labelled scans (1 = contains a threat, 0 = benign): arrays, paths or bytes.

    Beware of data sets whose benign and threat scans come from different sources: the score may then
    separate the sources rather than the threats.
    """
    report = progress or (lambda stage, done, total: None)
    scores = []
    for done, image in enumerate(images):
        data = Path(image).read_bytes() if isinstance(image, str | Path) else image
        scores.append(model.score(data).score)
        report("score", done + 1, len(images))
    return compute_metrics(np.asarray(labels), np.asarray(scores), model.threshold if threshold is None else threshold)
