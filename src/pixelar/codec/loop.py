"""The coding loop: one sequential pass over a model's sub-pixels, shared by encoder and decoder.

Decoding is necessarily sequential, so the encoder runs *the same* computation: the same batch of
tiles, the same per-step network calls (the cached ``model.incremental(n).params(x, i, j, ch)``
when the model has a cached state, else the whole network on the canvas per step, as
``sampling.naive``), on a canvas that holds exactly what the decoder's canvas holds at that step
(earlier sub-pixels final, the rest zero or fixed). Only the value source differs
(:mod:`pixelar.codec.entropy`): the encoder's writes the true value, the decoder's the decoded one.
So both sides see bit-identical floats, hence identical quantized pmfs, on one machine and thread
count; :func:`pixelar.codec.encode` pins one intra-op thread so that the thread count of the
environment cannot change the floats' summation order.

The loop iterates ``sampling.naive.steps(model)`` (the samplers' own order) rather than changing the
samplers: every step's pmf is exact for every distribution. For sub-pixel channel c the K
candidates vary c with the earlier channels of the pixel fixed to their final values, and
``distribution.log_prob_elementwise`` gives log p(x_c = k | x_<c, context), including the
joint-channel logistic mixture (as ``sampling.auxiliary.sample_constrained`` does).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..errors import PixelarError
from ..models.base import AutoregressiveModel
from ..models.product import ProductOfFactors
from ..progress import progress as progress_bar
from ..sampling.naive import steps

# logp (N, K) float, channel, row, col, todo (N,) bool -> values (N,) int64
Source = Callable[[torch.Tensor, int, int, int, torch.Tensor], torch.Tensor]


def level_log_probs(model: AutoregressiveModel, params: torch.Tensor, canvas: torch.Tensor,
                    i: int, j: int, c: int) -> torch.Tensor:
    """log p(x[:, c, i, j] = k | earlier) for every level k: (N, K) in the distribution's dtype.

    params: (N, P, 1, 1) at (i, j); canvas (N, C, H, W) int64 with channels < c of (i, j) final.
    """
    n, K = canvas.shape[0], model.config.num_levels
    levels = torch.arange(K, device=canvas.device)
    cand = canvas[:, :, i, j].repeat_interleave(K, dim=0)                 # (N*K, C)
    cand[:, c] = levels.repeat(n)                                         # every level for channel c
    logp = model.distribution.log_prob_elementwise(params.repeat_interleave(K, dim=0),
                                                   cand[:, :, None, None])   # (N*K, C, 1, 1)
    return logp[:, c, 0, 0].view(n, K)


@torch.no_grad()
def code_model(model: AutoregressiveModel, canvas: torch.Tensor, known: torch.Tensor, source: Source,
               progress: bool = False, desc: str = "coding", cond: Any = None) -> torch.Tensor:
    """Run ``source`` over every sub-pixel of ``model`` not marked ``known``, in the model's order.

    canvas: (N, C, H, W) int64 with the fixed values where ``known`` (bool, same shape) and zeros
    elsewhere; it is filled in place with the values the source returns. cond: the model's
    condition for the N images (None if unconditional). Returns the canvas.
    """
    state = model.incremental(canvas.shape[0], cond) if model.has_cached_sampler() else None
    last = model.image_shape[0] - 1
    order = steps(model)
    for i, j, ch in progress_bar(order, total=len(order), desc=desc, unit="step", enabled=progress, leave=False):
        sub = known[:, :, i, j] if ch is None else known[:, ch, i, j]
        if sub.all() and (state is None or ch not in (None, last)):
            continue        # as the cached sampler: the last channel's call always runs (caches final)
        if state is not None:
            params = state.params(canvas, i, j, ch)                        # (N, P, 1, 1)
        else:
            params = model(canvas, cond)[:, :, i:i + 1, j:j + 1]           # (N, P, 1, 1)
        if sub.all():
            continue
        for c in (range(last + 1) if ch is None else [ch]):
            todo = ~known[:, c, i, j]                                      # (N,)
            if not todo.any():
                continue
            values = source(level_log_probs(model, params, canvas, i, j, c), c, i, j, todo)
            canvas[:, c, i, j] = torch.where(todo, values, canvas[:, c, i, j])
    return canvas


def pool_known(known: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) bool -> (N, 1 or C, size, size): True where every pixel of the block is known."""
    factor = known.shape[-1] // size
    k = known.all(dim=1, keepdim=True).float()
    return (-torch.nn.functional.max_pool2d(-k, factor)) > 0.5 if factor > 1 else k > 0.5


@torch.no_grad()
def code_tiles(model: AutoregressiveModel, tiles: torch.Tensor, pad: torch.Tensor,
               make_source: Callable[[str, torch.Tensor | None], Source], progress: bool = False,
               cond: Any = None) -> torch.Tensor:
    """Code a batch of tiles (N, C, S, S) with ``model``; pad (N, 1, S, S) bool marks padding pixels.

    Padding is zero and known to both sides (it costs nothing). ``tiles`` holds the true images on
    the encoder side and zeros on the decoder side. make_source(part, target) gives the value source
    for one part (target: that part's true values, or None when decoding). Returns the coded tiles
    (N, C, S, S) int64. A product of factors codes each part in ``coding_order()`` with its factor
    given the parts before it (the bound's length: -log p(ŷ) - log p(x | ŷ)); its pad mask at a
    lower resolution marks the blocks made only of padding, whose values are those of a zero image.
    cond: the model's condition for the N tiles (None if unconditional).
    """
    if not isinstance(model, ProductOfFactors):
        known = pad.expand_as(tiles).clone()
        canvas = torch.zeros_like(tiles, dtype=torch.long)
        return code_model(model, canvas, known, make_source("x", tiles.long()), progress, cond=cond)
    if cond is not None:
        raise PixelarError(f"class-conditional {model.name} checkpoints cannot be compressed yet "
                           f"(its factors take no condition); use an unconditional one")
    targets = model.part_targets(tiles)
    fixed = model.part_targets(torch.zeros_like(tiles))
    done: dict[str, torch.Tensor] = {}
    for part in model.coding_order():
        factor = model.factor_given(part, done)
        known = pool_known(pad, factor.image_shape[-1]).expand(-1, factor.image_shape[0], -1, -1).clone()
        canvas = torch.where(known, fixed[part], 0)
        done[part] = code_model(factor, canvas, known, make_source(part, targets[part]), progress, desc=part)
    return done[model.coding_order()[-1]]
