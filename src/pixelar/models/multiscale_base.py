"""The base PixelCNN of the parallel multiscale PixelCNN (Reed et al. 2017) at the B×B base resolution.

Reed et al. §4.4: "For all PixelCNNs in the model, we used the same architecture as in (van den
Oord et al., 2016b)" - the Gated PixelCNN (reference 2016b is "Conditional image generation with
PixelCNN decoders"), so the default base is :class:`GatedBasePixelCNN`: the vertical/horizontal
gated layers of nn/gated.py (no blind spot). :class:`MaskedBasePixelCNN`, pixelar's earlier base
(the PixelRNN §3.5 masked PixelCNN, which has the blind spot), is kept as ``pixelcnn="masked"``
so that models trained with it still load (it is the config field's default; every preset sets "gated").

Both map x (N, C, B, B) in [-1, 1] and the encoded condition to params (N, P, B, B).
Conditions may be read at every pixel: the class/text vector and the spatial map (resized to B×B)
bias the layers.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.gated import GatedLayer
from ..nn.masked import MaskedConv2d
from .multiscale_cond import EncodedCond
from .pixelcnn import ResidualBlock

# Gated PixelCNN kernels (van den Oord et al. 2016b; the GatedPixelCNN defaults): 7×7 first, then 3×3.
FIRST_KERNEL, KERNEL = 7, 3


class GatedBasePixelCNN(nn.Module):
    """Gated PixelCNN: ``base_layers`` gated layers of ``base_hidden`` units per stack, then ReLU-1×1 heads.

    The condition is the Gated PixelCNN's: V^T y (eq. 4) for the class/text vector and a 1×1
    convolution V * s (eq. 5) for the spatial map, both added to every layer's pre-activations.
    """

    def __init__(self, cfg: Any, num_params: int, groups: int, spatial: int) -> None:
        super().__init__()
        h, L = cfg.base_hidden, cfg.base_layers
        self.layers = nn.ModuleList([GatedLayer(cfg.image_channels, h, FIRST_KERNEL, groups, first=True)]
                                    + [GatedLayer(h, h, KERNEL, groups) for _ in range(L - 1)])
        self.vec = (nn.ModuleList(nn.Linear(cfg.cond_dim, 2 * h) for _ in range(L))
                    if (cfg.num_classes or cfg.text_vocab) else None)
        self.spatial = (nn.ModuleList(nn.Conv2d(spatial, 2 * h, 1) for _ in range(L))
                        if spatial else None)
        self.out1 = MaskedConv2d(h, cfg.base_output_features, 1, "B", groups)
        self.out2 = MaskedConv2d(cfg.base_output_features, num_params, 1, "B", groups)

    def forward(self, x: torch.Tensor, enc: EncodedCond) -> torch.Tensor:
        s = enc.spatial_at(x.shape[-1]) if self.spatial is not None else None
        v, h = x, x
        for i, layer in enumerate(self.layers):
            bias = None                                              # (N, 2h) or (N, 2h, B, B)
            if self.vec is not None and enc.vec is not None:
                bias = self.vec[i](enc.vec)
            if s is not None:
                m = self.spatial[i](s)
                bias = m if bias is None else m + bias[:, :, None, None]
            v, h = layer(v, h, bias)                                 # (N, h, B, B) each
        return self.out2(F.relu(self.out1(F.relu(h))))             # (N, P, B, B)


class MaskedBasePixelCNN(nn.Module):
    """``pixelcnn="masked"``: the masked PixelCNN of models/pixelcnn.py (7×7 mask A, then
    ``base_layers - 1`` residual blocks of 2h features; it has the blind spot). The spatial map
    enters through a 1×1 convolution and the vector as a bias after the first layer."""

    def __init__(self, cfg: Any, num_params: int, groups: int, spatial: int) -> None:
        super().__init__()
        h = cfg.base_hidden
        self.inp = MaskedConv2d(cfg.image_channels, 2 * h, FIRST_KERNEL, "A", groups)
        self.blocks = nn.ModuleList(ResidualBlock(h, KERNEL, groups) for _ in range(cfg.base_layers - 1))
        self.out1 = MaskedConv2d(2 * h, cfg.base_output_features, 1, "B", groups)
        self.out2 = MaskedConv2d(cfg.base_output_features, num_params, 1, "B", groups)
        self.vec = nn.Linear(cfg.cond_dim, 2 * h) if (cfg.num_classes or cfg.text_vocab) else None
        self.spatial = nn.Conv2d(spatial, 2 * h, 1) if spatial else None

    def forward(self, x: torch.Tensor, enc: EncodedCond) -> torch.Tensor:
        y = self.inp(x)                                              # (N, 2h, B, B)
        if self.vec is not None and enc.vec is not None:
            y = y + self.vec(enc.vec)[:, :, None, None]
        if self.spatial is not None and enc.spatial is not None:
            y = y + self.spatial(enc.spatial_at(x.shape[-1]))
        for block in self.blocks:
            y = block(y)
        return self.out2(F.relu(self.out1(F.relu(y))))               # (N, P, B, B)


def build_base(cfg: Any, num_params: int, groups: int, spatial: int) -> nn.Module:
    """The base network ``cfg.pixelcnn`` names; ``spatial`` channels of conditioning map (0 = none)."""
    cls = GatedBasePixelCNN if cfg.pixelcnn == "gated" else MaskedBasePixelCNN
    return cls(cfg, num_params, groups, spatial)
