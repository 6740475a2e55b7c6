"""What is particular to the categorical and Bernoulli outputs: layout, mode, stable tails."""
from __future__ import annotations

import torch

from pixelar.distributions import Bernoulli, Categorical


def test_categorical_layout_is_channel_major() -> None:
    dist = Categorical(3, 5)
    gen = torch.Generator().manual_seed(0)
    params = torch.randn(2, 15, 3, 4, generator=gen)
    x = torch.randint(0, 5, (2, 3, 3, 4), generator=gen)
    lp = dist.log_prob_elementwise(params, x)
    for n in range(2):
        for c in range(3):
            for i in range(3):
                for j in range(4):
                    logits = params[n, c * 5:(c + 1) * 5, i, j]
                    expected = logits[x[n, c, i, j]] - torch.logsumexp(logits, 0)
                    assert torch.allclose(lp[n, c, i, j], expected, atol=1e-6)


def test_categorical_mode_is_argmax() -> None:
    dist = Categorical(3, 7)
    params = torch.randn(4, 21, 5, 5, generator=torch.Generator().manual_seed(1))
    mode = dist.mode(params)
    assert mode.dtype == torch.int64 and mode.shape == (4, 3, 5, 5)
    assert torch.equal(mode, params.view(4, 3, 7, 5, 5).argmax(dim=2))


def test_categorical_half_precision_params_computed_in_float32() -> None:
    dist = Categorical(1, 256)
    params = (torch.randn(2, 256, 2, 2, generator=torch.Generator().manual_seed(2)) * 5).bfloat16()
    x = torch.randint(0, 256, (2, 1, 2, 2), generator=torch.Generator().manual_seed(3))
    lp = dist.log_prob_elementwise(params, x)
    assert lp.dtype == torch.float32
    assert torch.equal(lp, dist.log_prob_elementwise(params.float(), x))


def test_bernoulli_log_prob_is_stable_for_huge_logits() -> None:
    dist = Bernoulli(1)
    logits = torch.tensor([-1000.0, -30.0, 0.0, 30.0, 1000.0]).view(1, 1, 1, 5).requires_grad_()
    ones, zeros = torch.ones(1, 1, 1, 5, dtype=torch.long), torch.zeros(1, 1, 1, 5, dtype=torch.long)
    lp1, lp0 = dist.log_prob_elementwise(logits, ones), dist.log_prob_elementwise(logits, zeros)
    expected1 = torch.tensor([-1000.0, -30.0, -0.6931472, -9.357623e-14, 0.0])
    assert torch.allclose(lp1.flatten(), expected1, rtol=1e-6, atol=1e-7)
    assert torch.allclose(lp0.flatten(), expected1.flip(0), rtol=1e-6, atol=1e-7)
    (grad,) = torch.autograd.grad((lp1 + lp0).sum(), logits)
    assert torch.isfinite(grad).all()


def test_bernoulli_mode() -> None:
    params = torch.tensor([-2.0, -0.1, 0.1, 3.0]).view(1, 1, 2, 2)
    assert Bernoulli(1).mode(params).flatten().tolist() == [0, 0, 1, 1]


def test_param_channels_are_the_channel_own_parameters() -> None:
    """Changing the parameters outside param_channels(c) never changes channel c's log-prob."""
    gen = torch.Generator().manual_seed(4)
    for dist in (Categorical(3, 5), Bernoulli(3)):
        params = torch.randn(1, dist.num_params, 2, 2, generator=gen)
        x = torch.randint(0, dist.num_levels, (1, 3, 2, 2), generator=gen)
        for c in range(3):
            own = torch.zeros(dist.num_params, dtype=torch.bool)
            own[dist.param_channels(c)] = True
            assert int(own.sum()) == dist.num_params // 3
            other = params.clone()
            other[:, ~own] = torch.randn(1, int((~own).sum()), 2, 2, generator=gen)
            assert torch.equal(dist.log_prob_elementwise(other, x)[:, c],
                               dist.log_prob_elementwise(params, x)[:, c])
