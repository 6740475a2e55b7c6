"""The "Small PixelCNN" of PixelCNN++ Table 2: a restricted receptive field at full resolution.

PixelCNN++ asks whether its gains come from a large receptive field. Table 2 trains small
two-stream networks whose causal context is a fixed W×H window and varies what sits on top
of it: *Plain* (one gated shifted convolution per layer), *NIN* (each shifted layer followed
by ``num_nin`` 1×1 gated ResNet layers: more non-linearity, the same window) and
*Autoregressive Channel* (the output head also reads the earlier sub-pixels of the current
pixel, see :class:`ChannelHead`).

Window geometry (W columns × H rows, H counting the current row), checked by a gradient
test: the u stream's first down-shifted conv has kernel (2, k0) and, after the shift down,
sees rows -2..-1 and columns ±(k0-1)/2; each of the n-1 later (2, 3) convs adds one row
above and one column each side. So n = H - 2 layers give rows -(n+1)..-1 and columns
±((k0-1)/2 + n-1); on the current row the ul stream sees n columns to the left, which the
window's half-width always covers. 11×5 → n = 3, k0 = 7; 15×8 → n = 6, k0 = 5.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..nn.gated_resnet import GatedResNet
from ..nn.masked import MaskedConv2d
from ..nn.shifted import DownRightShiftedConv2d, DownShiftedConv2d, FirstShiftedLayer, concat_elu, nin


def window_layers(width: int, height: int) -> tuple[int, int]:
    """(number of shifted layers n, first kernel width k0) giving a width × height causal window."""
    if height < 3 or width < 3 or width % 2 == 0:
        raise ConfigError(f"receptive field {width}x{height}: need an odd width >= 3 and a height >= 3 "
                          "(the height counts the current row)")
    n = height - 2
    half_first = (width - 1) // 2 - (n - 1)
    if half_first < 1:
        raise ConfigError(f"receptive field {width}x{height} is too narrow for its height: a {n}-layer "
                          f"shifted stack is at least {2 * n + 1} columns wide")
    return n, 2 * half_first + 1


class GatedShiftedLayer(nn.Module):
    """h + a ⊙ σ(b) with [a, b] = conv(concat_elu(h)) [+ nin(concat_elu(skip))] [+ class bias]: one conv,
    so each layer grows the window by exactly the conv's reach."""

    def __init__(self, filters: int, conv: nn.Module, skip_channels: int, dropout: float,
                 num_classes: int) -> None:
        super().__init__()
        self.conv = conv
        self.skip = nin(2 * skip_channels, 2 * filters) if skip_channels else None
        self.dropout = nn.Dropout(dropout)
        self.class_bias = nn.Linear(num_classes, 2 * filters, bias=False) if num_classes else None

    def forward(self, h: torch.Tensor, skip: torch.Tensor | None, onehot: torch.Tensor | None) -> torch.Tensor:
        c = self.conv(self.dropout(concat_elu(h)))
        if self.skip is not None:
            c = c + self.skip(concat_elu(skip))
        if self.class_bias is not None:
            c = c + self.class_bias(onehot)[:, :, None, None]
        a, b = c.chunk(2, dim=1)
        return h + a * torch.sigmoid(b)


class SmallStack(FirstShiftedLayer, nn.Module):
    """Two-stream shifted network with a width × height window, no down-sampling: (N, C+1, H, W) -> (N, F, H, W)."""

    def __init__(self, in_channels: int, filters: int, width: int, height: int, num_nin: int,
                 dropout: float, num_classes: int) -> None:
        super().__init__()
        n, k0 = window_layers(width, height)
        self._build_first_layer(in_channels, filters, k0)
        F_, k = filters, num_classes

        def nin_layers() -> nn.ModuleList:
            return nn.ModuleList(GatedResNet(F_, _NinConv, 0, dropout, k) for _ in range(num_nin))

        self.u = nn.ModuleList(GatedShiftedLayer(F_, DownShiftedConv2d(2 * F_, 2 * F_, (2, 3), init_scale=0.1),
                                                 0, dropout, k) for _ in range(n - 1))
        self.ul = nn.ModuleList(GatedShiftedLayer(F_, DownRightShiftedConv2d(2 * F_, 2 * F_, (2, 2),
                                                                             init_scale=0.1), F_, dropout, k)
                                for _ in range(n - 1))
        self.u_nin = nn.ModuleList(nin_layers() for _ in range(n))
        self.ul_nin = nn.ModuleList(nin_layers() for _ in range(n))

    def forward(self, x_pad: torch.Tensor, onehot: torch.Tensor | None) -> torch.Tensor:
        u, ul = self._first_layer(x_pad)       # as the full network: u sees rows < r, ul adds row r, cols < c
        for layer in range(len(self.u_nin)):
            if layer > 0:
                u = self.u[layer - 1](u, None, onehot)
                ul = self.ul[layer - 1](ul, u, onehot)
            for lu, lul in zip(self.u_nin[layer], self.ul_nin[layer]):
                u = lu(u, None, onehot)
                ul = lul(ul, None, onehot)
        return ul


def _NinConv(in_channels: int, out_channels: int, init_scale: float = 1.0) -> nn.Module:
    return nin(in_channels, out_channels, init_scale)


class ChannelHead(nn.Module):
    """Output head whose sub-pixel c also reads sub-pixels < c of the *current* pixel (Autoregressive Channel).

    params = out(elu(features)) + g(x), where g is a masked 1×1 network over the current
    pixel: a mask-A layer (group c reads channels < c), ReLU, a mask-B layer into the
    parameter blocks (block c = group c). The features never see the current pixel, so
    the parameters of channel c depend on x only through earlier pixels and x_<c here.
    """

    def __init__(self, features: int, image_channels: int, num_params: int, hidden: int = 32) -> None:
        super().__init__()
        c = image_channels
        hidden = max(hidden, c) // c * c
        self.out = nin(features, num_params)
        self.inner = MaskedConv2d(c, hidden, 1, "A", num_groups=c)
        self.outer = MaskedConv2d(hidden, num_params, 1, "B", num_groups=c)
        nn.init.zeros_(self.outer.weight)              # starts as the plain head
        nn.init.zeros_(self.outer.bias)

    def forward(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.elu(features)) + self.outer(F.relu(self.inner(x)))
