"""Exact bits per dimension over a data set.

bits/dim = (sum of nats over every image) / (ln 2 × total dimensions). Sums
are accumulated in float64 over the data set in its stored order; never a
mean of per-batch means (which is wrong when the last batch is smaller).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from tqdm import tqdm


def iterate_batches(dataset: Any, batch_size: int, indices: list[int]):
    """(x uint8 (B, C, H, W), labels int64 (B,)) over ``indices`` in order."""
    for start in range(0, len(indices), batch_size):
        items = [dataset[i] for i in indices[start:start + batch_size]]
        yield torch.stack([it[0] for it in items]), torch.tensor([it[1] for it in items], dtype=torch.long)


@torch.no_grad()
def evaluate(model: Any, dataset: Any, batch_size: int = 64, max_images: int = 0,
             progress: bool = False, device: str | torch.device = "cpu",
             dist_ctx: Any = None) -> dict[str, float]:
    """Exact test likelihood: {"bits_per_dim", "nats_per_image", "num_images", "num_dims", "bound"}.

    ``bound`` is True for dequantized-likelihood models: their figures are a variational
    upper bound on bits/dim (one fixed-seed dequantization sample per image), not exact; and for
    models with auxiliary variables, whose figure is the upper bound -log p(ŷ) - log p(x | ŷ).
    Models with ``log_prob_parts`` (the auxiliary-variable ones) also get ``parts_bits_per_dim``:
    each factor's contribution in bits per dimension of x; they sum to ``bits_per_dim``.
    Under torchrun (``dist_ctx``) each process scores every world_size-th image and the sums of
    nats and images are all-reduced, so the figure equals the single-process one.
    """
    from ..training.distributed import DistContext, all_reduce_sum
    ctx = dist_ctx or DistContext()
    was_training = model.training
    model.eval()
    total_nats = 0.0
    num_images = 0
    generator = torch.Generator(device=device).manual_seed(0) if model.is_bound else None
    # Models made of several factors report each one: the multiscale PixelCNN per scale
    # (log_prob_scales), the auxiliary-variable PixelCNNs per part (log_prob_parts). The parts
    # are exact sums that add up to the total.
    by_scale = hasattr(model, "log_prob_scales") and not model.is_bound
    parts_fn = model.log_prob_scales if by_scale else getattr(model, "log_prob_parts", None)
    part_nats: dict[str, float] = {}
    n = len(dataset) if max_images <= 0 else min(max_images, len(dataset))
    mine = list(range(ctx.rank, n, ctx.world_size))
    bar = tqdm(total=len(mine), desc="eval", unit="img", disable=not progress or not ctx.is_main, leave=False)
    try:
        for x, y in iterate_batches(dataset, batch_size, mine):
            cond = y.to(device) if model.config.num_classes else None
            if parts_fn is not None:
                parts = parts_fn(x.to(device), cond)
                for name, lp in parts.items():
                    part_nats[name] = part_nats.get(name, 0.0) - float(lp.double().sum())
                nll = -sum(lp.double() for lp in parts.values())
            else:
                nll = -model.log_prob(x.to(device), cond, generator=generator).double()
            total_nats += float(nll.sum())
            num_images += x.shape[0]
            bar.update(x.shape[0])
    finally:
        bar.close()
        model.train(was_training)
    names = list(model.scale_masks()) if by_scale else sorted(part_nats)
    total_nats, num_images, *part_sums = all_reduce_sum([total_nats, float(num_images)]
                                                        + [part_nats.get(k, 0.0) for k in names], ctx, str(device))
    num_images = int(num_images)
    if num_images == 0:
        raise ValueError("cannot evaluate on an empty data set")
    dims = num_images * math.prod(model.image_shape)
    result = {"bits_per_dim": total_nats / (math.log(2.0) * dims), "nats_per_image": total_nats / num_images,
              "num_images": num_images, "num_dims": dims, "bound": model.is_bound}
    if by_scale:
        # per scale: bits per dimension of the sub-pixels that scale adds, and its share of the total
        c = model.image_shape[0]
        masks = model.scale_masks()
        result["scales"] = {k: {"bits_per_dim": v / (math.log(2.0) * num_images * c * int(masks[k].sum())),
                                "nats_per_image": v / num_images} for k, v in zip(names, part_sums)}
    elif names:
        result["parts_bits_per_dim"] = {k: v / (math.log(2.0) * dims) for k, v in zip(names, part_sums)}
    return result
