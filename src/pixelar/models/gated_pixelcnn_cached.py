"""Cached sampling state of the Gated PixelCNN (models/gated_pixelcnn.py, nn/gated.py).

The two stacks are cached differently:

* The vertical stack at row r reads rows r-p..r over the full width, so its row r
  can only be computed once image row r is complete; the horizontal stack reads it
  shifted down by one row. So at the first visit of row i the whole of vertical row
  i-1 is computed for every layer at once (one convolution per layer on a slab of
  p+1 cached rows), and with it every layer's vertical-to-horizontal term
  ``v_to_h(v_pre)`` for row i. Row 0 reads the zero shift: the term is v_to_h's bias.
* The horizontal stack at (i, j) reads the current row, columns j-p..j: one small
  matrix product per layer on a cached window of that layer's input row, plus the
  row-i vertical term at column j.

Class conditioning (V^T y per layer) is looked up once; a spatial map's per-layer V * s
(N, 2h, H, W) is computed once too, and its row r is added when vertical row r is computed, its
(i, j) entry at the horizontal step (i, j): where the full network adds it. RGB softmax models repeat
the visit per channel; the last channel's visit leaves the caches final.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..nn.gated import gated_activation
from ..nn.windows import Canvas, OutputLayer, linear, masked_matrix
from .base import IncrementalState

if TYPE_CHECKING:
    from .gated_pixelcnn import GatedPixelCNN


class GatedPixelCNNState(IncrementalState):
    """Vertical-stack rows and horizontal-stack windows of a :class:`GatedPixelCNN` for n images."""

    def __init__(self, model: GatedPixelCNN, n: int, cond: torch.Tensor | None,
                 spatial: torch.Tensor | None = None) -> None:
        cfg = model.config
        dev = next(model.parameters()).device
        c, s, hid = cfg.image_channels, cfg.image_size, cfg.hidden
        self.n, self.s = n, s
        self.p1, self.p = cfg.first_kernel // 2, cfg.kernel // 2
        self.canvas = Canvas(torch.zeros(n, c, s, s, device=dev), cfg.num_levels,
                             top=self.p1, left=self.p1, right=self.p1)
        layers = list(model.layers)
        self.v_convs = [(l.v_conv.weight.detach(), l.v_conv.bias.detach()) for l in layers]
        self.v_to_h = [(l.v_to_h.weight.detach(), l.v_to_h.bias.detach()) for l in layers]
        self.h_convs = [masked_matrix(l.h_conv) for l in layers]
        self.h_outs = [masked_matrix(l.h_out) for l in layers]
        self.cond_bias = ([e(cond).detach() for e in model.class_embeddings]
                          if model.class_embeddings is not None else [None] * len(layers))
        # per layer V * s (N, 2h, H, W), or None
        self.cond_maps = ([m(spatial).detach() for m in model.spatial_maps]
                          if model.spatial_maps is not None else [None] * len(layers))
        self.out1, self.out2 = masked_matrix(model.out1), OutputLayer(model.out2, model.distribution)
        # Vertical inputs of layers 1.. (outputs of layers 0..L-2), zero-padded: (N, h, H + p, W + 2p).
        self.v_maps = [torch.zeros(n, hid, s + self.p, s + 2 * self.p, device=dev) for _ in layers[1:]]
        # Horizontal inputs of layers 1.. on the current row, zero-padded on the left/right: (N, h, W + 2p).
        self.h_rows = [torch.zeros(n, hid, s + 2 * self.p, device=dev) for _ in layers[1:]]
        self.vh: list[torch.Tensor] = []    # per layer: v_to_h(shift_down(v_pre)) on the current row, (N, 2h, W)
        self.row = -1

    def _start_row(self, i: int) -> None:
        """Vertical stack row i-1 (complete now) -> every layer's vertical term for row i."""
        self.row = i
        if i == 0:   # shift_down fills row 0 with zeros: the term is v_to_h's bias
            self.vh = [b[None, :, None].expand(self.n, -1, self.s) for _, b in self.v_to_h]
            return
        r = i - 1
        slab = self.canvas.buf[:, :, r:r + self.p1 + 1]               # image rows r-p1..r, padded columns
        self.vh = []
        for l, ((wv, bv), (wvh, bvh), cb, cm) in enumerate(zip(self.v_convs, self.v_to_h, self.cond_bias,
                                                                 self.cond_maps)):
            v_pre = F.conv2d(slab, wv, bv)                             # (N, 2h, 1, W)
            self.vh.append(F.conv2d(v_pre, wvh, bvh)[:, :, 0])         # (N, 2h, W): before the condition,
            if l == len(self.v_maps):                                  # as in GatedLayer.forward
                break                                                  # the last layer's v is never read
            if cb is not None:
                v_pre = v_pre + cb[:, :, None, None]
            if cm is not None:
                v_pre = v_pre + cm[:, :, r:r + 1]                      # the map's row r
            vmap = self.v_maps[l]
            vmap[:, :, r + self.p, self.p:self.p + self.s] = gated_activation(v_pre)[:, :, 0]
            slab = vmap[:, :, r:r + self.p + 1]

    def params(self, x: torch.Tensor, i: int, j: int, ch: int | None) -> torch.Tensor:
        self.canvas.write_previous(x, i, j)
        self.canvas.write_pixel(x, i, j)         # channels < ch are final; the masks ignore the rest
        if i != self.row:
            self._start_row(i)
        n = self.n
        # layer 0 reads the canvas row i, columns j-p1..j+p1 (right half masked off)
        win = self.canvas.buf[:, :, i + self.p1, j:j + 2 * self.p1 + 1]
        h = None
        for l, (hc, ho, cb, cm) in enumerate(zip(self.h_convs, self.h_outs, self.cond_bias, self.cond_maps)):
            h_pre = linear(win.reshape(n, -1), *hc) + self.vh[l][:, :, j]   # (N, 2h)
            if cb is not None:
                h_pre = h_pre + cb
            if cm is not None:
                h_pre = h_pre + cm[:, :, i, j]
            h_new = linear(gated_activation(h_pre), *ho)                     # (N, h)
            if h is not None:
                h_new = h_new + h                                           # residual (not in layer 0)
            h = h_new
            if l < len(self.h_rows):
                row = self.h_rows[l]
                row[:, :, j + self.p] = h
                win = row[:, :, j:j + 2 * self.p + 1]
        y = linear(F.relu(h), *self.out1)
        return self.out2(F.relu(y), ch)              # (N, P, 1, 1)
