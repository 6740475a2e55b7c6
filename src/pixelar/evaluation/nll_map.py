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

    The colour scale is shared by all maps (0 bits = black, the largest value = white) and
    written on the figure with each image's bits/dim.
    """
    batch = batch_to(collate([dataset[i] for i in range(min(num_images, len(dataset)))]),
                     next(model.parameters()).device)
    x = batch["image"]
    bits = bits_per_pixel(model, x, model.condition(batch)).cpu().numpy()   # (N, H, W)
    vmax = float(bits.max())
    c, h, w = model.image_shape
    pics = levels_to_uint8(x.cpu(), model.config.num_levels).permute(0, 2, 3, 1).numpy()
    if c == 1:
        pics = np.repeat(pics, 3, axis=3)
    pad, label = 4, 14
    tile_w, tile_h = w * scale, h * scale
    canvas = Image.new("RGB", (2 * tile_w + 3 * pad, len(x) * (tile_h + label + pad) + pad + label), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, 2), f"bits per pixel, 0 (black) .. {vmax:.1f} (white)", fill="black")
    for k in range(len(x)):
        top = label + pad + k * (tile_h + label + pad)
        bpd = bits[k].sum() / (c * h * w)
        draw.text((pad, top), f"image {k}: {bpd:.3f} bits/dim", fill="black")
        for col, arr in enumerate((pics[k], heat(bits[k], vmax))):
            tile = Image.fromarray(arr).resize((tile_w, tile_h), Image.NEAREST)
            canvas.paste(tile, (pad + col * (tile_w + pad), top + label))
    save_png(canvas, path, force=force)
