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

The generation order (``positions()``) is therefore: the grid pixels (0, 0),
(0, f), ..., then every other pixel in raster order. ``forward`` returns one
(N, P, n, n) parameter map: at grid positions the unconditional model's
parameters, elsewhere the conditional model's, so the distribution's sum over
all positions is the exact log-likelihood above and the samplers and the
causality oracle work unchanged.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import nn

from ..errors import ConfigError
from .base import AutoregressiveModel
from .pixelrnn import DiagonalBiLSTMConfig, PixelRNNConfig, PixelRNNNetwork, RowLSTMConfig


@dataclasses.dataclass(frozen=True)
class MultiScalePixelRNNConfig(PixelRNNConfig):
    lstm: Literal["row_lstm", "diagonal_bilstm"] = "row_lstm"   # layer type of both networks
    subsample_factor: int = 2      # f: the unconditional network models x[:, :, ::f, ::f]
    upsample_features: int = 32    # channels of the deconvolutional upsampling network
    input_kernel: int = 3          # Row LSTM only (see RowLSTMConfig)
    state_kernel: int = 3
    right_reads_image: bool = True  # Diagonal BiLSTM only (see DiagonalBiLSTMConfig)

    def validate(self) -> None:
        super().validate()
        if self.subsample_factor < 2 or self.image_size % self.subsample_factor:
            raise ConfigError(f"subsample_factor must be >= 2 and divide image_size ({self.image_size}), "
                              f"got {self.subsample_factor}")
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


class MultiScalePixelRNN(AutoregressiveModel):
    """Unconditional s×s PixelRNN + conditional n×n PixelRNN (see the module docstring)."""

    name = "multiscale_pixelrnn"
    config_class = MultiScalePixelRNNConfig

    def __init__(self, config: MultiScalePixelRNNConfig) -> None:
        super().__init__(config)
        f, n = config.subsample_factor, config.image_size
        self.factor = f
        num_params, g = self.distribution.num_params, self.num_groups
        self.small = PixelRNNNetwork(config.network_config(n // f), g, num_params)
        self.large = PixelRNNNetwork(config.network_config(n), g, num_params)
        u = config.upsample_features
        # Deconvolutional upsampling of x_s to n×n. It reads only x_s, which precedes every pixel
        # the conditional network scores, so it needs no mask.
        self.upsample = nn.Sequential(
            nn.Conv2d(config.image_channels, u, 3, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(u, u, f, stride=f), nn.ReLU())
        self.layer_bias = nn.ModuleList(nn.Conv2d(u, self.large.gate_channels, 1)
                                        for _ in range(config.num_layers))
        self.class_embedding = (nn.Embedding(config.num_classes, 4 * config.hidden)
                                if config.num_classes else None)
        grid = torch.zeros(n, n, dtype=torch.bool)
        grid[::f, ::f] = True
        self.register_buffer("grid", grid, persistent=False)

    def positions(self) -> list[tuple[int, int]]:
        """The s×s grid in raster order, then every other pixel in raster order."""
        n, f = self.config.image_size, self.factor
        on = [(i, j) for i in range(0, n, f) for j in range(0, n, f)]
        off = [(i, j) for i in range(n) for j in range(n) if i % f or j % f]
        return on + off

    def network(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        h2 = 2 * self.config.hidden
        emb = self.class_embedding(cond) if self.class_embedding is not None else None
        small_x = x[:, :, ::self.factor, ::self.factor]                     # (N, C, s, s)
        small = self.small(small_x, class_bias=None if emb is None else emb[:, :h2])   # (N, P, s, s)
        up = self.upsample(small_x)                                         # (N, u, n, n)
        large = self.large(x, layer_bias=[conv(up) for conv in self.layer_bias],
                           class_bias=None if emb is None else emb[:, h2:])  # (N, P, n, n)
        # Grid pixels read the unconditional parameters, the others the conditional ones.
        small_up = small.repeat_interleave(self.factor, 2).repeat_interleave(self.factor, 3)
        return torch.where(self.grid, small_up, large)

    def output_layer(self) -> nn.Module:
        return nn.ModuleList([self.small.out2, self.large.out2])
