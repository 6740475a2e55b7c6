"""Sampling an ordinary model one position at a time: the checks every sampler shares, and the choice
between the naive reference loop and the cached incremental one."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..errors import PixelarError
from ..models.base import AutoregressiveModel
from ..nn.modes import eval_mode
from .cached import sample_cached
from .naive import sample_naive

Sampler = Callable[..., torch.Tensor]   # (model, x, known, cond=, generator=, temperature=, progress=, **options)


def check_options(model: AutoregressiveModel, options: dict[str, Any]) -> dict[str, Any]:
    """The sampling options that are set, checked against what the model's distribution takes."""
    takes = model.distribution.sample_options
    active = {k: v for k, v in options.items() if v}
    unknown = [k for k in active if k not in takes]
    if unknown:
        what = (f"need a logistic-mixture model; this one's output is {model.distribution.name}" if takes == frozenset()
                else f"are not options of {model.distribution.name} (it takes {', '.join(sorted(takes))})")
        raise PixelarError(f"{', '.join(unknown)} {what}")
    for k, v in active.items():
        if isinstance(v, float) and v != v:
            raise PixelarError(f"{k} must be a number, got NaN")
    return active


def check_temperature(temperature: float) -> None:
    if not (temperature > 0 and temperature != float("inf")):
        raise PixelarError(f"temperature must be a positive finite number, got {temperature}")


def expand_cond(model: AutoregressiveModel, n: int, cond: Any) -> Any:
    """A single class label (0-d tensor) applies to all n images."""
    if model.config.num_classes and torch.is_tensor(cond) and cond.dim() == 0:
        cond = cond.expand(n)
    return cond


def position_sampler(model: AutoregressiveModel, method: str) -> Sampler:
    """"naive", "cached", or "auto" = cached when the model has it, else naive (all exact)."""
    if method == "cached" and not model.has_cached_sampler():
        raise PixelarError(f"{model.name} has no cached sampler; use method 'naive' or 'auto'")
    if method == "naive" or (method == "auto" and not model.has_cached_sampler()):
        return sample_naive
    if method not in ("auto", "cached"):
        raise PixelarError(f"{model.name} samples one position at a time: method must be auto, naive or cached, "
                           f"got '{method}'")
    return sample_cached


@torch.no_grad()
def fill(model: AutoregressiveModel, sampler: Sampler, x: torch.Tensor, known: torch.Tensor, cond: Any = None,
         generator: torch.Generator | None = None, temperature: float = 1.0, progress: bool = False,
         **options: Any) -> torch.Tensor:
    """Run ``sampler`` on x (N, C, H, W) where the bool mask ``known`` is False, after the shared checks,
    with the model in eval mode. Returns (N, C, H, W) uint8."""
    if known.dtype != torch.bool:
        raise PixelarError("known must be a bool tensor (True = keep this sub-pixel)")
    check_temperature(temperature)
    known = known.expand_as(x)
    cond = expand_cond(model, x.shape[0], cond)
    model.check_input(x, cond)
    options = check_options(model, options)
    with eval_mode(model):
        return sampler(model, x, known, cond=cond, generator=generator, temperature=temperature,
                       progress=progress, **options)


@torch.no_grad()
def sample_positions(model: AutoregressiveModel, n: int, cond: Any = None, generator: torch.Generator | None = None,
                     temperature: float = 1.0, method: str = "auto", progress: bool = False,
                     **options: Any) -> torch.Tensor:
    """n fresh images (n, C, H, W) uint8 from an ordinary model, one position at a time."""
    x, known = blank(model, n)
    return fill(model, position_sampler(model, method), x, known, cond=cond, generator=generator,
                temperature=temperature, progress=progress, **options)


def blank(model: AutoregressiveModel, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An empty canvas (n, C, H, W) int64 and its all-unknown mask, on the model's device."""
    if n < 1:
        raise PixelarError(f"the number of images must be at least 1, got {n}")
    device = next(model.parameters()).device
    x = torch.zeros(n, *model.image_shape, dtype=torch.long, device=device)
    return x, torch.zeros_like(x, dtype=torch.bool)
