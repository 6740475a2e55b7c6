"""Conditioning helpers of the parallel multiscale PixelCNN (Reed et al. 2017): the encoded condition
of a batch, spatial maps resized to every scale, and random crops that cut the image and its
spatial map alike (the paper trains the upscalers at >= 64x64 on random 32x32 crops)."""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.upscale import ResNet


@dataclasses.dataclass
class EncodedCond:
    """Conditioning computed once per batch: ``vec`` (N, cond_dim) or None, ``spatial`` (N, S, h, w) or None
    (the raw map, or its spatial-encoder features), ``scale_vecs`` {k: (N, cond_dim)} for the scales that
    have their own text encoder (Reed et al. §4.2: separate encoders above 32×32)."""
    vec: torch.Tensor | None
    spatial: torch.Tensor | None
    scale_vecs: dict[int, torch.Tensor] = dataclasses.field(default_factory=dict)
    resize: str = "area_bilinear"   # how ``spatial`` reaches each scale (resize_map's mode)

    def vec_at(self, k: int) -> torch.Tensor | None:
        """The class/text vector scale k's upscalers read."""
        return self.scale_vecs.get(k, self.vec)

    def spatial_at(self, size: int) -> torch.Tensor | None:
        """The spatial map or its features resized to size × size (None without a map)."""
        return None if self.spatial is None else resize_map(self.spatial, size, self.resize)


class SpatialEncoder(nn.Module):
    """Reed et al. §4.2: "we then encode these spatial features using a 12-layer ResNet": (N, S, h, w) maps ->
    (N, features, h, w) at the map's own resolution (resized to every scale afterwards). The ResNet is the
    upscalers' (nn/upscale.py: 3×3 conv in, ``num_layers`` residual 3×3 units, ReLU); it is unmasked, since
    a condition may be read at every pixel."""

    def __init__(self, channels: int, features: int, num_layers: int) -> None:
        super().__init__()
        self.resnet = ResNet(channels, features, num_layers)

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        return self.resnet(m, None)


def resize_map(m: torch.Tensor, size: int, mode: str = "area_bilinear") -> torch.Tensor:
    """(N, S, h, w) float map -> (N, S, size, size).

    ``"bilinear"``: bilinear interpolation at every size (Reed et al. §4.2: the features are "resized with
    bilinear interpolation to the spatial size of the image"; half-pixel centres, no anti-aliasing when
    shrinking, as TensorFlow's resize_bilinear). ``"area_bilinear"``: the area average when shrinking,
    bilinear when growing (pixelar's earlier resize, which keeps a lone keypoint's mass at 4×4)."""
    if m.shape[-2:] == (size, size):
        return m
    if mode == "area_bilinear" and m.shape[-1] >= size:
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
