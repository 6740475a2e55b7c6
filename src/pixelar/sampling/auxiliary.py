"""Sampling the auxiliary-variable models: each factor in turn, optionally consistent with ŷ.

Grayscale PixelCNN: ŷ ~ p(ŷ) (the ordinary samplers on the prior PixelCNN++), then x ~ p(x | ŷ)
(the naive raster loop on :class:`~pixelar.models.auxiliary.Factor`). Pyramid PixelCNN: the base
level, then each finer level given the one below.

By default (``consistent=False``) each factor is sampled as the paper says, "For a fixed ŷ one follows
the ordinary PixelCNN sampling strategy" (Kolesnikov & Lampert §3): x ~ p(x | ŷ) pixel by pixel.
p(x | ŷ) is a distribution over all images, not only over those whose view is ŷ, so a colouring's
own grayscale can differ from ŷ in places. ``consistent=True`` (pixelar's option) draws every
sub-pixel from the model's conditional restricted to the levels that can still lead to an image whose
view is exactly ŷ (renormalized over them): colourings keep ŷ's 4-bit grayscale, and upscaled images
average back to the lower level. The restriction is exact per sub-pixel: its log-probs come from the distribution's own
``log_prob_elementwise`` evaluated on every candidate level.

Options, for both paths: ``temperature``; ``map_sampling`` (§4.2: "we randomly sample one of the
logistic components based on their weight ... Then, we use the mode of this component as sampled pixel
value"; on the consistent path the component is drawn per pixel in the same way and every sub-pixel takes
that component's most likely *allowed* level, i.e. the allowed level nearest its mode; a categorical_linear
output has no components: the most likely allowed level); reduced-variance sampling, §4.2: "subtracting
constants ... from the predicted log-variance of the mixture components": ``log_variance_shift`` c, in the
paper's units, or ``log_scale_shift`` in the log-scale's. A logistic's variance is s²π²/3, so
log-variance = 2·log s + log(π²/3): c = 2 · log_scale_shift; the two add up when both are given. In the
consistent path the shift is applied to the parameters before the -7 floor on log-scales, and the
temperature divides the restricted conditional's log-probs.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..distributions.base import gumbel_argmax
from ..distributions.logistic_mixture import DiscretizedLogisticMixture
from ..errors import ConfigError, PixelarError
from ..models.auxiliary import LUMA_WEIGHTS, Factor, gray_bin
from ..nn.modes import eval_mode
from ..progress import progress as progress_bar
from .pixels import sample_positions

Feasible = Callable[[torch.Tensor, int, int, int], torch.Tensor]


def log_scale_shift_of(log_scale_shift: float = 0.0, log_variance_shift: float = 0.0) -> float:
    """The log-scale shift of a reduced-variance request: log-variance = 2·log-scale + const, so a
    log-variance shift c lowers every log-scale by c/2 (the paper's constants are in log-variance units)."""
    return log_scale_shift + 0.5 * log_variance_shift


def _one_component(dist: Any, params: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Mixture params (n, P, 1, 1) with one component per image kept, drawn by the mixture weights:
    the other components' logits become -inf (their weight 0), so the mixture is that component alone."""
    m = dist.num_mixtures
    logits = params[:, :m, 0, 0]                                            # (n, m)
    comp = torch.multinomial(torch.softmax(logits.double(), dim=1), 1, generator=generator)   # (n, 1)
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, comp, True)
    params = params.clone()
    params[:, :m, 0, 0] = logits.masked_fill(~keep, float("-inf"))
    return params


def _shift_log_scales(dist: Any, params: torch.Tensor, shift: float) -> torch.Tensor:
    """Mixture params with every predicted log-scale lowered by ``shift`` (reduced variance)."""
    if not isinstance(dist, DiscretizedLogisticMixture):
        raise PixelarError(f"log_scale_shift needs a logistic-mixture model; this one's output is {dist.name}")
    m, c = dist.num_mixtures, dist.num_channels
    params = params.clone()
    params[:, m + c * m:m + 2 * c * m] -= shift
    return params


@torch.no_grad()
def sample_constrained(factor: Factor, n: int, feasible: Feasible, generator: torch.Generator | None = None,
                       temperature: float = 1.0, map_sampling: bool = False, log_scale_shift: float = 0.0,
                       progress: bool = False) -> torch.Tensor:
    """n images (n, C, H, W) uint8 from ``factor``, each sub-pixel restricted to ``feasible`` levels.

    feasible(x, i, j, c) -> (n, K) bool: the levels channel c of pixel (i, j) may take, given the
    canvas x (n, C, H, W) int64 in which every earlier pixel and channels < c of (i, j) are final.
    It must allow at least one level. One network evaluation per pixel (the distribution couples
    the channels of a pixel itself); K candidate evaluations of the distribution per sub-pixel.
    """
    dist = factor.distribution
    if dist.autoregressive_channels:
        raise PixelarError("consistent sampling needs a distribution over whole pixels "
                           "(logistic_mixture or categorical_linear)")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    C, H, W = factor.image_shape
    K = factor.config.num_levels
    device = next(factor.parameters()).device
    x = torch.zeros(n, C, H, W, dtype=torch.long, device=device)
    levels = torch.arange(K, device=device)
    with eval_mode(factor):
        for i, j in progress_bar(factor.positions(), desc="sampling", unit="px", enabled=progress, leave=False):
            params = factor(x)[:, :, i:i + 1, j:j + 1]                       # (n, P, 1, 1)
            if log_scale_shift:
                params = _shift_log_scales(dist, params, log_scale_shift)
            if map_sampling and isinstance(dist, DiscretizedLogisticMixture):
                params = _one_component(dist, params, generator)             # §4.2 MAP: draw the component
            params_k = params.repeat_interleave(K, dim=0)                     # (n*K, P, 1, 1)
            for c in range(C):
                cand = x[:, :, i, j].repeat_interleave(K, dim=0)              # (n*K, C)
                cand[:, c] = levels.repeat(n)                                 # every level for channel c
                logp = dist.log_prob_elementwise(params_k, cand[:, :, None, None])[:, c, 0, 0].view(n, K)
                allowed = feasible(x, i, j, c)                                # (n, K)
                logp = logp.masked_fill(~allowed, float("-inf"))
                if map_sampling:                                              # the component's allowed mode
                    x[:, c, i, j] = logp.argmax(dim=1)
                else:
                    x[:, c, i, j] = gumbel_argmax(logp / temperature, dim=1, generator=generator)
    return x.to(torch.uint8)


# ---- grayscale PixelCNN ---------------------------------------------------------------------

def gray_feasible(aux: torch.Tensor, num_levels: int, aux_levels: int) -> Feasible:
    """Levels of R, G, B that still allow luma(R, G, B) to quantize to ŷ (N, 1, H, W).

    Luma is monotone in each channel, and a free channel moves the 16-bit sum in steps
    smaller than 65536, so the reachable grays form an interval: with R chosen and G, B free,
    gray(R, 0, 0)..gray(R, K-1, K-1); with R, G chosen, gray(R, G, 0)..gray(R, G, K-1).
    """
    lo_all, hi_all = gray_bin(aux[:, 0], num_levels, aux_levels)              # (N, H, W)
    w0, w1, w2 = LUMA_WEIGHTS
    top = num_levels - 1

    def feasible(x: torch.Tensor, i: int, j: int, c: int) -> torch.Tensor:
        k = torch.arange(num_levels, device=x.device)[None]                   # (1, K)
        if c == 0:
            low, high = w0 * k, w0 * k + (w1 + w2) * top
        elif c == 1:
            low = w0 * x[:, 0, i, j, None] + w1 * k
            high = low + w2 * top
        else:
            low = high = w0 * x[:, 0, i, j, None] + w1 * x[:, 1, i, j, None] + w2 * k
        gmin, gmax = (low + 32768) >> 16, (high + 32768) >> 16
        lo, hi = lo_all[:, i, j, None].to(x.device), hi_all[:, i, j, None].to(x.device)
        return (gmax >= lo) & (gmin <= hi)

    return feasible


@torch.no_grad()
def colorize(model: Any, aux: torch.Tensor, generator: torch.Generator | None = None, temperature: float = 1.0,
             progress: bool = False, consistent: bool = False, map_sampling: bool = False,
             log_scale_shift: float = 0.0, log_variance_shift: float = 0.0) -> torch.Tensor:
    """x ~ p(x | ŷ) for ŷ (N, 1, H, W) levels 0..L-1: (N, 3, H, W) uint8 (grayscale view = ŷ if consistent)."""
    c = model.config
    log_scale_shift = log_scale_shift_of(log_scale_shift, log_variance_shift)
    if aux.dim() != 4 or tuple(aux.shape[1:]) != (1, c.image_size, c.image_size):
        raise ValueError(f"ŷ must be (N, 1, {c.image_size}, {c.image_size}), got {tuple(aux.shape)}")
    if bool(((aux < 0) | (aux >= c.aux_levels)).any()):
        raise ValueError(f"ŷ must hold levels 0..{c.aux_levels - 1}")
    device = next(model.parameters()).device
    aux = aux.long().to(device)
    with eval_mode(model):
        factor = model.conditional_factor(aux)
        if consistent:
            return sample_constrained(factor, aux.shape[0], gray_feasible(aux, c.num_levels, c.aux_levels),
                                      generator, temperature, map_sampling, log_scale_shift, progress)
        return sample_positions(factor, aux.shape[0], generator=generator, temperature=temperature, method="naive",
                            progress=progress, map_sampling=map_sampling, log_scale_shift=log_scale_shift)


@torch.no_grad()
def sample_grayscale(model: Any, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
                     progress: bool = False, method: str = "auto", **options: Any) -> torch.Tensor:
    """ŷ ~ p(ŷ) (softmax prior, temperature only), then :func:`colorize`; (n, 3, H, W) uint8."""
    with eval_mode(model):
        aux = sample_positions(model.prior, n, generator=generator, temperature=temperature, method=method,
                           progress=progress)
    return colorize(model, aux, generator=generator, temperature=temperature, progress=progress, **options)


# ---- pyramid PixelCNN -------------------------------------------------------------------------

def block_mean_feasible(lower: torch.Tensor, num_levels: int) -> Feasible:
    """Levels that keep (sum of the 2x2 block + 2) // 4 == lower, per channel, in raster order.

    The block's sum must end in [4y-2, 4y+1]; a level v is allowed when the sum so far plus v,
    plus anything the block's remaining pixels (0..K-1 each) can add, can still land there.
    """
    lower = lower.long()
    top = num_levels - 1

    def feasible(x: torch.Tensor, i: int, j: int, c: int) -> torch.Tensor:
        bi, bj, di, dj = i // 2, j // 2, i % 2, j % 2
        before = [(2 * bi + a, 2 * bj + b) for a in range(2) for b in range(2)][:2 * di + dj]
        s = sum((x[:, c, p, q] for p, q in before), torch.zeros_like(x[:, c, i, j]))[:, None]   # (N, 1)
        remaining = 3 - (2 * di + dj)
        y = lower[:, c, bi, bj, None].to(x.device)
        k = torch.arange(num_levels, device=x.device)[None]
        return (s + k <= 4 * y + 1) & (s + k + remaining * top >= 4 * y - 2)

    return feasible


@torch.no_grad()
def upscale(model: Any, low: torch.Tensor, generator: torch.Generator | None = None, temperature: float = 1.0,
            progress: bool = False, consistent: bool = False, map_sampling: bool = False,
            log_scale_shift: float = 0.0, log_variance_shift: float = 0.0) -> torch.Tensor:
    """Sample every finer level of the pyramid given ``low`` (N, C, s, s), s one of the model's lower
    level sizes: (N, C, S, S) uint8. Consistent: downsampling the result back to s gives ``low``."""
    c, sizes = model.config, model.sizes
    log_scale_shift = log_scale_shift_of(log_scale_shift, log_variance_shift)
    if low.dim() != 4 or low.shape[1] != c.image_channels or low.shape[2] != low.shape[3] \
            or low.shape[2] not in sizes[1:]:
        raise ConfigError(f"cannot upscale {tuple(low.shape[1:])} to {sizes[0]}x{sizes[0]}: the lower level must "
                           f"be (N, {c.image_channels}, s, s) with s in {sizes[1:]}")
    device = next(model.parameters()).device
    y = low.long().to(device)
    with eval_mode(model):
        for level in range(sizes.index(low.shape[2]) - 1, -1, -1):
            factor = model.level_factor(level, y)
            if consistent:
                y = sample_constrained(factor, y.shape[0], block_mean_feasible(y, c.num_levels), generator,
                                       temperature, map_sampling, log_scale_shift, progress).long()
            else:
                y = sample_positions(factor, y.shape[0], generator=generator, temperature=temperature, method="naive",
                                 progress=progress, map_sampling=map_sampling,
                                 log_scale_shift=log_scale_shift).long()
    return y.to(torch.uint8)


@torch.no_grad()
def sample_pyramid(model: Any, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
                   progress: bool = False, method: str = "auto", consistent: bool = False,
                   map_sampling: bool = False, log_scale_shift: float = 0.0,
                   log_variance_shift: float = 0.0) -> torch.Tensor:
    """The base level ~ p(y_L) (naive sampler), then :func:`upscale`: (n, C, S, S) uint8."""
    log_scale_shift = log_scale_shift_of(log_scale_shift, log_variance_shift)
    with eval_mode(model):
        base = sample_positions(model.level_factor(model.config.num_scales, None), n, generator=generator,
                            temperature=temperature, method="naive", progress=progress,
                            map_sampling=map_sampling, log_scale_shift=log_scale_shift)
    if model.config.num_scales == 0:
        return base
    return upscale(model, base, generator=generator, temperature=temperature, progress=progress,
                   consistent=consistent, map_sampling=map_sampling, log_scale_shift=log_scale_shift)
