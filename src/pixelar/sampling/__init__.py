"""Samplers: every loop over pixels lives here.

``sample``/``complete`` pick a method: ``naive`` is the reference loop over
``model.positions()``; ``groups`` is a model's own parallel sampler (a model offers one through
``model.group_sampler()``, e.g. the multiscale PixelCNN's group-by-group sampler);
``auto`` picks the fastest exact method available for the model (groups, then cached, then naive).
"""
from __future__ import annotations

import inspect

import torch

from ..errors import PixelarError
from ..models.base import AutoregressiveModel
from .cached import sample_cached
from .naive import sample_naive

METHODS = ("auto", "naive", "cached", "groups")


def _pick_method(model: AutoregressiveModel, method: str):
    """The sampler function for ``method``; "auto" = the model's group sampler, else cached when the
    model has it, else naive (all exact)."""
    if method not in METHODS:
        raise ValueError(f"unknown sampling method '{method}'; choose one of {', '.join(METHODS)}")
    group_sampler = getattr(model, "group_sampler", None)
    if method == "groups" or (method == "auto" and group_sampler is not None):
        if group_sampler is None:
            raise PixelarError(f"{model.name} has no group sampler; use method 'naive' or 'auto'")
        return group_sampler()
    if method == "cached" and not model.has_cached_sampler():
        raise PixelarError(f"{model.name} has no cached sampler yet; use method 'naive' or 'auto'")
    if method == "naive" or (method == "auto" and not model.has_cached_sampler()):
        return sample_naive
    return sample_cached


MIXTURE_OPTIONS = ("log_scale_shift", "map_sampling")


def _check_options(model: AutoregressiveModel, options: dict) -> dict:
    unknown = [k for k in options if k not in MIXTURE_OPTIONS]
    if unknown:
        raise ValueError(f"unknown sampling option(s) {unknown}; known: {', '.join(MIXTURE_OPTIONS)}")
    active = {k: v for k, v in options.items() if v}
    takes = inspect.signature(model.distribution.sample).parameters
    if any(k not in takes for k in active):
        raise PixelarError(f"{', '.join(active)} need a logistic-mixture model; this one's output "
                           f"is {model.distribution.name}")
    return active


def _expand_cond(model: AutoregressiveModel, n: int, cond: torch.Tensor | None) -> torch.Tensor | None:
    """A single class label (0-d tensor) applies to all n images."""
    if model.config.num_classes and cond is not None and cond.dim() == 0:
        cond = cond.expand(n)
    return cond


@torch.no_grad()
def sample(model: AutoregressiveModel, n: int, cond: torch.Tensor | None = None,
           generator: torch.Generator | None = None, temperature: float = 1.0,
           method: str = "auto", progress: bool = False, **options: object) -> torch.Tensor:
    """n fresh images (n, C, H, W) uint8. ``options``: ``log_scale_shift``, ``map_sampling``."""
    c, h, w = model.image_shape
    device = next(model.parameters()).device
    x = torch.zeros(n, c, h, w, dtype=torch.long, device=device)
    known = torch.zeros(n, c, h, w, dtype=torch.bool, device=device)
    return complete(model, x, known, cond=cond, generator=generator, temperature=temperature,
                    method=method, progress=progress, **options)


@torch.no_grad()
def complete(model: AutoregressiveModel, x: torch.Tensor, known: torch.Tensor,
             cond: torch.Tensor | None = None, generator: torch.Generator | None = None,
             temperature: float = 1.0, method: str = "auto", progress: bool = False,
             **options: object) -> torch.Tensor:
    """Sample the sub-pixels of x (N, C, H, W) where the bool mask ``known`` is False."""
    if known.dtype != torch.bool:
        raise ValueError("known must be a bool tensor (True = keep this sub-pixel)")
    known = known.expand_as(x)
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    cond = _expand_cond(model, x.shape[0], cond)
    model.check_input(x, cond)
    sampler = _pick_method(model, method)
    options = _check_options(model, options)
    was_training = model.training
    model.eval()
    try:
        return sampler(model, x, known, cond=cond, generator=generator,
                       temperature=temperature, progress=progress, **options)
    finally:
        model.train(was_training)
