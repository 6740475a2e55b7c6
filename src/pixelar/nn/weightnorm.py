"""Weight normalization with data-dependent initialization (Salimans & Kingma 2016).

W = g · V / ||V|| (norm over every axis but the output channel). On the first
batch, ``data_dependent_init`` sets g and b so that each layer's
pre-activations have zero mean and unit variance (times ``init_scale``) over
the batch and all positions; layers are initialized in forward order, each on
the already-normalized outputs of the layers before it. The init runs once:
the flag ``ddi_done`` is a buffer saved with the weights.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .modes import eval_mode


class WeightNormConv2d(nn.Module):
    """Weight-normalized (transposed) convolution. Padding is the caller's business (shifts)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int] = (1, 1),
                 stride: int = 1, init_scale: float = 1.0, transposed: bool = False) -> None:
        super().__init__()
        shape = (in_channels, out_channels, *kernel_size) if transposed else (out_channels, in_channels, *kernel_size)
        self.v = nn.Parameter(torch.randn(shape) * 0.05)
        self.g = nn.Parameter(torch.ones(out_channels))
        self.b = nn.Parameter(torch.zeros(out_channels))
        self.stride = stride
        self.transposed = transposed
        self.init_scale = init_scale
        self.init_pending = False

    def weight(self) -> torch.Tensor:
        out_dim = 1 if self.transposed else 0
        dims = [d for d in range(self.v.dim()) if d != out_dim]
        scale = self.g / self.v.pow(2).sum(dims).sqrt().clamp_min(1e-12)  # (out,); V = 0 gives W = 0
        shape = [1] * self.v.dim()
        shape[out_dim] = -1
        return self.v * scale.view(shape)

    def _conv(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        if self.transposed:
            # output_padding=1 makes (H-1)·s + k + 1 rows; the shifted deconvolutions crop from there
            return F.conv_transpose2d(x, w, b, stride=self.stride, output_padding=self.stride - 1)
        return F.conv2d(x, w, b, stride=self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.init_pending:
            return self._init_forward(x)
        return self._conv(x, self.weight(), self.b)

    @torch.no_grad()
    def _init_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.g.fill_(1.0)
        y = self._conv(x, self.weight(), None)                           # V/||V|| applied, no bias
        mean = y.mean(dim=(0, 2, 3))
        var = y.var(dim=(0, 2, 3), unbiased=False)
        # A feature that is constant on the init batch (e.g. a low-resolution position that only
        # sees padding) would get a gain of 1/sqrt(var + 1e-10) ~ 1e5 that amplifies rounding
        # noise layer after layer; such features (std < 0.01) keep unit gain and are only centred.
        scale = torch.where(var > 1e-4, self.init_scale / torch.sqrt(var.clamp(min=1e-4)),
                            torch.full_like(var, self.init_scale))
        self.g.copy_(scale)
        self.b.copy_(-mean * scale)
        self.init_pending = False
        return (y - mean[None, :, None, None]) * scale[None, :, None, None]


class DataDependentInit:
    """Mixin for models built from WeightNormConv2d layers."""

    ddi_done: torch.Tensor

    def _register_ddi(self) -> None:
        self.register_buffer("ddi_done", torch.zeros((), dtype=torch.bool))  # type: ignore[attr-defined]

    @property
    def needs_data_dependent_init(self) -> bool:
        return not bool(self.ddi_done)

    @torch.no_grad()
    def data_dependent_init(self, x: torch.Tensor, cond: Any = None) -> None:
        """Initialize every weight-normalized layer on the batch ``x`` (N, C, H, W), once."""
        layers = [m for m in self.modules() if isinstance(m, WeightNormConv2d)]  # type: ignore[attr-defined]
        for m in layers:
            m.init_pending = True
        try:
            with eval_mode(self):  # type: ignore[arg-type]  # no dropout noise in the statistics
                self(x, cond)  # type: ignore[operator]
        finally:
            unused = [m for m in layers if m.init_pending]
            for m in layers:
                m.init_pending = False
        if unused:
            raise RuntimeError(f"{len(unused)} weight-normalized layers were not reached by the init batch")
        self.ddi_done.fill_(True)
