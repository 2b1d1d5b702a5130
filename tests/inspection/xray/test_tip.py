import numpy as np
import pytest

from inspection.xray.physics import channel_gains
from inspection.xray.procedural import THREAT_KINDS, make_threat
from inspection.xray.tip import project, project_threat


def grey(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64).mean(axis=2) if a.ndim == 3 else a.astype(np.float64)


def square_threat(size: int = 40, density: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    attenuation = np.zeros((size, size), np.float32)
    attenuation[5:-5, 5:-5] = density
    return attenuation, attenuation > 0


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("colour", [False, True])
def test_projection_never_brightens_and_darkens_the_threat(make_bag, dtype, colour):
    bag = make_bag(3, colour=colour)
    if dtype is np.uint16:
        bag = bag.astype(np.uint16) * 257
    elif dtype is np.float32:
        bag = bag.astype(np.float32) / 255
    attenuation, mask = square_threat()
    image, in_bag = project_threat(bag, attenuation, mask, rng=np.random.default_rng(1), size_range=(0.2, 0.25))
    assert image.dtype == bag.dtype and image.shape == bag.shape
    assert in_bag.shape == bag.shape[:2] and in_bag.any()
    assert (image <= bag).all()
    assert grey(image)[in_bag].mean() < 0.6 * grey(bag)[in_bag].mean()
    # Far from the threat nothing changes.
    ys, xs = np.nonzero(in_bag)
    far = np.ones(in_bag.shape, bool)
    far[max(0, ys.min() - 20) : ys.max() + 20, max(0, xs.min() - 20) : xs.max() + 20] = False
    assert np.array_equal(image[far], bag[far])


def test_transmissions_multiply():
    bag = np.full((200, 200), 0.5, np.float32)
    attenuation, mask = square_threat(40, 1.0)
    image, in_bag = project_threat(
        bag,
        attenuation,
        mask,
        rng=np.random.default_rng(0),
        depth_range=(0, 0),
        max_tilt_degrees=0,
        density_range=(1, 1),
        hardening=None,
        size_range=(0.3, 0.3),
        position=(100, 100),
    )
    core = image[in_bag]
    assert np.isclose(np.median(core), 0.5 * np.exp(-1.0), rtol=0.05)


def test_metal_is_blue_on_a_pseudo_colour_scan():
    bag = np.full((200, 200, 3), 255, np.uint8)
    bag[20:180, 20:180] = (230, 240, 250)
    attenuation, mask = square_threat(40, 1.0)
    image, in_bag = project_threat(bag, attenuation, mask, rng=np.random.default_rng(2), material=1.0)
    b, g, r = image[in_bag].astype(float).mean(axis=0)
    assert b > g > r
    organic, _ = project_threat(bag, attenuation, mask, rng=np.random.default_rng(2), material=0.0)
    b, g, r = organic[in_bag].astype(float).mean(axis=0)
    assert r > g > b
    assert (channel_gains(np.array([0.0, 0.5, 1.0])) > 0).all()


def test_projection_is_deterministic_for_a_seed(make_bag):
    bag = make_bag(4)
    threat = make_threat("knife", np.random.default_rng(0))
    a = project(bag, threat, rng=np.random.default_rng(9))
    b = project(bag, threat, rng=np.random.default_rng(9))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_threat_lands_inside_the_bag(make_bag):
    bag = make_bag(6, colour=False, size=(300, 600))
    for seed in range(5):
        threat = make_threat("pistol", np.random.default_rng(seed))
        image, mask = project(bag, threat, rng=np.random.default_rng(seed))
        ys, xs = np.nonzero(mask)
        assert (bag[ys, xs] < 250).mean() > 0.8


@pytest.mark.parametrize("kind", THREAT_KINDS)
def test_every_threat_kind_is_a_dense_silhouette(kind):
    threat = make_threat(kind, np.random.default_rng(11))
    assert threat.attenuation.shape == threat.mask.shape == threat.material.shape
    assert threat.mask.sum() > 50
    assert threat.attenuation[threat.mask].mean() > 0.3
    assert threat.attenuation[~threat.mask].max() <= 0.05 + 1e-6
    assert 0.0 <= threat.material.min() and threat.material.max() <= 1.0
    assert 0 < threat.size_range[0] < threat.size_range[1] < 0.5
