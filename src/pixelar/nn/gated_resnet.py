"""PixelCNN++'s gated ResNet block (Salimans et al. 2017, §2.5 and Figure 2), shared by PixelCNN++,
PixelSNAIL, the Table 2 small PixelCNNs and the auxiliary-variable PixelCNNs."""
from __future__ import annotations

import torch
from torch import nn

from .shifted import concat_elu, nin


class GatedResNet(nn.Module):
    """x + a ⊙ σ(b), [a, b] = conv(dropout(concat_elu(conv(concat_elu(x)) + nin(concat_elu(skip))))) + h·W."""

    def __init__(self, filters: int, conv: type, skip_channels: int, dropout: float, num_classes: int,
                 spatial_channels: int = 0) -> None:
        super().__init__()
        self.conv_in = conv(2 * filters, filters)
        self.skip = nin(2 * skip_channels, filters) if skip_channels else None
        self.dropout = nn.Dropout(dropout)
        self.conv_out = conv(2 * filters, 2 * filters, init_scale=0.1)
        self.class_bias = nn.Linear(num_classes, 2 * filters, bias=False) if num_classes else None
        if self.class_bias is not None:
            nn.init.normal_(self.class_bias.weight, 0.0, 0.05)   # as the reference's 'hw' matrix
        # spatial bias: a plain 1x1 projection of the conditioning map, initialized like the class bias
        self.spatial_bias = nn.Conv2d(spatial_channels, 2 * filters, 1, bias=False) if spatial_channels else None
        if self.spatial_bias is not None:
            nn.init.normal_(self.spatial_bias.weight, 0.0, 0.05)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None,
                onehot: torch.Tensor | None = None, spatial: torch.Tensor | None = None) -> torch.Tensor:
        c = self.conv_in(concat_elu(x))
        if self.skip is not None:
            c = c + self.skip(concat_elu(skip))
        c = self.conv_out(self.dropout(concat_elu(c)))      # (N, 2F, H, W)
        if self.class_bias is not None:
            c = c + self.class_bias(onehot)[:, :, None, None]
        if self.spatial_bias is not None:
            c = c + self.spatial_bias(spatial)                # (N, E, H, W) -> (N, 2F, H, W)
        a, b = c.chunk(2, dim=1)
        return x + a * torch.sigmoid(b)


class GatedConv(nn.Module):
    """x + nin(dropout(tanh(a) ⊙ σ(b))), [a, b] = conv(x) [+ h·W]: one convolution with its own residual
    connection and the Gated PixelCNN / WaveNet gate (PixelSNAIL's text reading of a residual block's
    "2D-convolutions …, each with residual connections", ``residual="gated_conv"``)."""

    def __init__(self, filters: int, conv: type, dropout: float, num_classes: int) -> None:
        super().__init__()
        self.conv = conv(filters, 2 * filters)
        self.dropout = nn.Dropout(dropout)
        self.proj = nin(filters, filters, init_scale=0.1)
        self.class_bias = nn.Linear(num_classes, 2 * filters, bias=False) if num_classes else None
        if self.class_bias is not None:
            nn.init.normal_(self.class_bias.weight, 0.0, 0.05)

    def gate(self, c: torch.Tensor, onehot: torch.Tensor | None) -> torch.Tensor:
        """tanh(a) ⊙ σ(b) of the convolution's output c (N, 2F, ·, ·), class bias added."""
        if self.class_bias is not None:
            c = c + self.class_bias(onehot)[:, :, None, None]
        a, b = c.chunk(2, dim=1)
        return torch.tanh(a) * torch.sigmoid(b)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None,
                onehot: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.proj(self.dropout(self.gate(self.conv(x), onehot)))
