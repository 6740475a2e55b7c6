"""Upscaling networks of the parallel multiscale PixelCNN (Reed et al. 2017, Figure 3).

At every doubling of resolution the new image is split into four pixel groups
(Figure 2): group 1 = pixels (2a, 2b) (the previous scale's image), group 2 =
(2a, 2b+1) (upper right), group 3 = (2a+1, 2b) (lower left), group 4 =
(2a+1, 2b+1) (lower right). Each group is an h×w lattice at half the new
resolution, so the context of group g is stacked as channels: groups 1..g-1,
(N, (g-1)·C, h, w), plus conditioning maps. An upscaler maps it to the
distribution parameters of group g, (N, P, h, w), in two parts:

* ``features(context, vec)``: a ResNet over the context only (never the group
  being predicted), so every pixel of the group may depend on all of it;
* ``head(features, target)``: reads the group itself, ``target`` (N, C, h, w),
  through masks, so that the parameters at a pixel depend only on what the
  sampler has already drawn:

  - :class:`UpscalerA` (Figure 3A): a 1×1 head. With a per-sub-pixel softmax
    the target enters through a 1×1 mask-A convolution over the channel groups
    (R→G→B): C evaluations per group; with a joint channel distribution
    (logistic mixture) the target is not read at all: one evaluation.
  - :class:`UpscalerB` (Figure 3B): the features and the target are cut into
    contiguous M×M patches, and a shallow (Gated) PixelCNN with weights shared
    across patches runs inside every patch (zero padding at the patch border
    cuts all links between patches): M²·C (or M²) evaluations per group.

``steps(h)`` lists the sampler's draws: (patch row, patch col, channel) with
None meaning "all at once".
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .gated import GatedLayer
from .masked import MaskedConv2d


class ResNet(nn.Module):
    """3×3 conv in -> ``num_layers`` residual units x + conv3×3(ReLU(x)) -> ReLU, (N, in, h, w) -> (N, hidden, h, w).

    ``vec`` (N, hidden), the class/text embedding, is added after the input convolution.
    """

    def __init__(self, in_channels: int, hidden: int, num_layers: int) -> None:
        super().__init__()
        self.inp = nn.Conv2d(in_channels, hidden, 3, padding=1)
        self.layers = nn.ModuleList(nn.Conv2d(hidden, hidden, 3, padding=1) for _ in range(num_layers))

    def forward(self, x: torch.Tensor, vec: torch.Tensor | None) -> torch.Tensor:
        y = self.inp(x)
        if vec is not None:
            y = y + vec[:, :, None, None]
        for conv in self.layers:
            y = y + conv(F.relu(y))
        return F.relu(y)


class UpscalerA(nn.Module):
    """Figure 3A: ResNet over the context, then a channel-masked 1×1 head (see the module docstring)."""

    patchwise = False

    def __init__(self, context_channels: int, image_channels: int, num_params: int, hidden: int,
                 num_resnet: int, channel_groups: int) -> None:
        super().__init__()
        g = channel_groups
        self.channel_groups = g
        self.image_channels = image_channels
        self.resnet = ResNet(context_channels, hidden, num_resnet)
        # R sees none of its own pixel, G sees R, B sees R and G (mask A over channel groups, 1×1)
        self.target_in = MaskedConv2d(image_channels, hidden, 1, "A", g) if g > 1 else None
        self.hid = MaskedConv2d(hidden, hidden, 1, "B", g)
        self.out = MaskedConv2d(hidden, num_params, 1, "B", g)

    def features(self, context: torch.Tensor, vec: torch.Tensor | None) -> torch.Tensor:
        return self.resnet(context, vec)                            # (N, hidden, h, w)

    def head(self, feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        y = feat                                                    # context: allowed for every channel
        if self.target_in is not None:
            y = y + self.target_in(target)
        y = self.hid(F.relu(y))
        return self.out(F.relu(y))                                  # (N, P, h, w)

    def steps(self, h: int) -> list[tuple[int | None, int | None, int | None]]:
        channels = range(self.image_channels) if self.channel_groups > 1 else [None]
        return [(None, None, c) for c in channels]

    def output_layer(self) -> nn.Module:
        return self.out


def to_patches(x: torch.Tensor, m: int) -> torch.Tensor:
    """(N, C, h, w) -> (N·(h/m)·(w/m), C, m, m): contiguous m×m patches as a batch."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // m, m, w // m, m).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(-1, c, m, m)


def from_patches(p: torch.Tensor, n: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`to_patches`: (N·(h/m)·(w/m), C, m, m) -> (N, C, h, w)."""
    c, m = p.shape[1], p.shape[2]
    p = p.reshape(n, h // m, w // m, c, m, m).permute(0, 3, 1, 4, 2, 5)
    return p.reshape(n, c, h, w)


class UpscalerB(nn.Module):
    """Figure 3B: ResNet features -> M×M patches -> shallow PixelCNN shared across patches.

    ``gated=True`` (Reed et al. §4.4: "For all PixelCNNs in the model, we used the same
    architecture as in (van den Oord et al., 2016b)", the Gated PixelCNN): ``num_pixelcnn`` gated
    layers (nn/gated.py; 3×3, the first mask A), no blind spot inside the patch; a 1×1 projection
    of the ResNet features at the same pixel biases every layer's pre-activations (eq. 5's V * s:
    the features see only the context, so any pixel may read them). Then ReLU and a 1×1 mask-B output.
    ``gated=False`` (pixelar's earlier patch net): 3×3 mask-A convolution, ``num_pixelcnn - 1``
    residual 3×3 mask-B layers (blind spot), each adding a 1×1 projection of the features.
    """

    patchwise = True

    def __init__(self, context_channels: int, image_channels: int, num_params: int, hidden: int,
                 num_resnet: int, num_pixelcnn: int, patch: int, channel_groups: int, gated: bool = True) -> None:
        super().__init__()
        g = channel_groups
        self.channel_groups = g
        self.image_channels = image_channels
        self.patch = patch
        self.gated = gated
        self.resnet = ResNet(context_channels, hidden, num_resnet)
        if gated:
            # kernel 3 inside a 4×4 patch: text silent on the patch net's kernels (our choice)
            self.layers = nn.ModuleList([GatedLayer(image_channels, hidden, 3, g, first=True)]
                                        + [GatedLayer(hidden, hidden, 3, g) for _ in range(num_pixelcnn - 1)])
            self.feat_proj = nn.ModuleList(nn.Conv2d(hidden, 2 * hidden, 1) for _ in range(num_pixelcnn))
        else:
            self.inp = MaskedConv2d(image_channels, hidden, 3, "A", g)
            self.layers = nn.ModuleList(MaskedConv2d(hidden, hidden, 3, "B", g) for _ in range(num_pixelcnn - 1))
            self.feat_proj = nn.ModuleList(nn.Conv2d(hidden, hidden, 1) for _ in range(num_pixelcnn))
        self.out = MaskedConv2d(hidden, num_params, 1, "B", g)

    def patch_size(self, h: int) -> int:
        return min(self.patch, h)

    def features(self, context: torch.Tensor, vec: torch.Tensor | None) -> torch.Tensor:
        return self.resnet(context, vec)                            # (N, hidden, h, w)

    def head(self, feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n, _, h, w = target.shape
        m = self.patch_size(h)
        t, f = to_patches(target, m), to_patches(feat, m)          # (N·patches, ·, m, m)
        # zero padding inside each patch (and the vertical stack's shift): no pixel reads another patch
        if self.gated:
            v, y = t, t
            for layer, proj in zip(self.layers, self.feat_proj):
                v, y = layer(v, y, proj(f))                        # (N·patches, hidden, m, m) each
        else:
            y = self.inp(t) + self.feat_proj[0](f)
            for conv, proj in zip(self.layers, self.feat_proj[1:]):
                y = y + conv(F.relu(y)) + proj(f)
        return from_patches(self.out(F.relu(y)), n, h, w)         # (N, P, h, w)

    def steps(self, h: int) -> list[tuple[int | None, int | None, int | None]]:
        m = self.patch_size(h)
        channels = range(self.image_channels) if self.channel_groups > 1 else [None]
        return [(pi, pj, c) for pi in range(m) for pj in range(m) for c in channels]

    def output_layer(self) -> nn.Module:
        return self.out
