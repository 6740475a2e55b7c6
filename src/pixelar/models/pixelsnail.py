"""PixelSNAIL (Chen, Mishra, Rohaninejad & Abbeel 2018): causal convolutions + causal self-attention.

One stream of features, ``num_blocks`` times: a residual block of ``num_resnet``
gated ResNet layers (the PixelCNN++ GatedResNet: concat_elu, dropout after the
first convolution, gate a·σ(b)) built from 2×2 down-right-shifted convolutions,
then an attention block. The attention block reads keys and values from
[image, features, background] and queries from [features, background] (each
through a 1×1 gated ResNet), attends with keys of 16 and values of 128 channels
to the positions strictly earlier in the ordering, and adds the result to the
stream through a 1×1 gated ResNet. "Background" = two constant channels with the
row and column coordinates. Output: the PixelCNN++ discretized logistic mixture
(whole pixels, linear R→G→B coefficients); weight normalization with
data-dependent init; Polyak averaging is the trainer's ``ema``.

Orderings (``ordering``):

* ``raster``: rows top to bottom, each row left to right.
* ``zigzag``: the image is cut into B×B blocks (B = ``zigzag_block``, default 2);
  blocks are visited in raster order and the B² pixels inside a block in raster
  order, so the path zigzags down and back up through each strip of B rows:
  (0,0) (0,1) (1,0) (1,1) (0,2) (0,3) (1,2) (1,3) … for B = 2. B = 1 is raster.

Why the model is exactly causal in either ordering. Invariant: the feature at
pixel p depends only on pixels strictly before p in the ordering.
1. The first layer reads a 3×3 window through a per-position mask that keeps only
   the taps strictly before p in the ordering (:class:`OrderedFirstConv`).
2. A 2×2 down-right-shifted convolution at (r, c) reads (r-1..r, c-1..c): each of
   these is p itself or before p in raster order *and* in zigzag order (a pixel up
   and/or left of p lies in an earlier strip, an earlier block of the same strip,
   or an earlier row/column of p's own block). So it keeps the invariant for both.
   (The PixelCNN++ "up" stream's 2×3 kernel reads the pixel up-right of p, which
   in zigzag order can come after p; PixelSNAIL does not use it.)
3. 1×1 layers, dropout and gates are per-position; the background is constant.
4. Attention masks every key that is not strictly earlier (exact zeros).
Everything the convolutions cannot reach comes through attention, which sees
every earlier pixel directly (the image is part of its keys and values).
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from ..errors import ConfigError
from ..nn.attention import CausalAttention, earlier_mask, rank_map
from ..nn.gated_resnet import GatedConv, GatedResNet
from ..nn.modes import maybe_checkpoint
from ..nn.shifted import DownRightShiftedConv2d, nin, pad_with_ones
from ..nn.weightnorm import DataDependentInit, WeightNormConv2d
from .base import AutoregressiveModel, ImageModelConfig, IncrementalState
from .pixelsnail_cached import PixelSNAILState


@dataclasses.dataclass(frozen=True)
class PixelSNAILConfig(ImageModelConfig):
    distribution: Literal["logistic_mixture", "categorical_linear"] = "logistic_mixture"
    num_mixtures: int = 10
    num_filters: int = 256
    num_blocks: int = 12         # residual block + attention block, repeated
    num_resnet: int = 4          # gated ResNet layers per residual block
    key_channels: int = 16
    value_channels: int = 128
    dropout: float = 0.5
    ordering: Literal["raster", "zigzag"] = "raster"
    zigzag_block: int = 2        # B: zigzag visits B×B blocks in raster order, raster inside a block
    # False: the last residual block has no attention block after it, so the network starts and
    # ends with a residual block, as the receptive-field model of §3.1 / Figure 8 ("7 blocks (4
    # shift-based convolutions and 3 attention blocks)": num_blocks=4, final_attention=False).
    final_attention: bool = True
    # "A residual block applies several 2D-convolutions to its input, each with residual connections
    # … a gated activation function similar to (van den Oord et al., 2016b; Oord et al., 2016a) …
    # 4 convolutions per block". "gated_resnet" (the public code, and every preset): num_resnet
    # PixelCNN++ gated ResNets, two convolutions each (8 per block), gate a·σ(b), dropout after each
    # one's first convolution. "gated_conv" (the text's reading): num_resnet single convolutions,
    # each x + nin(tanh(a)·σ(b)) (the cited papers' gate), dropout after the block's first one.
    residual: Literal["gated_resnet", "gated_conv"] = "gated_resnet"
    # Recompute each block's activations in backward instead of storing them (same gradients).
    checkpoint_activations: bool = False
    #: config.from_dict: checkpoints written before these fields existed hold this model
    FIELDS_ADDED: ClassVar[dict[str, Any]] = {"final_attention": True, "residual": "gated_resnet"}

    def validate(self) -> None:
        super().validate()
        if self.distribution not in ("logistic_mixture", "categorical_linear"):
            raise ConfigError("pixelsnail conditions on whole pixels: distribution must be logistic_mixture "
                              "or categorical_linear")
        if self.residual not in ("gated_resnet", "gated_conv"):
            raise ConfigError(f"residual must be gated_resnet or gated_conv, got {self.residual!r}")
        if self.num_blocks == 1 and not self.final_attention:
            raise ConfigError("final_attention=False with num_blocks=1 leaves no attention block: "
                              "use num_blocks >= 2")
        if min(self.num_filters, self.num_blocks, self.num_resnet, self.key_channels, self.value_channels) < 1:
            raise ConfigError("num_filters, num_blocks, num_resnet, key_channels and value_channels must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.zigzag_block < 1:
            raise ConfigError(f"zigzag_block must be >= 1, got {self.zigzag_block}")
        if self.ordering == "zigzag" and self.image_size % self.zigzag_block:
            raise ConfigError(f"ordering=zigzag cuts the image into {self.zigzag_block}x{self.zigzag_block} "
                              f"blocks: image_size ({self.image_size}) must be a multiple of zigzag_block")


def zigzag_positions(size: int, block: int) -> list[tuple[int, int]]:
    """(row, col) in zigzag order: B×B blocks in raster order, raster order inside each block."""
    n = size // block
    return [(bi * block + a, bj * block + b)
            for bi in range(n) for bj in range(n) for a in range(block) for b in range(block)]


class OrderedFirstConv(nn.Module):
    """A k×k convolution whose taps are masked per output position to the pixels strictly before it.

    (N, C_in, H, W) -> (N, C_out, H, W). The window is unfolded into channels (zero padding),
    multiplied by a constant 0/1 mask (k², H, W) built from the ordering, then mixed by a
    weight-normalized 1×1 convolution: a convolution whose mask depends on the position. For
    raster order with k = 3 the kept taps are the three above and the one to the left (the
    PixelCNN++ first layer); in zigzag order they vary with the position inside the block.
    """

    def __init__(self, in_channels: int, out_channels: int, rank: torch.Tensor, kernel: int = 3) -> None:
        super().__init__()
        self.kernel = kernel
        h, w = rank.shape
        pad = kernel // 2
        padded = F.pad(rank[None, None].float(), (pad, pad, pad, pad), value=float("inf"))  # outside = never earlier
        taps = F.unfold(padded, kernel).view(kernel * kernel, h, w)                          # rank of each tap
        self.register_buffer("tap_mask", (taps < rank[None].float()).float(), persistent=False)
        self.mix = nin(in_channels * kernel * kernel, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        k = self.kernel
        patches = F.unfold(x, k, padding=k // 2).view(n, c, k * k, h, w)
        patches = patches * self.tap_mask[None, None]          # exact zeros at the not-earlier taps
        return self.mix(patches.view(n, c * k * k, h, w))


class AttentionBlock(nn.Module):
    """h + gated(attention(q = f([h, bg]), k, v = f([x, h, bg]))): the PixelSNAIL attention block."""

    def __init__(self, filters: int, image_channels: int, key_channels: int, value_channels: int,
                 dropout: float, num_classes: int) -> None:
        super().__init__()
        kv_channels = image_channels + filters + 2
        self.kv_in = GatedResNet(kv_channels, nin, 0, dropout, num_classes)
        self.key = nin(kv_channels, key_channels)
        self.value = nin(kv_channels, value_channels)
        self.q_in = GatedResNet(filters + 2, nin, 0, dropout, num_classes)
        self.query = nin(filters + 2, key_channels)
        self.attention = CausalAttention()
        self.out = GatedResNet(filters, nin, value_channels, dropout, num_classes)

    def forward(self, h: torch.Tensor, x: torch.Tensor, background: torch.Tensor, mask: torch.Tensor,
                onehot: torch.Tensor | None) -> torch.Tensor:
        kv = self.kv_in(torch.cat([x, h, background], dim=1), None, onehot)     # (N, C+F+2, H, W)
        q = self.q_in(torch.cat([h, background], dim=1), None, onehot)          # (N, F+2, H, W)
        mixed = self.attention(self.query(q), self.key(kv), self.value(kv), mask)  # (N, Dv, H, W)
        return self.out(h, mixed, onehot)


class PixelSNAIL(DataDependentInit, AutoregressiveModel):
    name = "pixelsnail"
    config_class = PixelSNAILConfig

    def __init__(self, config: PixelSNAILConfig) -> None:
        super().__init__(config)
        self._register_ddi()
        self.ordering = config.ordering     # instance value shadows the base class's "raster"
        c, s, F_, k, p = (config.image_channels, config.image_size, config.num_filters,
                          config.num_classes, config.dropout)
        rank = rank_map(self.positions(), s, s)
        self.register_buffer("attention_mask", earlier_mask(rank), persistent=False)     # (HW, HW)
        coords = (torch.arange(s, dtype=torch.float32) - (s - 1) / 2) / s
        background = torch.stack([coords[:, None].expand(s, s), coords[None, :].expand(s, s)])
        self.register_buffer("background", background[None], persistent=False)          # (1, 2, H, W)
        self.first = OrderedFirstConv(c + 1, F_, rank)                 # + a channel of ones: marks the padding
        def layer(r: int) -> nn.Module:
            if config.residual == "gated_conv":     # dropout "after the first convolution in every residual block"
                return GatedConv(F_, DownRightShiftedConv2d, p if r == 0 else 0.0, k)
            return GatedResNet(F_, DownRightShiftedConv2d, 0, p, k)

        self.resnets = nn.ModuleList(nn.ModuleList(layer(r) for r in range(config.num_resnet))
                                     for _ in range(config.num_blocks))
        self.attention = nn.ModuleList(
            AttentionBlock(F_, c, config.key_channels, config.value_channels, p, k)
            for _ in range(config.num_blocks - (0 if config.final_attention else 1)))
        self.out = nin(F_, self.distribution.num_params)
        with torch.no_grad():
            # Before data-dependent init, start every gain at its init_scale (0.1 on the residual
            # branches' last convolutions): with unit gains the stream of 60 residual additions grows
            # by orders of magnitude and the first, uninitialized step overflows.
            for m in self.modules():
                if isinstance(m, WeightNormConv2d):
                    m.g.fill_(m.init_scale)

    def positions(self) -> list[tuple[int, int]]:
        if self.config.ordering == "zigzag":
            return zigzag_positions(self.config.image_size, self.config.zigzag_block)
        return super().positions()

    def incremental(self, n: int, cond: torch.Tensor | None) -> IncrementalState:
        """Cached sampling state (``models/pixelsnail_cached.py``): one pixel's layers per step."""
        return PixelSNAILState(self, n, cond)

    def _run(self, layer: nn.Module, *args: torch.Tensor | None) -> torch.Tensor:
        return maybe_checkpoint(layer, *args, enabled=self.config.checkpoint_activations)

    def network(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        n, _, _hgt, _wid = x.shape
        onehot = F.one_hot(cond, self.config.num_classes).to(x.dtype) if self.config.num_classes else None
        background = self.background.expand(n, -1, -1, -1).to(x.dtype)
        h = self.first(pad_with_ones(x))      # (N, F, H, W), strictly causal
        for b, resnets in enumerate(self.resnets):
            for layer in resnets:
                h = self._run(layer, h, None, onehot)
            if b < len(self.attention):        # final_attention=False: the last block has none
                h = self._run(self.attention[b], h, x, background, self.attention_mask, onehot)
        return self.out(F.elu(h))                                               # (N, P, H, W)

    def output_layer(self) -> nn.Module:
        return self.out

