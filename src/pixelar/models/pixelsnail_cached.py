"""Cached sampling for PixelSNAIL: one pixel's parameters from per-layer caches.

Every feature at a position depends only on pixels strictly before it in the
ordering (see ``models/pixelsnail.py``), so once computed at its own step it is
final. The state keeps, per layer, the padded concat_elu inputs of each
down-right-shifted convolution (a 2×2 window of them gives the next pixel's
convolution), and per attention block the keys and values of every earlier
position. Keys and values contain the pixel itself, so those of position q are
added at the step after q, when q has been drawn. All layers are the model's own
modules applied to (N, ·, 1, 1) or (N, ·, 2, 2) slices: the parameters equal the
full network's up to floating-point summation order.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..nn.gated_resnet import GatedConv
from ..nn.shifted import concat_elu
from .base import IncrementalState

if TYPE_CHECKING:
    from ..nn.gated_resnet import GatedResNet
    from .pixelsnail import PixelSNAIL


class PixelSNAILState(IncrementalState):
    def __init__(self, model: PixelSNAIL, n: int, cond: torch.Tensor | None) -> None:
        cfg = model.config
        self.model = model
        self.order = model.positions()
        self.rank = {p: k for k, p in enumerate(self.order)}
        self.step = 0
        device = next(model.parameters()).device
        s, f = cfg.image_size, cfg.num_filters
        self.onehot = F.one_hot(cond, cfg.num_classes).float() if cfg.num_classes else None

        def padded(channels: int, kh: int, kw: int) -> torch.Tensor:
            return torch.zeros(n, channels, s + kh - 1, s + kw - 1, device=device)

        # per resnet: (conv_in input, conv_out input), zero-padded top/left as the shifted conv pads;
        # per gated conv (residual="gated_conv"): its input
        self.resnet_caches = [[(padded(f, layer.conv.kh, layer.conv.kw),) if isinstance(layer, GatedConv) else
                               (padded(2 * f, layer.conv_in.kh, layer.conv_in.kw),
                                padded(2 * f, layer.conv_out.kh, layer.conv_out.kw)) for layer in block]
                              for block in model.resnets]
        self.stream = [torch.zeros(n, f, s, s, device=device) for _ in model.attention]   # input of each block
        self.keys = [torch.zeros(n, cfg.key_channels, s * s, device=device) for _ in model.attention]
        self.values = [torch.zeros(n, cfg.value_channels, s * s, device=device) for _ in model.attention]

    def _resnet(self, layer: GatedResNet | GatedConv, caches: tuple[torch.Tensor, ...], h: torch.Tensor,
                i: int, j: int) -> torch.Tensor:
        """GatedResNet (or GatedConv) with down-right-shifted convolutions at (i, j); h (N, F, 1, 1)."""
        if isinstance(layer, GatedConv):
            e, conv = caches[0], layer.conv
            e[:, :, i + conv.kh - 1, j + conv.kw - 1] = h[:, :, 0, 0]
            return h + layer.proj(layer.gate(conv.conv(e[:, :, i:i + conv.kh, j:j + conv.kw]), self.onehot))
        e_in, e_mid = caches
        e_in[:, :, i + layer.conv_in.kh - 1, j + layer.conv_in.kw - 1] = concat_elu(h)[:, :, 0, 0]
        c = layer.conv_in.conv(e_in[:, :, i:i + layer.conv_in.kh, j:j + layer.conv_in.kw])      # (N, F, 1, 1)
        e_mid[:, :, i + layer.conv_out.kh - 1, j + layer.conv_out.kw - 1] = concat_elu(c)[:, :, 0, 0]
        c = layer.conv_out.conv(e_mid[:, :, i:i + layer.conv_out.kh, j:j + layer.conv_out.kw])  # (N, 2F, 1, 1)
        if layer.class_bias is not None:
            c = c + layer.class_bias(self.onehot)[:, :, None, None]
        a, b = c.chunk(2, dim=1)
        return h + a * torch.sigmoid(b)

    def _add_keys(self, x: torch.Tensor, i: int, j: int) -> None:
        """Keys and values of position (i, j), whose pixel is now final, for every attention block."""
        m = self.model
        xs = m.scale_input(x[:, :, i:i + 1, j:j + 1])
        bg = m.background[:, :, i:i + 1, j:j + 1].expand(x.shape[0], -1, -1, -1)
        k = self.rank[(i, j)]
        for block, stream, keys, values in zip(m.attention, self.stream, self.keys, self.values):
            kv = block.kv_in(torch.cat([xs, stream[:, :, i:i + 1, j:j + 1], bg], dim=1), None, self.onehot)
            keys[:, :, k] = block.key(kv)[:, :, 0, 0]
            values[:, :, k] = block.value(kv)[:, :, 0, 0]

    def params(self, x: torch.Tensor, i: int, j: int, ch: int | None) -> torch.Tensor:
        m = self.model
        if self.step > 0:
            self._add_keys(x, *self.order[self.step - 1])
        if self.order[self.step] != (i, j):
            raise RuntimeError(f"cached sampling must follow the model's order: expected {self.order[self.step]}, "
                               f"got {(i, j)}")
        t = self.step
        self.step += 1
        n = x.shape[0]
        # first layer: the 3x3 window around (i, j), taps not before (i, j) masked to exact zeros
        first = m.first
        k = first.kernel
        xs = m.scale_input(x)
        x_pad = F.pad(torch.cat([xs, xs.new_ones(n, 1, *xs.shape[2:])], dim=1), (k // 2,) * 4)
        patch = x_pad[:, :, i:i + k, j:j + k].reshape(n, -1, k * k) * first.tap_mask[None, None, :, i, j]
        h = first.mix(patch.reshape(n, -1, 1, 1))                                        # (N, F, 1, 1)
        bg = m.background[:, :, i:i + 1, j:j + 1].expand(n, -1, -1, -1)
        for b, (resnets, caches) in enumerate(zip(m.resnets, self.resnet_caches)):
            for layer, cache in zip(resnets, caches):
                h = self._resnet(layer, cache, h, i, j)
            if b == len(m.attention):          # final_attention=False: no attention after the last block
                break
            block, stream, keys, values = m.attention[b], self.stream[b], self.keys[b], self.values[b]
            stream[:, :, i, j] = h[:, :, 0, 0]
            q = block.query(block.q_in(torch.cat([h, bg], dim=1), None, self.onehot))[:, :, 0, 0]   # (N, Dk)
            if t == 0:
                mixed = h.new_zeros(n, values.shape[1])                                   # nothing to attend to
            else:
                scores = torch.einsum("nd,ndt->nt", q / math.sqrt(q.shape[1]), keys[:, :, :t])
                mixed = torch.einsum("nt,nvt->nv", torch.softmax(scores, dim=-1), values[:, :, :t])
            h = block.out(h, mixed[:, :, None, None], self.onehot)
        return m.out(F.elu(h))                                                            # (N, P, 1, 1)
