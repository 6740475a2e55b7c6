"""K-way categorical (softmax) output per sub-pixel, as in PixelRNN / PixelCNN.

Each sub-pixel has its own K logits. The R -> G -> B dependence lives in the
network's channel masks (``autoregressive_channels = True``), so log p(x_c | ...)
here is simply a log-softmax entry.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Distribution, check_temperature, compute_dtype, gumbel_argmax, tempered


class Categorical(Distribution):
    """Softmax over ``num_levels`` values for every sub-pixel.

    Parameter layout, channel-major: ``params.view(N, C, K, H, W)[:, c]`` are the K
    logits of channel c, i.e. parameter channel ``c * K + k`` is the logit of level k.
    """

    name = "categorical"
    autoregressive_channels = True

    def __init__(self, num_channels: int, num_levels: int = 256) -> None:
        super().__init__(num_channels, num_levels)

    @property
    def num_params(self) -> int:
        return self.num_channels * self.num_levels

    def param_channels(self, channel: int) -> slice:
        """The K logits of sub-pixel ``channel``: parameter channels [c*K, (c+1)*K)."""
        return slice(channel * self.num_levels, (channel + 1) * self.num_levels)

    def logits(self, params: torch.Tensor) -> torch.Tensor:
        """(N, C*K, H, W) params -> (N, C, K, H, W) logits in float32 (float64 if params are float64)."""
        n, _, h, w = params.shape
        return params.to(compute_dtype(params)).reshape(n, self.num_channels, self.num_levels, h, w)

    def log_prob_elementwise(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x[n,c,i] | earlier sub-pixels) in nats, (N, C, H, W).

        params: (N, C*K, H, W); x: (N, C, H, W) integer in 0..K-1.
        """
        self.check_input(params, x)
        log_p = F.log_softmax(self.logits(params), dim=2)          # (N, C, K, H, W)
        return log_p.gather(2, x.long().unsqueeze(2)).squeeze(2)   # (N, C, H, W)

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None,
               temperature: float = 1.0, channel: int | None = None) -> torch.Tensor:
        """Draw levels (N, C, H, W) int64, or (N, 1, H, W) for ``channel=c``.

        Gumbel-max on ``logits / temperature``: consumes K uniforms per sampled
        sub-pixel from ``generator`` (only for channel c when ``channel`` is given).
        """
        check_temperature(temperature)
        self.check_channel(channel)
        logits = self.logits(params)                               # (N, C, K, H, W)
        if channel is not None:
            logits = logits[:, channel:channel + 1]                # (N, 1, K, H, W)
        return gumbel_argmax(tempered(logits, temperature, 2), dim=2, generator=generator)

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        """The most likely level per sub-pixel, (N, C, H, W) int64."""
        return self.logits(params).argmax(dim=2)

    def uniform_params(self, n: int, height: int, width: int) -> torch.Tensor:
        """All-zero logits, (n, C*K, H, W): exactly log(K) nats per sub-pixel."""
        return torch.zeros(n, self.num_params, height, width)
