"""Checks on real scans (SIXray subset in the shared development folder; skipped when it is absent)."""

import cv2
import numpy as np

from inspection.xray.imaging import decode_image
from inspection.xray.procedural import make_threat
from inspection.xray.tip import project


def test_real_scans_decode_and_score_with_a_full_size_heatmap(sixray_dir, default_model):
    model = default_model
    for path in sorted((sixray_dir / "benign").glob("*.jpg"))[:2] + sorted((sixray_dir / "threat").glob("*.jpg"))[:2]:
        data = path.read_bytes()
        image = decode_image(data)
        result = model.score(data)
        assert result.heatmap.shape == (image.height, image.width)
        assert 0.0 <= result.score <= 1.0


def test_projected_gun_raises_a_real_bag_score(sixray_dir, default_model):
    model = default_model
    path = sorted((sixray_dir / "benign").glob("*.jpg"))[-1]
    bag = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    rng = np.random.default_rng(0)
    image, _mask = project(bag, make_threat("pistol", rng), rng=rng)
    assert model.score(image).score > model.score(bag).score
