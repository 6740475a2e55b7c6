"""The masked PixelCNN of PixelRNN §3.5 and Table 1 (van den Oord et al. 2016a).

7×7 mask-A convolution, then residual blocks (Figure 5: ReLU, 1×1 2h->h,
ReLU, 3×3 mask B h->h, ReLU, 1×1 h->2h, added to the input), then two
"ReLU followed by 1×1 mask-B convolution" layers to the output features and
the distribution parameters; the output layers read the sum of learnable 1×1
skips from every block (layer-to-output connections, PixelRNN §4). Every 1×1 is mask B too, so the R/G/B channel
groups never mix the wrong way (a plain 1×1 would let R see G).
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..nn.masked import MaskedConv2d
from .base import AutoregressiveModel, ImageModelConfig
from .pixelcnn_cached import PixelCNNState


@dataclasses.dataclass(frozen=True)
class PixelCNNConfig(ImageModelConfig):
    hidden: int = 128            # h: residual blocks carry 2h features
    num_layers: int = 15         # masked layers: the 7×7 mask-A layer + (num_layers - 1) residual blocks
    first_kernel: int = 7
    kernel: int = 3
    output_features: int = 1024  # width of the two 1×1 output layers
    # PixelRNN §4: "Residual and layer-to-output connections are used across the layers of all three
    # networks". As in the PixelRNNs (models/pixelrnn.py): a learnable 1×1 mask-B skip from every
    # residual block's output, summed, feeds the output layers. False: the last block's output only.
    skip: bool = True
    #: config.from_dict: checkpoints written before these fields existed hold this model
    FIELDS_ADDED: ClassVar[dict[str, Any]] = {"skip": False}   # the earlier net had no skips

    def validate(self) -> None:
        super().validate()
        if self.num_layers < 1:
            raise ConfigError(f"num_layers must be >= 1, got {self.num_layers}")
        if self.hidden < self.image_channels:
            raise ConfigError(f"hidden must be >= image_channels ({self.image_channels}) for channel masking")


class ResidualBlock(nn.Module):
    """PixelRNN Figure 5: x + 1×1(ReLU(k×k mask B(ReLU(1×1(ReLU(x)))))), 2h -> 2h."""

    def __init__(self, hidden: int, kernel: int, num_groups: int) -> None:
        super().__init__()
        self.reduce = MaskedConv2d(2 * hidden, hidden, 1, "B", num_groups)
        self.conv = MaskedConv2d(hidden, hidden, kernel, "B", num_groups)
        self.expand = MaskedConv2d(hidden, 2 * hidden, 1, "B", num_groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.reduce(F.relu(x))
        y = self.conv(F.relu(y))
        y = self.expand(F.relu(y))
        return x + y


class PixelCNN(AutoregressiveModel):
    """Masked PixelCNN; ``cond`` (class labels) adds a learned per-class bias to the input features."""

    name = "pixelcnn"
    config_class = PixelCNNConfig

    def __init__(self, config: PixelCNNConfig) -> None:
        super().__init__(config)
        g, h = self.num_groups, config.hidden
        self.input_conv = MaskedConv2d(config.image_channels, 2 * h, config.first_kernel, "A", g)
        self.blocks = nn.ModuleList(ResidualBlock(h, config.kernel, g) for _ in range(config.num_layers - 1))
        self.skips = (nn.ModuleList(MaskedConv2d(2 * h, 2 * h, 1, "B", g) for _ in self.blocks)
                      if config.skip and config.num_layers > 1 else None)
        self.out1 = MaskedConv2d(2 * h, config.output_features, 1, "B", g)
        self.out2 = MaskedConv2d(config.output_features, self.distribution.num_params, 1, "B", g)
        self.class_embedding = nn.Embedding(config.num_classes, 2 * h) if config.num_classes else None

    def network(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        y = self.input_conv(x)                               # (N, 2h, H, W)
        if self.class_embedding is not None:
            y = y + self.class_embedding(cond)[:, :, None, None]
        skip_sum = None
        for k, block in enumerate(self.blocks):
            y = block(y)                                     # (N, 2h, H, W)
            if self.skips is not None:                       # layer-to-output connection
                s = self.skips[k](y)
                skip_sum = s if skip_sum is None else skip_sum + s
        y = self.out1(F.relu(skip_sum if skip_sum is not None else y))   # (N, output_features, H, W)
        return self.out2(F.relu(y))                          # (N, P, H, W)

    def output_layer(self) -> nn.Module:
        return self.out2

    def incremental(self, n: int, cond: torch.Tensor | None):
        return PixelCNNState(self, n, cond)
