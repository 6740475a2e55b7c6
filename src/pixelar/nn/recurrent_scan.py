"""The PixelRNN LSTM recurrences as one autograd node per layer, with a hand-written backward.

:class:`LSTMScan` runs ``D`` independent LSTMs (1 for the Row LSTM; 2 for the two
directions of the Diagonal BiLSTM) over steps; step t updates a set of positions at once
(a row, or a diagonal i + j = t) from the hidden states of the previous step's positions
through a k-tap state-to-state kernel. Per position (eq. 3 of the paper):

    z = W · v,  v = [x_col; h(tap 0); ...; h(tap k-1)]          W = [W_in | W_ss], (D, 4h, ·)
    [o, f, i, g] = [σ, σ, σ, tanh](z),  c = f c_prev + i g,  h = o tanh(c)

x_col is the layer input the position reads (the 1×k window for the Row LSTM, the pixel
for the Diagonal BiLSTM) with rows of ones that carry the biases. So each step is one
matmul for all gates, positions, images and both directions, on a block ``v`` that stays
in cache; the input-to-state convolution costs no pass over the whole map.

Layout. Per-position results (gates ``a``, tanh(c), c_prev) go to flat buffers, one
contiguous block (D, rows, N·p) per step. The states live in a zero-padded buffer ``hc``
(h half, c half) in which a step's positions are contiguous runs: rows of the image for the
Row LSTM (2, H + 1, N, 1, h, W + 2·pad), skewed columns for the Diagonal BiLSTM
(2, H + W, D, h, N, H + 1), column c + 1 holding the diagonal c and row i + 1 image row i
(row 0 and column 0 are the row above and the column left of the image). Every read and
write of a step is then one ``as_strided`` view on a small, hot part of ``hc``.

Numerics. tanh(z) = 2σ(2z) - 1 and tanh is ~10× dearer than sigmoid on CPU: the g rows of W
are doubled, so one sigmoid covers all four gates (``a`` holds [o, f, i, s], g = 2s - 1), and
the c half of ``hc`` holds 2c, so tanh(c) is one sigmoid too. Float64 agrees with the old
step-by-step layers to 1e-14; float32 to rounding (a few 1e-7 relative).

Backward is BPTT written out, per step, in reverse (σ' = a (1 - a)):

    dc += dh o (1 - tanh²c)         dz_o = dh tanh(c) σ'(z_o)     dz_f = dc c_prev σ'(z_f)
    dz_i = dc g σ'(z_i)             dz_g = dc i (1 - g²)          dc_prev += dc f
    dv = Wᵀ dz  ->  dh_prev[taps], dx_col          dW += dz vᵀ  (v rebuilt from x and hc)
"""
from __future__ import annotations

import dataclasses
import functools

import torch
from torch.autograd.function import once_differentiable


@dataclasses.dataclass(frozen=True)
class ScanPlan:
    """Geometry of one scan: shapes, strides and per-step offsets (see the module docstring).

    ``steps``: (p, col, u_off, cp_off, w_off, ghost_src, ghost_dst, t) per step: p positions,
    first TOT column of the step (TOT = N × all positions), ``hc`` offsets of the step's
    tap-0 view, c_prev view and write view, an optional copy of one position's (h, c) to
    another after the step (-1: none), and the image row (Row LSTM). ``init``: (offset,
    length) of the positions that start as (h0, c0). A (D, h, N, p) view of one half of
    ``hc`` has strides ``hstr``; ``out`` is the (N, D, h, H, W) view of the h half.
    ``gather``/``scatter`` (Diagonal BiLSTM): the pixel-table row each TOT column of each
    direction reads (N·H·W: the row of the positions off the image), and its inverse.
    """

    kind: str                      # "row" or "diagonal"
    d: int
    taps: int
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


@functools.lru_cache(maxsize=32)
def row_plan(n: int, hidden: int, height: int, width: int, taps: int) -> ScanPlan:
    """Row LSTM: step t is image row t, positions (n, j); tap k of (t, j) is h(t-1, j + k - taps//2)."""
    pad = taps // 2
    cols = width + 2 * pad                                   # zero columns on both sides
    row = n * hidden * cols                                  # one buffer row: (N, 1, h, cols)
    hstr = (hidden * cols, cols, hidden * cols, 1)
    steps = tuple((width, t * n * width, t * row, t * row + pad, (t + 1) * row + pad, -1, -1, t)
                  for t in range(height))
    out = ((n, 1, hidden, height, width), (hidden * cols, hidden * cols, cols, row, 1)), row + pad
    return ScanPlan("row", 1, taps, n, hidden, height, width, (2, height + 1, n, 1, hidden, cols), hstr, 1,
                    n * height * width, width, steps, ((pad, width),), out)


@functools.lru_cache(maxsize=32)
def diagonal_plan(n: int, hidden: int, height: int, width: int) -> ScanPlan:
    """Diagonal BiLSTM: step c is the diagonal i + j = c; taps: h(i-1, j) (up), h(i, j-1) (left).

    In the skewed buffer both taps of rows lo..hi of column c + 1 are rows lo-1..hi and lo..hi
    of column c. Left of the image the paper's skewed map (Figure 3) has no input, yet its
    states run from the learned (h0, c0) and feed the image's column 0: the state at
    (i, -1) is the same for every row i and image, S(i - 1), with S(-1) = (h0, c0) and
    S(c) = cell(b + W_up S(c - 1) + W_left S(c - 1)). Rather than that whole triangle, step
    c also updates the one position of it that is read, (c + 1, -1), reading the pixel
    table's last row (no input, state bias only); its left tap, row c + 1 of column c, holds
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
        steps.append((p, col, c * block + lo, c * block + lo + 1, (c + 1) * block + lo + 1) + ghost + (-1,))
        i = torch.arange(lo, hi + 1)
        for d, j in enumerate((c - i, width - 1 - (c - i))):  # the right direction reads the mirror image
            idx = torch.arange(n)[:, None] * hw + (i * width + j)[None]          # (N, positions)
            if boundary:
                idx = torch.cat([idx, torch.full((n, 1), n * hw)], 1)
            gather[d].append(idx.reshape(-1))
        col += n * p
    gather = torch.stack([torch.cat(g) for g in gather])    # (2, TOT)
    scatter = torch.empty(2, n * hw + 1, dtype=torch.long)
    scatter.scatter_(1, gather, torch.arange(col).expand(2, -1))
    # column 0 (the column before the image), rows 0 and 1: S(-1) = (h0, c0) for step 0's left taps
    out = ((n, 2, hidden, height, width), (rows, hidden * n * rows, n * rows, block + 1, block)), block + 1
    return ScanPlan("diagonal", 2, 2, n, hidden, height, width, (2, height + width, 2, hidden, n, rows), hstr,
                    1, col, height + 1, tuple(steps), ((1, min(2, height)),), out,
                    gather.reshape(-1), scatter[:, :-1].contiguous())


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
    by the one position that reads it as c_prev (its right neighbour, or the row below), so
    only the positions nobody reads as c_prev, and the h half of the positions off the image
    that the taps read, need zeros.
    """
    half, (hd, hch, hn, hp) = _half(plan), plan.hstr
    d, h, n = plan.d, plan.hidden, plan.n
    if plan.kind == "row":
        dhc[0, 0].zero_()                                    # h of the row above the image
        dhc[1, -1].zero_()                             # c of the last row: no row below reads it
        return
    height, width, block = plan.height, plan.width, plan.hc_shape[2] * plan.hc_shape[3] * plan.n * plan.hc_shape[5]
    # lines of one position per image row, each a step further right: c of (i, W - 1) (nothing on
    # its right), h of (i, -1) and h of (i + 1, -2) (the ghosts), both from column 0 on
    dhc.as_strided((d, h, n, height), (hd, hch, hn, block + 1), half + width * block + 1).zero_()
    dhc.as_strided((d, h, n, height), (hd, hch, hn, block + 1), 1).zero_()
    dhc.as_strided((d, h, n, height - 1), (hd, hch, hn, block + 1), 2).zero_()


class LSTMScan(torch.autograd.Function):
    """The recurrence of a whole layer (see the module docstring).

    x (D, C, TOT): each position's input x_col; w_in (D, 4h, C) (its ones rows carry the
    biases); extra: None or (D, 4h, TOT), added to the input-to-state map; w_ss (D, 4h, k·h);
    h0, c0 (D, h). Returns h (N, D, h, H, W), a strided view of
    the state buffer.
    """

    @staticmethod
    def forward(ctx, x, w_in, extra, w_ss, h0, c0, plan: ScanPlan):   # noqa: D102
        d, k, n, h, tot = plan.d, plan.taps, plan.n, plan.hidden, plan.tot
        g, kh = 4 * h, plan.taps * plan.hidden
        hd, hch, hn, hp = hv = plan.hstr
        half = _half(plan)
        scale = torch.ones(d, g, 1, dtype=x.dtype, device=x.device)
        scale[:, 3 * h:] = 2.0                                   # tanh(z) = 2σ(2z) - 1
        a = torch.bmm(w_in * scale, x)                           # (D, 4h, TOT): z, then [o, f, i, s]
        if extra is not None:
            a.addcmul_(extra, scale)
        w_s = w_ss * scale
        hc = x.new_empty(plan.hc_shape)                          # (h, 2c) per buffer position
        _zero_padding(hc, plan)
        init = torch.stack([h0, 2.0 * c0])[:, :, :, None, None]  # (2, D, h, 1, 1)
        for off, length in plan.init:
            hc.as_strided((2, d, h, n, length), (half, hd, hch, hn, hp), off).copy_(init)
        u = x.new_empty(d, kh, tot)                              # the taps each position read
        tanh_c = x.new_empty(d, h, tot)
        taps = (d, k, h, n), (hd, plan.tap_stride, hch, hn)
        for p, col, u_off, cp_off, w_off, g_src, g_dst, _ in plan.steps:
            c4 = (d, h, n, p)
            u.as_strided((d, k, h, n, p), (kh * tot, h * tot, tot, p, 1), col).copy_(
                hc.as_strided(taps[0] + (p,), taps[1] + (hp,), u_off))
            a3 = a.as_strided((d, g, n * p), (g * tot, tot, 1), col)
            a3.baddbmm_(w_s, u.as_strided((d, kh, n * p), (kh * tot, tot, 1), col))
            a3.sigmoid_()                                        # all four gates of the step
            o, f, i, s = a.as_strided((4, d, h, n, p), (h * tot, g * tot, tot, p, 1), col).unbind(0)
            c_new = hc.as_strided(c4, hv, half + w_off)
            torch.mul(f, hc.as_strided(c4, hv, half + cp_off), out=c_new)
            c_new.addcmul_(i, s, value=4.0).sub_(i, alpha=2.0)  # 2c = f 2c_prev + 2 i (2s - 1)
            t = tanh_c.as_strided(c4, (h * tot, tot, p, 1), col)
            torch.sigmoid(c_new, out=t)
            t.mul_(2.0).sub_(1.0)                                # tanh(c) = 2σ(2c) - 1
            torch.mul(o, t, out=hc.as_strided(c4, hv, w_off))
            if g_src >= 0:                                       # copy (h, 2c) of one position to another
                hc.as_strided((2, d, h, n), (half, hd, hch, hn), g_dst).copy_(
                    hc.as_strided((2, d, h, n), (half, hd, hch, hn), g_src))
        ctx.plan, ctx.has_extra = plan, extra is not None
        ctx.save_for_backward(x, w_in, w_ss, hc, a, u, tanh_c)
        return hc.as_strided(*plan.out[0], plan.out[1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):   # noqa: D102
        plan = ctx.plan
        x, w_in, w_ss, hc, a, u, tanh_c = ctx.saved_tensors
        d, k, n, h, tot = plan.d, plan.taps, plan.n, plan.hidden, plan.tot
        g, kh = 4 * h, plan.taps * plan.hidden
        hd, hch, hn, hp = hv = plan.hstr
        half = _half(plan)
        dhc = grad_out.new_empty(plan.hc_shape)                  # dL/dh, dL/d(true c) per buffer position
        _zero_grad_targets(dhc, plan)
        dhc.as_strided(*plan.out[0], plan.out[1]).copy_(grad_out)
        dz = torch.empty_like(a)                                 # dL/dz, (D, 4h, TOT)
        tmp_buf = a.new_empty(d * h * n * plan.max_p)
        # per gate: 2c in the buffer -> c_prev = buffer / 2; 1 - g² = 4 s (1 - s)
        chunk_scale = torch.tensor([1.0, 0.5, 1.0, 4.0], dtype=a.dtype, device=a.device)[:, None, None, None, None]
        w_t = w_ss.transpose(1, 2)                               # (D, k·h, 4h)
        for p, col, u_off, cp_off, w_off, g_src, g_dst, _ in reversed(plan.steps):
            c4, blk4 = (d, h, n, p), (h * tot, g * tot, tot, p, 1)
            if g_src >= 0:                                       # a copy's gradient goes back to its source
                dhc.as_strided((2, d, h, n), (half, hd, hch, hn), g_src).add_(
                    dhc.as_strided((2, d, h, n), (half, hd, hch, hn), g_dst))
            o, f, i, s = a.as_strided((4,) + c4, blk4, col).unbind(0)
            t = tanh_c.as_strided(c4, (h * tot, tot, p, 1), col)
            dh, dc = dhc.as_strided(c4, hv, w_off), dhc.as_strided(c4, hv, half + w_off)
            tmp = tmp_buf[:d * h * n * p].view(c4)
            torch.mul(t, t, out=tmp)
            dc.addcmul_(dh, torch.addcmul(o, o, tmp, value=-1.0, out=tmp))    # dc += dh o (1 - tanh²c)
            a5 = a.as_strided((4,) + c4, blk4, col)
            dz5 = dz.as_strided((4,) + c4, blk4, col)
            torch.addcmul(a5, a5, a5, value=-1.0, out=dz5).mul_(chunk_scale)   # σ'(z) = a (1 - a)
            dz_o, dz_f, dz_i, dz_g = dz5.unbind(0)
            dz_o.mul_(t).mul_(dh)
            dz_f.mul_(hc.as_strided(c4, hv, half + cp_off))
            dz_i.mul_(torch.mul(s, 2.0, out=tmp).sub_(1.0))      # g = 2s - 1
            dz_g.mul_(i)
            dz5[1:].mul_(dc)
            torch.mul(dc, f, out=dhc.as_strided(c4, hv, half + cp_off))   # its only reader: this position
            du = torch.bmm(w_t, dz.as_strided((d, g, n * p), (g * tot, tot, 1), col)).view(d, k, h, n, p)
            for tap in range(k):
                dhc.as_strided(c4, hv, u_off + tap * plan.tap_stride).add_(du[:, tap])
        grad_h0 = grad_c0 = 0
        for off, length in plan.init:
            part = dhc.as_strided((2, d, h, n, length), (half, hd, hch, hn, hp), off).sum((3, 4))
            grad_h0, grad_c0 = grad_h0 + part[0], grad_c0 + part[1]
        grad_x = torch.bmm(w_in.transpose(1, 2), dz) if ctx.needs_input_grad[0] else None
        return (grad_x, torch.bmm(dz, x.transpose(1, 2)), dz if ctx.has_extra else None,
                torch.bmm(dz, u.transpose(1, 2)), grad_h0, grad_c0, None)


def gather_columns(table: torch.Tensor, plan: ScanPlan) -> torch.Tensor:
    """The Diagonal BiLSTM's x (2, C, TOT) from a pixel table (N·H·W + 1, C), through the plan's gather."""
    return _Gather.apply(table, plan)


class _Gather(torch.autograd.Function):
    """index_select whose backward is a gather too (every pixel is read once per direction)."""

    @staticmethod
    def forward(ctx, table, plan):   # noqa: D102
        ctx.plan, ctx.rows = plan, table.shape[0]
        return table.index_select(0, plan.gather.to(table.device)).view(plan.d, plan.tot, -1).transpose(1, 2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):   # noqa: D102
        cols = grad.transpose(1, 2)                              # (2, TOT, C), a view
        scatter = ctx.plan.scatter.to(grad.device)
        out = grad.new_zeros(ctx.rows, grad.shape[1])
        torch.add(cols[0].index_select(0, scatter[0]), cols[1].index_select(0, scatter[1]), out=out[:-1])
        return out, None
