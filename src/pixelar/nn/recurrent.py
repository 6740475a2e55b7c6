"""The two spatial LSTM layers of PixelRNN (van den Oord et al. 2016a, §3.1-3.2).

Both layers split the LSTM into an input-to-state map, a masked convolution
computed for the whole image at once, and a state-to-state convolution applied
step by step (row by row for the Row LSTM, diagonal by diagonal for the Diagonal
BiLSTM). Gates, per position and hidden unit (eq. 3):

    [o, f, i, g] = [σ, σ, σ, tanh](K_ss ⊛ h_prev + K_is ⊛ x)
    c = f ⊙ c_prev + i ⊙ g,   h = o ⊙ tanh(c)

Gate maps have 4h channels laid out as four chunks [o | f | i | g] of h; inside
each chunk the h units are split into R, G, B groups (``num_groups``) so that
the mask-B input-to-state convolution lets a unit of group g read only groups
<= g of the current pixel. The LSTM is elementwise per unit, so the group of a
unit never changes; every state-to-state input comes from strictly earlier
pixels and needs no channel mask. Layers take an optional ``bias`` (N, 4h, H, W)
added to the input-to-state map (the Multi-Scale PixelRNN's conditioning).

Both run in :class:`~pixelar.nn.recurrent_scan.LSTMScan`, one autograd node per layer
with a hand-written backward: each step is one batched matmul for the input-to-state and
one for the state-to-state part of all four gates (and both directions), plus a few in-place
elementwise ops on buffers allocated once. The modules keep the parameters (names,
shapes) of their first, step-by-step version; tests/models/test_recurrent_equivalence.py
holds that version and checks the two agree.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .masked import MaskedConv2d, shift_down
from .recurrent_scan import LSTMScan, diagonal_plan, gather_columns, row_plan


def lstm_cell(gates: torch.Tensor, c: torch.Tensor, hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM update. gates (N, 4h, L) as [o|f|i|g] chunks, c (N, h, L) -> (h, c) each (N, h, L)."""
    # split, not slices: one gradient concatenation in backward instead of four zero-filled maps
    ofi, g = gates.split([3 * hidden, hidden], dim=1)
    o, f, i = torch.sigmoid(ofi).chunk(3, dim=1)
    c = f * c + i * torch.tanh(g)
    return o * torch.tanh(c), c


class RowLSTM(nn.Module):
    """Row LSTM (§3.1): (N, in, H, W) -> (N, h, H, W).

    Input-to-state: a 1×k convolution along the row with mask B (reads columns j-k//2..j
    of row i, the current pixel's groups <= g), for the whole map at once. State-to-state:
    an unmasked 1×k_s convolution of the previous row's hidden state, so the state of
    (i, j) sees row i-1 at columns j-k_s//2..j+k_s//2: a triangle above the pixel, widening
    by k_s//2 per row. Row i-1 is entirely before row i in raster order, so the unmasked
    state kernel is causal. The state of the row above row 0 is learned (h0, c0).
    """

    def __init__(self, in_channels: int, hidden: int, num_groups: int = 1, input_kernel: int = 3,
                 state_kernel: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.gate_channels = 4 * hidden
        self.input_to_state = MaskedConv2d(in_channels, 4 * hidden, (1, input_kernel), "B", num_groups,
                                           out_chunks=4)
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, state_kernel, padding=state_kernel // 2)
        self.h0 = nn.Parameter(torch.zeros(hidden))
        self.c0 = nn.Parameter(torch.zeros(hidden))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        if torch.is_autocast_enabled(x.device.type):   # the scan's in-place ops need one dtype: float32
            with torch.autocast(x.device.type, enabled=False):
                return self(x.float(), None if bias is None else bias.float())
        n, _, height, width = x.shape
        h_, k = self.hidden, self.state_to_state.kernel_size[0]
        conv = self.input_to_state
        pad = conv.kernel_size[1] // 2
        # The masked 1×k input-to-state convolution runs inside the scan, per row, as a matmul on
        # the 1×(pad + 1) window ending at each pixel (the taps right of it are masked out) and
        # a one for both biases.
        weight = (conv.weight * conv.mask)[:, :, 0, :pad + 1].permute(0, 2, 1).reshape(4 * h_, -1)
        w_in = torch.cat([weight, (conv.bias + self.state_to_state.bias)[:, None]], 1)
        extra = None if bias is None else bias.permute(1, 2, 0, 3).reshape(1, 4 * h_, -1)   # columns (row, n, j)
        # conv1d weight (4h, h, k) -> (1, 4h, k·h): tap-major, as the scan unfolds the previous row
        w_ss = self.state_to_state.weight.permute(0, 2, 1).reshape(1, 4 * h_, k * h_)
        out = LSTMScan.apply(x, w_in[None], extra, w_ss, self.h0.view(1, h_), self.c0.view(1, h_),
                             row_plan(n, h_, height, width, k, pad + 1))
        return out.squeeze(1)                                  # (N, h, H, W), a strided view

    def step_row(self, gates_in_row: torch.Tensor, h: torch.Tensor, c: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """One row of the recurrence: gates_in_row (N, 4h, W), previous (h, c) (N, h, W)."""
        return lstm_cell(gates_in_row + self.state_to_state(h), c, self.hidden)

    def initial_state(self, n: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.h0[None, :, None].expand(n, -1, width), self.c0[None, :, None].expand(n, -1, width))


def skew(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H, H + W - 1): row i moved right by i, zeros elsewhere.

    Column c of the skewed map then holds the diagonal i + j = c, so one step along the
    columns updates a whole diagonal at once (Figure 3). (The layers index the diagonals
    in place, see recurrent_scan.py; this is the picture, and the tests' reference.)
    """
    n, ch, height, width = x.shape
    padded = F.pad(x, (0, height))                             # (N, C, H, W + H)
    # Reading W + H - 1 values per row from the flattened padded map starts row i
    # i values early, inside the zero padding of row i - 1.
    flat = padded.reshape(n, ch, height * (width + height))[..., :height * (width + height - 1)]
    return flat.reshape(n, ch, height, width + height - 1)


def unskew(y: torch.Tensor, width: int) -> torch.Tensor:
    """Inverse of :func:`skew`: (N, C, H, H + W - 1) -> (N, C, H, W)."""
    n, ch, height, skewed = y.shape
    flat = F.pad(y.reshape(n, ch, height * skewed), (0, height))
    return flat.reshape(n, ch, height, skewed + 1)[..., :width]


class DiagonalBiLSTM(nn.Module):
    """Diagonal BiLSTM (§3.2): (N, in, H, W) -> (N, h, H, W), the sum of two directions.

    Each direction computes a 1×1 mask-B input-to-state map and runs a 2×1 state-to-state
    convolution along the diagonals i + j = c (the columns of the skewed map, Figure 3):
    the state of (i, j) reads the states of (i, j-1) and (i-1, j), so it sees every pixel
    up-left of it (rows <= i, columns <= j). The right-to-left direction is the same on
    the mirrored map; its state at (i, j) sees (i, j+1..W-1), the future, so its output
    map is shifted down one row before it is added: at (i, j) it then holds the state of
    (i-1, j), which sees rows <= i-1 at columns >= j. Together: every earlier pixel, in
    one layer. Both directions run in one scan as a batch of two (their weights stay apart).
    """

    def __init__(self, in_channels: int, hidden: int, num_groups: int = 1, image_channels: int = 0) -> None:
        super().__init__()
        self.hidden = hidden
        self.gate_channels = 8 * hidden                       # [left 4h | right 4h]
        self.input_to_state = MaskedConv2d(in_channels, 8 * hidden, 1, "B", num_groups, out_chunks=8)
        # image_channels > 0: the right-to-left direction also reads the image at its own position
        # (1×1, unmasked). Its map is shifted down one row, so all of that row is in the past;
        # without it, features that follow a mask-A convolution never carry the last pixels of
        # row i-1 to the first pixels of row i (see PixelRNNConfig.right_reads_image).
        self.image_to_state = nn.Conv2d(image_channels, 4 * hidden, 1, bias=False) if image_channels else None
        # groups=2: the left states feed only the left gates, the right states the right ones
        self.state_to_state = nn.Conv1d(2 * hidden, 8 * hidden, 2, groups=2)
        self.h0 = nn.Parameter(torch.zeros(2 * hidden))
        self.c0 = nn.Parameter(torch.zeros(2 * hidden))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None,
                image: torch.Tensor | None = None) -> torch.Tensor:
        """x (N, in, H, W), bias (N, 8h, H, W), image (N, image_channels, H, W) -> (N, h, H, W)."""
        if torch.is_autocast_enabled(x.device.type):   # the scan's in-place ops need one dtype: float32
            with torch.autocast(x.device.type, enabled=False):
                as_float = [None if t is None else t.float() for t in (bias, image)]
                return self(x.float(), *as_float)
        n, _, height, width = x.shape
        h_, g = self.hidden, 4 * self.hidden
        conv = self.input_to_state
        weight, bias_in, bias_ss = (conv.weight * conv.mask)[:, :, 0, 0], conv.bias, self.state_to_state.bias
        # The 1×1 input-to-state maps run inside the scan, per step, on rows of a pixel table:
        # [x, image, 1, 1] per pixel (the ones carry the biases; positions left of the image
        # read [0, ..., 0, 1]: no input, state bias only).
        parts = [x] + ([image] if self.image_to_state is not None else [])
        table = torch.cat([t.permute(0, 2, 3, 1) for t in parts] + [x.new_ones(n, height, width, 2)], 3)
        left = [weight[:g]] + ([weight.new_zeros(g, image.shape[1])] if len(parts) > 1 else [])
        right = [weight[g:]] + ([self.image_to_state.weight[:, :, 0, 0]] if len(parts) > 1 else [])
        w_in = torch.stack([torch.cat(left + [bias_in[:g, None], bias_ss[:g, None]], 1),
                            torch.cat(right + [bias_in[g:, None], bias_ss[g:, None]], 1)])   # (2, 4h, C)
        plan = diagonal_plan(n, h_, height, width)
        extra = None
        if bias is not None:   # (N, 8h, H, W), gathered (zero off the image): each half to its direction
            per_pixel = bias.permute(0, 2, 3, 1).reshape(n * height * width, 2 * g)
            both = gather_columns(per_pixel, bias.new_zeros(2 * g), plan)   # (2, 8h, TOT)
            extra = torch.stack([both[0, :g], both[1, g:]])
        # grouped conv1d weight (8h, h, 2) -> (2, 4h, 2·h): per direction, taps [up | left]
        w_ss = self.state_to_state.weight.view(2, g, h_, 2).transpose(2, 3).reshape(2, g, 2 * h_)
        out = LSTMScan.apply(table.view(n * height * width, -1), w_in, extra, w_ss, self.h0.view(2, h_),
                             self.c0.view(2, h_), plan)
        # The right-to-left direction ran on the mirrored map (the gather mirrored its input).
        left, right = out.unbind(1)                            # (N, h, H, W) each
        right = right.flip(3)
        # Causality: the right state of (i, j) saw row i to its right; shifted down it is
        # read at (i + 1, j), where all of row i is in the past.
        return left + shift_down(right, 1)
