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

from ..imageio import levels_to_uint8, save_png
from ..models.base import AutoregressiveModel
from ..nn.modes import eval_mode
from .plots import DPI, figure_class, save_figure


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    magnitude: torch.Tensor        # (H, W) float64: sum over channels of |d log p(x_i | x_<i) / dx|
    context: torch.Tensor          # (H, W) bool: pixels strictly before the target in the ordering
    pixel: tuple[int, int]
    threshold: float
    image: torch.Tensor | None = None  # (C, H, W) uint8 0..255 for display: the input x the map is of

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
    shown = levels_to_uint8(x[0].cpu(), model.config.num_levels)
    return ReceptiveField(magnitude, model.causal_context(row, col), (row, col), threshold, shown)


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


def _outline(ctx: np.ndarray) -> list[list[tuple[float, float]]]:
    """Segments (in imshow data coordinates) of every cell edge between context and non-context."""
    h, w = ctx.shape
    segs = []
    for i, j in zip(*np.nonzero(ctx)):
        x0, x1, y0, y1 = j - 0.5, j + 0.5, i - 0.5, i + 0.5
        if i == 0 or not ctx[i - 1, j]:
            segs.append([(x0, y0), (x1, y0)])
        if i == h - 1 or not ctx[i + 1, j]:
            segs.append([(x0, y1), (x1, y1)])
        if j == 0 or not ctx[i, j - 1]:
            segs.append([(x0, y0), (x0, y1)])
        if j == w - 1 or not ctx[i, j + 1]:
            segs.append([(x1, y0), (x1, y1)])
    return segs


def write_receptive_field(rf: ReceptiveField, path: str | os.PathLike, force: bool = False,
                          scale: int = 12, title: str | None = None, decades: float = 6.0) -> Path:
    """Write ``rf`` as a PNG (refuses to overwrite without ``force``): the input image (target pixel
    marked) beside the map of log10 |d log p / dx| over its top ``decades`` decades, with a colour bar
    (nats of log p per unit of the input scaled to [-1, 1]; the threshold marked on it), the causal
    context outlined in cyan, context pixels at or below the threshold in dark blue, zero gradient
    in grey. ``scale``: screen pixels per image pixel (at least 220 per panel). Without matplotlib:
    the plain ``render`` map."""
    Figure = figure_class()
    if Figure is None:
        return save_png(render(rf, scale=scale, decades=decades), path, force=force)
    from matplotlib.collections import LineCollection
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.ticker import MaxNLocator
    m = rf.magnitude.numpy()
    h, w = m.shape
    top = float(np.log10(m.max())) if m.max() > 0 else 0.0
    logm = np.ma.masked_where(m <= 0, np.log10(np.maximum(m, 1e-300)))     # zero gradient: "bad" colour
    ctx = rf.context.numpy()
    panel = max(w * scale, 220) / DPI
    n_panels = 1 if rf.image is None else 2
    fig = Figure(figsize=(n_panels * panel + 2.2, panel + 1.5), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    row, col = rf.pixel
    target = {"fill": False, "edgecolor": "#e41a1c", "lw": 2.2}
    if rf.image is not None:
        pic = rf.image.permute(1, 2, 0).numpy()
        axes[0].imshow(pic[..., 0] if pic.shape[2] == 1 else pic, cmap="gray", vmin=0, vmax=255,
                       interpolation="nearest")
        axes[0].add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, **target))
        axes[0].set_title("input x", fontsize="small")
    ax = axes[-1]
    cmap = ListedColormap(_colormap(np.linspace(0, 1, 256)) / 255.0).with_extremes(bad="#bdbdbd")
    im = ax.imshow(logm, cmap=cmap, vmin=top - decades, vmax=top, interpolation="nearest")
    weak = np.zeros((h, w, 4))
    weak[ctx & (m <= rf.threshold)] = (20 / 255, 30 / 255, 90 / 255, 1.0)   # in the context, not reached
    ax.imshow(weak, interpolation="nearest")
    ax.add_collection(LineCollection(_outline(ctx), colors="#00dcff", linewidths=1.5))
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, **target))
    ax.set_title("gradient magnitude", fontsize="small")
    for a in axes:
        a.set_xlabel("column", fontsize="small")
        a.tick_params(labelsize="x-small", length=2)
        a.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        a.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    axes[0].set_ylabel("row", fontsize="small")
    cbar = fig.colorbar(im, ax=ax, pad=0.02, extend="min")
    cbar.set_label(r"$\log_{10}\,|\partial \log p(x_i \mid x_{<i}) / \partial x|$" +
                   "\n(nats per unit of input in [-1, 1])", fontsize="small")
    if top - decades < np.log10(max(rf.threshold, 1e-300)) < top:
        cbar.ax.axhline(np.log10(rf.threshold), color="#00dcff", lw=1.5, ls="--")
    handles = [Patch(facecolor="none", edgecolor="#00dcff", label="causal context"),
               Patch(facecolor="none", edgecolor="#e41a1c", label="target pixel"),
               Patch(facecolor=(20 / 255, 30 / 255, 90 / 255), label=f"context, ≤ threshold {rf.threshold:g}"),
               Patch(facecolor="#bdbdbd", label="zero gradient"),
               Line2D([], [], color="#00dcff", ls="--", label="threshold (colour bar)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize="x-small", frameon=False)
    coverage = (f"pixel ({row}, {col}): {rf.covered}/{rf.context_size} pixels of its causal context "
                f"({100 * rf.fraction:.1f}%) above {rf.threshold:g}")
    fig.suptitle(f"{title}\n{coverage}" if title else coverage, fontsize="medium")
    return save_figure(fig, path, force=force)
