"""Convolutional LSTM (Shi et al. 2015), the frame encoder of the Video Pixel Network (Kalchbrenner et al.
2016) that Reed et al. 2017 §3.2 condition their video models on.

A ConvLSTM is an LSTM whose input-to-state and state-to-state maps are convolutions, so its state
(N, hidden, H, W) keeps the frame's spatial layout. One step::

    i, f, o, g = split(conv([x_t, h_{t-1}]))         # 3x3 "same" convolution, 4*hidden channels
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
    h_t = sigmoid(o) * tanh(c_t)

:class:`FrameEncoder` puts a 3x3 convolution in front (frame + per-step vectors broadcast as
constant maps -> hidden features) and runs one ConvLSTM cell over the frames. Everything is
causal in time by construction: h_t is a function of the inputs up to step t only.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LSTMState = tuple[torch.Tensor, torch.Tensor]   # (h, c), each (N, hidden, H, W)


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step: (x (N, in, H, W), (h, c) or None) -> (h, c), each (N, hidden, H, W)."""

    def __init__(self, in_channels: int, hidden: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel_size, padding=kernel_size // 2)
        with torch.no_grad():   # forget-gate bias 1 (Gers et al.): the state is kept early in training
            self.conv.bias[hidden:2 * hidden].fill_(1.0)

    def forward(self, x: torch.Tensor, state: LSTMState | None = None) -> LSTMState:
        if state is None:
            z = x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])
            state = (z, z)
        h, c = state
        i, f, o, g = self.conv(torch.cat([x, h], 1)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class FrameEncoder(nn.Module):
    """Frame + step vector -> 3x3 conv + ReLU -> ConvLSTM: ``step(frame, vec, state) -> state``.

    frame (N, C, H, W) float in [-1, 1]; vec (N, V) float (actions/state of the step, V may be 0),
    broadcast to constant maps; the state's ``h`` (N, hidden, H, W) is the encoding of every step so far.
    """

    def __init__(self, frame_channels: int, vec_dim: int, hidden: int) -> None:
        super().__init__()
        self.vec_dim = vec_dim
        self.inp = nn.Conv2d(frame_channels + vec_dim, hidden, 3, padding=1)
        self.cell = ConvLSTMCell(hidden, hidden)

    def step(self, frame: torch.Tensor, vec: torch.Tensor, state: LSTMState | None) -> LSTMState:
        parts = [frame]
        if self.vec_dim:
            parts.append(vec[:, :, None, None].expand(-1, -1, *frame.shape[2:]).to(frame.dtype))
        return self.cell(F.relu(self.inp(torch.cat(parts, 1))), state)
