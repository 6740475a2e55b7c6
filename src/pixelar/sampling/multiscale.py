"""Multiscale group sampling (Reed et al. 2017): O(log N) network evaluations per image.

1. The base image (every stride-S/B pixel) is drawn by the naive raster loop over the
   base PixelCNN alone: B² (×C for a softmax) evaluations of a B×B network.
2. Then, for every doubling of resolution and every group g = 2, 3, 4, the upscaler's
   ResNet runs once on the groups before g, and its head once per draw step: C steps
   (type A, softmax), 1 step (type A, joint channels) or M²·C steps (type B) - a constant
   per scale, all pixels of the group (and of every patch) drawn together.

Known sub-pixels (completion, super-resolution) are never changed and consume no random
numbers; steps whose pixels are all known are skipped, so ``upscale`` runs only the
scales above the given image.
"""
from __future__ import annotations

from typing import Any

import torch

from ..errors import PixelarError
from ..progress import progress as progress_bar
from .naive import check_known, draw
from .pixels import fill


def _groups(t: torch.Tensor) -> list[torch.Tensor]:
    """Views of groups 1..4 (Figure 2) of t (N, C, s, s): each (N, C, s/2, s/2), writable in place."""
    return [t[..., 0::2, 0::2], t[..., 0::2, 1::2], t[..., 1::2, 0::2], t[..., 1::2, 1::2]]


@torch.no_grad()
def sample_multiscale(model: Any, x: torch.Tensor, known: torch.Tensor, cond: Any = None,
                      generator: torch.Generator | None = None, temperature: float = 1.0,
                      progress: bool = False, **options: object) -> torch.Tensor:
    """Fill the unknown sub-pixels of x (N, C, H, W) where the bool mask ``known`` is False; (N, C, H, W) uint8.

    ``model`` is a MultiscalePixelCNN; ``options`` go to the distribution's ``sample``.
    """
    check_known(model, known)
    dist = model.distribution
    x = torch.where(known, x.long(), 0)       # unknown garbage never reaches a network
    enc = model.encode(cond, x.shape[0], x.device)
    C = model.image_shape[0]
    per_channel = dist.autoregressive_channels and C > 1

    # 1. base: raster order with the base PixelCNN on the stride-S/B sub-image (views write into x)
    st = model.stride(0)
    xb, kb = x[..., ::st, ::st], known[..., ::st, ::st]
    b = model.sizes[0]
    base_steps = [(i, j, ch) for i in range(b) for j in range(b) for ch in (range(C) if per_channel else [None])]
    for i, j, ch in progress_bar(base_steps, desc="sampling base", enabled=progress, leave=False):
        sub = kb[:, :, i, j] if ch is None else kb[:, ch, i, j]
        if sub.all():
            continue
        params = model.base(model.scale_input(xb), enc)[:, :, i:i + 1, j:j + 1]   # (N, P, 1, 1)
        draw(model, xb, kb, params, i, j, ch, generator, temperature, options)

    # 2. every doubling: groups 2, 3, 4 in turn, each group's pixels in parallel
    for k in progress_bar(range(1, len(model.sizes)), desc="sampling scales", enabled=progress, leave=False):
        st = model.stride(k)
        xg, kg = _groups(x[..., ::st, ::st]), _groups(known[..., ::st, ::st])
        for grp in (2, 3, 4):
            target, tknown = xg[grp - 1], kg[grp - 1]                             # (N, C, h, w) views
            if tknown.all():
                continue
            up = model.upscalers[k - 1][grp - 2]
            feat = model.group_features(k, grp, [model.scale_input(g) for g in xg[:grp - 1]], enc)
            h = target.shape[-1]
            m = up.patch_size(h) if up.patchwise else 1
            for pi, pj, ch in up.steps(h):
                rows = slice(None) if pi is None else slice(pi, None, m)
                cols = slice(None) if pj is None else slice(pj, None, m)
                chans = slice(None) if ch is None else slice(ch, ch + 1)
                todo = ~tknown[:, chans, rows, cols]
                if not todo.any():
                    continue
                params = up.head(feat, model.scale_input(target))[:, :, rows, cols]    # (N, P, h', w')
                drawn = dist.sample(params, generator=generator, temperature=temperature, channel=ch, **options)
                cur = target[:, chans, rows, cols]
                target[:, chans, rows, cols] = torch.where(todo, drawn, cur)
    return x.to(torch.uint8)


def network_evaluations(model: Any) -> int:
    """Network evaluations one unconditional sample takes, from the model's structure: base
    PixelCNN calls + one ResNet call and one head call per draw step for every group."""
    C = model.image_shape[0]
    per = C if (model.distribution.autoregressive_channels and C > 1) else 1
    total = model.sizes[0] ** 2 * per
    for k in range(1, len(model.sizes)):
        for up in model.upscalers[k - 1]:
            total += 1 + len(up.steps(model.sizes[k - 1]))
    return total


@torch.no_grad()
def upscale(model: Any, low: torch.Tensor, cond: Any = None, generator: torch.Generator | None = None,
            temperature: float = 1.0, progress: bool = False, **options: object) -> torch.Tensor:
    """Super-resolution (Figure 7): low (N, C, h, w) levels as the known stride-S/h pixels of an S×S image;
    the higher scales are sampled. Returns (N, C, S, S) uint8 with ``out[..., ::S/h, ::S/h] == low``.
    ``options`` go to the distribution's ``sample`` (mixtures: ``map_sampling``, the shifts)."""
    C, S, _ = model.image_shape
    if low.dim() == 3:
        low = low[None]
    if low.dim() != 4 or low.shape[1] != C or low.shape[2] != low.shape[3]:
        raise PixelarError(f"the low-resolution image must be square with {C} channel(s), got {tuple(low.shape)}")
    h = low.shape[-1]
    r = S / h
    if h >= S or r != int(r) or int(r) & (int(r) - 1):
        raise PixelarError(f"cannot upscale {h}x{h} to {S}x{S}: the model doubles the resolution at every "
                           f"scale, so the input must be {S}/2^k pixels wide (e.g. {S // 2} or {S // 4})")
    r = int(r)
    device = next(model.parameters()).device
    x = torch.zeros(low.shape[0], C, S, S, dtype=torch.long, device=device)
    known = torch.zeros_like(x, dtype=torch.bool)
    x[..., ::r, ::r] = low.long().to(device)
    known[..., ::r, ::r] = True
    return fill(model, sample_multiscale, x, known, cond=cond, generator=generator, temperature=temperature,
                progress=progress, **options)

