import json

import cv2
import numpy as np
import pytest

from inspection.xray.imaging import decode_image
from inspection.xray.model import ModelFileError, TrainedModel, train_model
from inspection.xray.procedural import ProceduralBags, random_threats


@pytest.mark.parametrize("size", [(420, 520), (300, 900), (700, 260)])
def test_heatmap_has_the_scan_size_and_score_is_a_probability(small_model, make_bag, size):
    result = small_model.score(make_bag(1, size=size))
    assert result.heatmap.shape == size
    assert result.heatmap.dtype == np.uint8
    assert 0.0 <= result.score <= 1.0
    assert result.flagged == (result.score >= small_model.threshold)
    x, y = result.peak
    assert 0 <= x < size[1] and 0 <= y < size[0]
    assert result.heatmap[y, x] == result.heatmap.max()


def test_scores_bytes_arrays_and_16_bit_grey(small_model, make_bag):
    bag = make_bag(2, colour=False)
    ok, png = cv2.imencode(".png", bag.astype(np.uint16) * 257)
    from_bytes = small_model.score(png.tobytes())
    from_array = small_model.score(bag)
    assert from_bytes.score == pytest.approx(from_array.score, abs=1e-3)


def test_size_aspect_and_format_do_not_drive_the_score(default_model, make_pair):
    for seed, kind in ((0, "pistol"), (1, "wrench")):
        clean, threat, _mask = make_pair(seed, kind)
        for image in (clean, threat):
            base = default_model.score(image).score
            h, w = image.shape[:2]
            bigger = cv2.resize(image, (w * 2, h * 2), interpolation=cv2.INTER_LINEAR)
            padded = cv2.copyMakeBorder(image, 0, h // 2, w // 3, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
            ok, tiff = cv2.imencode(".tiff", image)
            for variant in (bigger, padded, jpeg.tobytes(), tiff.tobytes()):
                assert default_model.score(variant).score == pytest.approx(base, abs=0.15)


def test_threat_raises_the_score_where_it_is(default_model, make_pair):
    raised = on_threat = 0
    for seed in range(6):
        clean, threat, mask = make_pair(seed, ("pistol", "revolver", "wrench")[seed % 3])
        with_threat = default_model.score(threat)
        raised += with_threat.score > default_model.score(clean).score
        x, y = with_threat.peak
        on_threat += bool(mask[max(0, y - 8) : y + 9, max(0, x - 8) : x + 9].any())
    assert raised >= 5
    assert on_threat >= 5


def test_save_and_load_round_trip(small_model, make_bag, tmp_path):
    small_model.save(tmp_path / "m")
    metadata = json.loads((tmp_path / "m" / "model.json").read_text())
    for key in ("version", "created_at", "threshold", "false_flag_budget", "target_recall", "training", "metrics"):
        assert key in metadata
    loaded = TrainedModel.load(tmp_path / "m")
    assert loaded.version == small_model.version
    assert loaded.threshold == small_model.threshold
    bag = make_bag(5)
    a, b = small_model.score(bag), loaded.score(bag)
    assert a.score == b.score and np.array_equal(a.heatmap, b.heatmap)


def test_altered_or_missing_model_files_are_refused(small_model, tmp_path):
    with pytest.raises(ModelFileError):
        TrainedModel.load(tmp_path / "nothing")
    small_model.save(tmp_path / "m")
    blob = tmp_path / "m" / "model.joblib"
    blob.write_bytes(blob.read_bytes() + b"tampered")
    with pytest.raises(ModelFileError):
        TrainedModel.load(tmp_path / "m")


def test_threshold_keeps_the_false_flag_budget_on_held_back_clean_scans(small_model):
    card = small_model.metadata
    validation = card["metrics"]["validation"]
    assert card["false_flag_budget"] == 0.03 and validation["false_flag_budget"] == 0.03
    assert small_model.threshold == validation["threshold"] == card["threshold"]
    assert validation["clean_scans"] == card["training"]["validation_bags"] == 8
    # 8 clean scans are too few for a 3 % budget: the threshold lies above all of them
    assert validation["confusion"]["fp"] == 0 and validation["false_flag_rate"] == 0.0
    roc = validation["roc"]
    assert roc[0]["fpr"] == 0.0 and roc[-1]["fpr"] == 1.0 and roc[-1]["tpr"] == 1.0
    assert all(a["fpr"] <= b["fpr"] and a["tpr"] <= b["tpr"] for a, b in zip(roc, roc[1:]))
    assert 0.0 < validation["recall"] <= 1.0


def test_a_target_recall_can_still_choose_the_threshold():
    bags, threats = ProceduralBags(8, seed=8), random_threats(4, np.random.default_rng(0), ("pistol", "wrench"))
    model = train_model(bags, threats, seed=1, iterations=10, threats_per_bag=2, false_flag_budget=None,
                        target_recall=0.5)
    validation = model.metadata["metrics"]["validation"]
    assert validation["recall"] >= 0.5 and model.metadata["false_flag_budget"] is None
    with pytest.raises(ValueError):
        train_model(bags, threats, false_flag_budget=1.5)


def test_training_is_deterministic_and_reports_progress():
    calls = []
    kwargs = dict(seed=1, iterations=5, threats_per_bag=1)
    bags, threats = ProceduralBags(4, seed=8), random_threats(2, np.random.default_rng(0), ("pistol",))
    a = train_model(bags, threats, progress=lambda *c: calls.append(c), **kwargs)
    b = train_model(bags, threats, **kwargs)
    assert a.threshold == b.threshold
    assert {c[0] for c in calls} == {"features", "fit", "validation"}


def test_training_needs_bags_and_threats():
    with pytest.raises(ValueError):
        train_model(ProceduralBags(2, seed=0), random_threats(1, np.random.default_rng(0)))
    with pytest.raises(ValueError):
        train_model(ProceduralBags(8, seed=0), [])


def test_decoded_scan_scores_like_its_pixels(small_model, make_bag):
    bag = make_bag(7)
    ok, png = cv2.imencode(".png", bag)
    assert small_model.score(decode_image(png.tobytes())).score == pytest.approx(small_model.score(bag).score)


def test_trains_on_grey_scans_only():
    grey = [bag for bag in ProceduralBags(12, seed=3) if bag.ndim == 2][:4]
    threats = random_threats(3, np.random.default_rng(1), ("pistol",))
    model = train_model(grey, threats, seed=0, iterations=5, threats_per_bag=1)
    assert 0.0 <= model.score(grey[0]).score <= 1.0
