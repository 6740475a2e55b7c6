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


def iterate_batches(dataset: Any, batch_size: int, max_images: int = 0):
    """(x uint8 (B, C, H, W), labels int64 (B,)) in the data set's order."""
    n = len(dataset) if max_images <= 0 else min(max_images, len(dataset))
    for start in range(0, n, batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, n))]
        yield torch.stack([it[0] for it in items]), torch.tensor([it[1] for it in items], dtype=torch.long)


@torch.no_grad()
def evaluate(model: Any, dataset: Any, batch_size: int = 64, max_images: int = 0,
             progress: bool = False, device: str | torch.device = "cpu") -> dict[str, float]:
    """Exact test likelihood: {"bits_per_dim", "nats_per_image", "num_images", "num_dims", "bound"}.

    ``bound`` is True for dequantized-likelihood models: their figures are a variational
    upper bound on bits/dim (one fixed-seed dequantization sample per image), not exact.
    """
    was_training = model.training
    model.eval()
    total_nats = 0.0
    num_images = 0
    generator = torch.Generator(device=device).manual_seed(0) if model.is_bound else None
    n = len(dataset) if max_images <= 0 else min(max_images, len(dataset))
    bar = tqdm(total=n, desc="eval", unit="img", disable=not progress, leave=False)
    try:
        for x, y in iterate_batches(dataset, batch_size, max_images):
            cond = y.to(device) if model.config.num_classes else None
            nll = -model.log_prob(x.to(device), cond, generator=generator).double()
            total_nats += float(nll.sum())
            num_images += x.shape[0]
            bar.update(x.shape[0])
    finally:
        bar.close()
        model.train(was_training)
    if num_images == 0:
        raise ValueError("cannot evaluate on an empty data set")
    dims = num_images * math.prod(model.image_shape)
    return {"bits_per_dim": total_nats / (math.log(2.0) * dims), "nats_per_image": total_nats / num_images,
            "num_images": num_images, "num_dims": dims, "bound": model.is_bound}
