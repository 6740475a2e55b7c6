"""Cached sampling state of PixelCNN++ (models/pixelcnn_pp.py), after Ramachandran et al. 2017.

The network runs at three resolutions (level s = 0, 1, 2: H, H/2, H/4) and has two streams:

* ``u`` (down-shifted convolutions) sees only rows above. Its row r at level s depends
  on image rows < r·2^s, so it is computed **a whole row at a time**, at the first visit
  of image row i = r·2^s: one convolution per layer on a two-row slab of cached rows
  (the kernels are 2 rows tall), for the up pass, the stride-2 down-sampling (a level-s
  row needs level-(s-1) rows 2r-1..2r, complete at i = r·2^s) and the down pass, whose
  transposed-convolution up-sampling turns level-(s+1) row r//2 into level-s row r.
* ``ul`` (down-right-shifted) also sees the current row to the left, so it is computed
  **one position at a time**: position (r, c) of level s at the visit of image pixel
  (r·2^s, c·2^s), when its inputs of its own resolution are complete: a 2×2 window of
  each layer's cached input rows, the stride-2 down-sampling reads a 2×2 window of the
  level below, the up-sampling reads the one coarser position (r//2, c//2) whose kernel
  tap (r % 2, c % 2) lands on (r, c). Lower-resolution layers update only at those visits.

Every cache is two rows tall (previous, current) per layer, so memory stays small.
Weight-normalized weights (g·V/||V||) and the class-conditional biases are computed once,
in the constructor. Dropout is off (samplers run the model in eval mode).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..nn.gated_resnet import GatedResNet
from ..nn.shifted import concat_elu
from ..nn.weightnorm import WeightNormConv2d
from ..nn.windows import Canvas, linear, window_matrix
from .base import IncrementalState

if TYPE_CHECKING:
    from .pixelcnn_pp import PixelCNNPlusPlus


def _wn(m: WeightNormConv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The effective weight g·V/||V|| and the bias, computed exactly as the layer's forward does."""
    return m.weight().detach(), m.b.detach()


class _Rows:
    """The previous and current row of a (N, C, ·, W) map, zero-padded left/right: buf (N, C, 2, W + l + r)."""

    def __init__(self, like: torch.Tensor, channels: int, width: int, left: int, right: int) -> None:
        self.buf = like.new_zeros(like.shape[0], channels, 2, width + left + right)
        self.left, self.width = left, width
        # Views made once (slicing costs more than the tiny ops on a CPU): for the ul stream,
        # at[c] = the current row at column c, win[c] = the 2×2 window of rows r-1..r, columns c-1..c.
        self.at = [self.buf[:, :, 1, c + left] for c in range(width)]
        self.win = [self.buf[:, :, :, c + left - 1:c + left + 1] for c in range(width)] if left else []

    def shift(self) -> None:
        """Start a new row: the current row becomes the previous one."""
        self.buf[:, :, 0] = self.buf[:, :, 1]

    def push(self, row: torch.Tensor) -> None:
        """Start a new row holding ``row`` (N, C, W)."""
        self.shift()
        self.buf[:, :, 1, self.left:self.left + self.width] = row

    def current(self) -> torch.Tensor:
        return self.buf[:, :, 1, self.left:self.left + self.width]     # (N, C, W)


class _Res:
    """A GatedResNet's effective weights, for whole rows (conv weights) and one position (matrices)."""

    def __init__(self, layer: GatedResNet, onehot: torch.Tensor | None) -> None:
        self.w_in, self.b_in = _wn(layer.conv_in.conv)
        self.w_out, self.b_out = _wn(layer.conv_out.conv)
        self.m_in, self.m_out = window_matrix(self.w_in), window_matrix(self.w_out)
        self.skip = _wn(layer.skip) if layer.skip is not None else None
        self.m_skip = window_matrix(self.skip[0]) if self.skip is not None else None
        self.cb = layer.class_bias(onehot).detach() if layer.class_bias is not None else None   # (N, 2F)

    def row(self, inp: _Rows, c_rows: _Rows, out: _Rows, skip: torch.Tensor | None = None) -> None:
        """u stream: the new current row of ``out`` from the two cached rows of ``inp``; skip (N, F, W)."""
        c = F.conv2d(concat_elu(inp.buf), self.w_in, self.b_in)               # (N, F, 1, W)
        if skip is not None:
            c = c + F.conv2d(concat_elu(skip[:, :, None]), *self.skip)
        c_rows.push(c[:, :, 0])
        c = F.conv2d(concat_elu(c_rows.buf), self.w_out, self.b_out)          # (N, 2F, 1, W)
        if self.cb is not None:
            c = c + self.cb[:, :, None, None]
        a, b = c.chunk(2, dim=1)
        out.push((inp.current()[:, :, None] + a * torch.sigmoid(b))[:, :, 0])

    def pixel(self, inp: _Rows, c_rows: _Rows, out: _Rows, col: int, skip_term: torch.Tensor | None) -> None:
        """ul stream: ``out`` at column ``col`` of the current row from 2×2 windows (rows r-1..r, cols col-1..col)."""
        n = inp.buf.shape[0]
        c = linear(concat_elu(inp.win[col]).reshape(n, -1), self.m_in, self.b_in)   # (N, F)
        if skip_term is not None:
            c = c + skip_term
        c_rows.at[col].copy_(c)
        c = linear(concat_elu(c_rows.win[col]).reshape(n, -1), self.m_out, self.b_out)   # (N, 2F)
        if self.cb is not None:
            c = c + self.cb
        a, b = c.chunk(2, dim=1)
        torch.add(inp.at[col], a * torch.sigmoid(b), out=out.at[col])              # x + a·σ(b)

    def skip_term(self, vec: torch.Tensor) -> torch.Tensor:
        """nin(concat_elu(vec)) for one position, vec (N, C) -> (N, F)."""
        return linear(concat_elu(vec), self.m_skip, self.skip[1])


class PixelCNNPlusPlusState(IncrementalState):
    """Row caches (u) and position caches (ul) of a :class:`PixelCNNPlusPlus` at three resolutions."""

    def __init__(self, model: PixelCNNPlusPlus, n: int, cond: torch.Tensor | None) -> None:
        cfg = model.config
        dev = next(model.parameters()).device
        c, s, R, nf = cfg.image_channels, cfg.image_size, cfg.num_resnet, cfg.num_filters
        self.n, self.R, self.shortcuts = n, R, cfg.shortcuts
        like = torch.zeros(n, 1, device=dev)
        onehot = F.one_hot(cond, cfg.num_classes).float() if cfg.num_classes else None
        # x_pad = [x, ones]: rows i-2..i-1 (u_init) need two rows of top padding, (2,3) kernels one column each side.
        self.canvas = Canvas(torch.zeros(n, c, s, s, device=dev), cfg.num_levels, top=2, left=1, right=1,
                             extra_ones=True)
        self.u_init, self.ul_up = _wn(model.u_init.conv), _wn(model.ul_init_up.conv)
        w, b = _wn(model.ul_init_left.conv)
        self.ul_left = (window_matrix(w), b)
        self.widths = [s, s // 2, s // 4]
        # Per level s: up-pass layers (block s) and down-pass layers (down block 2 - s).
        self.up_u = [[_Res(l, onehot) for l in model.up_u[lv]] for lv in range(3)]
        self.up_ul = [[_Res(l, onehot) for l in model.up_ul[lv]] for lv in range(3)]
        self.dn_u = [[_Res(l, onehot) for l in model.dn_u[2 - lv]] for lv in range(3)]
        self.dn_ul = [[_Res(l, onehot) for l in model.dn_ul[2 - lv]] for lv in range(3)]
        self.down_u = [None] + [_wn(m.conv) for m in model.down_u]            # into level 1, 2
        self.down_ul = [None] + [(window_matrix(_wn(m.conv)[0]), m.conv.b.detach()) for m in model.down_ul]
        # Up-sampling into level s (from s + 1): up_sample[1 - s]. Transposed weights are (in, out, kh, kw).
        self.up_u_conv = [_wn(model.up_sample_u[1 - lv].conv) for lv in range(2)]
        self.up_ul_taps = []
        for lv in range(2):
            w, b = _wn(model.up_sample_ul[1 - lv].conv)
            self.up_ul_taps.append(([[w[:, :, a, t].contiguous() for t in range(2)] for a in range(2)], b))
        w, b = _wn(model.out)
        self.out = (window_matrix(w), b)

        def rows(lv: int, u: bool, count: int) -> list[_Rows]:
            return [_Rows(like, nf, self.widths[lv], 1, 1 if u else 0) for _ in range(count)]

        # U[s][k]: u after k up layers (k = 0: the level's input); CU: the layers' conv_out inputs.
        # D[s][m]: u after m down layers (m = 0: the level's input; at level 2 that is U[2][R]).
        self.U = [rows(lv, True, R + 1) for lv in range(3)]
        self.CU = [rows(lv, True, R) for lv in range(3)]
        self.UL = [rows(lv, False, R + 1) for lv in range(3)]
        self.CUL = [rows(lv, False, R) for lv in range(3)]
        self.D, self.CD, self.DL, self.CDL = [], [], [], []
        for lv in range(3):
            m = len(self.dn_u[lv])
            self.D.append(([self.U[2][R]] if lv == 2 else rows(lv, True, 1)) + rows(lv, True, m))
            self.DL.append(([self.UL[2][R]] if lv == 2 else rows(lv, False, 1)) + rows(lv, False, m))
            self.CD.append(rows(lv, True, m))
            self.CDL.append(rows(lv, False, m))
        # Every ul cache of a level, each once (DL[2][0] is UL[2][R]): shifted when a level row starts.
        self.ul_caches = [self.UL[lv] + self.CUL[lv] + self.DL[lv][1:] + self.CDL[lv] + ([] if lv == 2 else [self.DL[lv][0]])
                          for lv in range(3)]
        self.skip_ul: list[list[torch.Tensor]] = [[], [], []]    # up-pass ul skip terms of the current row
        self.ul_up_row = None
        self.row = -1

    # ---- u stream: whole rows -----------------------------------------------------------
    def _start_row(self, i: int) -> None:
        """Image rows < i are complete: compute the u rows they determine, at every level."""
        self.row = i
        n, R, w0 = self.n, self.R, self.widths[0]
        buf = self.canvas.buf
        if i == 0:   # shift_down fills row 0 with zeros
            u0 = buf.new_zeros(n, self.U[0][0].buf.shape[1], w0)
            self.ul_up_row = u0
        else:
            u0 = F.conv2d(buf[:, :, i:i + 2], *self.u_init)[:, :, 0]              # x_pad rows i-2..i-1
            self.ul_up_row = F.conv2d(buf[:, :, i + 1:i + 2], *self.ul_up)[:, :, 0]  # x_pad row i-1
        levels = [lv for lv in range(3) if i % (1 << lv) == 0]
        for lv in levels:                                                  # up pass, fine to coarse
            U = self.U[lv]
            if lv == 0:
                U[0].push(u0)
            else:   # stride-2 down-sampling: level-(lv-1) rows 2r-1..2r, both cached now
                U[0].push(F.conv2d(self.U[lv - 1][R].buf, *self.down_u[lv], stride=2)[:, :, 0])
            for k, layer in enumerate(self.up_u[lv]):
                layer.row(U[k], self.CU[lv][k], U[k + 1])
            self.skip_ul[lv] = [F.conv2d(concat_elu(U[k + 1].current()[:, :, None]), *l.skip)[:, :, 0]
                                for k, l in enumerate(self.up_ul[lv])]
            for cache in self.ul_caches[lv]:
                cache.shift()
        for lv in reversed(levels):                                        # down pass, coarse to fine
            D, layers = self.D[lv], self.dn_u[lv]
            if lv < 2:   # transposed conv: level-(lv+1) row r//2 gives level-lv rows 2(r//2), 2(r//2)+1
                src = self.D[lv + 1][-1].current()[:, :, None]
                up = F.conv_transpose2d(src, *self.up_u_conv[lv], stride=2, output_padding=1)
                D[0].push(up[:, :, (i >> lv) % 2, 1:1 + self.widths[lv]])
            for m, layer in enumerate(layers):
                skip = self.U[lv][len(layers) - 1 - m].current() if self.shortcuts else None
                layer.row(D[m], self.CD[lv][m], D[m + 1], skip)

    # ---- ul stream: one position per level ------------------------------------------------
    def params(self, x: torch.Tensor, i: int, j: int, ch: int | None) -> torch.Tensor:
        self.canvas.write_previous(x, i, j)     # pixel (i, j) itself is never read
        if i != self.row:
            self._start_row(i)
        R, buf = self.R, self.canvas.buf
        ul0 = self.ul_up_row[:, :, j]
        if j > 0:   # shift_right(ul_init_left): x_pad rows i-1..i, column j-1
            ul0 = ul0 + linear(buf[:, :, i + 1:i + 3, j].reshape(self.n, -1), *self.ul_left)
        self.UL[0][0].at[j].copy_(ul0)
        levels = [lv for lv in range(3) if i % (1 << lv) == 0 and j % (1 << lv) == 0]
        for lv in levels:                                                  # up pass
            col, UL = j >> lv, self.UL[lv]
            if lv > 0:   # stride-2 down-sampling: 2×2 window of level lv-1 at rows 2r-1..2r, cols 2c-1..2c
                win = self.UL[lv - 1][R].win[2 * col].reshape(self.n, -1)
                UL[0].at[col].copy_(linear(win, *self.down_ul[lv]))
            for k, layer in enumerate(self.up_ul[lv]):
                layer.pixel(UL[k], self.CUL[lv][k], UL[k + 1], col, self.skip_ul[lv][k][:, :, col])
        for lv in reversed(levels):                                        # down pass
            col, DL, layers = j >> lv, self.DL[lv], self.dn_ul[lv]
            if lv < 2:   # the coarser position (r//2, c//2) through kernel tap (r % 2, c % 2)
                taps, bias = self.up_ul_taps[lv]
                src = self.DL[lv + 1][-1].at[col >> 1]
                DL[0].at[col].copy_(linear(src, taps[(i >> lv) % 2][col % 2], bias))
            for m, layer in enumerate(layers):
                u = self.D[lv][m + 1].at[col]
                if self.shortcuts:
                    u = torch.cat([u, self.UL[lv][len(layers) - 1 - m].at[col]], 1)
                layer.pixel(DL[m], self.CDL[lv][m], DL[m + 1], col, layer.skip_term(u))
        return linear(F.elu(self.DL[0][-1].at[j]), *self.out)[:, :, None, None]   # (N, P, 1, 1)
