"""Checks every distribution must pass: normalization over the full support of a pixel,
exact sampling (empirical frequencies vs exp(log_prob)), reproducibility and input errors."""
from __future__ import annotations

import itertools
import math
import zlib

import pytest
import torch

from pixelar.distributions import Bernoulli, Categorical, DiscretizedLogisticMixture, Distribution, build_distribution
from pixelar.errors import ConfigError


def random_params(dist: Distribution, n: int, gen: torch.Generator, extreme: bool = False,
                  height: int = 1, width: int = 1) -> torch.Tensor:
    """Random params (n, P, H, W); ``extreme`` gives huge logits, tiny/huge scales, far means."""
    shape = (n, dist.num_params, height, width)
    if not isinstance(dist, DiscretizedLogisticMixture):
        return torch.randn(shape, generator=gen) * (60.0 if extreme else 3.0)
    c, m, pairs = dist.num_channels, dist.num_mixtures, dist.num_pairs

    def randn(*s: int) -> torch.Tensor:
        return torch.randn(n, *s, height, width, generator=gen)

    if extreme:
        log_scales = torch.tensor([-9.0, -7.0, 3.0, 0.5])[torch.randint(0, 4, (n, c, m, height, width),
                                                                           generator=gen)]
        return dist.pack_params(30 * randn(m), 4 * randn(c, m), log_scales, 5 * randn(pairs, m))
    return dist.pack_params(2 * randn(m), 0.6 * randn(c, m), 0.5 * randn(c, m) - 1.0, randn(pairs, m))


def support(num_channels: int, num_levels: int) -> torch.Tensor:
    """All K**C values of one pixel, lexicographic, as (K**C, C, 1, 1) int64."""
    values = list(itertools.product(range(num_levels), repeat=num_channels))
    return torch.tensor(values).view(-1, num_channels, 1, 1)


def joint_log_probs(dist: Distribution, params1: torch.Tensor) -> torch.Tensor:
    """log p over the full support of one pixel with params1 (1, P, 1, 1): (K**C,) float64."""
    x = support(dist.num_channels, dist.num_levels)
    return dist.log_prob(params1.expand(len(x), -1, -1, -1), x).double()


CASES = [("categorical", 1, 4), ("categorical", 3, 5), ("categorical", 1, 256),
         ("bernoulli", 1, 2), ("bernoulli", 3, 2),
         ("logistic_mixture", 1, 4), ("logistic_mixture", 1, 5), ("logistic_mixture", 3, 4),
         ("logistic_mixture", 3, 5), ("logistic_mixture", 1, 256), ("logistic_mixture", 1, 2),
         ("logistic_mixture", 2, 3),
         ("categorical_linear", 3, 4), ("categorical_linear", 2, 5), ("categorical_linear", 1, 256)]


def make(name: str, c: int, k: int) -> Distribution:
    kwargs = {"num_mixtures": 4} if name == "logistic_mixture" else {}
    return build_distribution(name, c, k, **kwargs)


@pytest.mark.parametrize("extreme", [False, True])
@pytest.mark.parametrize("name,c,k", CASES)
def test_normalized_over_pixel_support(name: str, c: int, k: int, extreme: bool) -> None:
    dist = make(name, c, k)
    gen = torch.Generator().manual_seed(zlib.crc32(f"{name}{c}{k}{extreme}".encode()))
    x = support(c, k)
    for _ in range(5):
        params1 = random_params(dist, 1, gen, extreme)
        lp = dist.log_prob_elementwise(params1.expand(len(x), -1, -1, -1), x).double()  # (K**C, C, 1, 1)
        assert torch.isfinite(lp).all()
        assert abs(lp.sum(dim=(1, 2, 3)).exp().sum().item() - 1.0) < 1e-5
        # Every channel conditional is normalized over x_c for each value of x_<c.
        lp = lp.view(*([k] * c), c)
        for ch in range(c):
            totals = lp[..., ch].exp().sum(dim=ch)
            assert torch.allclose(totals, torch.ones_like(totals), atol=1e-5), (ch, totals)


def chi_square_ok(samples: torch.Tensor, log_probs: torch.Tensor, num_levels: int) -> tuple[float, float]:
    """Chi-square statistic of samples (n, C) vs probabilities exp(log_probs) (K**C,), and a
    ~5-sigma threshold. Cells expected fewer than 5 times are pooled into one."""
    n, c = samples.shape
    index = (samples * num_levels ** torch.arange(c - 1, -1, -1)).sum(dim=1)
    observed = torch.bincount(index, minlength=num_levels ** c).double()
    expected = log_probs.exp() * n
    small = expected < 5
    obs = torch.cat([observed[~small], observed[small].sum().view(1)])
    exp = torch.cat([expected[~small], expected[small].sum().view(1)])
    keep = exp > 0
    stat = ((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum().item()
    df = int(keep.sum()) - 1
    return stat, df + 5 * math.sqrt(2 * max(df, 1))


def draw(dist: Distribution, params1: torch.Tensor, n: int, seed: int, **kwargs) -> torch.Tensor:
    """n samples of one pixel as (n, C)."""
    gen = torch.Generator().manual_seed(seed)
    return dist.sample(params1.expand(n, -1, -1, -1), generator=gen, **kwargs).view(n, -1)


SAMPLING_CASES = [("categorical", 1, 5), ("categorical", 3, 4), ("bernoulli", 3, 2),
                  ("logistic_mixture", 1, 5), ("logistic_mixture", 3, 4), ("logistic_mixture", 1, 256),
                  ("categorical_linear", 3, 4)]


@pytest.mark.parametrize("name,c,k", SAMPLING_CASES)
def test_sample_frequencies_match_log_prob(name: str, c: int, k: int) -> None:
    dist = make(name, c, k)
    params1 = random_params(dist, 1, torch.Generator().manual_seed(7))
    stat, limit = chi_square_ok(draw(dist, params1, 20000, seed=1), joint_log_probs(dist, params1), k)
    assert stat < limit, (stat, limit)


@pytest.mark.parametrize("name,c,k", [("categorical", 3, 4), ("bernoulli", 2, 2), ("logistic_mixture", 3, 4),
                                      ("categorical_linear", 3, 4)])
def test_temperature_samples_the_tempered_distribution(name: str, c: int, k: int) -> None:
    dist = make(name, c, k)
    params1 = random_params(dist, 1, torch.Generator().manual_seed(3))
    temperature = 0.6
    if isinstance(dist, DiscretizedLogisticMixture):
        # T divides the mixture logits and multiplies the scales (log-scales here are > -7).
        m, cm = dist.num_mixtures, c * dist.num_mixtures
        tempered = params1.clone()
        tempered[:, :m] /= temperature
        tempered[:, m + cm:m + 2 * cm] += math.log(temperature)
    else:
        tempered = params1 / temperature
    samples = draw(dist, params1, 20000, seed=2, temperature=temperature)
    stat, limit = chi_square_ok(samples, joint_log_probs(dist, tempered), k)
    assert stat < limit, (stat, limit)


@pytest.mark.parametrize("name,c,k", [("categorical", 3, 256), ("bernoulli", 3, 2), ("logistic_mixture", 3, 256)])
def test_sampling_reproducible_with_generator(name: str, c: int, k: int) -> None:
    dist = make(name, c, k)
    params = random_params(dist, 2, torch.Generator().manual_seed(0), height=5, width=6)
    a = dist.sample(params, generator=torch.Generator().manual_seed(11))
    b = dist.sample(params, generator=torch.Generator().manual_seed(11))
    other = dist.sample(params, generator=torch.Generator().manual_seed(12))
    assert a.dtype == torch.int64 and a.shape == (2, c, 5, 6)
    assert torch.equal(a, b) and not torch.equal(a, other)
    assert int(a.min()) >= 0 and int(a.max()) < k


@pytest.mark.parametrize("cls,k", [(Categorical, 6), (Bernoulli, 2)])
def test_channel_samples_one_channel_with_its_own_randomness(cls: type[Distribution], k: int) -> None:
    dist = cls(3, k)
    params = random_params(dist, 2, torch.Generator().manual_seed(0), height=4, width=3)
    per_channel = dist.num_params // 3
    for ch in range(3):
        out = dist.sample(params, generator=torch.Generator().manual_seed(5), channel=ch)
        assert out.shape == (2, 1, 4, 3)
        # Same random numbers as a one-channel distribution fed only that channel's params.
        single = cls(1, k).sample(params[:, ch * per_channel:(ch + 1) * per_channel],
                                  generator=torch.Generator().manual_seed(5))
        assert torch.equal(out, single)


@pytest.mark.parametrize("cls,k", [(Categorical, 256), (Categorical, 4), (Bernoulli, 2)])
def test_uniform_params_give_log_k_nats(cls: type[Distribution], k: int) -> None:
    dist = cls(3, k)
    params = dist.uniform_params(2, 3, 4)
    assert params.shape == (2, dist.num_params, 3, 4)
    x = torch.randint(0, k, (2, 3, 3, 4), generator=torch.Generator().manual_seed(0))
    lp = dist.log_prob_elementwise(params, x)
    assert torch.allclose(lp.double(), torch.full(lp.shape, -math.log(k), dtype=torch.float64), rtol=0, atol=1e-6)


def test_mixture_has_no_uniform_params() -> None:
    with pytest.raises(NotImplementedError, match="categorical"):
        DiscretizedLogisticMixture(3, 256).uniform_params(1, 2, 2)


@pytest.mark.parametrize("name,c,k", [("categorical", 3, 4), ("bernoulli", 1, 2), ("logistic_mixture", 3, 4)])
def test_check_input_rejects_bad_shapes_and_values(name: str, c: int, k: int) -> None:
    dist = make(name, c, k)
    p = dist.num_params
    good_params, good_x = torch.zeros(2, p, 3, 3), torch.zeros(2, c, 3, 3, dtype=torch.long)
    dist.log_prob(good_params, good_x)
    bad = [(torch.zeros(2, p + 1, 3, 3), good_x, "params must be"),
           (torch.zeros(p, 3, 3), good_x, "params must be"),
           (good_params, torch.zeros(2, c + 1, 3, 3, dtype=torch.long), "x must be"),
           (good_params, torch.zeros(2, c, 3, 4, dtype=torch.long), "x must be"),
           (good_params, torch.zeros(1, c, 3, 3, dtype=torch.long), "x must be"),
           (good_params, torch.zeros(2, c, 3, 3), "integer levels"),
           (good_params, torch.full((2, c, 3, 3), k, dtype=torch.long), "outside"),
           (good_params, torch.full((2, c, 3, 3), -1, dtype=torch.long), "outside")]
    for params, x, message in bad:
        with pytest.raises(ValueError, match=message):
            dist.log_prob_elementwise(params, x)


def test_argument_errors() -> None:
    params = torch.zeros(1, 12, 2, 2)
    with pytest.raises(ValueError, match="channel must be"):
        Categorical(3, 4).sample(params, channel=3)
    with pytest.raises(ValueError, match="temperature"):
        Categorical(3, 4).sample(params, temperature=0.0)
    with pytest.raises(ValueError, match="all channels"):
        DiscretizedLogisticMixture(3, 4, 1).sample(torch.zeros(1, 10, 2, 2), channel=0)
    with pytest.raises(ValueError, match="num_levels must be 2"):
        Bernoulli(1, 256)


def test_build_distribution() -> None:
    assert isinstance(build_distribution("categorical", 3, 256), Categorical)
    assert isinstance(build_distribution("bernoulli", 1, 2), Bernoulli)
    mix = build_distribution("logistic_mixture", 3, 256, num_mixtures=10)
    assert isinstance(mix, DiscretizedLogisticMixture) and mix.num_params == 100
    assert build_distribution("logistic_mixture", 1, 256).num_params == 30
    assert build_distribution("categorical", 3, 256).num_params == 768
    assert build_distribution("categorical_linear", 3, 256).num_params == (3 + 3) * 256
    with pytest.raises(ConfigError, match="bernoulli, categorical, categorical_linear, channel_logistic_mixture, logistic_mixture"):
        build_distribution("gaussian", 3, 256)
    with pytest.raises(ConfigError, match="num_mixtures"):
        build_distribution("categorical", 3, 256, num_mixtures=5)
