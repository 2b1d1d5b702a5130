"""Fixtures for the X-ray analysis tests: a small model trained on a few procedural bags, scan factories."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from inspection.xray.model import TrainedModel, load_default_model, train_model
from inspection.xray.procedural import benign_bag, make_threat, random_threats, scanner_effects
from inspection.xray.tip import project

EASY_KINDS = ("pistol", "revolver", "wrench", "cleaver", "gun_part")
SIXRAY_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "xray" / "sixray"


def finished_scan(seed: int, *, colour: bool = True, size: tuple[int, int] = (420, 520), clutter: float = 0.6):
    """A procedural bag with scanner effects, stored 8-bit like an upload."""
    rng = np.random.default_rng(seed)
    bag = scanner_effects(benign_bag(rng, size=size, colour=colour, clutter=clutter), rng)
    return np.round(bag * 255).astype(np.uint8)


@pytest.fixture(scope="session")
def small_model() -> TrainedModel:
    """A deliberately small model (few moderately packed bags, few trees): enough to tell large threats
    from clean bags, fast to train."""
    bags = [finished_scan(10_000 + i, colour=i % 2 == 0, clutter=0.5) for i in range(32)]
    threats = random_threats(30, np.random.default_rng(7), EASY_KINDS)
    return train_model(bags, threats, seed=3, iterations=80, threats_per_bag=4)


@pytest.fixture(scope="session")
def default_model() -> TrainedModel:
    """The shipped default model."""
    return load_default_model()


@pytest.fixture
def make_bag():
    """Factory: a finished procedural scan as uint8 (grey or BGR)."""
    return finished_scan


@pytest.fixture
def make_pair(make_bag):
    """Factory: (clean, with_threat, mask) for one bag and one threat kind."""

    def make(seed: int = 0, kind: str = "pistol", *, colour: bool = True, size: tuple[int, int] = (420, 520)):
        clean = make_bag(seed, colour=colour, size=size)
        rng = np.random.default_rng(seed + 1000)
        threat = make_threat(kind, rng)
        image, mask = project(clean, threat, rng=rng)
        return clean, image, mask

    return make


@pytest.fixture
def sixray_dir() -> Path:
    """The shared SIXray folder. Tests using it skip when it is absent (a fresh clone), or fail when
    ``GREENSHIELD_REQUIRE_SHARED_DATA`` (set by .ci/run) or ``GREENSHIELD_REQUIRE_XRAY_DATA=1`` is set."""
    if not SIXRAY_DIR.is_dir():
        message = f"SIXray development data not found at {SIXRAY_DIR.resolve()}"
        if os.environ.get("GREENSHIELD_REQUIRE_SHARED_DATA") or os.environ.get("GREENSHIELD_REQUIRE_XRAY_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return SIXRAY_DIR
