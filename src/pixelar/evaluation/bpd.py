"""Exact bits per dimension over a data set.

bits/dim = (sum of nats over every image) / (ln 2 × total dimensions). Sums
are accumulated in float64 over the data set in its stored order; never a
mean of per-batch means (which is wrong when the last batch is smaller).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch

from ..data.base import batch_to, collate
from ..distributions.base import bits_per_dim
from ..errors import PixelarError
from ..nn.modes import eval_mode
from ..parallel import DistContext, all_reduce_sum
from ..progress import progress as progress_bar


def iterate_batches(dataset: Any, batch_size: int, indices: list[int]) -> Iterator[dict[str, Any]]:
    """Batches (``pixelar.data.collate``: "image" uint8 (B, C, H, W), "label" int64 (B,), ...) over
    ``indices`` in order."""
    for start in range(0, len(indices), batch_size):
        yield collate([dataset[i] for i in indices[start:start + batch_size]])


@torch.inference_mode()      # no autograd bookkeeping at all (cheaper than no_grad); results are floats
def evaluate(model: Any, dataset: Any, batch_size: int = 64, max_images: int = 0,
             progress: bool = False, device: str | torch.device = "cpu",
             dist_ctx: DistContext | None = None) -> dict[str, Any]:
    """Exact test likelihood: {"bits_per_dim", "nats_per_image", "num_images", "num_dims", "bound"}.

    ``bound`` is True when the model's figure is a bound (``model.is_bound``: a dequantized
    likelihood, one fixed-seed dequantization sample per image; or the auxiliary-variable models'
    -log p(ŷ) - log p(x | ŷ)), not an exact likelihood.
    Models made of several parts (``model.part_dims()``: the multiscale PixelCNN's scales, the
    auxiliary models' factors) also get ``parts``: {name: {"nats_per_image", "bits_per_dim" (per
    dimension the part scores), "share_bits_per_dim" (its share of the total bits/dim: the shares
    sum to ``bits_per_dim``)}}.
    Under torchrun (``dist_ctx``) each process scores every world_size-th image and the sums of
    nats and images are all-reduced, so the figure equals the single-process one.
    """
    if batch_size < 1:
        raise PixelarError(f"the evaluation batch size must be at least 1, got {batch_size}")
    ctx = dist_ctx or DistContext()
    total_nats, num_images = 0.0, 0
    generator = torch.Generator(device=device).manual_seed(0) if model.is_bound else None
    part_dims = model.part_dims()
    part_nats = dict.fromkeys(part_dims, 0.0)
    n = len(dataset) if max_images <= 0 else min(max_images, len(dataset))
    mine = list(range(ctx.rank, n, ctx.world_size))
    bar = progress_bar(total=len(mine), desc="eval", unit="img", enabled=progress and ctx.is_main,
                       leave=False)
    with eval_mode(model):
        try:
            for batch in iterate_batches(dataset, batch_size, mine):
                batch = batch_to(batch, device)
                x, cond = batch["image"], model.condition(batch)
                if part_dims:
                    parts = model.log_prob_parts(x, cond)
                    for name, lp in parts.items():
                        part_nats[name] -= float(lp.double().sum())
                    nll = -sum(lp.double() for lp in parts.values())
                else:
                    nll = -model.log_prob(x, cond, generator=generator).double()
                total_nats += float(nll.sum())
                num_images += x.shape[0]
                bar.update(x.shape[0])
        finally:
            bar.close()
    names = list(part_dims)
    total_nats, num_images, *part_sums = all_reduce_sum([total_nats, float(num_images)]
                                                        + [part_nats[k] for k in names], ctx, str(device))
    num_images = int(num_images)
    if num_images == 0:
        raise PixelarError("cannot evaluate on an empty data set: check the split and --max-images")
    dims = num_images * math.prod(model.image_shape)
    bpd = bits_per_dim(total_nats, dims)
    if not math.isfinite(bpd):
        raise PixelarError(f"the model gives a non-finite likelihood ({bpd}) on this data: its weights are "
                           "broken (non-finite) or the data is not what it models")
    result: dict[str, Any] = {"bits_per_dim": bpd, "nats_per_image": total_nats / num_images,
                              "num_images": num_images, "num_dims": dims, "bound": model.is_bound}
    if names:
        result["parts"] = {k: {"nats_per_image": v / num_images,
                               "bits_per_dim": bits_per_dim(v, num_images * part_dims[k]),
                               "share_bits_per_dim": bits_per_dim(v, dims)} for k, v in zip(names, part_sums)}
    return result
