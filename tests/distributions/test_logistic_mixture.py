"""The discretized logistic mixture against a slow, obviously-correct reference, plus
gradients, layout, MAP decoding and sampling details."""
from __future__ import annotations

import math
from types import ModuleType

import pytest
import torch

from pixelar.distributions import DiscretizedLogisticMixture
from pixelar.distributions.logistic_mixture import discretized_logistic_log_prob


def sigmoid(z, lib: ModuleType):
    """1 / (1 + e^-z) without overflow in either tail."""
    if z >= 0:
        return 1 / (1 + lib.exp(-z))
    e = lib.exp(z)
    return e / (1 + e)


def reference_conditionals(p: list[float], x: list[int], c_count: int, k_count: int, m_count: int,
                           lib: ModuleType = math) -> list[float]:
    """log p(x_c | x_<c) for one pixel, straight from the definitions, one component at a time.

    p: the P parameters of the pixel; lib: ``math`` (float64) or ``mpmath`` (arbitrary precision).
    Bin probabilities are explicit CDF differences; the edge bins run to -inf / +inf.
    """
    num = lib.mpf if lib is not math else float
    logits = [num(p[i]) for i in range(m_count)]
    mu = lambda c, m: num(p[m_count + c * m_count + m])
    log_s = lambda c, m: max(num(p[m_count + (c_count + c) * m_count + m]), num(-7))
    coeff = lambda c, j, m: lib.tanh(num(p[m_count + 2 * c_count * m_count
                                           + (c * (c - 1) // 2 + j) * m_count + m]))
    d = num(1) / (k_count - 1)
    v = [2 * num(k) / (k_count - 1) - 1 for k in x]
    top = max(logits)
    log_norm = top + lib.log(sum(lib.exp(l - top) for l in logits))
    # terms[m] accumulates log pi_m + sum_{j<=c} log p_m(x_j | x_<j)
    terms = [l - log_norm for l in logits]
    prefixes = []
    for c in range(c_count):
        for m in range(m_count):
            mean = mu(c, m) + sum(coeff(c, j, m) * v[j] for j in range(c))
            s = lib.exp(log_s(c, m))
            upper = (v[c] + d - mean) / s
            lower = (v[c] - d - mean) / s
            if x[c] == 0:
                prob = sigmoid(upper, lib)
            elif x[c] == k_count - 1:
                prob = sigmoid(-lower, lib)
            elif lower > 0:   # upper tail: sigma(-b) - sigma(-a) does not cancel
                prob = sigmoid(-lower, lib) - sigmoid(-upper, lib)
            else:
                prob = sigmoid(upper, lib) - sigmoid(lower, lib)
            terms[m] = terms[m] + lib.log(prob)
        top = max(terms)
        prefixes.append(top + lib.log(sum(lib.exp(t - top) for t in terms)))
    return [prefixes[0]] + [prefixes[c] - prefixes[c - 1] for c in range(1, c_count)]


def make_params(dist: DiscretizedLogisticMixture, n: int, gen: torch.Generator, log_scale: str,
                mean_spread: float) -> torch.Tensor:
    c, m, pairs = dist.num_channels, dist.num_mixtures, dist.num_pairs
    if log_scale == "tiny":
        log_scales = torch.full((n, c, m, 1, 1), -7.0) - 2 * torch.rand(n, c, m, 1, 1, generator=gen)
    elif log_scale == "huge":
        log_scales = torch.full((n, c, m, 1, 1), 3.0)
    elif log_scale == "moderate":
        log_scales = torch.empty(n, c, m, 1, 1).uniform_(-4, 2, generator=gen)
    else:
        log_scales = torch.empty(n, c, m, 1, 1).uniform_(-8, 3, generator=gen)
    return dist.pack_params(5 * torch.randn(n, m, 1, 1, generator=gen),
                            mean_spread * torch.randn(n, c, m, 1, 1, generator=gen), log_scales,
                            2 * torch.randn(n, pairs, m, 1, 1, generator=gen))


def compare(dist: DiscretizedLogisticMixture, params: torch.Tensor, x: torch.Tensor, lib: ModuleType,
            rtol: float = 0.0) -> None:
    """Per-channel log-probs vs the reference: |error| <= 1e-4 nats + rtol * (largest |log p_m(x_j)|
    among the components and channels j <= c that the conditional of channel c is built from)."""
    ours = dist.log_prob_elementwise(params, x).double()
    _, comp = dist.component_log_probs(params, x)
    scale = comp.abs().amax(dim=2).cummax(dim=1).values.double()      # (N, C, H, W)
    for i in range(len(x)):
        ref = reference_conditionals(params[i, :, 0, 0].tolist(), x[i, :, 0, 0].tolist(),
                                     dist.num_channels, dist.num_levels, dist.num_mixtures, lib)
        for c, r in enumerate(ref):
            error = abs(ours[i, c, 0, 0].item() - float(r))
            assert error <= 1e-4 + rtol * scale[i, c, 0, 0].item(), (i, c, error, ours[i, :, 0, 0], ref)


@pytest.mark.parametrize("c,k,m", [(1, 256, 10), (3, 256, 10), (3, 4, 3), (1, 5, 2), (3, 2, 2)])
def test_matches_float64_reference(c: int, k: int, m: int) -> None:
    """Scales from e^-4 to e^3 and means far outside [-1, 1]: float32 is within 1e-4 nats."""
    dist = DiscretizedLogisticMixture(c, k, m)
    gen = torch.Generator().manual_seed(c * 1000 + k)
    n = 60
    params = torch.cat([make_params(dist, n, gen, "moderate", 0.7), make_params(dist, n, gen, "huge", 6.0)])
    x = torch.randint(0, k, (2 * n, c, 1, 1), generator=gen)
    x[:8] = 0          # edge bins on purpose
    x[8:16] = k - 1
    compare(dist, params, x, math)


@pytest.mark.parametrize("c,k,m", [(1, 256, 3), (3, 256, 3), (3, 4, 3)])
def test_matches_high_precision_reference_at_tiny_scales(c: int, k: int, m: int) -> None:
    """log-scales at or below the -7 clamp, means near and far outside [-1, 1]: probabilities
    down to exp(-10^4) underflow float64, so the reference runs in mpmath at 50 digits.

    float64 params must match to 1e-9 relative (the formula is exact). In float32 the data
    v = 2k/(K-1) - 1 and the coupled means carry ~6e-8 rounding that 1/s = e^7 amplifies, so
    the tolerance is 1e-4 nats plus 2e-6 x the size of the component log-probs involved.
    """
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    dist = DiscretizedLogisticMixture(c, k, m)
    gen = torch.Generator().manual_seed(c * 1000 + k + 1)
    n = 25
    params = torch.cat([make_params(dist, n, gen, "tiny", 0.5), make_params(dist, n, gen, "tiny", 4.0)])
    x = torch.randint(0, k, (2 * n, c, 1, 1), generator=gen)
    x[:4] = 0
    x[4:8] = k - 1
    compare(dist, params, x, mpmath, rtol=2e-6)
    ours64 = dist.log_prob_elementwise(params.double(), x)
    for i in range(0, 2 * n, 5):
        ref = reference_conditionals(params[i, :, 0, 0].tolist(), x[i, :, 0, 0].tolist(), c, k, m, mpmath)
        for ch, r in enumerate(ref):
            assert abs(ours64[i, ch, 0, 0].item() - float(r)) <= 1e-9 * max(1.0, abs(float(r)))


def test_channel_sum_is_joint_and_float64_params_are_exact() -> None:
    dist = DiscretizedLogisticMixture(3, 256, 5)
    gen = torch.Generator().manual_seed(4)
    params = make_params(dist, 20, gen, "moderate", 2.0).double()
    x = torch.randint(0, 256, (20, 3, 1, 1), generator=gen)
    ours = dist.log_prob(params, x)
    assert ours.dtype == torch.float64
    for i in range(20):
        joint = sum(reference_conditionals(params[i, :, 0, 0].tolist(), x[i, :, 0, 0].tolist(), 3, 256, 5))
        assert abs(ours[i].item() - joint) < 1e-9 * max(1.0, abs(joint))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_params_are_computed_in_float32(dtype: torch.dtype) -> None:
    dist = DiscretizedLogisticMixture(3, 256, 10)
    gen = torch.Generator().manual_seed(0)
    params = make_params(dist, 8, gen, "moderate", 0.7).to(dtype)
    x = torch.randint(0, 256, (8, 3, 1, 1), generator=gen)
    ours = dist.log_prob_elementwise(params, x)
    assert ours.dtype == torch.float32
    assert torch.equal(ours, dist.log_prob_elementwise(params.float(), x))


@pytest.mark.parametrize("k", [2, 4, 256])
def test_gradients_finite_at_extremes(k: int) -> None:
    dist = DiscretizedLogisticMixture(3, k, 4)
    gen = torch.Generator().manual_seed(k)
    parts = [make_params(dist, 16, gen, scale, spread) for scale in ("tiny", "huge", "mixed")
             for spread in (0.5, 8.0)]
    params = torch.cat(parts)
    params[:, :4] *= 20                                    # near-one-hot mixture weights
    params[:4, 4 + 12:4 + 24] = 30.0                        # log-scales far above anything sensible
    params = params.requires_grad_()
    x = torch.randint(0, k, (len(params), 3, 1, 1), generator=gen)
    x[:10] = 0
    x[10:20] = k - 1
    lp = dist.log_prob(params, x)
    assert torch.isfinite(lp).all()
    (grad,) = torch.autograd.grad(lp.sum(), params)
    assert torch.isfinite(grad).all()


def test_edge_and_interior_bins_of_one_logistic() -> None:
    """Single component, K=4: bins are (-inf,-2/3], [-2/3,0], [0,2/3], [2/3,inf)."""
    mean, log_s = torch.tensor(0.1), torch.tensor(-1.0)
    k = torch.arange(4)
    lp = discretized_logistic_log_prob(k, mean, log_s, 4)
    cdf = torch.sigmoid((torch.tensor([-2 / 3, 0.0, 2 / 3]) - mean) / math.exp(-1.0))
    expected = torch.stack([cdf[0], cdf[1] - cdf[0], cdf[2] - cdf[1], 1 - cdf[2]]).log()
    assert torch.allclose(lp, expected, atol=1e-6)


def test_mode_is_map_of_most_likely_component() -> None:
    dist = DiscretizedLogisticMixture(3, 6, 4)
    gen = torch.Generator().manual_seed(1)
    params = torch.cat([make_params(dist, 40, gen, "mixed", 1.0), make_params(dist, 40, gen, "huge", 1.0)])
    params[:10, 4:16] = -0.95                       # means near the lower edge bin
    mode = dist.mode(params)
    assert mode.shape == (80, 3, 1, 1) and mode.dtype == torch.int64
    log_pi, means, log_scales, coeffs = dist.split_params(params)
    levels = torch.arange(6, dtype=torch.float64)
    for i in range(80):
        m = int(log_pi[i, :, 0, 0].argmax())
        chosen: list[int] = []
        for c in range(3):
            mean = means[i, c, m, 0, 0].double() + sum(
                coeffs[i, c * (c - 1) // 2 + j, m, 0, 0].double() * (2 * chosen[j] / 5 - 1) for j in range(c))
            lp = discretized_logistic_log_prob(levels.long(), mean, log_scales[i, c, m, 0, 0].double(), 6)
            chosen.append(int(lp.argmax()))
        assert mode[i, :, 0, 0].tolist() == chosen, i


def test_sampling_with_tiny_scale_is_the_rounded_coupled_mean() -> None:
    """With s = e^-7 the noise never crosses a bin edge unless the mean sits on one, so samples
    show that channel 2's mean couples to the discretized samples of channels 0 and 1."""
    dist = DiscretizedLogisticMixture(3, 256, 1)
    coeff_logits = torch.atanh(torch.tensor([0.5, -0.25, 0.8])).view(1, 3, 1, 1, 1)
    means = torch.tensor([0.3, -0.2, 0.1]).view(1, 3, 1, 1, 1)
    params = dist.pack_params(torch.zeros(1, 1, 1, 1), means, torch.full((1, 3, 1, 1, 1), -7.0), coeff_logits)
    x = dist.sample(params, torch.Generator().manual_seed(0)).flatten().tolist()
    v = [2 * k / 255 - 1 for k in x]
    expected = [0.3, -0.2 + 0.5 * v[0], 0.1 - 0.25 * v[0] + 0.8 * v[1]]
    assert x == [round((e + 1) * 127.5) for e in expected]
    assert dist.mode(params).flatten().tolist() == x


def test_log_scale_shift_equals_smaller_predicted_scales() -> None:
    dist = DiscretizedLogisticMixture(3, 256, 5)
    params = make_params(dist, 1, torch.Generator().manual_seed(2), "huge", 0.5).expand(64, -1, 4, 4)
    params = params.contiguous()
    params[:, 5 + 15:5 + 30] = -1.0
    shifted = params.clone()
    shifted[:, 5 + 15:5 + 30] -= 0.7
    a = dist.sample(params, torch.Generator().manual_seed(3), log_scale_shift=0.7)
    b = dist.sample(shifted, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_layout_sizes() -> None:
    assert DiscretizedLogisticMixture(3, 256, 10).num_params == 100
    assert DiscretizedLogisticMixture(1, 256, 10).num_params == 30
    assert DiscretizedLogisticMixture(4, 16, 2).num_params == 2 * (1 + 8 + 6)
    with pytest.raises(ValueError, match="num_mixtures"):
        DiscretizedLogisticMixture(3, 256, 0)


def test_dequantized_density_integrates_to_the_cell_mass_and_bounds_it():
    """∫_0^1 q(x + u) du equals the logistic-mixture mass of the cell [x, x+1) (so the
    Jacobian is right), and E_u[-log q(x+u)] >= -log of that mass (Jensen: a bound)."""
    import math as _m

    from pixelar.distributions import build_distribution
    torch.manual_seed(0)
    k = 8
    dist = build_distribution("logistic_mixture", 1, k, num_mixtures=3)
    params = torch.randn(1, dist.num_params, 1, 1, dtype=torch.float64)
    log_pi, means, log_scales, _ = dist.split_params(params)
    for level in range(k):
        x = torch.full((1, 1, 1, 1), level)
        grid = (torch.arange(4000, dtype=torch.float64) + 0.5) / 4000            # midpoint rule
        dense = torch.stack([dist.dequantized_log_prob(params, x, g.view(1, 1, 1, 1)) for g in grid])
        mass_numeric = dense.exp().mean()
        lo, hi = 2 * level / k - 1, 2 * (level + 1) / k - 1
        inv_s = torch.exp(-log_scales[0, 0, :, 0, 0])
        mu = means[0, 0, :, 0, 0]
        pi = torch.softmax(log_pi[0, :, 0, 0], 0)
        mass = (pi * (torch.sigmoid((hi - mu) * inv_s) - torch.sigmoid((lo - mu) * inv_s))).sum()
        assert abs(float(mass_numeric) - float(mass)) < 1e-5 * max(1.0, float(mass))
        assert float(-dense.mean()) >= -_m.log(float(mass)) - 1e-9
