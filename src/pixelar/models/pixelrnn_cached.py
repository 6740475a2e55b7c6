"""Cached sampling for the Row LSTM PixelRNN: the recurrent state advances one row at a time.

In a Row LSTM layer the state of (i, j) depends on the layer input at (i, j-k//2 .. j)
and on the previous row's states only (§3.1): nothing flows along the row inside the
recurrence. So at the first pixel of row i we run the state-to-state convolution once
on the finished row i-1, and then each pixel needs only its own column of work: the
7×7 mask-A window of the canvas, for every layer a 1×k masked input-to-state window of
that layer's input on row i, one LSTM update, the 1×1 convolutions, and the output head.
For RGB the pixel is recomputed for each channel; no feature at (i, j) reads the current
pixel's last channel, so the last call leaves the row caches final.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nn.masked import MaskedConv2d
from ..nn.recurrent import lstm_cell
from .base import IncrementalState


def conv_at(conv: MaskedConv2d, padded: torch.Tensor, i: int, j: int) -> torch.Tensor:
    """The masked convolution's output at (i, j) from a map zero-padded by its own padding: (N, out)."""
    kh, kw = conv.kernel_size
    window = padded[:, :, i:i + kh, j:j + kw]
    return F.conv2d(window, conv.weight * conv.mask, conv.bias)[:, :, 0, 0]


def pointwise(conv: torch.nn.Conv2d, v: torch.Tensor) -> torch.Tensor:
    """A 1×1 (masked) convolution on per-position features (N, C) -> (N, out)."""
    weight = conv.weight * conv.mask if isinstance(conv, MaskedConv2d) else conv.weight
    return F.linear(v, weight[:, :, 0, 0], conv.bias)


class RowLSTMState(IncrementalState):
    """Per-layer row caches of a :class:`~pixelar.models.pixelrnn.RowLSTMPixelRNN`."""

    def __init__(self, model, n: int, cond: torch.Tensor | None) -> None:
        self.model, self.net = model, model.net
        cfg = model.config
        self.hidden, self.width = cfg.hidden, cfg.image_size
        self.class_bias = model.class_embedding(cond) if model.class_embedding is not None else None
        device = next(model.parameters()).device
        pad = self.net.layers[0].input_to_state.padding[1]
        # layer inputs on the current row, zero-padded left/right as the 1×k convolution pads them
        self.inputs = [torch.zeros(n, 2 * cfg.hidden, 1, self.width + 2 * pad, device=device)
                       for _ in self.net.layers]
        self.pad = pad
        self.h_row = [torch.zeros(n, cfg.hidden, self.width, device=device) for _ in self.net.layers]
        self.c_row = [torch.zeros(n, cfg.hidden, self.width, device=device) for _ in self.net.layers]
        self.state_in: list[torch.Tensor] = []
        self.c_prev: list[torch.Tensor] = []
        self.row = -1

    def _start_row(self, i: int) -> None:
        """Row i-1 is final: its state-to-state contribution to row i, once per layer."""
        n = self.h_row[0].shape[0]
        self.state_in, self.c_prev = [], []
        for k, layer in enumerate(self.net.layers):
            h, c = layer.initial_state(n, self.width) if i == 0 else (self.h_row[k], self.c_row[k])
            self.state_in.append(layer.state_to_state(h))              # (N, 4h, W)
            self.c_prev.append(c)
            self.h_row[k], self.c_row[k] = torch.zeros_like(self.h_row[k]), torch.zeros_like(self.c_row[k])
        self.row = i

    def params(self, x: torch.Tensor, i: int, j: int, ch: int | None) -> torch.Tensor:
        if i != self.row:
            self._start_row(i)
        net = self.net
        r = net.input_conv.padding
        canvas = F.pad(self.model.scale_input(x), (r[1], r[1], r[0], r[0]))
        y = conv_at(net.input_conv, canvas, i, j)                         # (N, 2h)
        if self.class_bias is not None:
            y = y + self.class_bias
        skip_sum = None
        for k, (layer, up) in enumerate(zip(net.layers, net.up)):
            self.inputs[k][:, :, 0, j + self.pad] = y
            gates = conv_at(layer.input_to_state, self.inputs[k], 0, j) + self.state_in[k][:, :, j]
            h, c = lstm_cell(gates[:, :, None], self.c_prev[k][:, :, j:j + 1], self.hidden)
            self.h_row[k][:, :, j], self.c_row[k][:, :, j] = h[:, :, 0], c[:, :, 0]
            out = pointwise(up, h[:, :, 0])                                # (N, 2h)
            y = y + out if net.config.residual else out
            if net.skips is not None:
                s = pointwise(net.skips[k], y)
                skip_sum = s if skip_sum is None else skip_sum + s
        y = pointwise(net.out1, F.relu(skip_sum if skip_sum is not None else y))
        return pointwise(net.out2, F.relu(y))[:, :, None, None]           # (N, P, 1, 1)
