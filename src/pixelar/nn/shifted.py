"""Down-shifted and down-right-shifted convolutions of PixelCNN++ (Salimans et al. 2017, §2.5).

Instead of masks, PixelCNN++ pads so that a k_h × k_w kernel only covers rows
above and including the current one (down-shifted: centred horizontally) or
rows above and columns left of and including the current one
(down-right-shifted). The network then shifts the first layer's output down
(and right) by one so that no pixel ever sees itself; later layers keep that
invariant. Transposed versions up-sample by 2 and crop the same way.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .masked import shift_down, shift_right
from .weightnorm import WeightNormConv2d


class DownShiftedConv2d(nn.Module):
    """Output (r, c) reads rows r-k_h+1..r, columns c-(k_w-1)/2..c+(k_w-1)/2. (N, in, H, W) -> (N, out, H/s, W/s)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int] = (2, 3),
                 stride: int = 1, init_scale: float = 1.0) -> None:
        super().__init__()
        self.kh, self.kw = kernel_size
        self.conv = WeightNormConv2d(in_channels, out_channels, kernel_size, stride, init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = (self.kw - 1) // 2
        return self.conv(F.pad(x, (p, p, self.kh - 1, 0)))


class DownRightShiftedConv2d(nn.Module):
    """Output (r, c) reads rows r-k_h+1..r, columns c-k_w+1..c."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int] = (2, 2),
                 stride: int = 1, init_scale: float = 1.0) -> None:
        super().__init__()
        self.kh, self.kw = kernel_size
        self.conv = WeightNormConv2d(in_channels, out_channels, kernel_size, stride, init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (self.kw - 1, 0, self.kh - 1, 0)))


class DownShiftedDeconv2d(nn.Module):
    """×2 up-sampling whose output row 2r, 2r+1 reads input rows <= r (crop the bottom k_h - 1 rows)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int] = (2, 3)) -> None:
        super().__init__()
        self.kh, self.kw = kernel_size
        self.conv = WeightNormConv2d(in_channels, out_channels, kernel_size, 2, transposed=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2] * 2, x.shape[3] * 2
        y = self.conv(x)                                  # (N, out, 2H + k_h - 1, 2W + k_w - 1)
        p = (self.kw - 1) // 2
        return y[:, :, :h, p:p + w]


class DownRightShiftedDeconv2d(nn.Module):
    """×2 up-sampling reading input rows <= r and columns <= c (crop bottom and right)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int] = (2, 2)) -> None:
        super().__init__()
        self.conv = WeightNormConv2d(in_channels, out_channels, kernel_size, 2, transposed=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2] * 2, x.shape[3] * 2
        return self.conv(x)[:, :, :h, :w]


def nin(in_channels: int, out_channels: int, init_scale: float = 1.0) -> WeightNormConv2d:
    """Network-in-network: a weight-normalized 1×1 convolution (a dense layer over channels)."""
    return WeightNormConv2d(in_channels, out_channels, (1, 1), 1, init_scale)


def concat_elu(x: torch.Tensor) -> torch.Tensor:
    """ELU of [x, -x] along channels: keeps both signs' information, doubles the channels."""
    return F.elu(torch.cat([x, -x], dim=1))


def pad_with_ones(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C+1, H, W): a constant channel of ones, so that the zero padding of the
    shifted convolutions is distinguishable from image content at the border (as PixelCNN++)."""
    n, _, h, w = x.shape
    return torch.cat([x, x.new_ones(n, 1, h, w)], dim=1)


class FirstShiftedLayer:
    """Mixin for PixelCNN++-style networks: the first layer, which starts both streams.

    Builds ``u_init`` (down-shifted, 2 × width), ``ul_init_up`` (down-shifted, 1 × width) and
    ``ul_init_left`` (down-right-shifted, 2 × 1) on the module, in that order (the order the weights
    are drawn in). Its outputs are shifted down (u) and down + right (ul): u at (r, c) sees rows < r,
    ul sees (rows < r) ∪ (row r, columns < c) — never the pixel itself.
    """

    u_init: DownShiftedConv2d
    ul_init_up: DownShiftedConv2d
    ul_init_left: DownRightShiftedConv2d

    def _build_first_layer(self, in_channels: int, filters: int, width: int = 3, u_height: int = 2,
                           left: int = 1) -> None:
        # PixelCNN++: width 3, u_height 2, left 1. The Table 2 small stacks change them to fit a window:
        # u then sees rows -u_height..-1 (cols ±(width-1)/2), ul row -1 and (rows -1..0, cols -left..-1).
        self.u_init = DownShiftedConv2d(in_channels, filters, (u_height, width))
        self.ul_init_up = DownShiftedConv2d(in_channels, filters, (1, width))
        self.ul_init_left = DownRightShiftedConv2d(in_channels, filters, (2, left))

    def _first_layer(self, x_pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u, ul), each (N, F, H, W), from the ones-padded input (N, C+1, H, W)."""
        u = shift_down(self.u_init(x_pad))
        ul = shift_down(self.ul_init_up(x_pad)) + shift_right(self.ul_init_left(x_pad))
        return u, ul
