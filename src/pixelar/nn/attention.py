"""Causal (ordering-masked) self-attention over image positions (PixelSNAIL, Chen et al. 2018).

A query at position p attends only to keys at positions that come strictly
before p in the model's generation order. The order is given as a rank map:
``rank[i, j]`` = index of pixel (i, j) in ``model.positions()``. Keys and values
may therefore contain the pixel values themselves: nothing at or after p can
reach p's output. The first position in the order has no earlier key; its
output is exactly zero (and so is its gradient).
"""
from __future__ import annotations

import math

import torch
from torch import nn


def rank_map(positions: list[tuple[int, int]], height: int, width: int) -> torch.Tensor:
    """(H, W) int64: rank[i, j] = index of (i, j) in ``positions`` (a permutation of all pixels)."""
    rank = torch.full((height, width), -1, dtype=torch.long, device="cpu")   # also under a meta default
    for k, (i, j) in enumerate(positions):
        rank[i, j] = k
    if (rank < 0).any() or len(positions) != height * width:
        raise ValueError("positions must list every pixel exactly once")
    return rank


def earlier_mask(rank: torch.Tensor) -> torch.Tensor:
    """(HW, HW) bool: entry [p, q] is True iff position q comes strictly before p (flattened raster index)."""
    r = rank.flatten()
    return r[None, :] < r[:, None]


class CausalAttention(nn.Module):
    """Single-head dot-product attention, masked to strictly earlier positions.

    query (N, Dk, H, W), key (N, Dk, H, W), value (N, Dv, H, W) -> (N, Dv, H, W).
    ``mask`` is :func:`earlier_mask` of the model's ordering, (HW, HW) bool.
    Memory: the (N, HW, HW) softmax is kept for backward, 16 × 1024² × 4 B = 64 MiB
    per layer for 32×32 at batch 16 and 1 GiB per layer for 64×64 (16× more: HW²),
    plus one score matrix of the same size while a layer runs.
    """

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        n, dk, h, w = query.shape
        q = query.flatten(2).transpose(1, 2) / math.sqrt(dk)       # (N, HW, Dk), scaled before the product
        k = key.flatten(2)                                         # (N, Dk, HW)
        v = value.flatten(2).transpose(1, 2)                       # (N, HW, Dv)
        scores = torch.bmm(q, k)                                   # (N, HW, HW)
        # Rows with no earlier key (the first position) would be softmax over nothing: let them see
        # everything (a valid softmax, no NaN) and zero their output below, which also zeroes every
        # gradient through them. Masked entries are -inf: exp gives exact zeros, so a later
        # position contributes exactly nothing, in the forward and the backward pass. In place:
        # bmm's backward does not need its output, so only the softmax output is kept for backward.
        has_any = mask.any(dim=1)                                  # (HW,)
        allowed = mask | ~has_any[:, None]
        probs = torch.softmax(scores.masked_fill_(~allowed, float("-inf")), dim=-1)
        out = torch.bmm(probs, v) * has_any[None, :, None].to(v.dtype)   # (N, HW, Dv)
        return out.transpose(1, 2).reshape(n, -1, h, w)
