"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

Two stacks remove the blind spot of the masked PixelCNN: the vertical stack
covers the full width of every row above (within reach), the horizontal stack
the pixels to the left; the horizontal stack reads the vertical one shifted
down by a row. Class conditioning adds V^T y to every gated pre-activation.
With L layers, first kernel k1 and kernel k the receptive field of pixel (r, c)
is the rectangle of rows r-1-P .. r-1, columns c-P .. c+P plus row r, columns
c-P .. c-1, where P = k1//2 + (L-1)·(k//2).

Optional spatial conditioning (``spatial_channels`` > 0, used by the O(TN) video model,
models/video_baselines.py): a map s (N, E, H, W) passed as ``network(x, cond, spatial=s)`` enters
every layer through its own 1×1 convolution V * s (eq. 5 of the paper), added to both stacks'
gated pre-activations like V^T y. s may be read at every pixel, so it must not depend on x (or
the network is no longer causal in x).
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..nn.gated import GatedLayer
from ..nn.masked import MaskedConv2d
from .base import AutoregressiveModel, ImageModelConfig
from .gated_pixelcnn_cached import GatedPixelCNNState


@dataclasses.dataclass(frozen=True)
class GatedPixelCNNConfig(ImageModelConfig):
    hidden: int = 128
    num_layers: int = 15
    first_kernel: int = 7
    kernel: int = 3
    output_features: int = 1024

    def validate(self) -> None:
        super().validate()
        if self.num_layers < 1:
            raise ConfigError(f"num_layers must be >= 1, got {self.num_layers}")
        if self.first_kernel % 2 == 0 or self.kernel % 2 == 0:
            raise ConfigError("first_kernel and kernel must be odd")
        if self.hidden < self.image_channels:
            raise ConfigError(f"hidden must be >= image_channels ({self.image_channels}) for channel masking")

    def receptive_reach(self) -> int:
        """P: rows above and columns to each side that the output at a pixel can see."""
        return self.first_kernel // 2 + (self.num_layers - 1) * (self.kernel // 2)


class GatedPixelCNN(AutoregressiveModel):
    name = "gated_pixelcnn"
    config_class = GatedPixelCNNConfig

    def __init__(self, config: GatedPixelCNNConfig, spatial_channels: int = 0) -> None:
        super().__init__(config)
        g, h = self.num_groups, config.hidden
        self.spatial_channels = spatial_channels   # > 0: network() takes spatial=(N, E, H, W)
        self.layers = nn.ModuleList(
            [GatedLayer(config.image_channels, h, config.first_kernel, g, first=True)]
            + [GatedLayer(h, h, config.kernel, g) for _ in range(config.num_layers - 1)])
        # One embedding per layer: V^T y for one-hot y is a row lookup, (N, 2h).
        self.class_embeddings = (nn.ModuleList(nn.Embedding(config.num_classes, 2 * h)
                                               for _ in range(config.num_layers))
                                 if config.num_classes else None)
        # One V per layer (eq. 5): a 1×1 convolution of the map, (N, E, H, W) -> (N, 2h, H, W).
        self.spatial_maps = (nn.ModuleList(nn.Conv2d(spatial_channels, 2 * h, 1) for _ in range(config.num_layers))
                             if spatial_channels else None)
        self.out1 = MaskedConv2d(h, config.output_features, 1, "B", g)
        self.out2 = MaskedConv2d(config.output_features, self.distribution.num_params, 1, "B", g)

    def check_spatial(self, spatial: torch.Tensor | None) -> None:
        if (spatial is not None) != bool(self.spatial_channels):
            raise ValueError(f"this network takes spatial conditioning of {self.spatial_channels} channels: "
                             f"pass spatial=(N, {self.spatial_channels}, H, W)" if self.spatial_channels
                             else "this network has no spatial conditioning (spatial_channels=0)")

    def network(self, x: torch.Tensor, cond: torch.Tensor | None,
                spatial: torch.Tensor | None = None) -> torch.Tensor:
        self.check_spatial(spatial)
        v, h = x, x
        for i, layer in enumerate(self.layers):
            bias = self.class_embeddings[i](cond) if self.class_embeddings is not None else None   # (N, 2h)
            if self.spatial_maps is not None:
                m = self.spatial_maps[i](spatial)                                                  # (N, 2h, H, W)
                bias = m if bias is None else m + bias[:, :, None, None]
            v, h = layer(v, h, bias)                         # (N, hidden, H, W) each
        y = self.out1(F.relu(h))
        return self.out2(F.relu(y))                          # (N, P, H, W)

    def output_layer(self) -> nn.Module:
        return self.out2

    def incremental(self, n: int, cond: torch.Tensor | None, spatial: torch.Tensor | None = None):
        """The cached state for n images; ``spatial`` (N, E, H, W) as in ``network``."""
        self.check_spatial(spatial)
        return GatedPixelCNNState(self, n, cond, spatial)
