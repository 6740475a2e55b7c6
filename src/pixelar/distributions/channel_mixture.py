"""Channel-autoregressive discretized logistic mixture (the "Autoregressive Channel" head).

Each sub-pixel c has its own one-dimensional discretized logistic mixture, and the
*network* (not a linear coefficient) carries the dependence on the earlier channels
of the same pixel: the parameters of channel c may depend on x_<c at that pixel, so
``autoregressive_channels = True`` and the sampler runs the network once per channel.
Parameters are laid out channel by channel: [block of channel 0 | block of 1 | ...],
each block being a one-channel mixture's [logits M | means M | log_scales M].
"""
from __future__ import annotations

import torch

from .base import Distribution
from .logistic_mixture import DiscretizedLogisticMixture


class ChannelwiseLogisticMixture(Distribution):
    name = "channel_logistic_mixture"
    sample_options = frozenset({"log_scale_shift", "log_variance_shift", "map_sampling"})
    autoregressive_channels = True

    def __init__(self, num_channels: int, num_levels: int = 256, num_mixtures: int = 10) -> None:
        super().__init__(num_channels, num_levels)
        self.num_mixtures = num_mixtures
        self.one = DiscretizedLogisticMixture(1, num_levels, num_mixtures)   # one sub-pixel's mixture

    @property
    def num_params(self) -> int:
        return self.num_channels * self.one.num_params

    def param_channels(self, channel: int) -> slice:
        p = self.one.num_params
        return slice(channel * p, (channel + 1) * p)

    def log_prob_elementwise(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) nats: channel c scored by its own block of params."""
        self.check_input(params, x)
        return torch.cat([self.one.log_prob_elementwise(params[:, self.param_channels(c)], x[:, c:c + 1])
                          for c in range(self.num_channels)], dim=1)

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None,
               temperature: float = 1.0, channel: int | None = None,
               log_scale_shift: float = 0.0, map_sampling: bool = False,
               log_variance_shift: float = 0.0) -> torch.Tensor:
        """(N, 1, H, W) draw of sub-pixel ``channel``; (N, C, H, W) with channel=None, which is only
        a draw from the model when the params of later channels do not depend on earlier ones."""
        self.check_channel(channel)
        channels = range(self.num_channels) if channel is None else [channel]
        return torch.cat([self.one.sample(params[:, self.param_channels(c)], generator, temperature,
                                          log_scale_shift=log_scale_shift, map_sampling=map_sampling,
                                          log_variance_shift=log_variance_shift)
                          for c in channels], dim=1)

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.one.mode(params[:, self.param_channels(c)]) for c in range(self.num_channels)],
                         dim=1)

    def uniform_params(self, n: int, height: int, width: int) -> torch.Tensor:
        return self.one.uniform_params(n, height, width)   # raises: no exactly uniform mixture
