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
    model = default_model
    wins = 0
    for seed, kind in enumerate(("pistol", "revolver", "wrench", "cleaver")):
        clean = make_bag(100 + seed, clutter=0.5)
        rng = np.random.default_rng(seed)
        image, _mask = project(clean, make_threat(kind, rng), rng=rng)
        wins += model.score(image).score > model.score(clean).score
    assert wins == 4
