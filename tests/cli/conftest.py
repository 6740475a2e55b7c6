"""Fixtures of the command-line tests."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def data(tmp_path):
    """A tiny npz data set: 12 train and 5 test 8x8 RGB images, as ``npz:PATH``."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "toy.npz", train_images=rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8),
             test_images=rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8))
    return f"npz:{tmp_path / 'toy.npz'}"
