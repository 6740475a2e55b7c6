"""The model object: a network, a distribution and an ordering tied together, and the model protocol.

Networks (``forward``) map an image to distribution parameters and never loop
over pixels; the distribution turns parameters into nats and samples; the
samplers in ``pixelar.sampling`` own every loop over pixels.

Everything generic code (samplers, evaluation, the trainer, the commands) needs to know about a
model is declared here, once, with a default: its ordering and the inputs each conditional may
read, its factorization into parts, whether its figure is a bound, whether it needs a
data-dependent init, how a data batch becomes its condition, its training loss (the exact NLL
unless the model declares a cheaper estimate), its cached and group samplers, and what it can do (upscale, colorize, complete). Generic code calls these; it never probes a model.
The table is in docs/architecture.md.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from ..checkpoint import save_model
from ..distributions import build_distribution
from ..distributions.base import Distribution, bits_per_dim
from ..errors import ConfigError, PixelarError


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
    [-1, 1], shape (N, C, H, W), and params is (N, P, H, W). Everything else below is the
    model protocol, with the defaults of a single-factor raster-order model.
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type] = ImageModelConfig
    ordering: ClassVar[str] = "raster"
    #: name of the model's own parallel sampler in ``pixelar.sampling`` (None: one position at a time)
    group_sampler: ClassVar[str | None] = None
    can_upscale: ClassVar[bool] = False      # ``pixelar.sampling.upscale`` works on it
    can_colorize: ClassVar[bool] = False     # ``pixelar.sampling.colorize`` works on it
    can_complete: ClassVar[bool] = True      # completion with a mask of known sub-pixels
    can_predict: ClassVar[bool] = False      # a video model: ``pixelar.sampling.video.predict`` continues clips
    can_upscale_video: ClassVar[bool] = False   # ``pixelar.sampling.video.upscale_video`` upscales clips with it
    #: what the reported figure is when ``is_bound`` (printed by ``pixelar eval``)
    bound_description: ClassVar[str] = ""

    def __init__(self, config: ImageModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        kwargs: dict[str, Any] = {}
        if config.distribution in ("logistic_mixture", "channel_logistic_mixture"):
            kwargs["num_mixtures"] = config.num_mixtures
        self.distribution: Distribution = build_distribution(
            config.distribution, config.image_channels, config.num_levels, **kwargs)

    # ---- shapes and ordering ------------------------------------------------------------
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

    def causal_context(self, row: int, col: int) -> torch.Tensor:
        """(H, W) bool: the pixels strictly before (row, col) in ``positions()``."""
        _, h, w = self.image_shape
        ctx = torch.zeros(h, w, dtype=torch.bool)
        for i, j in self.positions():
            if (i, j) == (row, col):
                break
            ctx[i, j] = True
        return ctx

    def allowed_inputs(self, c: int, i: int, j: int) -> torch.Tensor:
        """(C, H, W) bool: the inputs the conditional of sub-pixel (c, i, j) may depend on: every
        channel of the pixels before (i, j), and channels < c of (i, j) itself when the network
        realizes R->G->B. Models whose factorization is not one order (pixel groups drawn in
        parallel) override it. The causality oracle checks exactly this set."""
        C = self.image_shape[0]
        allowed = self.causal_context(i, j).expand(C, -1, -1).clone()
        if self.distribution.autoregressive_channels:
            allowed[:c, i, j] = True
        return allowed

    def causal_factors(self, generator: torch.Generator | None = None) -> list[tuple[str, AutoregressiveModel]]:
        """[(label, factor)]: the model's autoregressive factors, each with its conditioning fixed.

        A single-factor model is its own factor. Models with auxiliary variables (ŷ a function of x)
        return p(ŷ) and p(x | ŷ) for a random ŷ, so that the oracle checks each factor's causality."""
        return [("", self)]

    # ---- conditioning -------------------------------------------------------------------
    def condition(self, batch: Mapping[str, Any]) -> Any:
        """The model's condition for a data batch (``pixelar.data.collate``: "image", "label", and
        the optional "spatial" maps and "caption" strings): the class labels when the model is
        class-conditional (``num_classes > 0``), else None. The one place a data item becomes a
        condition: the trainer, evaluation and the commands all call it."""
        if self.config.num_classes:
            return batch["label"]
        return None

    def random_condition(self, n: int, generator: torch.Generator | None = None) -> Any:
        """A random valid condition for n images (the oracles use it), None when unconditional."""
        if self.config.num_classes:
            return torch.randint(0, self.config.num_classes, (n,), generator=generator)
        return None

    # ---- cached sampling ----------------------------------------------------------------
    def incremental(self, n: int, cond: Any) -> IncrementalState | None:
        """A fresh cached-sampling state for n images, or None when the model has no cached path.

        See :class:`IncrementalState` for the contract the cached sampler relies on.
        """
        return None

    def has_cached_sampler(self) -> bool:
        """Whether ``incremental`` gives a cached state for this model (its configuration included)."""
        return type(self).incremental is not AutoregressiveModel.incremental

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- data-dependent init ----------------------------------------------------------------
    @property
    def needs_data_dependent_init(self) -> bool:
        """True until a weight-normalized model has run its data-dependent init (the trainer runs it
        once on the first batch)."""
        return False

    def data_dependent_init(self, x: torch.Tensor, cond: Any = None) -> None:
        """Initialize from a batch (weight normalization); a no-op for other models."""

    # ---- network ------------------------------------------------------------------------
    def scale_input(self, x: torch.Tensor) -> torch.Tensor:
        """Integer levels 0..K-1 -> float in [-1, 1]."""
        return x.float() * (2.0 / (self.config.num_levels - 1)) - 1.0

    def network(self, x: torch.Tensor, cond: Any) -> Any:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, cond: Any = None) -> Any:
        """Distribution parameters (N, P, H, W) for image x (N, C, H, W) of integer levels."""
        self.check_input(x, cond)
        return self.network(self.scale_input(x), cond)

    def check_input(self, x: torch.Tensor, cond: Any) -> None:
        """Refuse what cannot be right: float images, wrong shapes, levels outside 0..K-1, bad labels."""
        if x.is_floating_point() or x.dtype == torch.bool:
            raise PixelarError(f"{self.name} takes integer images (uint8/int64 levels 0..{self.config.num_levels - 1}), "
                               f"got {x.dtype}: convert a float image in [0, 1] with (x * 255).round().to(torch.uint8)")
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

    # ---- likelihood ---------------------------------------------------------------------
    @property
    def is_bound(self) -> bool:
        """True when ``log_prob`` is a bound on log p(x) (``bound_description`` says which), not exact."""
        return False

    def log_prob_elementwise(self, x: torch.Tensor, cond: Any = None) -> torch.Tensor:
        """log p(x_i | x_<i) in nats for every sub-pixel, (N, C, H, W)."""
        return self.distribution.log_prob_elementwise(self(x, cond), x.long())

    def log_prob(self, x: torch.Tensor, cond: Any = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact log p(x) in nats per image, shape (N,) (``generator``: for models whose figure is a
        sampled bound, e.g. a dequantized likelihood)."""
        return self.log_prob_from_params(self(x, cond), x, generator)

    def log_prob_from_params(self, params: Any, x: torch.Tensor,
                             generator: torch.Generator | None = None) -> torch.Tensor:
        """log_prob given the network output ``params`` (e.g. computed through a DDP wrapper)."""
        return self.distribution.log_prob(params, x.long())

    # ---- training loss ------------------------------------------------------------------------
    def training_output(self, x: torch.Tensor, cond: Any, generator: torch.Generator) -> Any:
        """What the trainer's forward pass computes for the training loss (run through DDP, under
        autocast; the trainer then casts its floating tensors to fp32 for :meth:`training_nll`).

        ``generator`` seeds the loss's own randomness (the trainer draws it from (seed, step,
        micro-batch, rank), so a resumed run is identical). Default: the parameters of the exact
        likelihood, ``self(x, cond)``; a model whose training loss is a cheaper estimate (the
        multiscale PixelCNN's random crops) overrides both methods. Evaluation never calls them."""
        return self(x, cond)

    def training_nll(self, output: Any, x: torch.Tensor) -> torch.Tensor:
        """(N,) nats per image the trainer minimizes, from :meth:`training_output`'s output.
        Default: ``-log_prob_from_params(output, x)``, the exact negative log-likelihood."""
        return -self.log_prob_from_params(output, x)

    def bits_per_dim(self, x: torch.Tensor, cond: Any = None) -> torch.Tensor:
        """-log2 p(x) / (C·H·W) per image, shape (N,)."""
        return bits_per_dim(-self.log_prob(x, cond), math.prod(self.image_shape))

    # ---- factorization into parts -----------------------------------------------------------
    def part_dims(self) -> dict[str, int]:
        """{part name: dimensions per image it scores}: an exact decomposition of the NLL into parts
        (the multiscale PixelCNN's scales, the auxiliary models' factors), in order; {} = one part."""
        return {}

    def log_prob_parts(self, x: torch.Tensor, cond: Any = None) -> dict[str, torch.Tensor]:
        """{part name: log-probability in nats per image (N,)} for the parts of ``part_dims``, summing
        to ``log_prob``; {} for a single-part model."""
        return {}

    def bits_per_dim_parts(self, x: torch.Tensor, cond: Any = None) -> dict[str, torch.Tensor]:
        """Each part's share of the bits per dimension of x, (N,) float64 each, plus "total" (their sum)."""
        dims = math.prod(self.image_shape)
        out = {k: bits_per_dim(-v.double(), dims) for k, v in self.log_prob_parts(x, cond).items()}
        out["total"] = sum(out.values()) if out else bits_per_dim(-self.log_prob(x, cond).double(), dims)
        return out

    # ---- sampling (conveniences over pixelar.sampling) ------------------------------------------
    # ``pixelar.sampling`` sits above the models (it imports them); these methods reach it through the
    # one lazy import below, the only import of an upper layer in a model.
    @staticmethod
    def _sampling() -> Any:
        from .. import sampling  # lazy on purpose: sampling imports models (see docs/architecture.md)
        return sampling

    @torch.no_grad()
    def sample(self, n: int, cond: Any = None, generator: torch.Generator | None = None,
               temperature: float = 1.0, method: str = "auto", progress: bool = False,
               **options: Any) -> torch.Tensor:
        """n images (n, C, H, W) uint8 drawn from the model (EMA weights if loaded).

        Mixture models also take ``log_scale_shift`` (reduced-variance sampling) and
        ``map_sampling`` (sample the component, take its mode).
        """
        return self._sampling().sample(self, n, cond=cond, generator=generator, temperature=temperature,
                                       method=method, progress=progress, **options)

    @torch.no_grad()
    def complete(self, x: torch.Tensor, known: torch.Tensor, cond: Any = None,
                 generator: torch.Generator | None = None, temperature: float = 1.0,
                 method: str = "auto", progress: bool = False, **options: Any) -> torch.Tensor:
        """Sample the sub-pixels where ``known`` is False; known ones are returned unchanged."""
        return self._sampling().complete(self, x, known, cond=cond, generator=generator, temperature=temperature,
                                         method=method, progress=progress, **options)

    @torch.no_grad()
    def upscale(self, low: torch.Tensor, cond: Any = None, generator: torch.Generator | None = None,
                temperature: float = 1.0, progress: bool = False, **options: Any) -> torch.Tensor:
        """Images (N, C, S, S) uint8 sampled given a low-resolution version ``low`` (N, C, s, s)."""
        return self._sampling().upscale(self, low, cond=cond, generator=generator, temperature=temperature,
                                        progress=progress, **options)

    @torch.no_grad()
    def colorize(self, aux: torch.Tensor, generator: torch.Generator | None = None, temperature: float = 1.0,
                 progress: bool = False, **options: Any) -> torch.Tensor:
        """Colour images (N, 3, H, W) uint8 drawn given a grayscale view ``aux`` (N, 1, H, W)."""
        return self._sampling().colorize(self, aux, generator=generator, temperature=temperature,
                                         progress=progress, **options)

    # ---- persistence ------------------------------------------------------------------------
    def save(self, directory: str) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory``."""
        save_model(self, directory)

    def output_layer(self) -> nn.Module:
        """The last layer producing params (zeroing it gives a uniform categorical/Bernoulli model)."""
        raise NotImplementedError
