"""Slow checks (``make test-slow``): the causality oracle at each preset's full image size."""
from __future__ import annotations

import random

import pytest
import torch

import pixelar
from pixelar.evaluation.causality import dependency_grads
from tests.conftest import all_presets


@pytest.mark.slow
@pytest.mark.parametrize("name,preset", all_presets(), ids=[f"{m}-{p}" for m, p in all_presets()])
def test_exact_causality_at_full_size(name, preset):
    """Every sub-pixel for models under 10 M parameters; for larger ones (an exhaustive check of
    PixelCNN++ cifar10 at 32x32 would take about an hour on 2 cores) the four corners, the last
    row and column, and 48 random sub-pixels."""
    torch.manual_seed(0)
    model = pixelar.build(name, preset)
    for label, factor in model.causal_factors():    # [("", model)] unless it has auxiliary variables
        c, h, w = factor.image_shape
        every = [(ch, i, j) for i in range(h) for j in range(w) for ch in range(c)]
        if model.num_parameters() < 10_000_000:
            positions = every
        else:
            edges = [(ch, i, j) for (ch, i, j) in every if i in (0, h - 1) or j in (0, w - 1)]
            positions = sorted(set(edges[:: max(1, len(edges) // 64)] + random.Random(0).sample(every, 48)))
        for (ch, i, j), grad in dependency_grads(factor, positions):
            bad = (grad != 0) & ~factor.allowed_inputs(ch, i, j)
            assert not bad.any(), f"{label} ({ch}, {i}, {j}) depends on {bad.nonzero().tolist()[:3]}"
