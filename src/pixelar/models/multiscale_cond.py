"""Conditioning helpers of the parallel multiscale PixelCNN (Reed et al. 2017): the encoded condition
of a batch, spatial maps resized to every scale, and random crops that cut the image and its
spatial map alike (the paper trains the upscalers at >= 64x64 on random 32x32 crops)."""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F


@dataclasses.dataclass
class EncodedCond:
    """Conditioning computed once per batch: ``vec`` (N, cond_dim) or None, ``spatial`` (N, S, h, w) or None."""
    vec: torch.Tensor | None
    spatial: torch.Tensor | None


def resize_map(m: torch.Tensor, size: int) -> torch.Tensor:
    """(N, S, h, w) float map -> (N, S, size, size): area average when shrinking, bilinear when growing."""
    if m.shape[-2:] == (size, size):
        return m
    if m.shape[-1] >= size:
        return F.interpolate(m, size=(size, size), mode="area")
    return F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False)


def random_crop(x: torch.Tensor, size: int, generator: torch.Generator | None = None,
                spatial: torch.Tensor | None = None, align: int = 2) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A random size×size crop of x (N, C, H, W), the same window of every image, at a top-left corner that
    is a multiple of ``align``; the spatial conditioning map (N, S, H', W') is cropped at the same place
    (scaled when H' != H). Returns (x crop, map crop or None)."""
    H, W = x.shape[-2:]
    if size > min(H, W) or size % align:
        raise ValueError(f"crop size {size} must be <= the image size {H}x{W} and a multiple of align={align}")
    top = int(torch.randint((H - size) // align + 1, (1,), generator=generator)) * align
    left = int(torch.randint((W - size) // align + 1, (1,), generator=generator)) * align
    crop = x[..., top:top + size, left:left + size]
    if spatial is None:
        return crop, None
    r = spatial.shape[-1] / W
    if r * W != spatial.shape[-1] or spatial.shape[-2] / H != r:
        raise ValueError("the spatial map must have the image's aspect ratio")
    t, le, s = round(top * r), round(left * r), round(size * r)
    return crop, spatial[..., t:t + s, le:le + s]
