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


def test_domain_randomisation_changes_the_scanner_look_not_the_bag():
    from inspection.xray.procedural import domain_randomise

    rng = np.random.default_rng(4)
    bag = scanner_effects(benign_bag(rng, size=(240, 320), colour=True), rng)
    looks = [domain_randomise(bag, np.random.default_rng(seed)) for seed in range(6)]
    for look in looks:
        assert look.shape == bag.shape and look.dtype == np.float32 and 0.0 <= look.min() and look.max() <= 1.0
        # the bag stays where it was: dark where it is dense, air where it is not
        assert np.corrcoef(look.mean(axis=2).ravel(), bag.mean(axis=2).ravel())[0, 1] > 0.6
    channel_means = np.array([look.reshape(-1, 3).mean(axis=0) for look in looks])
    assert channel_means.std(axis=0).max() > 0.01  # colour maps differ between "scanners"
    plain, randomised = ProceduralBags(6, seed=9), ProceduralBags(6, seed=9, domain_randomisation=1.0)
    assert all(plain[i].shape == randomised[i].shape for i in range(6))
    assert any(not np.array_equal(plain[i], randomised[i]) for i in range(6))
    assert np.array_equal(randomised[2], ProceduralBags(6, seed=9, domain_randomisation=1.0)[2])
