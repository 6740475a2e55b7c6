"""PixelRNN (van den Oord et al. 2016a, §3 and Table 1): Row LSTM and Diagonal BiLSTM models.

Network (Table 1): a 7×7 mask-A convolution to 2h features; ``num_layers`` recurrent
layers (Row LSTM or Diagonal BiLSTM, h units); each layer's h-feature output goes back
to 2h through a 1×1 mask-B convolution and, with ``residual``, is added to the layer's
input (§3.4, Figure 4); with ``skip``, a learnable 1×1 mask-B convolution of every
layer's output is summed into the output (§3.4 "skip connections"); then two
"ReLU, 1×1 mask-B convolution" layers to ``output_features`` and to the distribution
parameters (a 256-way softmax per sub-pixel, or a sigmoid for binary images).

The Diagonal BiLSTM follows Table 1's wiring by default; there the first pixel of row i never sees
the last pixel of row i-1. ``right_reads_image=True`` (an option, see DiagonalBiLSTMConfig) lets the
first layer's right-to-left direction also read the image itself, and then the receptive field is every
earlier pixel.

With RGB and a categorical output every feature map is split into R, G, B groups and
every convolution reading the current pixel is mask B (the first one mask A), so the
R -> G -> B order holds inside a pixel.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..nn.masked import MaskedConv2d
from ..nn.recurrent import DiagonalBiLSTM, RowLSTM
from .base import AutoregressiveModel, ImageModelConfig
from .pixelrnn_cached import RowLSTMState


@dataclasses.dataclass(frozen=True)
class PixelRNNConfig(ImageModelConfig):
    """Fields both PixelRNN variants share."""

    hidden: int = 16             # h: LSTM units per layer; the residual stream carries 2h
    num_layers: int = 7          # recurrent layers after the 7×7 mask-A convolution
    first_kernel: int = 7
    output_features: int = 32    # width of the two 1×1 output layers
    residual: bool = True        # add each layer's 2h output to its input (§3.4)
    skip: bool = True            # learnable skip connections from every layer to the output

    def validate(self) -> None:
        super().validate()
        if self.num_layers < 1:
            raise ConfigError(f"num_layers must be >= 1, got {self.num_layers}")
        if min(self.hidden, self.output_features) < self.image_channels:
            raise ConfigError(f"hidden and output_features must be >= image_channels ({self.image_channels}) "
                              f"for channel masking, got hidden={self.hidden}, "
                              f"output_features={self.output_features}")
        if self.first_kernel % 2 == 0:
            raise ConfigError(f"first_kernel must be odd, got {self.first_kernel}")


@dataclasses.dataclass(frozen=True)
class RowLSTMConfig(PixelRNNConfig):
    input_kernel: int = 3        # k of the k×1 mask-B input-to-state convolution along the row
    state_kernel: int = 3        # width of the unmasked state-to-state convolution

    def validate(self) -> None:
        super().validate()
        if self.input_kernel % 2 == 0 or self.state_kernel % 2 == 0:
            raise ConfigError(f"input_kernel and state_kernel must be odd, got "
                              f"{self.input_kernel} and {self.state_kernel}")


@dataclasses.dataclass(frozen=True)
class DiagonalBiLSTMConfig(PixelRNNConfig):
    # False (the default) is Table 1's wiring: a 7×7 mask-A convolution, then the BiLSTM layers.
    # Mask-A features at (i, j) never hold pixel (i, j) itself, so pixel (i-1, W-1) reaches no
    # position of the right-to-left scan before the shift and only row-i positions j >= W-1-r
    # (r = first_kernel // 2) of the left-to-right one: the first pixels of row i never see it,
    # at any depth (tests/models/test_pixelrnn.py measures the gap). True, an option: the first
    # layer's right-to-left direction also reads the image at its own position (1×1, unmasked);
    # its output is shifted down a row, so this is causal, and it closes the gap.
    right_reads_image: bool = False


def make_layer(config: PixelRNNConfig, num_groups: int, first: bool) -> nn.Module:
    """A Row LSTM or Diagonal BiLSTM layer reading the 2h-feature stream."""
    h = config.hidden
    if isinstance(config, RowLSTMConfig):
        return RowLSTM(2 * h, h, num_groups, config.input_kernel, config.state_kernel)
    reads_image = first and getattr(config, "right_reads_image", False)
    return DiagonalBiLSTM(2 * h, h, num_groups, config.image_channels if reads_image else 0)


class PixelRNNNetwork(nn.Module):
    """x (N, C, H, W) in [-1, 1] -> params (N, P, H, W), see the module docstring.

    ``layer_bias`` (optional) is a list of per-layer maps (N, gate_channels, H, W) added to
    each layer's input-to-state map; ``class_bias`` (N, 2h) is added after the first layer.
    """

    def __init__(self, config: PixelRNNConfig, num_groups: int, num_params: int) -> None:
        super().__init__()
        h, g = config.hidden, num_groups
        self.config = config
        self.input_conv = MaskedConv2d(config.image_channels, 2 * h, config.first_kernel, "A", g)
        self.layers = nn.ModuleList(make_layer(config, g, k == 0) for k in range(config.num_layers))
        self.up = nn.ModuleList(MaskedConv2d(h, 2 * h, 1, "B", g) for _ in range(config.num_layers))
        self.skips = (nn.ModuleList(MaskedConv2d(2 * h, 2 * h, 1, "B", g) for _ in range(config.num_layers))
                      if config.skip else None)
        self.out1 = MaskedConv2d(2 * h, config.output_features, 1, "B", g)
        self.out2 = MaskedConv2d(config.output_features, num_params, 1, "B", g)

    @property
    def gate_channels(self) -> int:
        return self.layers[0].gate_channels

    def forward(self, x: torch.Tensor, layer_bias: list[torch.Tensor] | None = None,
                class_bias: torch.Tensor | None = None) -> torch.Tensor:
        y = self.input_conv(x)                                   # (N, 2h, H, W)
        if class_bias is not None:
            y = y + class_bias[:, :, None, None]
        skip_sum = None
        for k, (layer, up) in enumerate(zip(self.layers, self.up)):
            bias = None if layer_bias is None else layer_bias[k]
            out = up(layer(y, bias, image=x) if k == 0 and isinstance(layer, DiagonalBiLSTM)
                     else layer(y, bias))                                      # (N, 2h, H, W)
            y = y + out if self.config.residual else out
            if self.skips is not None:
                s = self.skips[k](y)
                skip_sum = s if skip_sum is None else skip_sum + s
        y = self.out1(F.relu(skip_sum if skip_sum is not None else y))          # (N, output_features, H, W)
        return self.out2(F.relu(y))                                             # (N, P, H, W)


class PixelRNN(AutoregressiveModel):
    """Shared model code; ``cond`` (class labels) adds a learned per-class bias to the 2h features."""

    def __init__(self, config: PixelRNNConfig) -> None:
        super().__init__(config)
        self.net = PixelRNNNetwork(config, self.num_groups, self.distribution.num_params)
        self.class_embedding = (nn.Embedding(config.num_classes, 2 * config.hidden)
                                if config.num_classes else None)

    def network(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        class_bias = self.class_embedding(cond) if self.class_embedding is not None else None
        return self.net(x, class_bias=class_bias)

    def output_layer(self) -> nn.Module:
        return self.net.out2


class RowLSTMPixelRNN(PixelRNN):
    """PixelRNN with Row LSTM layers (triangular receptive field above each pixel)."""

    name = "row_lstm"
    config_class = RowLSTMConfig

    def incremental(self, n: int, cond: torch.Tensor | None):
        return RowLSTMState(self, n, cond)


class DiagonalBiLSTMPixelRNN(PixelRNN):
    """PixelRNN with Diagonal BiLSTM layers (receptive field: every earlier pixel)."""

    name = "diagonal_bilstm"
    config_class = DiagonalBiLSTMConfig
