"""Bernoulli output per sub-pixel for binary images (e.g. binarized MNIST)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Distribution, check_temperature, compute_dtype


class Bernoulli(Distribution):
    """One logit l per sub-pixel: p(x = 1) = sigmoid(l).

    Parameter layout: ``params[:, c]`` is the logit of channel c, so params are (N, C, H, W).
    """

    name = "bernoulli"
    autoregressive_channels = True

    def __init__(self, num_channels: int, num_levels: int = 2) -> None:
        if num_levels != 2:
            raise ValueError(f"bernoulli: num_levels must be 2 (binary images), got {num_levels}; "
                             "use 'categorical' or 'logistic_mixture' for more levels")
        super().__init__(num_channels, num_levels)

    @property
    def num_params(self) -> int:
        return self.num_channels

    def param_channels(self, channel: int) -> slice:
        """The logit of sub-pixel ``channel``: parameter channel c."""
        return slice(channel, channel + 1)

    def log_prob_elementwise(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x[n,c,i] | earlier sub-pixels) in nats, (N, C, H, W).

        params: (N, C, H, W) logits; x: (N, C, H, W) integer in {0, 1}.
        """
        self.check_input(params, x)
        logits = params.to(compute_dtype(params))
        # log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l): finite for any l,
        # unlike log(sigmoid(l)) which is -inf once sigmoid underflows.
        return torch.where(x.bool(), -F.softplus(-logits), -F.softplus(logits))

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None,
               temperature: float = 1.0, channel: int | None = None) -> torch.Tensor:
        """Draw bits (N, C, H, W) int64, or (N, 1, H, W) for ``channel=c``.

        x = 1 iff u < sigmoid(l / temperature), u ~ U[0, 1): one uniform per sampled sub-pixel.
        """
        check_temperature(temperature)
        self.check_channel(channel)
        logits = params.to(compute_dtype(params))
        if channel is not None:
            logits = logits[:, channel:channel + 1]
        u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=logits.dtype)
        return (u < torch.sigmoid(logits / temperature)).long()

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        """1 where p(x = 1) > 1/2, else 0; (N, C, H, W) int64."""
        return (params > 0).long()

    def uniform_params(self, n: int, height: int, width: int) -> torch.Tensor:
        """All-zero logits, (n, C, H, W): exactly log(2) nats per sub-pixel."""
        return torch.zeros(n, self.num_params, height, width)
