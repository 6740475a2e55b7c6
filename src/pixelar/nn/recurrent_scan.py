"""The PixelRNN LSTM recurrences as one autograd node per layer, with a hand-written backward.

:class:`LSTMScan` runs ``D`` independent LSTMs (1 for the Row LSTM; 2 for the two
directions of the Diagonal BiLSTM) over steps; step t updates a set of positions at once
(an image row, or a diagonal i + j = t) from the hidden states of the previous step's
positions through a k-tap state-to-state kernel. Per position (eq. 3 of the paper):

    z = W_in x_col + W_ss [h(tap 0); ...; h(tap k-1)]            (D, 4h)
    [o, f, i, g] = [σ, σ, σ, tanh](z),  c = f c_prev + i g,  h = o tanh(c)

x_col is what the input-to-state convolution reads at the position (the 1×k window of the
Row LSTM, the pixel of the Diagonal BiLSTM) with rows of ones that carry the biases. Each
step is two small batched matmuls, input-to-state and state-to-state, for all four gates,
all images and both directions, on blocks that stay in cache: passes over whole maps are
memory-bound on this CPU (a 64 × 13k matmul runs at a third of a per-step one's rate).

Layout. Per-position buffers (gates ``a``, tanh(c)) are (D, rows, TOT) with TOT columns
ordered (step, n, position), so a step's block has long contiguous rows for the elementwise
math. The states live in a zero-padded buffer ``hc`` (h half, c half) in which a step's
positions are short contiguous runs of one small block: image rows for the Row LSTM
(2, H + 1, N, 1, h, W + 2·pad), skewed columns for the Diagonal BiLSTM (2, H + W, D, h, N,
H + 1): column c + 1 holds diagonal c, row i + 1 image row i (row 0 and column 0: the row
above and the column left of the image). Each read or write of a step is one ``as_strided``
view; scratch blocks are reused, nothing is allocated per step.

Numerics. tanh(z) = 2σ(2z) - 1, and tanh is ~10× dearer than sigmoid on this CPU: the g rows
of W are doubled, so one sigmoid covers all four gates (``a`` holds [o, f, i, s], g = 2s - 1),
and the c half of ``hc`` holds 2c, so tanh(c) is one sigmoid too. Float64 agrees with the old
step-by-step layers to ~1e-15; float32 to rounding (a few 1e-7 relative).

Backward is BPTT written out, per step in reverse (σ' = a (1 - a), 1 - g² = 4 s (1 - s)):

    dc += dh o (1 - tanh²c)         dz_o = dh tanh(c) σ'(z_o)     dz_f = dc c_prev σ'(z_f)
    dz_i = dc g σ'(z_i)             dz_g = dc i (1 - g²)          dc_prev = dc f
    dh_prev[tap] += W_ssᵀ dz        dx_col = W_inᵀ dz             dW_ss += dz uᵀ,  dW_in += dz x_colᵀ

with u and x_col rebuilt from ``hc`` and x, and dz written over the step's saved gates.
"""
from __future__ import annotations

import dataclasses
import functools

import torch
from torch.autograd.function import once_differentiable

from ..errors import PixelarError


@dataclasses.dataclass(frozen=True)
class ScanPlan:
    """Geometry of one scan: shapes, strides and per-step offsets (see the module docstring).

    ``steps``: (p, col, u_off, cp_off, w_off, ghost_src, ghost_dst, off) per step: p
    positions, first TOT column of the step (TOT = N × all positions), ``hc`` offsets of
    the step's tap-0 view, c_prev view and write view, an optional copy of one position's
    (h, c) to another after the step (-1: none), and whether each image's last position is
    off the image. ``init``: (offset,
    length) of the positions that start as (h0, c0). A (D, h, N, p) view of one half of
    ``hc`` has strides ``hstr``; ``out`` is the (N, D, h, H, W) view of the h half.
    ``rows`` (Diagonal BiLSTM): per step, the pixel-table rows its positions read, both
    directions (2·N·p,); ``gather``/``scatter``: the same for all steps (2·TOT,), and for
    every pixel and direction its TOT column; ``off_image``: the TOT columns off the image.
    """

    kind: str                      # "row" or "diagonal"
    d: int
    taps: int                      # of the state-to-state kernel
    taps_in: int                   # of the Row LSTM's input window (1: the Diagonal BiLSTM's 1×1)
    n: int
    hidden: int
    height: int
    width: int
    hc_shape: tuple[int, ...]
    hstr: tuple[int, int, int, int]
    tap_stride: int
    tot: int
    max_p: int
    steps: tuple[tuple[int, ...], ...]
    init: tuple[tuple[int, int], ...]
    out: tuple[tuple[int, ...], int]
    gather: torch.Tensor | None = None      # (D·TOT,) int64
    scatter: torch.Tensor | None = None     # (D, N·H·W) int64
    off_image: torch.Tensor | None = None   # int64 indices into D·TOT
    rows: tuple[torch.Tensor, ...] = ()


@functools.lru_cache(maxsize=32)
def row_plan(n: int, hidden: int, height: int, width: int, taps: int, taps_in: int) -> ScanPlan:
    """Row LSTM: step t is image row t, positions (n, j); tap k of (t, j) is h(t-1, j + k - taps//2)."""
    pad = taps // 2
    cols = width + 2 * pad                                   # zero columns on both sides
    row = n * hidden * cols                                  # one buffer row: (N, 1, h, cols)
    hstr = (hidden * cols, cols, hidden * cols, 1)
    steps = tuple((width, t * n * width, t * row, t * row + pad, (t + 1) * row + pad, -1, -1, False)
                  for t in range(height))
    out = ((n, 1, hidden, height, width), (hidden * cols, hidden * cols, cols, row, 1)), row + pad
    hc_shape = (2, height + 1, n, 1, hidden, cols)
    return ScanPlan("row", 1, taps, taps_in, n, hidden, height, width, hc_shape, hstr, 1, n * height * width,
                    width, steps, ((pad, width),), out)


@functools.lru_cache(maxsize=32)
def diagonal_plan(n: int, hidden: int, height: int, width: int) -> ScanPlan:
    """Diagonal BiLSTM: step c is the diagonal i + j = c; taps: h(i-1, j) (up), h(i, j-1) (left).

    In the skewed buffer both taps of rows lo..hi of column c + 1 are rows lo-1..hi and lo..hi
    of column c. Left of the image the paper's skewed map (Figure 3) has no input, yet its
    states run from the learned (h0, c0) and feed the image's column 0: the state at
    (i, -1) is the same for every row i and image, S(i - 1), with S(-1) = (h0, c0) and
    S(c) = cell(b + W_up S(c - 1) + W_left S(c - 1)). Rather than that whole triangle, step
    c also updates the one position of it that is read, (c + 1, -1), with no input (state
    bias only, see LSTMScan); its left tap, row c + 1 of column c, holds
    a copy of S(c - 1) made after step c - 1 (the "ghost"). Right of the image nothing is
    ever read, so it is never computed: half the work of whole skewed columns.
    """
    rows, hw = height + 1, height * width
    block = 2 * hidden * n * rows                            # one skewed column: (2, h, N, rows)
    hstr = (hidden * n * rows, n * rows, rows, 1)
    steps, gather, col = [], [[], []], 0
    for c in range(height + width - 1):
        lo, hi = max(0, c - width + 1), min(height - 1, c)   # the image rows on diagonal c
        boundary = c + 1 <= height - 1                       # and the position (c + 1, -1)
        p = hi - lo + 1 + boundary
        ghost = ((c + 1) * block + c + 2, (c + 1) * block + c + 3) if boundary and c + 2 <= height - 1 \
            else (-1, -1)
        steps.append((p, col, c * block + lo, c * block + lo + 1, (c + 1) * block + lo + 1) + ghost + (boundary,))
        i = torch.arange(lo, hi + 1)
        for d, j in enumerate((c - i, width - 1 - (c - i))):  # the right direction reads the mirror image
            idx = torch.arange(n)[:, None] * hw + (i * width + j)[None]          # (N, positions)
            if boundary:   # marked -1, then read as row 0 and overwritten (see gather_columns)
                idx = torch.cat([idx, torch.full((n, 1), -1)], 1)
            gather[d].append(idx.reshape(-1))
        col += n * p
    gather = torch.stack([torch.cat(g) for g in gather])    # (2, TOT), -1 off the image
    scatter = torch.empty(2, n * hw, dtype=torch.long)      # every pixel is read once per direction
    for d in range(2):
        on = gather[d] >= 0
        scatter[d, gather[d, on]] = torch.arange(col)[on]
    step_rows = tuple(gather[:, st[1]:st[1] + n * st[0]].reshape(-1).clamp(min=0) for st in steps)
    gather = gather.reshape(-1)
    off_image = (gather < 0).nonzero()[:, 0]
    gather = gather.clamp(min=0)
    # column 0 (the column before the image), rows 0 and 1: S(-1) = (h0, c0) for step 0's left taps
    out = ((n, 2, hidden, height, width), (rows, hidden * n * rows, n * rows, block + 1, block)), block + 1
    return ScanPlan("diagonal", 2, 2, 1, n, hidden, height, width, (2, height + width, 2, hidden, n, rows), hstr,
                    1, col, height + 1, tuple(steps), ((1, min(2, height)),), out, gather, scatter, off_image,
                    step_rows)


def _half(plan: ScanPlan) -> int:
    """Offset of the c half of ``hc``."""
    size = 1
    for dim in plan.hc_shape[1:]:
        size *= dim
    return size


def _zero_padding(hc: torch.Tensor, plan: ScanPlan) -> None:
    """Zero the buffer positions that are read but never written: the zero padding."""
    if plan.kind == "row":
        pad = plan.taps // 2
        hc[..., :pad].zero_()
        hc[..., plan.width + pad:].zero_()
    else:
        hc[..., 0].zero_()                                   # the row above the image, in every column


def _zero_grad_targets(dhc: torch.Tensor, plan: ScanPlan) -> None:
    """Zero the gradient positions that are accumulated into without being set first.

    The h half of every image position starts as grad_out; the c half of a position is set
    (not added to) by the one position that reads it as c_prev, its right neighbour or the
    row below. So only the c of positions nobody reads as c_prev, and the h of the positions
    off the image that taps read (they collect gradient), need zeros.
    """
    half, (hd, hch, hn, _) = _half(plan), plan.hstr
    d, h, n = plan.d, plan.hidden, plan.n
    if plan.kind == "row":
        dhc[0, 0].zero_()                                    # h of the row above the image
        dhc[1, -1].zero_()                                   # c of the last row: no row below reads it
        return
    height, width, block = plan.height, plan.width, plan.hc_shape[2] * plan.hc_shape[3] * plan.n * plan.hc_shape[5]
    # lines of one position per image row, each a step further right: c of (i, W - 1) (nothing on
    # its right), h of (i, -1) and h of (i + 1, -2) (the ghosts), both from column 0 on
    dhc.as_strided((d, h, n, height), (hd, hch, hn, block + 1), half + width * block + 1).zero_()
    dhc.as_strided((d, h, n, height), (hd, hch, hn, block + 1), 1).zero_()
    dhc.as_strided((d, h, n, height - 1), (hd, hch, hn, block + 1), 2).zero_()


def _input_scratch(x: torch.Tensor, plan: ScanPlan, cx: int) -> torch.Tensor | None:
    """Row LSTM: the reused block of one step's input columns, its constant parts set."""
    if plan.kind != "row":
        return None
    v = x.new_empty(1, cx, plan.n * plan.width)
    v[0, :cx - 1].view(-1, plan.n, plan.width)[..., :plan.taps_in - 1].zero_()   # left of the image
    v[0, cx - 1] = 1.0                                                              # the biases
    return v


def _step_input(x: torch.Tensor, plan: ScanPlan, step: tuple, index: int, scratch: torch.Tensor | None
                ) -> torch.Tensor:
    """The input columns x_col of a step's positions, (D, C, N·p).

    Row LSTM: the 1×taps_in window of image row t ending at each pixel (tap k reads column
    j - (taps_in - 1 - k)), then a one. Diagonal BiLSTM: rows of the pixel table x
    (N·H·W, C), the right direction mirrored; a position off the image reads only the
    table's last channel (the ones that carry the state bias).
    """
    p, off = step[0], step[7]
    if plan.kind == "row":
        row, c_in = x[:, :, index].transpose(0, 1), x.shape[1]               # (C, N, W)
        for k in range(plan.taps_in):
            shift = plan.taps_in - 1 - k
            scratch[0, k * c_in:(k + 1) * c_in].view(c_in, plan.n, p)[..., shift:].copy_(row[..., :p - shift])
        return scratch
    rows = x.index_select(0, plan.rows[index].to(x.device)).view(2, plan.n * p, -1)
    if off:
        last = rows.view(2, plan.n, p, -1)[:, :, p - 1]
        last.zero_()
        last[..., -1] = 1.0
    return rows.transpose(1, 2)


def _scatter_input(grad_x: torch.Tensor, grad_cols: torch.Tensor, plan: ScanPlan, step: tuple, index: int,
                   d_col: torch.Tensor) -> None:
    """Adjoint of :func:`_step_input`: the step's dL/dx_col (D, C, N·p) to grad_x."""
    p, col = step[0], step[1]
    if plan.kind == "row":   # the taps overlap: the last (no shift) sets the row, the others add
        row, c_in = grad_x[:, :, index].transpose(0, 1), grad_x.shape[1]      # (C, N, W)
        for k in range(plan.taps_in - 1, -1, -1):
            shift = plan.taps_in - 1 - k
            part = d_col[0, k * c_in:(k + 1) * c_in].view(c_in, plan.n, p)[..., shift:]
            if shift == 0:
                row.copy_(part)
            else:
                row[..., :p - shift].add_(part)
    else:
        grad_cols[:, col:col + plan.n * p].copy_(d_col.transpose(1, 2))


class LSTMScan(torch.autograd.Function):
    """The recurrence of a whole layer (see the module docstring).

    x: the layer input (N, C, H, W) (Row LSTM) or the pixel table (N·H·W, C) whose last
    channel is ones (Diagonal BiLSTM), see :func:`_step_input`; w_in (D, 4h, C') (C' =
    taps_in·C + 1 for the Row LSTM; the ones rows carry the biases); extra: None or
    (D, 4h, TOT), added to the input-to-state map; w_ss (D, 4h, k·h); h0, c0 (D, h).
    Returns h (N, D, h, H, W), a strided view of the state buffer.
    """

    @staticmethod
    def forward(ctx, x, w_in, extra, w_ss, h0, c0, plan: ScanPlan):
        # as_strided below assumes row-major storage: a channels_last (or other strided) input is copied
        x, extra = x.contiguous(), None if extra is None else extra.contiguous()
        d, k, n, h, tot = plan.d, plan.taps, plan.n, plan.hidden, plan.tot
        g, kh = 4 * h, plan.taps * plan.hidden
        hd, hch, hn, hp = hv = plan.hstr
        half = _half(plan)
        scale = torch.ones(d, g, 1, dtype=x.dtype, device=x.device)
        scale[:, 3 * h:] = 2.0                                   # tanh(z) = 2σ(2z) - 1
        w_in_s, w_ss_s = w_in * scale, w_ss * scale
        scratch = _input_scratch(x, plan, w_in.shape[2])
        hc = x.new_empty(plan.hc_shape)                          # (h, 2c) per buffer position
        _zero_padding(hc, plan)
        init = torch.stack([h0, 2.0 * c0])[:, :, :, None, None]  # (2, D, h, 1, 1)
        for off, length in plan.init:
            hc.as_strided((2, d, h, n, length), (half, hd, hch, hn, hp), off).copy_(init)
        a = x.new_empty(d, g, tot)                               # z, then [o, f, i, s], per position
        tanh_c = x.new_empty(d, h, tot)
        taps = (d, k, h, n), (hd, plan.tap_stride, hch, hn)
        # per-step scratch, reused (fresh memory costs page faults): the taps u, the new 2c
        u_buf, c_buf = x.new_empty(d * kh * n * plan.max_p), x.new_empty(d * h * n * plan.max_p)
        # Two views of each step: (D, ·, N·p) on the per-position buffers (long contiguous rows,
        # for the math) and (D, h, N, p) on hc (rows of p: one read or write per step).
        for index, step in enumerate(plan.steps):
            p, col, u_off, cp_off, w_off, g_src, g_dst, _ = step
            c4, np_ = (d, h, n, p), n * p
            a3 = a.as_strided((d, g, np_), (g * tot, tot, 1), col)
            torch.bmm(w_in_s, _step_input(x, plan, step, index, scratch), out=a3)   # input to state, in cache
            if extra is not None:
                a3.addcmul_(extra.as_strided((d, g, np_), (g * tot, tot, 1), col), scale)
            u = u_buf[:d * kh * np_].view(d, kh, np_)
            u.view(d, k, h, n, p).copy_(hc.as_strided(taps[0] + (p,), taps[1] + (hp,), u_off))
            a3.baddbmm_(w_ss_s, u)                               # state to state: all gates, one matmul
            a3.sigmoid_()
            o, f, i, s = a3.view(d, 4, h, np_).unbind(1)         # (D, h, N·p) each
            c = c_buf[:d * h * np_].view(d, h, np_)
            torch.mul(f.view(c4), hc.as_strided(c4, hv, half + cp_off), out=c.view(c4))
            c.addcmul_(i, s, value=4.0).sub_(i, alpha=2.0)      # 2c = f 2c_prev + 2 i (2s - 1)
            hc.as_strided(c4, hv, half + w_off).copy_(c.view(c4))
            t = tanh_c.as_strided((d, h, np_), (h * tot, tot, 1), col)
            torch.sigmoid(c, out=t)
            t.mul_(2.0).sub_(1.0)                                # tanh(c) = 2σ(2c) - 1
            torch.mul(o.view(c4), t.view(c4), out=hc.as_strided(c4, hv, w_off))
            if g_src >= 0:                                       # copy (h, 2c) of one position to another
                hc.as_strided((2, d, h, n), (half, hd, hch, hn), g_dst).copy_(
                    hc.as_strided((2, d, h, n), (half, hd, hch, hn), g_src))
        ctx.plan, ctx.has_extra, ctx.used = plan, extra is not None, False
        ctx.save_for_backward(x, w_in, w_ss, hc, a, tanh_c)
        return hc.as_strided(*plan.out[0], plan.out[1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        plan = ctx.plan
        if ctx.used:   # backward turns the saved gates into their gradients, in place
            raise PixelarError("a PixelRNN layer's graph can be backpropagated through once only "
                               "(retain_graph=True is not supported): run the forward again")
        ctx.used = True
        x, w_in, w_ss, hc, a, tanh_c = ctx.saved_tensors
        d, k, n, h, tot = plan.d, plan.taps, plan.n, plan.hidden, plan.tot
        g, kh = 4 * h, plan.taps * plan.hidden
        hd, hch, hn, hp = hv = plan.hstr
        half = _half(plan)
        dhc = grad_out.new_empty(plan.hc_shape)                  # dL/dh, dL/d(true c) per buffer position
        _zero_grad_targets(dhc, plan)
        dhc.as_strided(*plan.out[0], plan.out[1]).copy_(grad_out)
        buf = a.new_empty(3, d * h * n * plan.max_p)             # dh, dc, scratch of one step
        u_buf = a.new_empty(d * kh * n * plan.max_p)
        grad_w_ss, grad_w_in = torch.zeros_like(w_ss), torch.zeros_like(w_in)
        cx = w_in.shape[2]
        scratch = _input_scratch(x, plan, cx)
        grad_x = x.new_empty(x.shape)                            # Row LSTM; every row is set once
        grad_cols = a.new_empty(d, tot, cx) if plan.kind == "diagonal" else None
        d_col_buf = a.new_empty(d * cx * n * plan.max_p)
        taps = (d, k, h, n), (hd, plan.tap_stride, hch, hn)
        # per gate: 2c in the buffer -> c_prev = buffer / 2; 1 - g² = 4 s (1 - s)
        chunk_scale = torch.tensor([1.0, 0.5, 1.0, 4.0], dtype=a.dtype, device=a.device)[:, None, None]
        w_ss_t, w_in_t = w_ss.transpose(1, 2), w_in.transpose(1, 2)
        for index in range(len(plan.steps) - 1, -1, -1):
            step = plan.steps[index]
            p, col, u_off, cp_off, w_off, g_src, g_dst, _ = step
            c4, np_ = (d, h, n, p), n * p
            if g_src >= 0:                                       # a copy's gradient goes back to its source
                dhc.as_strided((2, d, h, n), (half, hd, hch, hn), g_src).add_(
                    dhc.as_strided((2, d, h, n), (half, hd, hch, hn), g_dst))
            a4 = a.as_strided((d, 4, h, np_), (g * tot, h * tot, tot, 1), col)
            o, f, i, s = a4.unbind(1)                            # (D, h, N·p) each
            t = tanh_c.as_strided((d, h, np_), (h * tot, tot, 1), col)
            dh, dc, tmp = buf[:, :d * h * np_].view(3, d, h, np_).unbind(0)
            dh.view(c4).copy_(dhc.as_strided(c4, hv, w_off))
            dc.view(c4).copy_(dhc.as_strided(c4, hv, half + w_off))
            torch.mul(t, t, out=tmp)
            dc.addcmul_(dh, torch.addcmul(o, o, tmp, value=-1.0, out=tmp))    # dc += dh o (1 - tanh²c)
            torch.mul(dc.view(c4), f.view(c4), out=dhc.as_strided(c4, hv, half + cp_off))   # its only reader
            # Now a4 becomes dz4 in place, each chunk after its last use as a gate.
            torch.mul(s, 2.0, out=tmp).sub_(1.0)                # g = 2s - 1
            s.addcmul_(s, s, value=-1.0).mul_(i)                 # σ'(2 z_g) i
            a4[:, :3].addcmul_(a4[:, :3], a4[:, :3], value=-1.0)   # σ'(z) = a (1 - a) for o, f, i
            a4.mul_(chunk_scale)
            dz_o, dz_f, dz_i, _ = a4.unbind(1)
            dz_o.mul_(t).mul_(dh)
            dz_f.view(c4).mul_(hc.as_strided(c4, hv, half + cp_off))
            dz_i.mul_(tmp)
            a4[:, 1:].mul_(dc[:, None])
            dz = a4.view(d, g, np_)                              # dL/dz of the step
            du = torch.bmm(w_ss_t, dz).view(d, k, h, n, p)
            for tap in range(k):
                dhc.as_strided(c4, hv, u_off + tap * plan.tap_stride).add_(du[:, tap])
            u = u_buf[:d * kh * np_].view(d, kh, np_)           # the step's taps and inputs again, for dW
            u.view(d, k, h, n, p).copy_(hc.as_strided(taps[0] + (p,), taps[1] + (hp,), u_off))
            grad_w_ss.baddbmm_(dz, u.transpose(1, 2))
            x_col = _step_input(x, plan, step, index, scratch)   # (D, C', N·p)
            grad_w_in.baddbmm_(dz, x_col.transpose(1, 2))
            d_col = torch.bmm(w_in_t, dz, out=d_col_buf[:d * cx * np_].view(d, cx, np_))
            _scatter_input(grad_x, grad_cols, plan, step, index, d_col)
        grad_h0 = grad_c0 = 0
        for off, length in plan.init:
            part = dhc.as_strided((2, d, h, n, length), (half, hd, hch, hn, hp), off).sum((3, 4))
            grad_h0, grad_c0 = grad_h0 + part[0], grad_c0 + part[1]
        if plan.kind == "diagonal":   # back through the gather: every pixel is read once per direction
            scatter = plan.scatter.to(grad_cols.device)
            grad_x = grad_cols[0].index_select(0, scatter[0]) + grad_cols[1].index_select(0, scatter[1])
        return grad_x, grad_w_in, a if ctx.has_extra else None, grad_w_ss, grad_h0, grad_c0, None


def gather_columns(table: torch.Tensor, off_image: torch.Tensor, plan: ScanPlan) -> torch.Tensor:
    """(2, C, TOT) for the Diagonal BiLSTM's per-pixel bias map: for each position the row of
    the pixel table (N·H·W, C) it reads (the right direction a mirrored pixel), ``off_image``
    (C,) for the positions left of the image."""
    return _Gather.apply(table, off_image, plan)


class _Gather(torch.autograd.Function):
    """index_select whose backward is a gather too (every pixel is read once per direction)."""

    @staticmethod
    def forward(ctx, table, off_image, plan):
        ctx.plan = plan
        rows = table.index_select(0, plan.gather.to(table.device))
        rows[plan.off_image.to(table.device)] = off_image
        return rows.view(plan.d, plan.tot, -1).transpose(1, 2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        cols = grad.transpose(1, 2)                              # (2, TOT, C), a view
        scatter = ctx.plan.scatter.to(grad.device)
        return cols[0].index_select(0, scatter[0]) + cols[1].index_select(0, scatter[1]), None, None
