"""Small helpers the cached sampling states share: one-position convolutions on cached windows.

A k_h × k_w convolution evaluated at a single output position is a matrix product
between the flattened input window (N, C_in·k_h·k_w) and the flattened weight
(C_in·k_h·k_w, C_out). The weights are flattened (and masked) once per sampling
run; per position only a slice, a reshape and one ``addmm`` remain, which is what
makes the cached samplers cheap at batch 1 on a CPU, where per-call overhead
dominates. The sums run in a different order from a whole-map convolution, so
parameters agree with the naive sampler's to float rounding (~1e-6), not bit for bit.
"""
from __future__ import annotations

import torch
from torch import nn


def window_matrix(weight: torch.Tensor, rows: slice | None = None) -> torch.Tensor:
    """(C_out, C_in, k_h, k_w) weight -> (C_in·k_h'·k_w, C_out) matrix for ``window @ matrix``.

    ``rows`` keeps only some kernel rows (e.g. the causal top half of a masked kernel,
    whose lower rows are zero): the window must then cover exactly those rows.
    """
    w = weight.detach()
    if rows is not None:
        w = w[:, :, rows]
    return w.reshape(w.shape[0], -1).t().contiguous()


def masked_matrix(conv: nn.Conv2d, causal_rows: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Flattened masked weight of a ``MaskedConv2d`` (only the rows up to the centre) and its bias."""
    w = (conv.weight * conv.mask).detach()
    kh = w.shape[2]
    mat = window_matrix(w, slice(0, kh // 2 + 1) if causal_rows else None)
    return mat, (None if conv.bias is None else conv.bias.detach())


def linear(vec: torch.Tensor, mat: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """(N, K) @ (K, M) + bias -> (N, M)."""
    if bias is None:
        return vec @ mat
    return torch.addmm(bias, vec, mat)


class OutputLayer:
    """The last masked 1×1 layer, computing only what the sampler reads.

    When a pixel's channels are drawn one at a time (``ch`` given), the sampler reads only
    channel ch's parameters (``distribution.param_channels(ch)``), so only those columns of
    the (often largest) output matrix are multiplied; the other entries of the returned
    (N, P, 1, 1) tensor are left at zero. With ``ch=None`` all parameters are computed.
    """

    def __init__(self, conv: nn.Conv2d, distribution) -> None:
        self.mat, self.bias = masked_matrix(conv)
        self.num_params = self.mat.shape[1]
        self.per_channel = []
        if distribution.autoregressive_channels and distribution.num_channels > 1:
            for c in range(distribution.num_channels):
                sl = distribution.param_channels(c)
                self.per_channel.append((sl, self.mat[:, sl].contiguous(),
                                         None if self.bias is None else self.bias[sl]))

    def __call__(self, vec: torch.Tensor, ch: int | None) -> torch.Tensor:
        """(N, K) features -> (N, P, 1, 1) parameters (only channel ch's when ch is given)."""
        if ch is None or not self.per_channel:
            return linear(vec, self.mat, self.bias)[:, :, None, None]
        sl, mat, bias = self.per_channel[ch]
        out = vec.new_zeros(vec.shape[0], self.num_params)
        out[:, sl] = linear(vec, mat, bias)
        return out[:, :, None, None]


class Canvas:
    """The image scaled to [-1, 1] as the network sees it, zero-padded, filled as pixels become final.

    ``buf`` is (N, C, H + top, W + left + right) float; image pixel (r, c) lives at
    (r + top, c + left). Padding stays zero, as the convolutions' zero padding.
    """

    def __init__(self, x_like: torch.Tensor, num_levels: int, top: int, left: int, right: int,
                 extra_ones: bool = False) -> None:
        n, c, h, w = x_like.shape
        self.scale = 2.0 / (num_levels - 1)
        self.top, self.left, self.w = top, left, w
        self.channels = c
        self.buf = x_like.new_zeros((n, c + int(extra_ones), h + top, w + left + right), dtype=torch.float32)
        if extra_ones:   # PixelCNN++'s channel of ones marks the image (zero in the padding)
            self.buf[:, c, top:, left:left + w] = 1.0

    def write_pixel(self, x: torch.Tensor, i: int, j: int) -> None:
        # the same expression as AutoregressiveModel.scale_input, so the values are identical
        self.buf[:, : self.channels, i + self.top, j + self.left] = x[:, :, i, j].float() * self.scale - 1.0

    def write_row(self, x: torch.Tensor, i: int) -> None:
        self.buf[:, : self.channels, i + self.top, self.left:self.left + self.w] = x[:, :, i].float() * self.scale - 1.0

    def write_previous(self, x: torch.Tensor, i: int, j: int) -> None:
        """Write the raster predecessor of (i, j), which is final by the time (i, j) is asked for."""
        if j > 0:
            self.write_pixel(x, i, j - 1)
        elif i > 0:
            self.write_row(x, i - 1)
