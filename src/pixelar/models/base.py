"""The model object: a network, a distribution and an ordering tied together.

Networks (``forward``) map an image to distribution parameters and never loop
over pixels; the distribution turns parameters into nats and samples; the
samplers in ``pixelar.sampling`` own every loop over pixels.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from ..distributions import build_distribution
from ..distributions.base import Distribution
from ..errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ImageModelConfig:
    """Fields every image model shares; model configs subclass this."""

    image_channels: int = 3
    image_size: int = 32
    num_levels: int = 256
    distribution: Literal["categorical", "logistic_mixture", "bernoulli", "categorical_linear",
                          "channel_logistic_mixture"] = "categorical"
    num_mixtures: int = 10       # logistic_mixture only
    num_classes: int = 0         # > 0: class-conditional (cond = int64 labels of shape (N,))

    def validate(self) -> None:
        if self.image_channels < 1:
            raise ConfigError(f"image_channels must be >= 1, got {self.image_channels}")
        if self.image_size < 1:
            raise ConfigError(f"image_size must be >= 1, got {self.image_size}")
        if self.distribution == "bernoulli" and self.num_levels != 2:
            raise ConfigError("distribution=bernoulli needs num_levels=2 (binary images)")
        if self.num_levels < 2:
            raise ConfigError(f"num_levels must be >= 2, got {self.num_levels}")


class IncrementalState:
    """Per-layer caches that let the cached sampler compute one pixel's parameters at a time.

    The sampler calls ``params(x, i, j, ch)`` for every position of ``model.positions()`` in
    order. ``x`` is the (N, C, H, W) integer canvas: every earlier position is final, and at
    (i, j) the channels before ``ch`` are final. For models that draw a pixel's channels one at
    a time the call is repeated for ch = 0..C-1 (and always made for the last channel, even when
    the pixel is known, so that caches see its final value); otherwise ``ch`` is None and the
    call happens once per position. It returns the (N, P, 1, 1) parameters the naive sampler
    would read at (i, j): equal up to floating-point summation order, so that the same
    generator gives the same images. With ``ch`` given, only channel ch's parameters
    (``distribution.param_channels(ch)``) are read, so a state may leave the others unset
    (zero). Conditioning inputs are computed once, in the constructor.
    """

    def params(self, x: torch.Tensor, i: int, j: int, ch: int | None) -> torch.Tensor:
        raise NotImplementedError


class AutoregressiveModel(nn.Module):
    """Base class of every pixelar model.

    Subclasses set ``name`` and ``config_class`` and implement
    ``network(x_float, cond) -> params`` where ``x_float`` is the image scaled to
    [-1, 1], shape (N, C, H, W), and params is (N, P, H, W).
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type] = ImageModelConfig
    ordering: ClassVar[str] = "raster"

    def __init__(self, config: ImageModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        kwargs: dict[str, Any] = {}
        if config.distribution in ("logistic_mixture", "channel_logistic_mixture"):
            kwargs["num_mixtures"] = config.num_mixtures
        self.distribution: Distribution = build_distribution(
            config.distribution, config.image_channels, config.num_levels, **kwargs)

    # ---- shapes -----------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        c = self.config
        return (c.image_channels, c.image_size, c.image_size)

    @property
    def num_groups(self) -> int:
        """Channel groups of the masks: C when the network realizes R->G->B, else 1."""
        return self.config.image_channels if self.distribution.autoregressive_channels else 1

    def positions(self) -> list[tuple[int, int]]:
        """Pixel positions (row, col) in the model's generation order (raster by default).

        Within a pixel, channels follow R->G->B when ``distribution.autoregressive_channels``.
        The naive and cached samplers and the causality oracle all read the order from here.
        """
        _, h, w = self.image_shape
        return [(i, j) for i in range(h) for j in range(w)]

    def incremental(self, n: int, cond: torch.Tensor | None) -> "IncrementalState | None":
        """A fresh cached-sampling state for n images, or None when the model has no cached path.

        See :class:`IncrementalState` for the contract the cached sampler relies on.
        """
        return None

    def has_cached_sampler(self) -> bool:
        """Whether ``incremental`` gives a cached state for this model (its configuration included)."""
        return type(self).incremental is not AutoregressiveModel.incremental

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- network ------------------------------------------------------------------
    def scale_input(self, x: torch.Tensor) -> torch.Tensor:
        """uint8/int levels 0..K-1 -> float in [-1, 1] (float input is assumed already scaled)."""
        if x.is_floating_point():
            return x
        return x.float() * (2.0 / (self.config.num_levels - 1)) - 1.0

    def network(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Distribution parameters (N, P, H, W) for image x (N, C, H, W)."""
        self.check_input(x, cond)
        return self.network(self.scale_input(x), cond)

    def check_input(self, x: torch.Tensor, cond: torch.Tensor | None) -> None:
        if x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"{self.name} expects images of shape (N, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x.shape)}")
        if self.config.num_classes > 0:
            if cond is None:
                raise ValueError(f"{self.name} is class-conditional ({self.config.num_classes} classes): "
                                 "pass cond=labels")
            if cond.shape != (x.shape[0],):
                raise ValueError(f"cond must be int64 labels of shape ({x.shape[0]},), got {tuple(cond.shape)}")
            if (cond < 0).any() or (cond >= self.config.num_classes).any():
                raise ValueError(f"class labels must be in 0..{self.config.num_classes - 1}")

    # ---- likelihood ---------------------------------------------------------------
    def log_prob_elementwise(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x_i | x_<i) in nats for every sub-pixel, (N, C, H, W)."""
        return self.distribution.log_prob_elementwise(self(x, cond), x.long())

    @property
    def is_bound(self) -> bool:
        """True when log_prob is a variational bound (dequantized likelihood), not exact."""
        return getattr(self.config, "likelihood", "discrete") == "dequantized"

    def log_prob(self, x: torch.Tensor, cond: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact log p(x) in nats per image, shape (N,).

        With ``likelihood="dequantized"`` it is instead log q(x + u) for a fresh u ~ U[0,1)^D
        drawn from ``generator``: a one-sample estimate of a lower bound on log p(x).
        """
        return self.log_prob_from_params(self(x, cond), x, generator)

    def log_prob_from_params(self, params: torch.Tensor, x: torch.Tensor,
                             generator: torch.Generator | None = None) -> torch.Tensor:
        """log_prob given the network output ``params`` (e.g. computed through a DDP wrapper)."""
        if self.is_bound:
            u = torch.rand(x.shape, generator=generator, device=x.device)
            return self.distribution.dequantized_log_prob(params, x.long(), u)
        return self.distribution.log_prob(params, x.long())

    def bits_per_dim(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """-log2 p(x) / (C·H·W) per image, shape (N,)."""
        return -self.log_prob(x, cond) / (math.log(2.0) * math.prod(self.image_shape))

    # ---- sampling -----------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, cond: torch.Tensor | None = None, generator: torch.Generator | None = None,
               temperature: float = 1.0, method: str = "auto", progress: bool = False,
               **options: Any) -> torch.Tensor:
        """n images (n, C, H, W) uint8 drawn from the model (EMA weights if loaded).

        Mixture models also take ``log_scale_shift`` (reduced-variance sampling) and
        ``map_sampling`` (sample the component, take its mode).
        """
        from ..sampling import sample
        return sample(self, n, cond=cond, generator=generator, temperature=temperature,
                      method=method, progress=progress, **options)

    @torch.no_grad()
    def complete(self, x: torch.Tensor, known: torch.Tensor, cond: torch.Tensor | None = None,
                 generator: torch.Generator | None = None, temperature: float = 1.0,
                 method: str = "auto", progress: bool = False, **options: Any) -> torch.Tensor:
        """Sample the sub-pixels where ``known`` is False; known ones are returned unchanged."""
        from ..sampling import complete
        return complete(self, x, known, cond=cond, generator=generator, temperature=temperature,
                        method=method, progress=progress, **options)

    # ---- persistence --------------------------------------------------------------
    def save(self, directory: str) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory``."""
        from ..training.checkpoint import save_model
        save_model(self, directory)

    def output_layer(self) -> nn.Module:
        """The last layer producing params (zeroing it gives a uniform categorical/Bernoulli model)."""
        raise NotImplementedError
