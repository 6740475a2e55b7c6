"""Multi-Scale PixelRNN (van den Oord et al. 2016a, §3.6).

The n×n image x is split into the s×s subsampled image x_s = x[:, :, ::f, ::f]
(f = ``subsample_factor``, s = n / f) and the remaining n² - s² pixels. Then

    log p(x) = log p(x_s) + log p(rest | x_s)                        (exact)

* an unconditional PixelRNN scores x_s in raster order of the s×s grid;
* a conditional PixelRNN runs over the whole n×n image in raster order, every
  layer biased by a deconvolutional upsampling of x_s (a 1×1 unmasked convolution
  of the upsampled map into each layer's input-to-state map). It scores only the
  pixels off the subsampled grid: their raster-earlier pixels and the whole x_s
  are all known when they are generated.

"one or more conditional PixelRNNs" (§3.6): with ``num_scales`` = L > 2 the chain continues.
Level 0 is the unconditional PixelRNN on x[::f^(L-1), ::f^(L-1)]; level k = 1..L-1 is a
conditional PixelRNN on x_k = x[::f^(L-1-k), ::f^(L-1-k)], biased by the upsampling of x_{k-1}, and
scores the pixels of x_k that are not in x_{k-1}:

    log p(x) = log p(x_0) + Σ_k log p(x_k minus x_{k-1} | x_{k-1})         (exact)

The generation order (``positions()``) is therefore: the coarsest grid's pixels (0, 0),
(0, f^(L-1)), ..., then each finer level's new pixels in raster order. ``forward`` returns one
(N, P, n, n) parameter map: at grid positions the unconditional model's
parameters, elsewhere the conditional model's, so the distribution's sum over
all positions is the exact log-likelihood above and the samplers and the
causality oracle work unchanged.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from ..errors import ConfigError
from .base import AutoregressiveModel
from .pixelrnn import DiagonalBiLSTMConfig, PixelRNNConfig, PixelRNNNetwork, RowLSTMConfig


@dataclasses.dataclass(frozen=True)
class MultiScalePixelRNNConfig(PixelRNNConfig):
    lstm: Literal["row_lstm", "diagonal_bilstm"] = "row_lstm"   # layer type of both networks
    subsample_factor: int = 2      # f: each level models the image subsampled f times less
    num_scales: int = 2            # L: the unconditional PixelRNN + L - 1 conditional ones (§3.6 "one or more")
    upsample_features: int = 32    # channels of the deconvolutional upsampling network
    input_kernel: int = 3          # Row LSTM only (see RowLSTMConfig)
    state_kernel: int = 3
    right_reads_image: bool = False  # Diagonal BiLSTM only (see DiagonalBiLSTMConfig)
    #: config.from_dict: checkpoints written before these fields existed hold this model
    FIELDS_ADDED: ClassVar[dict[str, Any]] = {"num_scales": 2}

    def validate(self) -> None:
        super().validate()
        if self.num_scales < 2:
            raise ConfigError(f"num_scales must be >= 2 (one unconditional + at least one conditional "
                              f"PixelRNN), got {self.num_scales}")
        coarse = self.subsample_factor ** (self.num_scales - 1)
        if self.subsample_factor < 2 or self.image_size % coarse:
            raise ConfigError(f"subsample_factor must be >= 2 and subsample_factor ** (num_scales - 1) = "
                              f"{coarse} must divide image_size ({self.image_size}), got {self.subsample_factor}")
        if self.distribution not in ("categorical", "bernoulli"):
            raise ConfigError("multiscale_pixelrnn supports distribution=categorical or bernoulli, "
                              f"got {self.distribution}")

    def network_config(self, image_size: int) -> PixelRNNConfig:
        """The config of one of the two PixelRNNs, at ``image_size``."""
        common = {f.name: getattr(self, f.name) for f in dataclasses.fields(PixelRNNConfig)}
        common["image_size"] = image_size
        if self.lstm == "row_lstm":
            return RowLSTMConfig(**common, input_kernel=self.input_kernel, state_kernel=self.state_kernel)
        return DiagonalBiLSTMConfig(**common, right_reads_image=self.right_reads_image)


class _Conditioner(nn.Module):
    """The deconvolutional upsampling of the coarser level's image (f× larger) and one 1×1 unmasked
    convolution per layer into that layer's input-to-state map. It reads only the coarser image,
    which precedes every pixel the conditional network scores, so it needs no mask."""

    def __init__(self, config: MultiScalePixelRNNConfig, gate_channels: int) -> None:
        super().__init__()
        u, f = config.upsample_features, config.subsample_factor
        self.upsample = nn.Sequential(
            nn.Conv2d(config.image_channels, u, 3, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(u, u, f, stride=f), nn.ReLU())
        self.layer_bias = nn.ModuleList(nn.Conv2d(u, gate_channels, 1) for _ in range(config.num_layers))

    def forward(self, coarse: torch.Tensor) -> list[torch.Tensor]:
        up = self.upsample(coarse)                                            # (N, u, f·s, f·s)
        return [conv(up) for conv in self.layer_bias]


class MultiScalePixelRNN(AutoregressiveModel):
    """Unconditional coarsest PixelRNN + conditional PixelRNNs, one per finer level (module docstring).

    Module names: ``small`` (level 0), ``large`` + ``upsample`` + ``layer_bias`` (the finest level, as
    with two scales), ``middle`` + ``middle_conditioners`` (levels 1..L-2, coarse to fine; empty for
    L = 2, so two-scale checkpoints keep their names).
    """

    name = "multiscale_pixelrnn"
    config_class = MultiScalePixelRNNConfig

    def __init__(self, config: MultiScalePixelRNNConfig) -> None:
        super().__init__(config)
        f, n, L = config.subsample_factor, config.image_size, config.num_scales
        self.factor = f
        num_params, g = self.distribution.num_params, self.num_groups
        self.strides = [f ** (L - 1 - k) for k in range(L)]                   # level k: x[::stride, ::stride]
        self.small = PixelRNNNetwork(config.network_config(n // self.strides[0]), g, num_params)
        self.middle = nn.ModuleList(PixelRNNNetwork(config.network_config(n // st), g, num_params)
                                    for st in self.strides[1:-1])
        self.large = PixelRNNNetwork(config.network_config(n), g, num_params)
        gate = self.large.gate_channels
        self.middle_conditioners = nn.ModuleList(_Conditioner(config, gate) for _ in self.strides[1:-1])
        finest = _Conditioner(config, gate)
        self.upsample, self.layer_bias = finest.upsample, finest.layer_bias
        self.class_embedding = (nn.Embedding(config.num_classes, 2 * L * config.hidden)
                                if config.num_classes else None)
        # new[k]: the pixels of level k's grid that level k scores (not on level k-1's grid)
        for k, st in enumerate(self.strides):
            m = n // st
            new = torch.ones(m, m, dtype=torch.bool)
            if k:
                new[::f, ::f] = False
            self.register_buffer(f"new_{k}", new, persistent=False)

    def positions(self) -> list[tuple[int, int]]:
        """The coarsest grid in raster order, then each finer level's new pixels in raster order."""
        n, f = self.config.image_size, self.factor
        out = []
        for k, st in enumerate(self.strides):
            out += [(i, j) for i in range(0, n, st) for j in range(0, n, st)
                    if k == 0 or i % (st * f) or j % (st * f)]
        return out

    def network(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        h2 = 2 * self.config.hidden
        emb = self.class_embedding(cond) if self.class_embedding is not None else None
        nets = [self.small, *self.middle, self.large]
        conditioners = [None, *self.middle_conditioners, None]
        out = None
        for k, (st, net) in enumerate(zip(self.strides, nets)):
            xk = x[:, :, ::st, ::st]                                           # (N, C, n/st, n/st)
            bias = None if emb is None else emb[:, k * h2:(k + 1) * h2]
            if k == 0:
                params = net(xk, class_bias=bias)                              # (N, P, s, s)
            else:
                coarse = x[:, :, ::st * self.factor, ::st * self.factor]
                if conditioners[k] is not None:
                    layer_bias = conditioners[k](coarse)
                else:                                                          # the finest level
                    up_map = self.upsample(coarse)                             # (N, u, n, n)
                    layer_bias = [conv(up_map) for conv in self.layer_bias]
                params = net(xk, layer_bias=layer_bias, class_bias=bias)
            if out is None:
                out = params
            else:
                # level k scores its new pixels; the coarser grid keeps the coarser levels' parameters
                up = out.repeat_interleave(self.factor, 2).repeat_interleave(self.factor, 3)
                out = torch.where(getattr(self, f"new_{k}"), params, up)
        return out                                                              # (N, P, n, n)

    def output_layer(self) -> nn.Module:
        return nn.ModuleList([self.small.out2, *(m.out2 for m in self.middle), self.large.out2])
