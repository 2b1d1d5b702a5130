import json

import numpy as np

from inspection.xray.model import default_model_dir
from inspection.xray.procedural import make_threat
from inspection.xray.tip import project


def test_default_model_is_small_and_described():
    files = {p.name: p.stat().st_size for p in default_model_dir().iterdir()}
    assert {"model.joblib", "model.json"} <= set(files)
    assert sum(files.values()) < 5 * 1024 * 1024
    metadata = json.loads((default_model_dir() / "model.json").read_text())
    assert "procedural" in metadata["description"]


def test_default_model_scores_a_threat_bag_above_the_clean_bag(default_model, make_bag):
    threat_scores, clean_scores = [], []
    for seed in range(8):
        clean = make_bag(100 + seed, colour=seed % 2 == 0, clutter=0.5)
        rng = np.random.default_rng(seed)
        kind = ("pistol", "revolver", "wrench", "cleaver")[seed % 4]
        image, _mask = project(clean, make_threat(kind, rng), rng=rng)
        threat_scores.append(default_model.score(image).score)
        clean_scores.append(default_model.score(clean).score)
    wins = sum(t > c for t, c in zip(threat_scores, clean_scores, strict=True))
    assert wins >= 7
    assert np.mean(threat_scores) > np.mean(clean_scores) + 0.2
