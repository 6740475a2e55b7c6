"""Grayscale PixelCNN (Kolesnikov & Lampert 2017, §3.3).

Auxiliary variable ŷ = the 4-bit grayscale view of x (see :func:`~.auxiliary.grayscale_view`):
gray = (19595 R + 38470 G + 7471 B + 32768) >> 16 (BT.601 luma, PIL's "L"), ŷ = gray · 16 // 256.

* p(ŷ): a PixelCNN++ over the 1-channel, 16-level image with a 16-way softmax output.
* p(x | ŷ): a PixelCNN++ over x whose every gated ResNet is biased by f_w(ŷ), an unshifted
  embedding network that sees all of ŷ: PixelCNN++'s three resolutions and short-cuts in one
  unshifted stream (§3.3, ``embedding_structure="pixelcnn_pp"``), or a flat single-resolution stack.

``log_prob(x)`` = log p(ŷ(x)) + log p(x | ŷ(x)): exact for the pair, a lower bound on log p(x)
(eq. 5), so bits/dim are an upper bound (``is_bound``). ``log_prob_parts`` gives both parts; the
parts are trained together or separately (``train_part``).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from ..distributions.base import Distribution
from ..errors import ConfigError
from ..nn.weightnorm import DataDependentInit
from .auxiliary import AuxEmbedding, Factor, PixelCNNPlusPlusEmbedding, factor_config, grayscale_view, scale_levels
from .base import AutoregressiveModel, ImageModelConfig
from .pixelcnn_pp import PixelCNNPlusPlus, PixelCNNPlusPlusConfig
from .product import ProductOfFactors

PARTS = ("prior", "conditional")


@dataclasses.dataclass(frozen=True)
class GrayscalePixelCNNConfig(ImageModelConfig):
    distribution: Literal["logistic_mixture", "categorical_linear"] = "logistic_mixture"   # of p(x | ŷ)
    num_mixtures: int = 10
    aux_levels: int = 16            # levels of ŷ (16 = 4-bit grayscale)
    num_filters: int = 160          # both PixelCNN++s
    num_resnet: int = 5             # p(ŷ)'s gated ResNets per block
    # p(x | ŷ)'s (0 = num_resnet). §3.3: "for parameterizing p(x|ŷ) and f_w(ŷ) we use [·] residual
    # blocks instead of [·]" - a different count from p(ŷ)'s; the numbers are lost (presets: our choice)
    conditional_resnet: int = 0
    embedding_filters: int = 160    # f_w(ŷ)
    embedding_resnet: int = 5       # gated ResNets of f_w (per block with embedding_structure="pixelcnn_pp")
    # f_w's structure: "pixelcnn_pp" (§3.3: "almost identical to the architecture of PixelCNN++ ... only one
    # flow of residual blocks and do not shift", auxiliary.PixelCNNPlusPlusEmbedding: three resolutions and
    # the short-cuts) or "single_resolution" (pixelar's earlier flat stack, auxiliary.AuxEmbedding; the
    # field's default, so that configs written before it keep their model - the paper presets set "pixelcnn_pp")
    embedding_structure: Literal["pixelcnn_pp", "single_resolution"] = "single_resolution"
    #: config.from_dict: checkpoints written before these fields existed hold this model
    FIELDS_ADDED: ClassVar[dict[str, Any]] = {"embedding_structure": "single_resolution", "conditional_resnet": 0}
    dropout: float = 0.5
    train_part: Literal["both", "prior", "conditional"] = "both"   # what the training loss covers

    def validate(self) -> None:
        super().validate()
        if self.image_channels != 3:
            raise ConfigError("grayscale_pixelcnn models RGB images: image_channels must be 3")
        if self.num_classes:
            raise ConfigError("grayscale_pixelcnn is unconditional: num_classes must be 0")
        if not 2 <= self.aux_levels <= self.num_levels:
            raise ConfigError(f"aux_levels must be in 2..num_levels ({self.num_levels}), got {self.aux_levels}")
        if self.conditional_resnet < 0:
            raise ConfigError(f"conditional_resnet must be >= 0 (0 = num_resnet), got {self.conditional_resnet}")
        if min(self.embedding_filters, self.embedding_resnet) < 1:
            raise ConfigError("embedding_filters and embedding_resnet must be >= 1")
        # the two PixelCNN++s check the rest (image_size multiple of 4, distribution, widths)
        for cfg in (self.prior_config(), self.conditional_config()):
            cfg.validate()

    def prior_config(self) -> PixelCNNPlusPlusConfig:
        """p(ŷ): 1 channel, aux_levels levels; categorical_linear on one channel is a plain softmax."""
        return PixelCNNPlusPlusConfig(image_channels=1, image_size=self.image_size, num_levels=self.aux_levels,
                                      distribution="categorical_linear", num_filters=self.num_filters,
                                      num_resnet=self.num_resnet, dropout=self.dropout)

    def conditional_config(self) -> PixelCNNPlusPlusConfig:
        return PixelCNNPlusPlusConfig(image_channels=3, image_size=self.image_size, num_levels=self.num_levels,
                                      distribution=self.distribution, num_mixtures=self.num_mixtures,
                                      num_filters=self.num_filters, num_resnet=self.conditional_resnet or self.num_resnet,
                                      dropout=self.dropout)


class GrayscalePixelCNN(DataDependentInit, ProductOfFactors):
    name = "grayscale_pixelcnn"
    config_class = GrayscalePixelCNNConfig
    group_sampler = "grayscale"     # ŷ ~ p(ŷ), then x ~ p(x | ŷ): pixelar.sampling.auxiliary
    can_colorize = True
    bound_description = "upper bound: -log p(ŷ) - log p(x|ŷ), ŷ = 4-bit grayscale view"

    def __init__(self, config: GrayscalePixelCNNConfig) -> None:
        super().__init__(config)
        self._register_ddi()
        self.prior = PixelCNNPlusPlus(config.prior_config())
        emb = PixelCNNPlusPlusEmbedding if config.embedding_structure == "pixelcnn_pp" else AuxEmbedding
        self.embedding = emb(1, config.embedding_filters, config.embedding_resnet, config.dropout)
        self.conditional = PixelCNNPlusPlus(config.conditional_config(), spatial_channels=config.embedding_filters)

    # ---- the auxiliary variable -----------------------------------------------------------
    def aux(self, x: torch.Tensor) -> torch.Tensor:
        """ŷ (N, 1, H, W) int64 in 0..aux_levels-1 of images x (N, 3, H, W)."""
        return grayscale_view(x, self.config.num_levels, self.config.aux_levels)

    def embed(self, aux: torch.Tensor) -> torch.Tensor:
        """f_w(ŷ): (N, 1, H, W) levels -> (N, E, H, W) features (sees all of ŷ)."""
        return self.embedding(scale_levels(aux, self.config.aux_levels))

    # ---- the parts: p(ŷ) and p(x | ŷ) ----------------------------------------------------------
    @property
    def part_names(self) -> list[str]:
        return list(PARTS)

    def part_dims(self) -> dict[str, int]:
        s = self.config.image_size
        return {"prior": s * s, "conditional": 3 * s * s}

    def part_params(self, x: torch.Tensor, parts: list[str]) -> dict[str, torch.Tensor]:
        """{"prior": (N, L, H, W), "conditional": (N, P, H, W)} parameters (the named ones)."""
        aux = self.aux(x)
        out: dict[str, torch.Tensor] = {}
        if "prior" in parts:
            out["prior"] = self.prior(aux)                                        # (N, L, H, W)
        if "conditional" in parts:
            xf = scale_levels(x, self.config.num_levels)
            out["conditional"] = self.conditional.network(xf, None, spatial=self.embed(aux))   # (N, P, H, W)
        return out

    def part_targets(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"prior": self.aux(x), "conditional": x.long()}

    def part_distribution(self, part: str) -> Distribution:
        return self.prior.distribution if part == "prior" else self.distribution

    def trained_parts(self) -> list[str]:
        p = self.config.train_part
        return list(PARTS) if p == "both" else [p]

    def log_prob_elementwise(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x_i | x_<i, ŷ) per sub-pixel (N, 3, H, W) plus log p(ŷ_i | ŷ_<i) added to channel 0:
        sums to ``log_prob``."""
        params = self.part_params(x, self.part_names)
        out = self.distribution.log_prob_elementwise(params["conditional"], x.long())
        prior = self.prior.distribution.log_prob_elementwise(params["prior"], self.aux(x))
        return out + torch.cat([prior, torch.zeros_like(out[:, 1:])], dim=1)

    def uniform_bits_per_dim(self) -> float:
        """The bound's value when every output is uniform: log2 K + log2 L / C."""
        c = self.config
        return math.log2(c.num_levels) + math.log2(c.aux_levels) / c.image_channels

    # ---- factors (causality oracle, samplers) -----------------------------------------------
    def conditional_factor(self, aux: torch.Tensor) -> Factor:
        """p(x | ŷ) with ŷ (N or 1, 1, H, W) given: an ordinary autoregressive model over x."""
        c = self.config
        cfg = factor_config(3, c.image_size, c.num_levels, c.distribution, c.num_mixtures)
        return Factor(cfg, self.conditional,
                      lambda xf, ctx: self.conditional.network(xf, None, spatial=ctx),
                      self.embed(aux), "p(x|ŷ)")

    def coding_order(self) -> list[str]:
        return ["prior", "conditional"]

    def factor_given(self, part: str, earlier: dict[str, torch.Tensor]) -> AutoregressiveModel:
        return self.prior if part == "prior" else self.conditional_factor(earlier["prior"])

    def causal_factors(self, generator: torch.Generator | None = None) -> list[tuple[str, AutoregressiveModel]]:
        """The autoregressive factors with their conditioning fixed: p(ŷ), and p(x | ŷ) for a random ŷ."""
        s = self.config.image_size
        aux = torch.randint(0, self.config.aux_levels, (1, 1, s, s), generator=generator)
        with torch.no_grad():
            return [("p(ŷ)", self.prior), ("p(x|ŷ)", self.conditional_factor(aux))]

    def data_dependent_init(self, x: torch.Tensor, cond: Any = None) -> None:
        super().data_dependent_init(x, cond)
        for m in (self.prior, self.conditional):
            m.ddi_done.fill_(True)

    def output_layer(self) -> nn.Module:
        return nn.ModuleList([self.prior.out, self.conditional.out])
