"""Receptive-field maps: |∂ log p(x_i | x_<i) / ∂x| over the image (PixelSNAIL paper, Figures 6–9).

For one target pixel i we differentiate the log-probability of all its channels
(in nats, through the model's own ``log_prob_elementwise``) with respect to the
network input (the image scaled to [-1, 1]) and sum the absolute gradient over
channels: an (H, W) map. The *causal context* of i is every pixel strictly before
i in ``model.positions()``; the covered fraction is the share of it whose
magnitude exceeds a threshold (1e-3 by default). Works for every model that
follows the AutoregressiveModel interface: it only replaces the model's scaled
input by a tensor that requires a gradient.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..models.base import AutoregressiveModel
from ..nn.modes import eval_mode


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    magnitude: torch.Tensor        # (H, W) float64: sum over channels of |d log p(x_i | x_<i) / dx|
    context: torch.Tensor          # (H, W) bool: pixels strictly before the target in the ordering
    pixel: tuple[int, int]
    threshold: float

    @property
    def covered(self) -> int:
        """Pixels of the causal context with magnitude above the threshold."""
        return int(((self.magnitude > self.threshold) & self.context).sum())

    @property
    def context_size(self) -> int:
        return int(self.context.sum())

    @property
    def fraction(self) -> float:
        """Covered share of the causal context (1.0 for the first pixel, whose context is empty)."""
        return self.covered / self.context_size if self.context_size else 1.0

    @property
    def outside(self) -> int:
        """Pixels outside the causal context (target excluded) with a non-zero gradient: 0 if causal."""
        others = ~self.context
        others[self.pixel] = False
        return int(((self.magnitude > 0) & others).sum())


def receptive_field(model: AutoregressiveModel, row: int, col: int, x: torch.Tensor | None = None,
                    cond: torch.Tensor | None = None, seed: int = 0, threshold: float = 1e-3) -> ReceptiveField:
    """|∂ log p(x_(row,col) | earlier) / ∂x| for one image x (1, C, H, W) of levels (default: uniform noise
    from ``seed``). Runs in eval mode (no dropout); the model is left as it was.

    Models with auxiliary variables are mapped through their last autoregressive factor
    (p(x | ŷ), or the finest pyramid level) with its conditioning held fixed: the map shows what
    that factor's conditional reads of x, as the causality oracle checks it.
    """
    model = model.causal_factors(torch.Generator().manual_seed(seed))[-1][1]
    c, h, w = model.image_shape
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"pixel ({row}, {col}) is outside the {h}x{w} image")
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    if x is None:
        x = torch.randint(0, model.config.num_levels, (1, c, h, w), generator=g)
    x = x.to(device).long()
    if cond is None:
        cond = model.random_condition(1, generator=g)
    cond = cond.to(device) if torch.is_tensor(cond) else cond
    xf = model.scale_input(x).detach().requires_grad_(True)
    # The instance attribute shadows the method: the model's own forward/log_prob path runs on xf.
    model.scale_input = lambda _x: xf  # type: ignore[method-assign]
    try:
        with eval_mode(model), torch.enable_grad():
            lp = model.log_prob_elementwise(x, cond)                  # (1, C, H, W) nats
            (grad,) = torch.autograd.grad(lp[0, :, row, col].sum(), xf)
    finally:
        del model.scale_input
    magnitude = grad[0].abs().sum(0).double().cpu()                   # (H, W)
    return ReceptiveField(magnitude, model.causal_context(row, col), (row, col), threshold)


def _colormap(t: np.ndarray) -> np.ndarray:
    """t in [0, 1] -> RGB uint8 along black -> purple -> orange -> light yellow."""
    stops = np.array([[0, 0, 0], [80, 18, 123], [230, 100, 40], [252, 253, 191]], dtype=np.float64)
    pos = np.clip(t, 0, 1) * (len(stops) - 1)
    lo = np.minimum(pos.astype(int), len(stops) - 2)
    frac = (pos - lo)[..., None]
    return (stops[lo] * (1 - frac) + stops[lo + 1] * frac).round().astype(np.uint8)


def render(rf: ReceptiveField, scale: int = 12, decades: float = 6.0) -> Image.Image:
    """Heat map of log10 magnitude (the top ``decades`` decades), causal context outlined in cyan,
    the target pixel in yellow, pixels below the threshold hatched dark blue inside the context."""
    m = rf.magnitude.numpy()
    h, w = m.shape
    top = np.log10(m.max()) if m.max() > 0 else 0.0
    logm = np.where(m > 0, np.log10(np.maximum(m, 1e-300)), -np.inf)
    t = (logm - (top - decades)) / decades
    rgb = _colormap(np.where(np.isfinite(t), t, 0.0))
    ctx = rf.context.numpy()
    weak = ctx & (m <= rf.threshold)
    rgb[weak] = (20, 30, 90)                                          # in the context but not reached
    rgb[rf.pixel] = (255, 230, 0)
    img = Image.fromarray(rgb, "RGB").resize((w * scale, h * scale), Image.NEAREST)
    draw = ImageDraw.Draw(img)
    line = (0, 220, 255)
    width = max(1, scale // 6)
    for i in range(h):                      # outline: every cell edge between context and non-context
        for j in range(w):
            if not ctx[i, j]:
                continue
            x0, y0, x1, y1 = j * scale, i * scale, (j + 1) * scale - 1, (i + 1) * scale - 1
            if i == 0 or not ctx[i - 1, j]:
                draw.line([(x0, y0), (x1, y0)], fill=line, width=width)
            if i == h - 1 or not ctx[i + 1, j]:
                draw.line([(x0, y1), (x1, y1)], fill=line, width=width)
            if j == 0 or not ctx[i, j - 1]:
                draw.line([(x0, y0), (x0, y1)], fill=line, width=width)
            if j == w - 1 or not ctx[i, j + 1]:
                draw.line([(x1, y0), (x1, y1)], fill=line, width=width)
    return img


def write_receptive_field(rf: ReceptiveField, path: str | os.PathLike, force: bool = False,
                          scale: int = 12) -> Path:
    """Render ``rf`` and write it as a PNG (refuses to overwrite without ``force``)."""
    from ..imageio import save_png
    return save_png(render(rf, scale=scale), path, force=force)
