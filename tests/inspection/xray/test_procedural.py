import numpy as np

from inspection.xray.procedural import ProceduralBags, benign_bag, quantise, random_threats, scanner_effects


def test_benign_bags_are_transmission_images():
    rng = np.random.default_rng(0)
    grey = benign_bag(rng, colour=False, size=(300, 400))
    colour = benign_bag(rng, colour=True, size=(300, 400))
    assert grey.shape == (300, 400) and colour.shape == (300, 400, 3)
    for bag in (grey, colour):
        assert bag.dtype == np.float32 and 0.0 <= bag.min() and bag.max() <= 1.0
        assert bag[0, 0].min() > 0.99  # air at the corner
        assert bag.min() < 0.7  # something in the bag


def test_scanner_effects_and_quantising():
    rng = np.random.default_rng(1)
    bag = scanner_effects(benign_bag(rng, size=(200, 200)), rng)
    assert bag.dtype == np.float32 and 0.0 <= bag.min() and bag.max() <= 1.0
    assert quantise(bag, 16).dtype == np.uint16 and quantise(bag).dtype == np.uint8


def test_procedural_bags_are_reproducible():
    bags = ProceduralBags(3, seed=42)
    assert len(bags) == 3
    assert np.array_equal(bags[1], ProceduralBags(3, seed=42)[1])
    assert not np.array_equal(bags[0][:50, :50], bags[1][:50, :50]) or bags[0].shape != bags[1].shape


def test_random_threats_cover_the_kinds():
    threats = random_threats(12, np.random.default_rng(3), ("knife", "pistol", "wrench"))
    assert {t.kind for t in threats} == {"knife", "pistol", "wrench"}
