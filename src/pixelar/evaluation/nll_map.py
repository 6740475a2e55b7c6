"""Per-pixel negative log-likelihood maps: where in an image does the model spend its bits?"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..data.base import batch_to, collate
from ..imageio import levels_to_uint8, save_png
from ..nn.modes import eval_mode
from .plots import DPI, figure_class, save_figure


@torch.no_grad()
def bits_per_pixel(model: Any, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
    """-log2 p of each pixel (summed over its channels), shape (N, H, W), in bits."""
    with eval_mode(model):
        return -model.log_prob_elementwise(x, cond).sum(1) / math.log(2.0)


def heat(values: np.ndarray, vmax: float) -> np.ndarray:
    """(H, W) non-negative -> (H, W, 3) uint8, black -> red -> yellow -> white as values grow."""
    t = np.clip(values / max(vmax, 1e-9), 0.0, 1.0)
    rgb = np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)], axis=-1)
    return (rgb * 255).round().astype(np.uint8)


def write_nll_map(model: Any, dataset: Any, path: str | os.PathLike, num_images: int = 4,
                  scale: int = 4, force: bool = False) -> None:
    """For the first ``num_images`` of ``dataset``: each image beside its bits-per-pixel heat map.

    The colour scale is shared by all maps, from 0 bits to the largest value, with a colour bar in
    bits per pixel (-log2 p of the pixel given the earlier ones, summed over its channels); each map's
    title gives its image's bits/dim. ``scale``: screen pixels per image pixel (at least 180 per
    panel in the matplotlib figure). Without matplotlib: a plain Pillow drawing of the same.
    """
    batch = batch_to(collate([dataset[i] for i in range(min(num_images, len(dataset)))]),
                     next(model.parameters()).device)
    x = batch["image"]
    bits = bits_per_pixel(model, x, model.condition(batch)).cpu().numpy()   # (N, H, W)
    c, h, w = model.image_shape
    pics = levels_to_uint8(x.cpu(), model.config.num_levels).permute(0, 2, 3, 1).numpy()
    if c == 1:
        pics = np.repeat(pics, 3, axis=3)
    bpd = bits.reshape(len(x), -1).sum(1) / (c * h * w)                     # (N,) bits/dim of each image
    Figure = figure_class()
    if Figure is None:
        save_png(_pil_nll_map(pics, bits, bpd, scale), path, force=force)
        return
    from matplotlib.ticker import MaxNLocator
    per_row = min(4, math.ceil(math.sqrt(len(x))))             # pairs (image, map) per row of the grid
    rows = math.ceil(len(x) / per_row)
    panel = max(w * scale, 180) / DPI                           # inches per panel
    fig = Figure(figsize=(max(2 * per_row * panel + 1.6, 6.0), rows * (panel + 0.4) + 0.6), layout="constrained")
    axes = fig.subplots(rows, 2 * per_row, squeeze=False)
    # The top of the scale is the 99th percentile (an arrow on the colour bar when a few pixels go
    # beyond it): one outlier pixel would otherwise leave every other map dark.
    vmax = max(float(np.percentile(bits, 99)), 1e-9)
    im = None
    for k, ax in enumerate(axes.ravel()):
        n, is_map = (k // (2 * per_row)) * per_row + (k % (2 * per_row)) // 2, k % 2   # image n, its map?
        if n >= len(x):
            ax.set_axis_off()
            continue
        if is_map:
            im = ax.imshow(bits[n], cmap="inferno", vmin=0.0, vmax=vmax, interpolation="nearest")
            ax.set_title(f"map {n}: {bpd[n]:.3f} bits/dim", fontsize="small")
        else:
            ax.imshow(pics[n], interpolation="nearest")
            ax.set_title(f"image {n}", fontsize="small")
        ax.tick_params(labelsize="x-small", length=2)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        if k % (2 * per_row) == 0:
            ax.set_ylabel("row", fontsize="small")
        if n + per_row >= len(x):
            ax.set_xlabel("column", fontsize="small")
    cbar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=min(1.0, 0.6 + 0.2 * rows), pad=0.02,
                        extend="max" if bits.max() > vmax else "neither")
    cbar.set_label("bits per pixel, " + r"$-\log_2 p$(pixel | earlier)" +
                   (f"\nsummed over its {c} channels" if c > 1 else ""), fontsize="small")
    total = float(bits.sum()) / (c * h * w * len(x))
    fig.suptitle(f"{model.name}: bits per pixel ({total:.3f} bits/dim over {len(x)} "
                 f"image{'s' * (len(x) > 1)})", fontsize="medium")
    save_figure(fig, path, force=force)


def _pil_nll_map(pics: np.ndarray, bits: np.ndarray, bpd: np.ndarray, scale: int) -> Image.Image:
    """The plain drawing: one row per image, the image then its heat map, the scale written on top."""
    n, h, w = bits.shape
    vmax = float(bits.max())
    pad, label = 4, 14
    tile_w, tile_h = w * scale, h * scale
    canvas = Image.new("RGB", (2 * tile_w + 3 * pad, n * (tile_h + label + pad) + pad + label), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, 2), f"bits per pixel, 0 (black) .. {vmax:.1f} (white)", fill="black")
    for k in range(n):
        top = label + pad + k * (tile_h + label + pad)
        draw.text((pad, top), f"image {k}: {bpd[k]:.3f} bits/dim", fill="black")
        for col, arr in enumerate((pics[k], heat(bits[k], vmax))):
            tile = Image.fromarray(arr).resize((tile_w, tile_h), Image.NEAREST)
            canvas.paste(tile, (pad + col * (tile_w + pad), top + label))
    return canvas
