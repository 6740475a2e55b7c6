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


class Distribution(abc.ABC):
    """Base class. Subclasses set ``name`` and ``autoregressive_channels``."""

    name: str = ""
    autoregressive_channels: bool = True

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

    @abc.abstractmethod
    def mode(self, params: torch.Tensor) -> torch.Tensor:
        """The MAP value per sub-pixel (for mixtures: the mode of the most likely component)."""

    @abc.abstractmethod
    def uniform_params(self, n: int, height: int, width: int) -> torch.Tensor:
        """Parameters (n, P, H, W) of the uniform distribution over 0..K-1 for every sub-pixel."""

    def check_input(self, params: torch.Tensor, x: torch.Tensor) -> None:
        if params.dim() != 4 or params.shape[1] != self.num_params:
            raise ValueError(f"{self.name}: params must be (N, {self.num_params}, H, W), got {tuple(params.shape)}")
        if x.dim() != 4 or x.shape[1] != self.num_channels or x.shape[2:] != params.shape[2:] \
                or x.shape[0] != params.shape[0]:
            raise ValueError(f"{self.name}: x must be (N, {self.num_channels}, H, W) matching params "
                             f"{tuple(params.shape)}, got {tuple(x.shape)}")


def bits_per_dim(nll_nats_sum: float, num_dims: int) -> float:
    """Exact bits/dim: total nats over all images divided by (ln 2 x total dimensions)."""
    return nll_nats_sum / (math.log(2.0) * num_dims)
