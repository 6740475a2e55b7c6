"""The "Small PixelCNN" of PixelCNN++ Table 2 (§3.3): a restricted receptive field at full resolution.

The paper: "our proposed PixelCNN++ model without downsampling blocks and reduce the number of
layers to limit the receptive field size … a receptive field size of 11x5, for example, means
that the conditional distribution of a pixel can depend on a rectangle above the pixel of size
11x5 as well as (11−1)/2=5x1 block to the left of the pixel". So a W×H window is exactly the
pixels of rows r-H..r-1, columns c-h..c+h (h = (W-1)/2) and of row r, columns c-h..c-1:
11×5 = 5 rows above + 5 to the left (60 pixels), 15×8 = 8 rows + 7 (127 pixels). A gradient test
checks that exact set (tests/models/test_pixelcnn_pp.py).

Construction (PixelCNN++'s own layers: the two-stream first layer, then ``L`` gated ResNets of
two shifted convolutions per stream, (2, 3) down-shifted for u and (2, 2) down-right-shifted for
ul). With ``a`` = the height of u's first kernel (1 or 2) and ``m`` = the half-width of the first
layer, u sees rows -(a+2L)..-1 × ±(m+2L) and ul's current row reaches m+2L to the left, so
L = (H-1)//2, a = H-2L and m = h-2L (>= 1: a window must be at least 4L+3 wide). For both of the
paper's windows m = 1, the PixelCNN++ kernel widths; 11×5 has a = 1 (L = 2), 15×8 a = 2 (L = 3).
Text silent on how u reaches ul; two choices keep the window an exact rectangle:
* ul's gated ResNet l reads u *before* u's layer l (PixelCNN++ reads it after): its second
  (2, 2) convolution spreads the skip one row up and one column left, which would otherwise add
  a row above and a column on the left of the window.
* the last u reaches ul through a 1×1 (nin) connection after the last layer.

NIN: "insert additional gated ResNet blocks with 1x1 convolution between regular convolution
blocks that grow receptive field … we inserted 3 NIN blocks between every other layer". We read a
"layer" as a convolution, so a two-convolution gated ResNet is two layers and ``num_nin`` 1×1
gated ResNets (3 in the presets) sit between consecutive window-growing blocks: after the first
layer and after every gated ResNet but the last (text terse: our reading). 1×1 layers do not
move the window, so the ul ones may read the current u.

Autoregressive Channel: "skip connections between sets of channels via 1x1 convolution gated
ResNet block" (:class:`ARChannelHead`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..nn.gated_resnet import GatedResNet
from ..nn.shifted import (
    DownRightShiftedConv2d,
    DownShiftedConv2d,
    FirstShiftedLayer,
    concat_elu,
    nin,
)


def window_layers(width: int, height: int) -> tuple[int, int, int]:
    """(gated ResNets per stream L, u's first kernel height a, first-layer half-width m) of a
    width × height window (height = rows above the pixel)."""
    if height < 1 or width < 3 or width % 2 == 0:
        raise ConfigError(f"receptive field {width}x{height}: need an odd width >= 3 and a height >= 1 "
                          "(rows above the pixel)")
    layers = (height - 1) // 2
    half = (width - 1) // 2 - 2 * layers
    if half < 1:
        raise ConfigError(f"receptive field {width}x{height} is too narrow for its height: "
                          f"{height} rows above need a width >= {4 * layers + 3}")
    return layers, height - 2 * layers, half


def window_pixels(width: int, height: int) -> set[tuple[int, int]]:
    """The (row, col) offsets of the window: rows -height..-1 × ±(width-1)/2, plus the row's left half."""
    h = (width - 1) // 2
    return {(r, c) for r in range(-height, 0) for c in range(-h, h + 1)} | {(0, c) for c in range(-h, 0)}


class SmallStack(FirstShiftedLayer, nn.Module):
    """Two-stream shifted network with a width × height window, no down-sampling: (N, C+1, H, W) -> (N, F, H, W)."""

    def __init__(self, in_channels: int, filters: int, width: int, height: int, num_nin: int,
                 dropout: float, num_classes: int) -> None:
        super().__init__()
        n, a, m = window_layers(width, height)
        self._build_first_layer(in_channels, filters, 2 * m + 1, u_height=a, left=m)
        F_, p, k = filters, dropout, num_classes
        self.u = nn.ModuleList(GatedResNet(F_, DownShiftedConv2d, 0, p, k) for _ in range(n))
        self.ul = nn.ModuleList(GatedResNet(F_, DownRightShiftedConv2d, F_, p, k) for _ in range(n))
        # NIN blocks between window-growing blocks: after the first layer and after ResNets 1..n-1
        self.u_nin = nn.ModuleList(nn.ModuleList(GatedResNet(F_, nin, 0, p, k) for _ in range(num_nin))
                                   for _ in range(n))
        self.ul_nin = nn.ModuleList(nn.ModuleList(GatedResNet(F_, nin, F_, p, k) for _ in range(num_nin))
                                    for _ in range(n))
        self.merge = nin(2 * F_, F_)       # the last u into ul (1×1: the window does not move)

    def forward(self, x_pad: torch.Tensor, onehot: torch.Tensor | None) -> torch.Tensor:
        u, ul = self._first_layer(x_pad)       # u sees rows above; ul adds the current row's left part
        for lu, lul, nu, nul in zip(self.u, self.ul, self.u_nin, self.ul_nin):
            for a, b in zip(nu, nul):
                u = a(u, None, onehot)
                ul = b(ul, u, onehot)
            ul = lul(ul, u, onehot)            # u before u's layer: see the module docstring
            u = lu(u, None, onehot)
        return ul + self.merge(concat_elu(u))


def _set_index(channels: int, sets: int, copies: int = 1) -> torch.Tensor:
    """Set of each of ``channels`` = ``copies`` concatenated copies of ``sets`` equal contiguous sets."""
    per = channels // copies // sets
    return (torch.arange(channels) % (channels // copies)) // per


class SetMaskedNin(nn.Module):
    """1×1 convolution from channel sets to channel sets: output set c reads input sets < c
    (``strict``) or <= c; ``diagonal`` keeps only set c -> set c."""

    def __init__(self, in_sets: torch.Tensor, out_sets: torch.Tensor, strict: bool = False,
                 diagonal: bool = False, init_scale: float = 1.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(len(in_sets), len(out_sets), 1)
        o, i = out_sets[:, None], in_sets[None, :]
        mask = (o == i) if diagonal else (i < o) if strict else (i <= o)
        self.register_buffer("mask", mask.float()[:, :, None, None], persistent=False)
        with torch.no_grad():
            self.conv.weight.mul_(init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.conv.weight * self.mask, self.conv.bias)


class ARChannelHead(nn.Module):
    """Table 2's Autoregressive Channel: the output of sub-pixel c reads sub-pixels < c of the current pixel.

    "skip connections between sets of channels via 1x1 convolution gated ResNet block": the
    features f (which never see the current pixel) are projected into C sets of ``filters``
    channels, one set per sub-pixel; one gated ResNet block of 1×1 convolutions then runs on
    them, h + a ⊙ σ(b), whose convolutions connect set c to the sets <= c (the skip connections
    between sets) and whose skip input is the current pixel, set c reading x_<c only; set c
    gives the parameters of sub-pixel c. So the parameters of channel c depend on x only through
    earlier pixels and x_<c of this pixel. Text silent on the output distribution: one mixture per
    sub-pixel (``channel_logistic_mixture``), since the dependence on the earlier sub-pixels is now
    the network's.
    """

    def __init__(self, features: int, image_channels: int, num_params: int, dropout: float = 0.0) -> None:
        super().__init__()
        c, f = image_channels, features
        sets = _set_index(c * f, c)                           # (C·F,): set of each feature channel
        self.project = nin(f, c * f)
        self.conv_in = SetMaskedNin(_set_index(2 * c * f, c, 2), sets)                  # concat_elu doubles
        self.skip = SetMaskedNin(_set_index(2 * c, c, 2), sets, strict=True)             # x_<c of this pixel
        self.dropout = nn.Dropout(dropout)
        self.conv_out = SetMaskedNin(_set_index(2 * c * f, c, 2), _set_index(2 * c * f, c, 2), init_scale=0.1)
        self.out = SetMaskedNin(sets, _set_index(num_params, c), diagonal=True)

    def forward(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = self.project(F.elu(features))                                      # (N, C·F, H, W)
        c = self.conv_in(concat_elu(h)) + self.skip(concat_elu(x))
        a, b = self.conv_out(self.dropout(concat_elu(c))).chunk(2, dim=1)
        return self.out(F.elu(h + a * torch.sigmoid(b)))                        # (N, P, H, W)
