"""Cached sampling state of the masked PixelCNN (models/pixelcnn.py).

Every layer's output at pixel (i, j) depends only on the previous layer's outputs in
the causal window around (i, j) (rows above within reach, and the current row up to
(i, j)), all of which were computed when their own positions were visited. So a
visit computes each layer at the one position (i, j): the first 7×7 mask-A layer on
the canvas window, each residual block's 1×1 layers on the position's vector and its
3×3 mask-B layer on the cached window of its own (post-ReLU) input, the output layers
on the position's vector. The caches hold each k×k layer's input over the whole
image (zero where not computed yet; the masked taps never read those).

For RGB softmax models the visit is repeated for each channel with the canvas
updated: features of group g at (i, j) then see the freshly drawn channels < g, and
the last channel's visit leaves every cache final (no feature at (i, j) reads the
last channel of its own pixel).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..nn.windows import Canvas, OutputLayer, linear, masked_matrix
from .base import IncrementalState

if TYPE_CHECKING:
    from .pixelcnn import PixelCNN


class PixelCNNState(IncrementalState):
    """Per-layer caches of a :class:`PixelCNN` for n images (see the module docstring)."""

    def __init__(self, model: PixelCNN, n: int, cond: torch.Tensor | None) -> None:
        cfg = model.config
        dev = next(model.parameters()).device
        c, s = cfg.image_channels, cfg.image_size
        self.n = n
        self.p_in = cfg.first_kernel // 2
        self.p = cfg.kernel // 2
        self.canvas = Canvas(torch.zeros(n, c, s, s, device=dev), cfg.num_levels,
                             top=self.p_in, left=self.p_in, right=self.p_in)
        # Weights flattened once: masked, and only the kernel rows down to the centre row.
        self.inp = masked_matrix(model.input_conv)
        self.class_bias = (model.class_embedding(cond).detach() if model.class_embedding is not None else None)
        self.blocks = [(masked_matrix(b.reduce), masked_matrix(b.conv), masked_matrix(b.expand))
                       for b in model.blocks]
        self.skips = [masked_matrix(m) for m in model.skips] if model.skips is not None else None
        self.out1 = masked_matrix(model.out1)
        self.out2 = OutputLayer(model.out2, model.distribution)
        # Input of every block's k×k conv (after ReLU), zero-padded: (N, h, H + p, W + 2p).
        self.caches = [torch.zeros(n, cfg.hidden, s + self.p, s + 2 * self.p, device=dev) for _ in model.blocks]

    def params(self, x: torch.Tensor, i: int, j: int, ch: int | None) -> torch.Tensor:
        self.canvas.write_previous(x, i, j)
        self.canvas.write_pixel(x, i, j)               # channels < ch are final; masks ignore the rest
        n, k_in, k = self.n, 2 * self.p_in + 1, 2 * self.p + 1
        # rows i-p..i, cols j-p..j+p of the padded canvas (the taps below the centre row are dropped)
        win = self.canvas.buf[:, :, i:i + self.p_in + 1, j:j + k_in].reshape(n, -1)
        y = linear(win, *self.inp)                     # (N, 2h)
        if self.class_bias is not None:
            y = y + self.class_bias
        skip_sum = None
        for b, (cache, (red, conv, exp)) in enumerate(zip(self.caches, self.blocks)):
            t = linear(F.relu(y), *red)                # (N, h)
            cache[:, :, i + self.p, j + self.p] = F.relu(t)
            t = linear(cache[:, :, i:i + self.p + 1, j:j + k].reshape(n, -1), *conv)
            y = y + linear(F.relu(t), *exp)            # (N, 2h), the residual
            if self.skips is not None:                 # layer-to-output connection (1×1: this pixel only)
                s = linear(y, *self.skips[b])
                skip_sum = s if skip_sum is None else skip_sum + s
        y = linear(F.relu(skip_sum if skip_sum is not None else y), *self.out1)
        return self.out2(F.relu(y), ch)   # (N, P, 1, 1)

