"""Pyramid PixelCNN (Kolesnikov & Lampert 2017, §3.4 and §4.2).

The auxiliary variables are the image at half, quarter, ... resolution, made by the fixed
:func:`~.auxiliary.downsample` (rounded mean of 2x2 blocks, integer arithmetic), down to
``base_size``: y_0 = x, y_{l+1} = downsample(y_l), l = 0..L-1 with L = log2(image_size / base_size).

    log p(x) >= log p(y_L) + sum_{l<L} log p(y_l | y_{l+1})

Each level is a light PixelCNN++ (:class:`~.auxiliary.LightPixelCNNPlusPlus`: a few gated
ResNets, no down/up-sampling); level l < L is biased in every gated ResNet by a deeper
unshifted embedding of y_{l+1}, computed at y_{l+1}'s resolution and repeated 2x2.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import torch
from torch import nn

from ..errors import ConfigError, PixelarError
from ..nn.weightnorm import DataDependentInit
from .auxiliary import (AuxEmbedding, Factor, LightPixelCNNPlusPlus, bits, factor_config, pyramid,
                        scale_levels)
from .base import AutoregressiveModel, ImageModelConfig


@dataclasses.dataclass(frozen=True)
class PyramidPixelCNNConfig(ImageModelConfig):
    distribution: Literal["logistic_mixture", "categorical_linear"] = "logistic_mixture"
    num_mixtures: int = 10
    base_size: int = 8              # resolution of the top of the pyramid
    num_filters: int = 160          # every level's light PixelCNN++
    num_resnet: int = 2             # gated ResNets per stream and level ("light")
    embedding_filters: int = 160
    embedding_resnet: int = 6       # the embedding of the lower level is deeper than the level model
    dropout: float = 0.5
    train_level: int = -1           # -1: train every level; l: only level l (0 = full resolution)

    @property
    def num_scales(self) -> int:
        return int(round(math.log2(self.image_size / self.base_size)))

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


class PyramidPixelCNN(DataDependentInit, AutoregressiveModel):
    name = "pyramid_pixelcnn"
    config_class = PyramidPixelCNNConfig
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
        self.embeddings = nn.ModuleList(AuxEmbedding(c.image_channels, c.embedding_filters, c.embedding_resnet,
                                                     c.dropout) for _ in range(L))

    @property
    def sizes(self) -> list[int]:
        return self.config.sizes()

    @property
    def part_names(self) -> list[str]:
        return [part_name(self.sizes, level) for level in range(self.config.num_scales + 1)]

    # ---- network ----------------------------------------------------------------------------
    def context(self, level: int, lower: torch.Tensor) -> torch.Tensor:
        """Embedding of y_{level+1} (N, C, s/2, s/2) levels, repeated 2x2: (N, E, s, s)."""
        h = self.embeddings[level](scale_levels(lower, self.config.num_levels))
        return h.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)

    def level_params(self, level: int, y: torch.Tensor, lower: torch.Tensor | None) -> torch.Tensor:
        """Parameters (N, P, s, s) of p(y_level | y_{level+1}) (``lower`` None for the base level)."""
        ctx = None if lower is None else self.context(level, lower)
        return self.levels[level](scale_levels(y, self.config.num_levels), ctx)

    def _params(self, x: torch.Tensor, levels: list[int]) -> dict[str, torch.Tensor]:
        ys = pyramid(x, self.config.num_scales)
        L = self.config.num_scales
        return {self.part_names[l]: self.level_params(l, ys[l], ys[l + 1] if l < L else None) for l in levels}

    def _all_levels(self) -> list[int]:
        return list(range(self.config.num_scales + 1))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """{part name: params (N, P, s, s)}; in training mode only ``train_level`` when it is set."""
        self.check_input(x, cond)
        t = self.config.train_level
        return self._params(x, [t] if self.training and t >= 0 else self._all_levels())

    # ---- likelihood -------------------------------------------------------------------------
    @property
    def is_bound(self) -> bool:
        return self.config.num_scales > 0

    def log_prob_parts_from_params(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> dict[str, torch.Tensor]:
        ys = pyramid(x, self.config.num_scales)
        return {name: self.distribution.log_prob(params[name], ys[level])
                for level, name in enumerate(self.part_names) if name in params}

    def log_prob_from_params(self, params: Any, x: torch.Tensor,
                             generator: torch.Generator | None = None) -> torch.Tensor:
        return sum(self.log_prob_parts_from_params(params, x).values())

    def log_prob_parts(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """{part name: log p(y_l | y_{l+1})} in nats per image, (N,) each, finest level first."""
        self.check_input(x, cond)
        return self.log_prob_parts_from_params(self._params(x, self._all_levels()), x)

    def log_prob(self, x: torch.Tensor, cond: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Sum over levels of log p(y_l | y_{l+1}), nats per image (N,): a lower bound on log p(x)."""
        return sum(self.log_prob_parts(x, cond).values())

    def log_prob_elementwise(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        raise PixelarError("pyramid_pixelcnn: the levels have different sizes, so there is no per-sub-pixel "
                           "map of x; use log_prob_parts")

    def bits_per_dim_parts(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Each level's contribution to the bound in bits per dimension of x (N,), plus "total"."""
        parts = self.log_prob_parts(x, cond)
        dims = math.prod(self.image_shape)
        out = {k: bits(v.double(), dims) for k, v in parts.items()}
        out["total"] = sum(out.values())      # the bound is the parts' sum, with nothing added
        return out

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

    # ---- sampling -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, cond: torch.Tensor | None = None, generator: torch.Generator | None = None,
               temperature: float = 1.0, method: str = "auto", progress: bool = False,
               **options: Any) -> torch.Tensor:
        """The base level, then every finer level given the one below (consistent by default:
        downsample(level) equals the level below exactly)."""
        from ..sampling.auxiliary import sample_pyramid
        return sample_pyramid(self, n, generator=generator, temperature=temperature, progress=progress, **options)

    @torch.no_grad()
    def upscale(self, low: torch.Tensor, generator: torch.Generator | None = None, temperature: float = 1.0,
                progress: bool = False, **options: Any) -> torch.Tensor:
        """Images (N, C, S, S) uint8 sampled given a lower pyramid level ``low`` (N, C, s, s) with
        s = S / 2^k, 1 <= k <= num_scales; consistent by default (downsample^k(out) == low)."""
        from ..sampling.auxiliary import upscale
        return upscale(self, low, generator=generator, temperature=temperature, progress=progress, **options)

    def complete(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        raise PixelarError("pyramid_pixelcnn: use upscale (sampling given a lower level), not complete")
