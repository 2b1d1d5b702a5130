import cv2
import numpy as np
import pytest

from inspection.xray.evaluate import (
    compute_metrics,
    evaluate_labelled,
    evaluate_pairs,
    peak_on_threat,
    roc_plot_png,
    threshold_for_budget,
    threshold_for_recall,
)
from inspection.xray.procedural import random_threats

EASY_KINDS = ("pistol", "revolver", "wrench", "cleaver", "gun_part")


def test_metrics_by_hand():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.4, 0.7, 0.9, 0.95])
    m = compute_metrics(labels, scores, threshold=0.5)
    assert m.confusion == ((3, 1), (1, 3))
    assert m.recall == 0.75 and m.false_flag_rate == 0.25 and m.precision == 0.75
    assert m.auc == pytest.approx(0.875)
    assert compute_metrics(np.zeros(3), np.ones(3), 0.5).auc is None


def test_threshold_for_recall_reaches_the_target():
    labels = np.array([1] * 20 + [0] * 5)
    scores = np.concatenate([np.linspace(0.05, 1.0, 20), np.zeros(5)])
    threshold = threshold_for_recall(labels, scores, 0.95)
    assert compute_metrics(labels, scores, threshold).recall >= 0.95
    assert threshold == pytest.approx(0.1)


def test_roc_plot_is_a_png():
    labels = np.array([0, 1] * 20)
    scores = np.random.default_rng(0).random(40) + labels * 0.5
    image = cv2.imdecode(np.frombuffer(roc_plot_png(labels, scores, threshold=0.8), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (520, 520, 3)


def test_peak_on_threat_tolerance():
    mask = np.zeros((50, 50), bool)
    mask[20:25, 20:25] = True
    assert peak_on_threat((22, 22), mask, 0)
    assert peak_on_threat((28, 22), mask, 4) and not peak_on_threat((30, 22), mask, 4)


def test_peak_in_the_threats_box():
    from inspection.xray.evaluate import peak_in_box

    mask = np.zeros((50, 50), bool)
    mask[np.arange(10, 30), np.arange(10, 30)] = True  # a thin diagonal blade
    assert peak_in_box((12, 27), mask) and not peak_on_threat((12, 27), mask, 2)
    assert not peak_in_box((31, 20), mask) and not peak_in_box((5, 5), np.zeros((9, 9), bool))


def test_pair_evaluation_beats_chance(small_model, make_bag):
    bags = [make_bag(500 + i, colour=i % 2 == 1) for i in range(10)]
    threats = random_threats(10, np.random.default_rng(5), EASY_KINDS)
    result = evaluate_pairs(small_model, bags, threats, seed=2, threats_per_bag=1)
    assert result.metrics.positives == 10 and result.metrics.negatives == 10
    assert result.metrics.auc >= 0.75
    assert result.peak_on_threat_rate >= 0.6 and result.peak_in_box_rate >= result.peak_on_threat_rate - 0.1
    assert set(result.per_kind) <= {"pistol", "revolver", "wrench", "cleaver", "gun_barrel", "magazine", "slide"}
    assert "metrics" in result.as_dict()


def test_labelled_evaluation(small_model, make_pair, tmp_path):
    images, labels = [], []
    for seed in range(3):
        clean, threat, _ = make_pair(seed, "revolver")
        path = tmp_path / f"{seed}.png"
        cv2.imwrite(str(path), threat)
        images += [clean, path]
        labels += [0, 1]
    metrics = evaluate_labelled(small_model, images, labels)
    assert metrics.positives == 3 and metrics.negatives == 3
    assert metrics.auc is not None and metrics.auc > 0.5


@pytest.mark.parametrize("budget", [0.01, 0.03, 0.1])
def test_threshold_for_budget_flags_at_most_the_budget_of_clean_scans(budget):
    rng = np.random.default_rng(5)
    for n in (200, 333, 1000):
        clean = rng.beta(2, 5, n)
        threshold = threshold_for_budget(clean, budget)
        assert (clean >= threshold).mean() <= budget
        assert (clean >= threshold).sum() >= int(np.floor(n * budget)) - 2  # not needlessly high
    # conformal: on fresh scans of the same source the share flagged stays near the budget
    fresh = rng.beta(2, 5, 200_000)
    shares = [(fresh >= threshold_for_budget(rng.beta(2, 5, 300), budget)).mean() for _ in range(40)]
    assert np.mean(shares) <= budget + 0.005


def test_threshold_for_budget_with_few_scans_or_ties():
    assert threshold_for_budget([0.2, 0.4, 0.9], 0.03) > 0.9  # too few to spend a 3 % budget: flag none
    assert threshold_for_budget(np.zeros(500), 0.03) > 0.0  # empty scans all score 0: none flagged
    with pytest.raises(ValueError):
        threshold_for_budget([], 0.03)
    with pytest.raises(ValueError):
        threshold_for_budget([0.1, 0.2], 0.0)
