"""Samplers: every loop over pixels lives here.

``sample``/``complete`` pick a method: ``naive`` is the reference loop over ``model.positions()``;
``cached`` the same loop computed incrementally (``model.incremental()``); ``groups`` the model's
own parallel sampler, named by ``model.group_sampler``: the multiscale PixelCNN's group-by-group
sampler, or the factor-by-factor samplers of the auxiliary-variable models; ``auto`` picks the
fastest exact method the model has (groups, then cached, then naive). ``upscale`` and ``colorize``
sample given a low-resolution or a grayscale view, for models that declare they can.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..errors import PixelarError
from ..models.base import AutoregressiveModel
from . import auxiliary, multiscale, video
from .pixels import blank, check_temperature, fill, position_sampler

METHODS = ("auto", "naive", "cached", "groups")

# Group samplers that fill a canvas given a mask of known sub-pixels (so they also complete).
CANVAS_SAMPLERS: dict[str, Callable[..., torch.Tensor]] = {"multiscale": multiscale.sample_multiscale,
                                                             "video": video.sample_video,
                                                             "video_upscaler": video.sample_upscaler}
# Samplers of products of factors: n fresh images, one factor after the other.
FACTOR_SAMPLERS: dict[str, Callable[..., torch.Tensor]] = {"grayscale": auxiliary.sample_grayscale,
                                                           "pyramid": auxiliary.sample_pyramid}
UPSCALERS: dict[str, Callable[..., torch.Tensor]] = {"multiscale": multiscale.upscale, "pyramid": auxiliary.upscale}
COLORIZERS: dict[str, Callable[..., torch.Tensor]] = {"grayscale": auxiliary.colorize}


def _check_method(model: AutoregressiveModel, method: str) -> None:
    if method not in METHODS:
        raise PixelarError(f"unknown sampling method '{method}'; choose one of {', '.join(METHODS)}")
    if method == "groups" and model.group_sampler is None:
        raise PixelarError(f"{model.name} has no group sampler; use method 'naive' or 'auto'")


@torch.no_grad()
def sample(model: AutoregressiveModel, n: int, cond: Any = None, generator: torch.Generator | None = None,
           temperature: float = 1.0, method: str = "auto", progress: bool = False, **options: Any) -> torch.Tensor:
    """n fresh images (n, C, H, W) uint8. ``options``: ``log_scale_shift``, ``map_sampling`` (mixtures)."""
    _check_method(model, method)
    if model.group_sampler in FACTOR_SAMPLERS:
        check_temperature(temperature)
        return FACTOR_SAMPLERS[model.group_sampler](model, n, generator=generator, temperature=temperature,
                                                    progress=progress, method=method if method != "groups" else "auto",
                                                    **options)
    x, known = blank(model, n)
    return complete(model, x, known, cond=cond, generator=generator, temperature=temperature,
                    method=method, progress=progress, **options)


@torch.no_grad()
def complete(model: AutoregressiveModel, x: torch.Tensor, known: torch.Tensor, cond: Any = None,
             generator: torch.Generator | None = None, temperature: float = 1.0, method: str = "auto",
             progress: bool = False, **options: Any) -> torch.Tensor:
    """Sample the sub-pixels of x (N, C, H, W) where the bool mask ``known`` is False."""
    _check_method(model, method)
    if not model.can_complete:
        alternatives = [what for what, ok in (("upscale", model.can_upscale), ("colorize", model.can_colorize)) if ok]
        raise PixelarError(f"{model.name} cannot complete a mask of known pixels; use "
                           f"{' or '.join(alternatives) or 'sample'} instead")
    if model.group_sampler in CANVAS_SAMPLERS and method in ("auto", "groups"):
        sampler = CANVAS_SAMPLERS[model.group_sampler]
    else:
        sampler = position_sampler(model, method)
    return fill(model, sampler, x, known, cond=cond, generator=generator, temperature=temperature,
                progress=progress, **options)


@torch.no_grad()
def upscale(model: AutoregressiveModel, low: torch.Tensor, cond: Any = None, generator: torch.Generator | None = None,
            temperature: float = 1.0, progress: bool = False, **options: Any) -> torch.Tensor:
    """Images (N, C, S, S) uint8 sampled given a low-resolution version ``low`` (N, C, s, s) of each; the
    multiscale PixelCNN keeps the given pixels at stride S/s, the pyramid PixelCNN samples images whose
    pyramid levels average back to ``low`` exactly."""
    if not model.can_upscale:
        raise PixelarError(f"{model.name} models one resolution and cannot upscale; use a model with scales "
                           "(multiscale_pixelcnn or pyramid_pixelcnn)")
    check_temperature(temperature)
    extra = {"cond": cond} if cond is not None else {}
    return UPSCALERS[model.group_sampler](model, low, generator=generator, temperature=temperature,
                                          progress=progress, **extra, **options)


@torch.no_grad()
def colorize(model: AutoregressiveModel, aux: torch.Tensor, generator: torch.Generator | None = None,
             temperature: float = 1.0, progress: bool = False, **options: Any) -> torch.Tensor:
    """Colour images (N, 3, H, W) uint8 drawn from p(x | ŷ) for ŷ (N, 1, H, W), the paper's ordinary
    sampling; with ``consistent=True`` every image's grayscale view equals ŷ exactly."""
    if not model.can_colorize:
        raise PixelarError(f"colorize needs a model of colour given grayscale (grayscale_pixelcnn); "
                           f"this one is {model.name}")
    check_temperature(temperature)
    return COLORIZERS[model.group_sampler](model, aux, generator=generator, temperature=temperature,
                                           progress=progress, **options)
