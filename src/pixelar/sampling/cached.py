"""The cached sampler: the naive raster loop, with each step computed incrementally.

Instead of running the whole network on the canvas for every sub-pixel, the model's
:class:`~pixelar.models.base.IncrementalState` keeps per-layer caches of earlier
activations and computes only what the next pixel's distribution needs. Random
numbers are consumed exactly as in the naive sampler (same draws, same shapes, same
order, none for known sub-pixels), so the same generator gives the same images.
"""
from __future__ import annotations

import torch

from ..models.base import AutoregressiveModel, IncrementalState
from ..progress import progress as progress_bar
from .naive import check_known, draw, steps


@torch.no_grad()
def sample_cached(model: AutoregressiveModel, x: torch.Tensor, known: torch.Tensor,
                  cond: torch.Tensor | None = None, generator: torch.Generator | None = None,
                  temperature: float = 1.0, progress: bool = False, **options: object) -> torch.Tensor:
    """Fill the unknown sub-pixels of x (N, C, H, W); same contract as ``sample_naive``."""
    check_known(model, known)
    x = torch.where(known, x.long(), 0)
    state = model.incremental(x.shape[0], cond)
    if state is None:
        raise ValueError(f"{model.name} has no cached sampler; use method='naive'")
    fill_cached(model, state, x, known, generator, temperature, progress, options)
    return x.to(torch.uint8)


def fill_cached(model: AutoregressiveModel, state: IncrementalState, x: torch.Tensor, known: torch.Tensor,
                generator: torch.Generator | None, temperature: float, progress: bool, options: dict) -> None:
    """The cached loop: fill x (N, C, H, W) int64 in place where ``known`` is False, with ``state`` a fresh
    ``model.incremental`` state (the video O(TN) model passes one holding its spatial condition)."""
    last = model.image_shape[0] - 1
    for i, j, ch in progress_bar(steps(model), desc="sampling", unit="step", enabled=progress, leave=False):
        sub = known[:, :, i, j] if ch is None else known[:, ch, i, j]
        if sub.all() and ch not in (None, last):
            continue          # the last channel's call always runs: it leaves the caches final
        params = state.params(x, i, j, ch)                    # (N, P, 1, 1)
        if not sub.all():
            draw(model, x, known, params, i, j, ch, generator, temperature, options)
