"""The causality oracle: exact gradient test at sub-pixel level.

For every sub-pixel (c, i, j) we take the distribution parameters its
conditional is read from and differentiate them (with random weights) with
respect to the float input image. The gradient must be exactly zero for the
sub-pixel itself and everything after it in the model's ordering (raster
unless the model says otherwise): for (c, i, j) the allowed inputs are every
channel of the pixels before (i, j), plus channels
< c of pixel (i, j) when the network realizes the R->G->B dependence. Masked
weights multiply to exact zeros, so any non-zero is a real leak.

All sub-pixels are checked in one backward pass per chunk: the batch holds one
copy of the image per checked sub-pixel, and batch elements never interact.

Models with auxiliary variables (e.g. the Grayscale PixelCNN's ŷ, a function of x) are
products of autoregressive factors such as p(ŷ) and p(x | ŷ). Their conditionals depend on x
also through ŷ, so a gradient through x would report the (legitimate) dependence on ŷ. Such
a model exposes ``causal_factors(generator) -> [(label, factor), ...]``: each factor is an
ordinary model with its conditioning variable supplied separately (fixed, random), and the
oracle checks each factor's own causality (p(x | ŷ) must be causal in x given ŷ; the
embedding of ŷ may see all of ŷ). :func:`causal_factors` returns ``[("", model)]`` otherwise.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import torch


@dataclasses.dataclass(frozen=True)
class Leak:
    output: tuple[int, int, int]   # (channel, row, col) whose conditional leaks
    input: tuple[int, int, int]    # (channel, row, col) it must not depend on
    factor: str = ""               # which factor of a model with auxiliary variables ("" = the model)

    def __str__(self) -> str:
        (c, i, j), (ic, ii, ij) = self.output, self.input
        where = f"in factor {self.factor}: " if self.factor else ""
        return (f"{where}sub-pixel (row {i}, col {j}, channel {c}) depends on (row {ii}, col {ij}, channel {ic}), "
                "which is not earlier in the ordering")


def causal_context(model: Any, row: int, col: int) -> torch.Tensor:
    """(H, W) bool: the pixels strictly before (row, col) in ``model.positions()``."""
    _, h, w = model.image_shape
    ctx = torch.zeros(h, w, dtype=torch.bool)
    for i, j in model.positions():
        if (i, j) == (row, col):
            break
        ctx[i, j] = True
    return ctx


def allowed_mask(model: Any, c: int, i: int, j: int) -> torch.Tensor:
    """(C, H, W) bool: inputs that the conditional of sub-pixel (c, i, j) may depend on:
    every channel of the pixels before (i, j) in ``model.positions()``, and channels < c
    of (i, j) itself when the network realizes R->G->B. A model whose factorization is not a
    single order (pixel groups drawn in parallel) states the set itself: ``model.allowed_inputs``."""
    if hasattr(model, "allowed_inputs"):
        return model.allowed_inputs(c, i, j)
    C = model.image_shape[0]
    allowed = causal_context(model, i, j).expand(C, -1, -1).clone()
    if model.distribution.autoregressive_channels:
        allowed[:c, i, j] = True
    return allowed


def _subpixels(model: Any) -> list[tuple[int, int, int]]:
    """Every sub-pixel; when all channels of a pixel share their parameters (joint channel
    distributions) one check per pixel, with channel 0's allowed set, covers them all."""
    C, H, W = model.image_shape
    channels = range(C) if model.distribution.autoregressive_channels else [0]
    return [(c, i, j) for i in range(H) for j in range(W) for c in channels]


def dependency_grads(model: Any, positions: list[tuple[int, int, int]], seed: int = 0,
                     chunk: int | None = None) -> Iterator[tuple[tuple[int, int, int], torch.Tensor]]:
    """Yield ((c, i, j), |d params(c, i, j) / d input|) with the gradient of shape (C, H, W).

    ``chunk`` image copies go through the network at once (default: 16,384 pixels' worth,
    e.g. 256 copies of 8×8 or 16 of 32×32, which bounds the memory of large presets).
    """
    g = torch.Generator().manual_seed(seed)
    C, H, W = model.image_shape
    chunk = chunk or max(1, min(256, 16384 // (H * W)))
    K = model.config.num_levels
    x = torch.randint(0, K, (1, C, H, W), generator=g)
    xf = model.scale_input(x)
    cond = (torch.randint(0, model.config.num_classes, (1,), generator=g)
            if model.config.num_classes else None)
    dist = model.distribution
    model.eval()  # no dropout noise; the gradient structure is what matters
    for start in range(0, len(positions), chunk):
        part = positions[start:start + chunk]
        xs = xf.repeat(len(part), 1, 1, 1).requires_grad_(True)
        params = model.network(xs, cond.expand(len(part)) if cond is not None else None)
        total = params.new_zeros(())
        for b, (c, i, j) in enumerate(part):
            p = params[b, dist.param_channels(c), i, j]
            w = torch.randn(p.shape, generator=g).to(p)
            total = total + (p * w).sum()
        (grad,) = torch.autograd.grad(total, xs)
        for b, pos in enumerate(part):
            yield pos, grad[b].abs()


def causal_factors(model: Any, seed: int = 0) -> list[tuple[str, Any]]:
    """[(label, factor)]: the model's autoregressive factors with their conditioning fixed
    (models with auxiliary variables), else [("", model)]."""
    if hasattr(model, "causal_factors"):
        return model.causal_factors(torch.Generator().manual_seed(seed))
    return [("", model)]


def find_leaks(model: Any, seed: int = 0, max_leaks: int = 1) -> list[Leak]:
    """Check every sub-pixel of every factor; return up to ``max_leaks`` violations (empty = exactly causal)."""
    leaks: list[Leak] = []
    for label, factor in causal_factors(model, seed):
        for (c, i, j), grad in dependency_grads(factor, _subpixels(factor), seed=seed):
            bad = (grad != 0) & ~allowed_mask(factor, c, i, j)
            if bad.any():
                # report the earliest offending input in raster order
                nz = bad.nonzero().tolist()
                ic, ii, ij = min(nz, key=lambda t: (t[1], t[2], t[0]))
                leaks.append(Leak((c, i, j), (ic, ii, ij), label))
                if len(leaks) >= max_leaks:
                    return leaks
    return leaks
