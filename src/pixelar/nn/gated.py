"""Gated activation and the vertical/horizontal stacks of the Gated PixelCNN.

van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders",
§2.2 and Figure 2. The vertical stack sees every row above the current pixel
(over the full kernel width, so there is no blind spot); the horizontal stack
sees the current row to the left, and gets the vertical stack's features
shifted down by one row so that it never sees the current row through them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .masked import MaskedConv2d, shift_down


def gated_activation(a: torch.Tensor) -> torch.Tensor:
    """tanh(first half) ⊙ sigmoid(second half) over the channel dim: (N, 2h, H, W) -> (N, h, H, W)."""
    f, g = a.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class VerticalConv(nn.Conv2d):
    """(k//2 + 1) × k convolution over rows r - k//2 .. r at output row r (no mask needed).

    Its output at row r includes row r itself; callers must shift it down by one
    row before the horizontal stack reads it.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        p = kernel_size // 2
        super().__init__(in_channels, out_channels, (p + 1, kernel_size))
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Pad p rows on top only: output row r reads input rows r-p .. r.
        return super().forward(F.pad(x, (self.p, self.p, self.p, 0)))


class GatedLayer(nn.Module):
    """One Gated PixelCNN layer: (v, h) -> (v', h'), both (N, hidden, H, W).

    ``first=True`` reads the image (``in_channels``) with a mask-A horizontal
    convolution and has no residual; later layers use mask B and add h.
    ``cond_bias`` (N, 2*hidden) is added to both stacks' pre-activations
    (the V^T y term of eq. 4), computed by the caller once per image; an (N, 2*hidden, H, W)
    map (eq. 5's V * s, a condition that may be read at every pixel) is added as it is.
    """

    def __init__(self, in_channels: int, hidden: int, kernel_size: int, num_groups: int,
                 first: bool = False) -> None:
        super().__init__()
        self.first = first
        p = kernel_size // 2
        self.v_conv = VerticalConv(in_channels, 2 * hidden, kernel_size)
        # Horizontal: a 1 × (p+1) kernel over columns c-p..c, written as a masked 1 × (2p+1) kernel.
        self.h_conv = MaskedConv2d(in_channels, 2 * hidden, (1, 2 * p + 1), "A" if first else "B",
                                   num_groups, out_chunks=2)
        # Vertical -> horizontal link: reads the shifted vertical features (rows above only).
        self.v_to_h = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        self.h_out = MaskedConv2d(hidden, hidden, 1, "B", num_groups)

    def forward(self, v: torch.Tensor, h: torch.Tensor,
                cond_bias: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        v_pre = self.v_conv(v)                                   # (N, 2h, H, W), rows <= r
        h_pre = self.h_conv(h) + self.v_to_h(shift_down(v_pre))  # shifted: rows <= r-1 only
        if cond_bias is not None:
            # (N, 2h): a per-image vector (eq. 4); (N, 2h, H, W): a spatial map V * s (eq. 5)
            b = cond_bias if cond_bias.dim() == 4 else cond_bias[:, :, None, None]
            v_pre, h_pre = v_pre + b, h_pre + b
        v_new = gated_activation(v_pre)
        h_new = self.h_out(gated_activation(h_pre))
        if not self.first:
            h_new = h_new + h
        return v_new, h_new
