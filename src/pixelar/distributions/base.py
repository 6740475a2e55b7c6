"""The interface every output distribution implements.

A distribution turns network parameters ``params`` (N, P, H, W) into
log-probabilities of a discrete image ``x`` (N, C, H, W) with values in
0..K-1, and into samples. Networks never compute a loss; samplers never know
how a distribution is parametrized.

Two kinds of channel dependence exist within one pixel:

* ``autoregressive_channels = True`` (256-way categorical, Bernoulli): the
  *network* masks its channels so that the parameters of channel c at pixel i
  depend on x[:, :c, i] (PixelRNN Figure 2). Sampling therefore needs one
  network evaluation per sub-pixel; ``sample(..., channel=c)`` samples one.
* ``autoregressive_channels = False`` (discretized logistic mixture): the
  parameters depend only on earlier pixels, and the R -> G -> B dependence is
  inside the distribution (PixelCNN++ eq. 3). One network evaluation per pixel.
"""
from __future__ import annotations

import abc
import math

import torch

from ..errors import ConfigError


class Distribution(abc.ABC):
    """Base class. Subclasses set ``name`` and ``autoregressive_channels``."""

    name: str = ""
    autoregressive_channels: bool = True
    #: keyword options ``sample`` takes beyond generator/temperature/channel (samplers check against it)
    sample_options: frozenset[str] = frozenset()

    def __init__(self, num_channels: int, num_levels: int) -> None:
        if num_channels < 1:
            raise ValueError(f"num_channels must be >= 1, got {num_channels}")
        if num_levels < 2:
            raise ValueError(f"num_levels must be >= 2, got {num_levels}")
        self.num_channels = num_channels
        self.num_levels = num_levels

    @property
    @abc.abstractmethod
    def num_params(self) -> int:
        """Parameter channels P per pixel that the network must output."""

    @abc.abstractmethod
    def log_prob_elementwise(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x[n,c,i] | earlier sub-pixels) in nats, shape (N, C, H, W).

        params: (N, P, H, W) float; x: (N, C, H, W) integer in 0..K-1.
        """

    def log_prob(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x) in nats per image, shape (N,)."""
        return self.log_prob_elementwise(params, x).sum(dim=(1, 2, 3))

    @abc.abstractmethod
    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None,
               temperature: float = 1.0, channel: int | None = None) -> torch.Tensor:
        """Draw x ~ p(. | params): (N, C, H, W) int64, or (N, 1, H, W) if ``channel`` is given.

        ``channel`` is only meaningful when ``autoregressive_channels`` is True:
        the sampler then re-runs the network between channels. ``temperature``
        sharpens (<1) or flattens (>1) the distribution; 1 samples it exactly.
        """

    def param_channels(self, channel: int) -> slice:
        """The slice of the P parameter channels that channel ``channel``'s conditional is read from.

        Used by the causality oracle: those parameters may depend on earlier
        pixels and, when ``autoregressive_channels``, on earlier channels of the
        same pixel. Default: all of them (they must not see the pixel at all).
        """
        return slice(0, self.num_params)

    @abc.abstractmethod
    def mode(self, params: torch.Tensor) -> torch.Tensor:
        """The MAP value per sub-pixel (for mixtures: the mode of the most likely component)."""

    @abc.abstractmethod
    def uniform_params(self, n: int, height: int, width: int) -> torch.Tensor:
        """Parameters (n, P, H, W) of the uniform distribution over 0..K-1 for every sub-pixel."""

    def check_input(self, params: torch.Tensor, x: torch.Tensor) -> None:
        """Raise ValueError unless params is (N, P, H, W) and x is an integer (N, C, H, W) in 0..K-1."""
        if params.dim() != 4 or params.shape[1] != self.num_params:
            raise ValueError(f"{self.name}: params must be (N, {self.num_params}, H, W), got {tuple(params.shape)}")
        if x.dim() != 4 or x.shape[1] != self.num_channels or x.shape[2:] != params.shape[2:] \
                or x.shape[0] != params.shape[0]:
            raise ValueError(f"{self.name}: x must be (N, {self.num_channels}, H, W) matching params "
                             f"{tuple(params.shape)}, got {tuple(x.shape)}")
        if x.is_floating_point() or x.is_complex():
            raise ValueError(f"{self.name}: x must hold integer levels 0..{self.num_levels - 1}, "
                             f"got dtype {x.dtype}; pass the uint8/int64 image, not a rescaled float")
        if x.numel() > 0 and bool(((x < 0) | (x >= self.num_levels)).any()):
            raise ValueError(f"{self.name}: x has values outside 0..{self.num_levels - 1} "
                             f"(min {int(x.min())}, max {int(x.max())}); check num_levels")

    def check_channel(self, channel: int | None) -> None:
        """Raise ValueError unless ``channel`` is None or a valid sub-pixel index for this distribution."""
        if channel is None:
            return
        if not self.autoregressive_channels:
            raise ValueError(f"{self.name}: channel={channel} is not supported; this distribution "
                             "samples all channels of a pixel at once (autoregressive_channels=False)")
        if not 0 <= channel < self.num_channels:
            raise ValueError(f"{self.name}: channel must be in 0..{self.num_channels - 1}, got {channel}")


def check_temperature(temperature: float) -> None:
    """Raise ConfigError (a ValueError) unless ``temperature`` is a finite positive number."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise ConfigError(f"temperature must be a finite number > 0, got {temperature}; "
                          "use mode() for the deterministic limit")


def tempered(logits: torch.Tensor, temperature: float, dim: int) -> torch.Tensor:
    """``logits / temperature``, still ordered like ``logits`` however small the temperature.

    At T = 1e-40 every negative logit divided by T overflows to -inf (and every positive one to
    +inf), so Gumbel-max would pick an arbitrary level instead of the mode. Then the logits are
    shifted so that their maximum along ``dim`` is 0 before dividing: the most likely levels stay
    at 0, the others go to -inf, and the draw returns the mode (ties broken at random). When
    nothing overflows the plain quotient is used, so ordinary temperatures draw the same samples.
    """
    scaled = logits / temperature
    if bool(torch.isfinite(scaled).all()) or not bool(torch.isfinite(logits).all()):
        return scaled
    return (logits - logits.amax(dim=dim, keepdim=True)) / temperature


def compute_dtype(params: torch.Tensor) -> torch.dtype:
    """float32 for half/bfloat16/float32 params, float64 for float64: log-probs are never computed in 16 bits."""
    return torch.promote_types(params.dtype, torch.float32)


def gumbel_argmax(logits: torch.Tensor, dim: int, generator: torch.Generator | None) -> torch.Tensor:
    """One exact draw from Categorical(softmax(logits, dim)) by the Gumbel-max trick, int64.

    Consumes ``logits.numel()`` uniforms from ``generator`` (float32, on the logits' device).
    """
    u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=torch.float32)
    # torch.rand is in [0, 1): keep u > 0 so that -log(-log u) stays finite.
    gumbel = -torch.log(-torch.log(u.clamp_min(torch.finfo(torch.float32).tiny)))
    return (logits.to(compute_dtype(logits)) + gumbel).argmax(dim=dim)


def bits_per_dim(nll_nats_sum: float, num_dims: int) -> float:
    """Exact bits/dim: total nats over all images divided by (ln 2 x total dimensions)."""
    return nll_nats_sum / (math.log(2.0) * num_dims)
