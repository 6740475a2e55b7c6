"""Masked convolutions (PixelRNN §3.4, Figure 2 right) and the helpers they share.

Spatial mask: a k×k kernel centred on pixel (r, c) may read the rows above r
and, on row r, the columns left of c. At the centre tap itself, channels are
split into ``num_groups`` contiguous groups (R, G, B for RGB, so 3): under mask
A an output of group g reads input groups < g (R sees nothing of its own pixel,
G sees R, B sees R and G); under mask B it also reads its own group g. With
``num_groups=1`` mask A excludes the whole current pixel and mask B includes
features of the current pixel (which, after a mask-A layer, depend only on
earlier pixels).

The mask is a buffer multiplied into the weight on every call (functional), so
the stored weights are never mutated and gradients of masked taps are zero.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def channel_groups(num_channels: int, num_groups: int, chunks: int = 1) -> torch.Tensor:
    """Group index (0..num_groups-1) of each of ``num_channels`` channels.

    Channels are split into ``chunks`` equal consecutive chunks (e.g. 2 for the
    tanh and sigmoid halves of a gated layer); inside each chunk they are split
    into ``num_groups`` contiguous groups, so every chunk has the same R/G/B layout.
    """
    per_chunk = _channels_per_chunk(num_channels, num_groups, chunks)
    idx = torch.arange(num_channels) % per_chunk
    return (idx * num_groups) // per_chunk


def _channels_per_chunk(num_channels: int, num_groups: int, chunks: int) -> int:
    if num_channels % chunks:
        raise ValueError(f"{num_channels} channels cannot be split into {chunks} chunks")
    per_chunk = num_channels // chunks
    if per_chunk < num_groups:
        raise ValueError(f"need at least {num_groups} channels per chunk for {num_groups} channel groups, "
                         f"got {per_chunk}")
    return per_chunk


def check_center_mask(in_channels: int, out_channels: int, num_groups: int, mask_type: str,
                      in_chunks: int = 1, out_chunks: int = 1) -> None:
    """Raise ValueError where :func:`center_mask` would, without building anything."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    _channels_per_chunk(out_channels, num_groups, out_chunks)
    _channels_per_chunk(in_channels, num_groups, in_chunks)


def center_mask(in_channels: int, out_channels: int, num_groups: int, mask_type: str,
                in_chunks: int = 1, out_chunks: int = 1) -> torch.Tensor:
    """(out, in) 0/1 matrix of which input channels of the current pixel an output may read."""
    check_center_mask(in_channels, out_channels, num_groups, mask_type, in_chunks, out_chunks)
    g_out = channel_groups(out_channels, num_groups, out_chunks)[:, None]
    g_in = channel_groups(in_channels, num_groups, in_chunks)[None, :]
    allowed = g_in < g_out if mask_type == "A" else g_in <= g_out
    return allowed.float()


class MaskedConv2d(nn.Conv2d):
    """k_h × k_w convolution restricted to the causal half-plane around each pixel.

    The kernel's centre tap is (k_h // 2, k_w // 2); taps below the centre row,
    and right of the centre on the centre row, are always zero; the centre tap
    is masked per channel group (see the module docstring). Padding keeps H × W.
    Shapes: (N, in, H, W) -> (N, out, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 mask_type: str, num_groups: int = 1, in_chunks: int = 1, out_chunks: int = 1,
                 bias: bool = True) -> None:
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        if kh % 2 == 0 or kw % 2 == 0:
            raise ValueError(f"masked convolutions need odd kernel sizes, got {kh}x{kw}")
        super().__init__(in_channels, out_channels, (kh, kw), padding=(kh // 2, kw // 2), bias=bias)
        self.mask_type = mask_type
        self.num_groups = num_groups
        mask = torch.zeros(out_channels, in_channels, kh, kw)
        # A meta tensor (torch.device("meta"): `pixelar models` counts parameters, checkpoints are
        # sized before loading) holds no values, so the mask's arithmetic is skipped there: on meta
        # each integer op goes through torch's Python reference implementations (~6 ms each, half
        # of `pixelar models`), and building it on the CPU instead would allocate a weight's size.
        if mask.device.type == "meta":
            check_center_mask(in_channels, out_channels, num_groups, mask_type, in_chunks, out_chunks)
        else:                                                   # center_mask runs the same checks
            mask[:, :, : kh // 2, :] = 1.0                      # every row above the centre
            mask[:, :, kh // 2, : kw // 2] = 1.0                # centre row, left of the centre
            mask[:, :, kh // 2, kw // 2] = center_mask(in_channels, out_channels, num_groups, mask_type,
                                                       in_chunks, out_chunks)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Rows below the centre are always masked to zero, so they are not multiplied at all: the
        # kernel is cut to its top kh // 2 + 1 rows (3×3 -> 2×3: 6 of 9 taps; 7×7 -> 4×7: 28 of 49).
        # With the symmetric padding p = kh // 2, output row i of the cut kernel reads input rows
        # i - p .. i, exactly the rows the full kernel reads through its non-zero taps, and the
        # p extra rows at the bottom (which would read the bottom padding) are dropped. Same sums
        # over the same non-zero products, in a different order: equal to float rounding.
        rows = self.kernel_size[0] // 2 + 1
        weight = self.weight[:, :, :rows] * self.mask[:, :, :rows]
        out = F.conv2d(x, weight, self.bias, self.stride, self.padding)
        return out[:, :, : x.shape[2]] if rows > 1 else out

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mask_type={self.mask_type}, num_groups={self.num_groups}"


def shift_down(x: torch.Tensor, rows: int = 1) -> torch.Tensor:
    """Move a (N, C, H, W) map down by ``rows``, filling the top with zeros.

    After the shift, row r holds what row r - rows computed, so a feature that
    saw rows <= r - 1 can be read at row r without seeing row r itself.
    """
    return F.pad(x, (0, 0, rows, 0))[:, :, : x.shape[2], :]


def shift_right(x: torch.Tensor, cols: int = 1) -> torch.Tensor:
    """Move a (N, C, H, W) map right by ``cols``, filling the left with zeros."""
    return F.pad(x, (cols, 0, 0, 0))[:, :, :, : x.shape[3]]
