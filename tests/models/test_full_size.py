"""Slow checks (``make test-slow``): the oracles at each preset's full image size."""
from __future__ import annotations

import pytest
import torch

import pixelar
from pixelar.evaluation.causality import find_leaks
from tests.conftest import all_presets


@pytest.mark.slow
@pytest.mark.parametrize("name,preset", all_presets(), ids=[f"{m}-{p}" for m, p in all_presets()])
def test_exact_causality_at_full_size(name, preset):
    torch.manual_seed(0)
    model = pixelar.build(name, preset)
    assert find_leaks(model) == []
