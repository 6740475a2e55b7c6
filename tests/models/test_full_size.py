"""Slow checks (``make test-slow``): the causality oracle at each preset's full image size."""
from __future__ import annotations

import random

import pytest
import torch

import pixelar
from pixelar.evaluation.causality import dependency_grads
from tests.conftest import all_presets

# An exhaustive check sends one image copy per sub-pixel (C*H*W copies of H*W pixels) through the
# network: about parameters x C x (H*W)^2 weight uses. The CIFAR-10 recurrent presets (9.4 M
# parameters, 3 x 32 x 32: 2.9e13) take 40-70 minutes each on one core; the video presets at
# full size (18 frames of 64 x 64 stacked: 2.4e14 to 1.1e17) would take days to weeks, so above
# this budget the test checks the sampled sub-pixels.
EXHAUSTIVE_BUDGET = 3.2e13


def exhaustive_cost(model, factor) -> float:
    c, h, w = factor.image_shape
    return float(model.num_parameters()) * c * (h * w) ** 2


# The checks whose one image copy keeps over 3.5 GB for the backward (measured with the oracle's
# saved-tensor probe, 2026-12-04): PixelSNAIL `imagenet64` (4.6 GB; 14.7 GB resident at peak), O(TN)
# video `robot` (8.6 GB per 18-frame clip; 10.6 GB resident) and the Grayscale PixelCNN `celeba128`
# (3.6 GB; 19.6 GB resident). Every other check seen stayed under 7 GB resident. The first two at once were
# OOM-killed on the 24 GB machine, so under `make test-slow` (--dist loadgroup) these share one
# worker and run one after the other.
LARGE_MEMORY = {("pixelsnail", "imagenet64"), ("video_pixelcnn_otn", "robot"), ("grayscale_pixelcnn", "celeba128")}


def _cases() -> list:
    return [pytest.param(m, p, id=f"{m}-{p}",
                         marks=[pytest.mark.xdist_group("large_memory")] if (m, p) in LARGE_MEMORY else [])
            for m, p in all_presets()]


@pytest.mark.slow
@pytest.mark.parametrize("name,preset", _cases())
def test_exact_causality_at_full_size(name, preset):
    """Every sub-pixel where that is affordable (see EXHAUSTIVE_BUDGET); elsewhere the first and
    last row and column (every ~64th of those sub-pixels) and 48 random sub-pixels. Every preset's
    architecture is also checked exhaustively at a reduced size (tests/models/test_common.py)."""
    torch.manual_seed(0)
    model = pixelar.build(name, preset)
    for label, factor in model.causal_factors():    # [("", model)] unless it has auxiliary variables
        c, h, w = factor.image_shape
        every = [(ch, i, j) for i in range(h) for j in range(w) for ch in range(c)]
        if model.num_parameters() < 10_000_000 and exhaustive_cost(model, factor) <= EXHAUSTIVE_BUDGET:
            positions = every
        else:
            edges = [(ch, i, j) for (ch, i, j) in every if i in (0, h - 1) or j in (0, w - 1)]
            positions = sorted(set(edges[:: max(1, len(edges) // 64)] + random.Random(0).sample(every, 48)))
        for (ch, i, j), grad in dependency_grads(factor, positions):
            bad = (grad != 0) & ~factor.allowed_inputs(ch, i, j)
            assert not bad.any(), f"{label} ({ch}, {i}, {j}) depends on {bad.nonzero().tolist()[:3]}"
