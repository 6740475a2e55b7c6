"""256-way softmax whose logits depend linearly on earlier sub-pixels (PixelCNN++ §3.4.1 ablation).

The network sees only earlier pixels and predicts, per pixel, base logits for every
channel and, for every pair j < c, a vector of K coefficients: the logits of channel c
are ``base_c + sum_{j<c} coeff_{c,j} * v_j`` with v_j = 2 x_j / (K-1) - 1 the value of
the *true* earlier channel. So the R -> G -> B dependence lives in the distribution,
as in the logistic mixture, and one network evaluation serves the whole pixel.

Parameter layout: [base logits (C*K, channel-major) | coefficients (C(C-1)/2 * K)],
pairs ordered (1,0), (2,0), (2,1), ...
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Distribution, check_temperature, compute_dtype, gumbel_argmax, tempered


class LinearDependentCategorical(Distribution):
    name = "categorical_linear"
    autoregressive_channels = False

    @property
    def num_pairs(self) -> int:
        return self.num_channels * (self.num_channels - 1) // 2

    @property
    def num_params(self) -> int:
        return (self.num_channels + self.num_pairs) * self.num_levels

    def _split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, P, H, W) -> base (N, C, K, H, W), coeffs (N, pairs, K, H, W)."""
        n, _, h, w = params.shape
        p = params.to(compute_dtype(params))
        ck = self.num_channels * self.num_levels
        return (p[:, :ck].reshape(n, self.num_channels, self.num_levels, h, w),
                p[:, ck:].reshape(n, self.num_pairs, self.num_levels, h, w))

    def _logits(self, base: torch.Tensor, coeffs: torch.Tensor, values: list[torch.Tensor],
                c: int) -> torch.Tensor:
        """Logits (N, K, H, W) of channel c given the values (N, H, W) of channels < c."""
        logits = base[:, c]
        first = c * (c - 1) // 2                        # index of pair (c, 0)
        for j in range(c):
            logits = logits + coeffs[:, first + j] * values[j][:, None]
        return logits

    def _value(self, level: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return level.to(dtype) * (2.0 / (self.num_levels - 1)) - 1.0

    def log_prob_elementwise(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        self.check_input(params, x)
        base, coeffs = self._split(params)
        values = [self._value(x[:, c], base.dtype) for c in range(self.num_channels)]
        out = []
        for c in range(self.num_channels):
            logp = F.log_softmax(self._logits(base, coeffs, values, c), dim=1)      # (N, K, H, W)
            out.append(logp.gather(1, x[:, c:c + 1].long())[:, 0])
        return torch.stack(out, dim=1)

    def _draw(self, params: torch.Tensor, pick) -> torch.Tensor:
        base, coeffs = self._split(params)
        levels: list[torch.Tensor] = []
        values: list[torch.Tensor] = []
        for c in range(self.num_channels):
            levels.append(pick(self._logits(base, coeffs, values, c)))              # (N, H, W)
            values.append(self._value(levels[-1], base.dtype))
        return torch.stack(levels, dim=1)

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None,
               temperature: float = 1.0, channel: int | None = None) -> torch.Tensor:
        """R, then G given the sampled R, then B: (N, C, H, W) int64 (K uniforms per sub-pixel)."""
        check_temperature(temperature)
        self.check_channel(channel)
        return self._draw(params, lambda logits: gumbel_argmax(tempered(logits, temperature, 1), 1, generator))

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        """Greedy: the most likely R, then the most likely G given it, then B."""
        return self._draw(params, lambda logits: logits.argmax(dim=1))

    def uniform_params(self, n: int, height: int, width: int) -> torch.Tensor:
        return torch.zeros(n, self.num_params, height, width)
