"""The Row LSTM and Diagonal BiLSTM layers against a frozen copy of their first, step-by-step
implementation (pixelar 0.x before issue 16): same weights through ``load_state_dict``, same
outputs and gradients to 1e-6 in float32.

The reference below is the code of ``pixelar.nn.recurrent`` as it was, only renamed: do not
change it. ``benchmarks/recurrent_speed.py --reference`` loads it from this file.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pixelar.nn.masked import MaskedConv2d, shift_down
from pixelar.nn.recurrent import DiagonalBiLSTM, RowLSTM

# ---- frozen reference (do not edit) ------------------------------------------------------------


def reference_lstm_cell(gates: torch.Tensor, c: torch.Tensor, hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM update. gates (N, 4h, L) as [o|f|i|g] chunks, c (N, h, L) -> (h, c) each (N, h, L)."""
    # split, not slices: one gradient concatenation in backward instead of four zero-filled maps
    ofi, g = gates.split([3 * hidden, hidden], dim=1)
    o, f, i = torch.sigmoid(ofi).chunk(3, dim=1)
    c = f * c + i * torch.tanh(g)
    return o * torch.tanh(c), c


class ReferenceRowLSTM(nn.Module):
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
        n, _, _height, width = x.shape
        gates_in = self.input_to_state(x)                      # (N, 4h, H, W)
        if bias is not None:
            gates_in = gates_in + bias
        h = self.h0[None, :, None].expand(n, -1, width)       # (N, h, W): the row above row 0
        c = self.c0[None, :, None].expand(n, -1, width)
        rows = []
        # unbind, not gates_in[:, :, i]: the backward of one slice per step would fill and add
        # a whole-map gradient per row (quadratic in H); unbind's backward stacks them once
        # rows first and contiguous: each step then reads one dense block
        for gates_row in gates_in.permute(2, 0, 1, 3).contiguous().unbind(0):   # (N, 4h, W) per row
            h, c = reference_lstm_cell(gates_row + self.state_to_state(h), c, self.hidden)
            rows.append(h)
        return torch.stack(rows, dim=2)                        # (N, h, H, W)

    def step_row(self, gates_in_row: torch.Tensor, h: torch.Tensor, c: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """One row of the recurrence: gates_in_row (N, 4h, W), previous (h, c) (N, h, W)."""
        return reference_lstm_cell(gates_in_row + self.state_to_state(h), c, self.hidden)

    def initial_state(self, n: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.h0[None, :, None].expand(n, -1, width), self.c0[None, :, None].expand(n, -1, width))


def reference_skew(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H, H + W - 1): row i moved right by i, zeros elsewhere.

    Column c of the skewed map then holds the diagonal i + j = c, so one step along the
    columns updates a whole diagonal at once (Figure 3).
    """
    n, ch, height, width = x.shape
    padded = F.pad(x, (0, height))                             # (N, C, H, W + H)
    # Reading W + H - 1 values per row from the flattened padded map starts row i
    # i values early, inside the zero padding of row i - 1.
    flat = padded.reshape(n, ch, height * (width + height))[..., :height * (width + height - 1)]
    return flat.reshape(n, ch, height, width + height - 1)


def reference_unskew(y: torch.Tensor, width: int) -> torch.Tensor:
    """Inverse of :func:`reference_skew`: (N, C, H, H + W - 1) -> (N, C, H, W)."""
    n, ch, height, skewed = y.shape
    flat = F.pad(y.reshape(n, ch, height * skewed), (0, height))
    return flat.reshape(n, ch, height, skewed + 1)[..., :width]


class ReferenceDiagonalBiLSTM(nn.Module):
    """Diagonal BiLSTM (§3.2): (N, in, H, W) -> (N, h, H, W), the sum of two directions.

    Each direction skews its input, computes a 1×1 mask-B input-to-state map, and runs a
    2×1 column-wise state-to-state convolution over the skewed columns: the state of (i, j)
    reads the states of (i, j-1) and (i-1, j), so it sees every pixel up-left of it
    (rows <= i, columns <= j). The right-to-left direction is the same on the mirrored
    map; its state at (i, j) sees (i, j+1..W-1), the future, so its output map is shifted
    down one row before it is added: at (i, j) it then holds the state of (i-1, j), which
    sees rows <= i-1 at columns >= j. Together: every earlier pixel, in one layer.
    Both directions run in one loop as a grouped convolution (their weights stay apart).
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
        n, _, height, width = x.shape
        h_ = self.hidden
        gates_in = self.input_to_state(x)                      # (N, 8h, H, W)
        if bias is not None:
            gates_in = gates_in + bias
        left, right = gates_in[:, :4 * h_], gates_in[:, 4 * h_:]
        if self.image_to_state is not None:
            right = right + self.image_to_state(image)
        # The right-to-left direction works on the mirrored map (a 1×1 map mirrors with it).
        gates_in = torch.cat([left, right.flip(3)], dim=1)
        gates_in = reference_skew(gates_in)                              # (N, 8h, H, H + W - 1)
        h = self.h0[None, :, None].expand(n, -1, height)      # (N, 2h, H): the column before column 0
        c = self.c0[None, :, None].expand(n, -1, height)
        cols = []
        # columns first and contiguous: a strided column read per step is several times slower
        for gates_col in gates_in.permute(3, 0, 1, 2).contiguous().unbind(0):   # (N, 8h, H) per column
            # pad one zero row on top: row i reads the previous column's rows i-1 and i
            state = self.state_to_state(F.pad(h, (1, 0)))      # (N, 8h, H)
            # (N, 2, 4h, H) -> one LSTM update per direction, both at once on (N·2, 4h, H)
            g = (gates_col + state).reshape(n * 2, 4 * h_, height)
            h, c = reference_lstm_cell(g, c.reshape(n * 2, h_, height), h_)
            h, c = h.reshape(n, 2 * h_, height), c.reshape(n, 2 * h_, height)
            cols.append(h)
        out = reference_unskew(torch.stack(cols).permute(1, 2, 3, 0), width)   # (N, 2h, H, W)
        left, right = out[:, :h_], out[:, h_:].flip(3)
        # Causality: the right state of (i, j) saw row i to its right; shifted down it is
        # read at (i + 1, j), where all of row i is in the past.
        return left + shift_down(right, 1)


# ---- equivalence --------------------------------------------------------------------------------

def compare(new: nn.Module, ref: nn.Module, *inputs: torch.Tensor, **kw: torch.Tensor
            ) -> dict[str, tuple[float, float]]:
    """(max abs difference, max abs of the reference) of the output and of every gradient
    (inputs and parameters), after a backward of a fixed random projection of the output.
    The reference gets the new layer's weights through its state_dict."""
    ref.load_state_dict(new.state_dict())
    outs, grads = [], []
    for module in (new, ref):
        args = [t.detach().clone().requires_grad_() for t in inputs]
        kwargs = {k: v.detach().clone().requires_grad_() for k, v in kw.items()}
        module.zero_grad(set_to_none=True)
        out = module(*args, **kwargs)
        weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(7), dtype=out.dtype)
        (out * weight).sum().backward()
        outs.append(out.detach())
        grads.append([t.grad for t in args] + [t.grad for t in kwargs.values()] +
                     [p.grad for p in module.parameters()])
    names = [f"input{j}" for j in range(len(inputs))] + list(kw) + [n for n, _ in new.named_parameters()]
    diffs = {"output": (float((outs[0] - outs[1]).abs().max()), float(outs[1].abs().max()))}
    for name, g_new, g_ref in zip(names, *grads):
        diffs[name] = float((g_new - g_ref).abs().max()), float(g_ref.abs().max())
    return diffs


def make(kind: str, channels: int, first: bool, dtype: torch.dtype, kernels: tuple[int, int] = (3, 3)):
    """A new layer with random weights, its reference, and their inputs (x, plus image/bias)."""
    torch.manual_seed(0)
    groups, hidden = (3, 6) if channels == 3 else (1, 4)
    if kind == "row":
        new = RowLSTM(2 * hidden, hidden, groups, *kernels)
        ref = ReferenceRowLSTM(2 * hidden, hidden, groups, *kernels)
    else:   # the first layer's right-to-left direction also reads the image
        image = channels if first else 0
        new = DiagonalBiLSTM(2 * hidden, hidden, groups, image)
        ref = ReferenceDiagonalBiLSTM(2 * hidden, hidden, groups, image)
    with torch.no_grad():   # h0, c0 and biases start at zero: make every parameter matter
        for p in new.parameters():
            p.normal_(0.0, 0.3)
    return new.to(dtype), ref.to(dtype), hidden


SIZES = [(5, 7), (6, 6), (7, 4), (1, 5), (4, 1)]


@pytest.mark.parametrize("kind", ["row", "diagonal"])
@pytest.mark.parametrize("channels,first", [(1, True), (1, False), (3, True), (3, False)])
@pytest.mark.parametrize("size", SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
def test_new_layers_match_the_step_by_step_reference(kind, channels, first, size):
    """float32 forward and every gradient to 1e-6 (relative to the tensor's scale when above 1)."""
    new, ref, hidden = make(kind, channels, first, torch.float32)
    h, w = size
    x = torch.randn(3, 2 * hidden, h, w)
    kw = {"image": torch.randn(3, channels, h, w)} if kind == "diagonal" and first else {}
    for name, (diff, scale) in compare(new, ref, x, **kw).items():
        assert diff <= 1e-6 * max(1.0, scale), (name, diff, scale)


@pytest.mark.parametrize("kind", ["row", "diagonal"])
def test_new_layers_are_the_same_function_in_float64(kind):
    """Exact up to rounding: in float64 the differences are at the 1e-15 level (tanh as 2σ(2z) - 1,
    other summation orders), with the multi-scale bias map and a 1×5 Row LSTM input kernel."""
    new, ref, hidden = make(kind, 3, True, torch.float64, kernels=(5, 3))
    x = torch.randn(2, 2 * hidden, 9, 8, dtype=torch.float64)
    kw = {"image": torch.randn(2, 3, 9, 8, dtype=torch.float64)} if kind == "diagonal" else {}
    kw["bias"] = torch.randn(2, new.gate_channels, 9, 8, dtype=torch.float64)
    for name, (diff, scale) in compare(new, ref, x, **kw).items():
        assert diff <= 1e-12 * max(1.0, scale), (name, diff, scale)


@pytest.mark.parametrize("kind", ["row", "diagonal"])
def test_scan_never_reads_uninitialized_memory(kind, monkeypatch):
    """The scan's buffers are allocated empty and only their padding is zeroed: filled with NaN
    instead, output and gradients must be unchanged."""
    new, ref, hidden = make(kind, 1, True, torch.float32)
    x = torch.randn(2, 2 * hidden, 6, 5)
    kw = {"image": torch.randn(2, 1, 6, 5)} if kind == "diagonal" else {}
    clean = compare(new, ref, x, **kw)
    new_empty, empty_like = torch.Tensor.new_empty, torch.empty_like
    nan = float("nan")
    monkeypatch.setattr(torch.Tensor, "new_empty", lambda self, *a, **k: new_empty(self, *a, **k).fill_(nan))
    monkeypatch.setattr(torch, "empty_like", lambda t, *a, **k: empty_like(t, *a, **k).fill_(nan))
    assert compare(new, ref, x, **kw) == clean


@pytest.mark.parametrize("kind", ["row", "diagonal"])
def test_under_bf16_autocast_the_layers_compute_in_float32(kind):
    """The Trainer's precision="bf16" runs the network under autocast: the scan opts out."""
    new, _, hidden = make(kind, 1, True, torch.float32)
    x = torch.randn(2, 2 * hidden, 5, 4, requires_grad=True)
    kw = {"image": torch.randn(2, 1, 5, 4)} if kind == "diagonal" else {}
    want = new(x, **kw)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = new(x, **kw)
    got.sum().backward()
    assert got.dtype == torch.float32 and torch.equal(got, want) and torch.isfinite(x.grad).all()
