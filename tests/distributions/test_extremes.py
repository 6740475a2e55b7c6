"""D15/D16: extreme temperatures and diverged log-scales still give the right kind of answer."""
from __future__ import annotations

import math

import pytest
import torch

from pixelar.distributions.base import tempered
from pixelar.distributions.categorical import Categorical
from pixelar.distributions.logistic_mixture import MAX_LOG_SCALE, DiscretizedLogisticMixture
from pixelar.errors import PixelarError


@pytest.mark.parametrize("temperature", [1e-40, 1e-300, 5e-324])
def test_d15_categorical_at_a_tiny_temperature_returns_the_mode(temperature):
    g = torch.Generator().manual_seed(0)
    params = -10.0 - 5.0 * torch.rand(4, 3 * 16, 2, 2, generator=g, dtype=torch.float64)  # all negative
    dist = Categorical(3, 16)
    x = dist.sample(params, generator=torch.Generator().manual_seed(1), temperature=temperature)
    assert torch.equal(x, dist.mode(params))
    positive = params + 30.0                                                           # all positive
    assert torch.equal(dist.sample(positive, temperature=temperature), dist.mode(positive))


def test_d15_tempered_leaves_ordinary_temperatures_alone():
    logits = torch.randn(2, 5, 3)
    assert torch.equal(tempered(logits, 0.7, 1), logits / 0.7)


@pytest.mark.parametrize("t", [0.0, -1.0, float("nan"), float("inf")])
def test_d15_bad_temperatures_are_pixelar_errors(t):
    with pytest.raises(PixelarError, match="temperature"):
        Categorical(1, 4).sample(torch.zeros(1, 4, 1, 1), temperature=t)


@pytest.mark.parametrize("log_scale", [95.0, 110.0, 1e4, 1e30])
def test_d16_diverged_log_scales_give_finite_nats(log_scale):
    dist = DiscretizedLogisticMixture(3, 256, num_mixtures=2)
    params = torch.zeros(2, dist.num_params, 3, 3)
    m, c = 2, 3
    params[:, m + c * m:m + 2 * c * m] = log_scale
    x = torch.randint(0, 256, (2, 3, 3, 3))
    lp = dist.log_prob(params, x)
    assert torch.isfinite(lp).all()
    at_clamp = params.clone()
    at_clamp[:, m + c * m:m + 2 * c * m] = MAX_LOG_SCALE
    assert torch.equal(lp, dist.log_prob(at_clamp, x))
    assert math.isfinite(MAX_LOG_SCALE) and MAX_LOG_SCALE < 88
