"""What every data set in pixelar looks like.

A data set yields ``(x, label)`` with ``x`` a uint8 tensor (C, H, W) holding
values 0..num_levels-1 and ``label`` an int (-1 when the set has no labels) or, for data sets
that carry more conditions than a label, ``(x, {"label": int, "spatial": (c, h, w) float32,
"caption": str})``. :func:`collate` turns a list of items into the batch every model's
``condition(batch)`` reads.

Images are integer pixel levels, always: float images (e.g. scaled to 0..1) are
refused with a DataError, never cast, since a cast would silently give the
likelihood of other images (0..1 floats cast to uint8 are all black).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelar.errors import DataError


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    name: str            # registry name, e.g. "cifar10", "imagenet32_npz", "imagenet32_png"
    num_channels: int    # 1 or 3
    image_size: int      # H == W after transforms
    num_levels: int      # 256, or 2 for binarized MNIST
    num_classes: int = 0  # 0 if unlabelled


class ArrayDataset(Dataset):
    """In-memory uint8 NHWC images (and optional int labels) exposed as (C, H, W) tensors.

    ``images``: uint8 (N, H, W, C) pixel levels 0..info.num_levels-1. Raises DataError
    for float or other non-uint8 images (never cast) and for values >= num_levels.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, info: DatasetInfo,
                 conditions: dict[str, Any] | None = None) -> None:
        """``conditions``: optional per-image conditions beside the label, ``"spatial"`` (N, c, h, w)
        float maps and/or ``"caption"`` (N,) strings."""
        if images.dtype.kind == "f":
            raise DataError(f"data set {info.name}: images hold {images.dtype} values, not integer pixel "
                            f"levels; give uint8 levels 0..{info.num_levels - 1} (never scaled to 0..1)")
        if images.dtype != np.uint8 or images.ndim != 4:
            raise DataError(f"data set {info.name}: images must be uint8 (N, H, W, C), "
                            f"got {images.dtype} {images.shape}")
        if info.num_levels < 256 and images.size and int(images.max()) >= info.num_levels:
            raise DataError(f"data set {info.name}: images have values up to {int(images.max())}, "
                            f"but num_levels={info.num_levels}")
        self.images = images
        self.labels = labels
        self.info = info
        self.conditions = conditions or {}
        for key, values in self.conditions.items():
            if key not in CONDITION_FIELDS or len(values) != len(images):
                raise ValueError(f"condition '{key}' must be one of {CONDITION_FIELDS} with one entry per image")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        x = torch.from_numpy(np.ascontiguousarray(self.images[i].transpose(2, 0, 1)))
        label = int(self.labels[i]) if self.labels is not None else -1
        if not self.conditions:
            return x, label
        item: dict[str, Any] = {"label": label}
        for key, values in self.conditions.items():
            item[key] = torch.from_numpy(np.asarray(values[i], dtype=np.float32)) if key == "spatial" else str(values[i])
        return x, item


CONDITION_FIELDS = ("spatial", "caption")
# video items (pixelar.data.video): the given frames, and the per-step action and state vectors
VIDEO_FIELDS = ("context", "actions", "state")


def collate(items: Sequence[tuple[torch.Tensor, Any]]) -> dict[str, Any]:
    """A batch from data-set items: {"image": (N, C, H, W) uint8, "label": (N,) int64 (-1 = none)}, plus
    "spatial" (N, c, h, w) float32 and "caption" (N strings) when the items carry them, and a video's
    "context" (N, C, K·S, S) uint8, "actions" and "state" (N, T, A) float32 (``pixelar.data.video``)."""
    batch: dict[str, Any] = {"image": torch.stack([it[0] for it in items])}
    targets = [it[1] for it in items]
    if targets and isinstance(targets[0], dict):
        batch["label"] = torch.tensor([t.get("label", -1) for t in targets], dtype=torch.long)
        for key in CONDITION_FIELDS + VIDEO_FIELDS:
            if key in targets[0]:
                values = [t[key] for t in targets]
                batch[key] = values if key == "caption" else torch.stack(values)
    else:
        batch["label"] = torch.tensor(targets, dtype=torch.long)
    return batch


def batch_to(batch: dict[str, Any], device: str | torch.device) -> dict[str, Any]:
    """The batch with its tensors on ``device`` (captions and other lists stay as they are)."""
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def split_batch(batch: dict[str, Any], chunks: int) -> list[dict[str, Any]]:
    """A batch cut into ``chunks`` micro-batches along the first dimension (tensors and lists alike)."""
    n = batch["image"].shape[0]
    size = -(-n // chunks)
    return [{k: v[start:start + size] for k, v in batch.items()} for start in range(0, n, size)]


def set_epoch(dataset: Any, epoch: int) -> None:
    """Select the random crops/augmentations of ``epoch`` for data sets that draw them (``set_epoch``);
    a no-op for the others."""
    select = getattr(dataset, "set_epoch", None)
    if select is not None:
        select(epoch)
