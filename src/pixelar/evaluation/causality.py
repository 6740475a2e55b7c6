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

The allowed set of every sub-pixel is the model's own declaration, ``model.allowed_inputs``
(by default: everything before it in ``model.positions()``).

Models with auxiliary variables (e.g. the Grayscale PixelCNN's ŷ, a function of x) are
products of autoregressive factors such as p(ŷ) and p(x | ŷ). Their conditionals depend on x
also through ŷ, so a gradient through x would report the (legitimate) dependence on ŷ. Such
a model's ``causal_factors(generator) -> [(label, factor), ...]`` gives each factor as an
ordinary model with its conditioning variable supplied separately (fixed, random), and the
oracle checks each factor's own causality (p(x | ŷ) must be causal in x given ŷ; the
embedding of ŷ may see all of ŷ). A single-factor model is its own only factor.
"""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import torch

from ..nn.modes import eval_mode


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


def _subpixels(model: Any) -> list[tuple[int, int, int]]:
    """Every sub-pixel; when all channels of a pixel share their parameters (joint channel
    distributions) one check per pixel, with channel 0's allowed set, covers them all."""
    C, H, W = model.image_shape
    channels = range(C) if model.distribution.autoregressive_channels else [0]
    return [(c, i, j) for i in range(H) for j in range(W) for c in channels]


def dependency_grads(model: Any, positions: list[tuple[int, int, int]], seed: int = 0,
                     chunk: int | None = None) -> Iterator[tuple[tuple[int, int, int], torch.Tensor]]:
    """Yield ((c, i, j), |d params(c, i, j) / d input|) with the gradient of shape (C, H, W).

    ``chunk`` image copies go through the network at once. Default: at most 16,384 pixels' worth
    (e.g. 256 copies of 8×8 or 16 of 32×32) and at most CHUNK_BYTES of tensors saved for the
    backward, measured on the model itself: a 91 M-parameter PixelSNAIL keeps ~1 GB per 32×32
    copy, so 16 copies would need 22 GB.

    The parameters do not require grad meanwhile: only d/d input is wanted, so autograd keeps
    nothing for weight gradients (the weight-norm graph of that PixelSNAIL alone is 0.7 GB).
    """
    g = torch.Generator().manual_seed(seed)
    C, H, W = model.image_shape
    K = model.config.num_levels
    x = torch.randint(0, K, (1, C, H, W), generator=g)
    xf = model.scale_input(x)
    cond = model.random_condition(1, generator=g)
    with eval_mode(model), _input_grad_only(model):  # no dropout noise; the gradient structure is what matters
        if chunk is None:
            chunk = max(1, min(256, 16384 // (H * W), CHUNK_BYTES // _saved_bytes_per_copy(model, xf, cond)))
        yield from _grads(model, positions, xf, cond, chunk, g)


CHUNK_BYTES = 2**30   # saved-for-backward tensors per chunk; the peak is ~1.5-2x this plus the model


@contextlib.contextmanager
def _input_grad_only(model: Any) -> Iterator[None]:
    """The block runs with every parameter's requires_grad off; restored afterwards."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def _saved_bytes_per_copy(model: Any, xf: torch.Tensor, cond: Any) -> int:
    """Bytes autograd saves for the backward per image copy: the forwards of 2 copies and of 1
    (no backward) counted with saved-tensor hooks; the difference leaves out what does not grow
    with the batch (weights). Where one copy already saves more than CHUNK_BYTES the chunk is 1
    anyway, and the 2-copy forward is skipped: it alone ran out of memory (20 GB) on the
    full-size PixelSNAIL ImageNet 64×64 and O(TN) video presets. A tensor saved by several ops
    counts each time: an over-estimate, so at worst a smaller chunk."""
    def saved(n: int) -> int:
        total = 0

        def pack(t: torch.Tensor) -> torch.Tensor:
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        xs = xf.repeat(n, 1, 1, 1).requires_grad_(True)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model.network(xs, _repeat(cond, n))
        return total

    one = saved(1)
    if one > CHUNK_BYTES:
        return one
    return max(1, saved(2) - one)


def _grads(model: Any, positions: list[tuple[int, int, int]], xf: torch.Tensor, cond: Any, chunk: int,
           g: torch.Generator) -> Iterator[tuple[tuple[int, int, int], torch.Tensor]]:
    dist = model.distribution
    for start in range(0, len(positions), chunk):
        part = positions[start:start + chunk]
        xs = xf.repeat(len(part), 1, 1, 1).requires_grad_(True)
        params = model.network(xs, _repeat(cond, len(part)))
        total = params.new_zeros(())
        for b, (c, i, j) in enumerate(part):
            p = params[b, dist.param_channels(c), i, j]
            w = torch.randn(p.shape, generator=g).to(p)
            total = total + (p * w).sum()
        (grad,) = torch.autograd.grad(total, xs)
        for b, pos in enumerate(part):
            yield pos, grad[b].abs()


def find_leaks(model: Any, seed: int = 0, max_leaks: int = 1) -> list[Leak]:
    """Check every sub-pixel of every factor; return up to ``max_leaks`` violations (empty = exactly causal)."""
    leaks: list[Leak] = []
    for label, factor in model.causal_factors(torch.Generator().manual_seed(seed)):
        for (c, i, j), grad in dependency_grads(factor, _subpixels(factor), seed=seed):
            bad = (grad != 0) & ~factor.allowed_inputs(c, i, j)
            if bad.any():
                # report the earliest offending input in raster order
                nz = bad.nonzero().tolist()
                ic, ii, ij = min(nz, key=lambda t: (t[1], t[2], t[0]))
                leaks.append(Leak((c, i, j), (ic, ii, ij), label))
                if len(leaks) >= max_leaks:
                    return leaks
    return leaks


def _repeat(cond: Any, n: int) -> Any:
    """A condition for one image, repeated for n copies (labels, maps, and caption lists alike)."""
    if cond is None:
        return None
    if torch.is_tensor(cond):
        return cond.expand(n, *cond.shape[1:])
    if isinstance(cond, dict):
        return {k: _repeat(v, n) for k, v in cond.items()}
    return list(cond) * n
