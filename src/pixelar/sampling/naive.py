"""The naive raster sampler: the reference every faster sampler must match.

For each pixel in raster order (and, when the network realizes the R->G->B
dependence, for each channel), run the whole network on the current canvas
and draw the next value from the distribution at that position. Known
sub-pixels (completion) are never changed and consume no random numbers.
"""
from __future__ import annotations

import torch

from ..models.base import AutoregressiveModel
from ..progress import progress as progress_bar


def steps(model: AutoregressiveModel) -> list[tuple[int, int, int | None]]:
    """(row, col, channel-or-None) in the model's order; None = all channels at once."""
    c = model.image_shape[0]
    per_channel = model.distribution.autoregressive_channels and c > 1
    return [(i, j, ch) for i, j in model.positions() for ch in (range(c) if per_channel else [None])]


def check_known(model: AutoregressiveModel, known: torch.Tensor) -> None:
    if not model.distribution.autoregressive_channels:
        partial = known.any(1) & ~known.all(1)
        if partial.any():
            raise ValueError(f"{model.distribution.name} samples the channels of a pixel jointly: mark whole "
                             "pixels as known or unknown")


def draw(model: AutoregressiveModel, x: torch.Tensor, known: torch.Tensor, params: torch.Tensor,
         i: int, j: int, ch: int | None, generator: torch.Generator | None, temperature: float,
         options: dict) -> None:
    """Draw sub-pixel(s) (i, j[, ch]) from params (N, P, 1, 1) into x where not known (in place)."""
    todo = ~known[:, :, i, j] if ch is None else ~known[:, ch:ch + 1, i, j]   # (N, C or 1)
    drawn = model.distribution.sample(params, generator=generator, temperature=temperature, channel=ch,
                                      **options)[:, :, 0, 0]                      # (N, C or 1)
    if ch is None:
        x[:, :, i, j] = torch.where(todo, drawn, x[:, :, i, j])
    else:
        x[:, ch, i, j] = torch.where(todo[:, 0], drawn[:, 0], x[:, ch, i, j])


@torch.no_grad()
def sample_naive(model: AutoregressiveModel, x: torch.Tensor, known: torch.Tensor,
                 cond: torch.Tensor | None = None, generator: torch.Generator | None = None,
                 temperature: float = 1.0, progress: bool = False, **options: object) -> torch.Tensor:
    """Fill the unknown sub-pixels of ``x``.

    x: (N, C, H, W) integer canvas (values at unknown positions are ignored).
    known: (N, C, H, W) bool, True where x is given. Returns (N, C, H, W) uint8.
    For distributions that draw all channels of a pixel jointly (logistic
    mixture), a pixel must be entirely known or entirely unknown. ``options`` go to the
    distribution's ``sample`` (e.g. ``log_scale_shift``, ``map_sampling`` for mixtures).
    """
    check_known(model, known)
    x = torch.where(known, x.long(), 0)   # never let unknown garbage reach the network
    for i, j, ch in progress_bar(steps(model), desc="sampling", unit="step", enabled=progress, leave=False):
        sub = known[:, :, i, j] if ch is None else known[:, ch, i, j]
        if sub.all():
            continue
        params = model(x, cond)[:, :, i:i + 1, j:j + 1]          # (N, P, 1, 1)
        draw(model, x, known, params, i, j, ch, generator, temperature, options)
    return x.to(torch.uint8)
