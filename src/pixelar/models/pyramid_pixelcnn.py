"""Pyramid PixelCNN (Kolesnikov & Lampert 2017, §3.4 and §4.2).

The auxiliary variables are the image at half, quarter, ... resolution, made by the fixed
:func:`~.auxiliary.downsample` (rounded mean of 2x2 blocks, integer arithmetic), down to
``base_size``: y_0 = x, y_{l+1} = downsample(y_l), l = 0..L-1 with L = log2(image_size / base_size).

    log p(x) >= log p(y_L) + sum_{l<L} log p(y_l | y_{l+1})

Each level is a light PixelCNN++ (:class:`~.auxiliary.LightPixelCNNPlusPlus`: a few gated
ResNets, no down/up-sampling); level l < L is biased in every gated ResNet by a deeper
unshifted embedding f_w of y_{l+1} that learns the ×2 up-sampling to y_l's resolution (§4.2: one
down-sampling and two up-sampling layers; ``embedding_upsampling="repeat"``: pixelar's earlier
embedding at y_{l+1}'s resolution, repeated 2x2).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from ..errors import ConfigError
from ..nn.weightnorm import DataDependentInit
from .auxiliary import (
    AuxEmbedding,
    Factor,
    LightPixelCNNPlusPlus,
    UpsamplingEmbedding,
    factor_config,
    pyramid,
    scale_levels,
)
from .base import AutoregressiveModel, ImageModelConfig
from .product import ProductOfFactors


@dataclasses.dataclass(frozen=True)
class PyramidPixelCNNConfig(ImageModelConfig):
    distribution: Literal["logistic_mixture", "categorical_linear"] = "logistic_mixture"
    num_mixtures: int = 10
    base_size: int = 8              # resolution of the top of the pyramid
    num_filters: int = 160          # every level's light PixelCNN++
    num_resnet: int = 2             # gated ResNets per stream and level ("light")
    embedding_filters: int = 160
    embedding_resnet: int = 6       # the embedding of the lower level is deeper than the level model
    # f_w's way to the level's resolution: "learned" (§4.2: one down- and two up-sampling layers,
    # :class:`~.auxiliary.UpsamplingEmbedding`) or "repeat" (pixelar's earlier flat stack, repeated 2x2;
    # the field's default, so that earlier checkpoints load - every preset sets "learned")
    embedding_upsampling: Literal["learned", "repeat"] = "repeat"
    dropout: float = 0.5
    train_level: int = -1           # -1: train every level; l: only level l (0 = full resolution)
    #: config.from_dict: checkpoints written before these fields existed hold this model
    FIELDS_ADDED: ClassVar[dict[str, Any]] = {"embedding_upsampling": "repeat"}

    @property
    def num_scales(self) -> int:
        return round(math.log2(self.image_size / self.base_size))

    def sizes(self) -> list[int]:
        """Image size of every level, finest first: [image_size, image_size/2, ..., base_size]."""
        return [self.image_size >> level for level in range(self.num_scales + 1)]

    def validate(self) -> None:
        super().validate()
        if self.num_classes:
            raise ConfigError("pyramid_pixelcnn is unconditional: num_classes must be 0")
        if self.distribution not in ("logistic_mixture", "categorical_linear"):
            raise ConfigError("pyramid_pixelcnn levels condition on whole pixels: distribution must be "
                              "logistic_mixture or categorical_linear")
        if self.base_size < 1 or self.image_size < self.base_size \
                or self.image_size != self.base_size << self.num_scales:
            raise ConfigError(f"image_size ({self.image_size}) must be base_size ({self.base_size}) times a "
                              "power of 2: set model.base_size to e.g. 8 for 32x32 images")
        if min(self.num_filters, self.num_resnet, self.embedding_filters, self.embedding_resnet) < 1:
            raise ConfigError("num_filters, num_resnet, embedding_filters and embedding_resnet must be >= 1")
        if not -1 <= self.train_level <= self.num_scales:
            raise ConfigError(f"train_level must be -1 (all) or a level 0..{self.num_scales}, got {self.train_level}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")


def part_name(sizes: list[int], level: int) -> str:
    """'32x32|16x16' for p(y_l | y_{l+1}), '8x8' for the base level."""
    s = sizes[level]
    return f"{s}x{s}" if level == len(sizes) - 1 else f"{s}x{s}|{sizes[level + 1]}x{sizes[level + 1]}"


class PyramidPixelCNN(DataDependentInit, ProductOfFactors):
    name = "pyramid_pixelcnn"
    config_class = PyramidPixelCNNConfig
    group_sampler = "pyramid"     # the base level, then each finer one given the one below
    can_upscale = True
    bound_description = "upper bound: sum over pyramid levels of -log p(level | lower level)"

    def __init__(self, config: PyramidPixelCNNConfig) -> None:
        super().__init__(config)
        self._register_ddi()
        c, L = config, config.num_scales
        P = self.distribution.num_params
        self.levels = nn.ModuleList(
            LightPixelCNNPlusPlus(c.image_channels, P, c.num_filters, c.num_resnet, c.dropout,
                                  spatial_channels=c.embedding_filters if level < L else 0)
            for level in range(L + 1))
        emb = UpsamplingEmbedding if c.embedding_upsampling == "learned" else AuxEmbedding
        self.embeddings = nn.ModuleList(emb(c.image_channels, c.embedding_filters, c.embedding_resnet, c.dropout)
                                        for _ in range(L))

    @property
    def sizes(self) -> list[int]:
        return self.config.sizes()

    @property
    def part_names(self) -> list[str]:
        return [part_name(self.sizes, level) for level in range(self.config.num_scales + 1)]

    # ---- network ----------------------------------------------------------------------------
    def context(self, level: int, lower: torch.Tensor) -> torch.Tensor:
        """Embedding of y_{level+1} (N, C, s/2, s/2) levels at y_level's resolution: (N, E, s, s)
        (learned up-sampling, or the s/2 features repeated 2x2)."""
        h = self.embeddings[level](scale_levels(lower, self.config.num_levels))
        if self.config.embedding_upsampling == "learned":
            return h
        return h.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)

    def level_params(self, level: int, y: torch.Tensor, lower: torch.Tensor | None) -> torch.Tensor:
        """Parameters (N, P, s, s) of p(y_level | y_{level+1}) (``lower`` None for the base level)."""
        ctx = None if lower is None else self.context(level, lower)
        return self.levels[level](scale_levels(y, self.config.num_levels), ctx)

    # ---- the parts: one per level, finest first ---------------------------------------------
    def part_dims(self) -> dict[str, int]:
        return {name: self.config.image_channels * s * s for name, s in zip(self.part_names, self.sizes)}

    def part_params(self, x: torch.Tensor, parts: list[str]) -> dict[str, torch.Tensor]:
        """{part: params (N, P, s, s) of p(y_l | y_{l+1})} for the named levels."""
        ys = pyramid(x, self.config.num_scales)
        L = self.config.num_scales
        return {name: self.level_params(l, ys[l], ys[l + 1] if l < L else None)
                for l, name in enumerate(self.part_names) if name in parts}

    def part_targets(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(self.part_names, pyramid(x, self.config.num_scales)))

    def trained_parts(self) -> list[str]:
        t = self.config.train_level
        return self.part_names if t < 0 else [self.part_names[t]]

    def uniform_bits_per_dim(self) -> float:
        """The bound when every output is uniform: log2 K · sum_l (s_l / S)²."""
        s0 = self.config.image_size
        return math.log2(self.config.num_levels) * sum((s / s0) ** 2 for s in self.sizes)

    # ---- factors (causality oracle, samplers) -----------------------------------------------
    def level_factor(self, level: int, lower: torch.Tensor | None) -> Factor:
        """p(y_level | y_{level+1}) with y_{level+1} (N or 1, C, s/2, s/2) given (None: the base level)."""
        c = self.config
        cfg = factor_config(c.image_channels, self.sizes[level], c.num_levels, c.distribution, c.num_mixtures)
        ctx = None if lower is None else self.context(level, lower)
        net = self.levels[level]
        return Factor(cfg, net, lambda yf, h: net(yf, h), ctx, self.part_names[level])

    def coding_order(self) -> list[str]:
        return self.part_names[::-1]          # the base level first, x (the finest) last

    def factor_given(self, part: str, earlier: dict[str, torch.Tensor]) -> AutoregressiveModel:
        level = self.part_names.index(part)
        lower = earlier[self.part_names[level + 1]] if level < self.config.num_scales else None
        return self.level_factor(level, lower)

    def causal_factors(self, generator: torch.Generator | None = None) -> list[tuple[str, AutoregressiveModel]]:
        """Every level with a random lower level given."""
        c, L = self.config, self.config.num_scales
        out = []
        with torch.no_grad():
            for level in range(L + 1):
                lower = None
                if level < L:
                    s = self.sizes[level + 1]
                    lower = torch.randint(0, c.num_levels, (1, c.image_channels, s, s), generator=generator)
                out.append((self.part_names[level], self.level_factor(level, lower)))
        return out

    def output_layer(self) -> nn.Module:
        return nn.ModuleList([net.out for net in self.levels])
