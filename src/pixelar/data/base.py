"""What every data set in pixelar looks like.

A data set yields ``(x, label)`` with ``x`` a uint8 tensor (C, H, W) holding
values 0..num_levels-1 and ``label`` an int (-1 when the set has no labels).

Images are integer pixel levels, always: float images (e.g. scaled to 0..1) are
refused with a DataError, never cast, since a cast would silently give the
likelihood of other images (0..1 floats cast to uint8 are all black).
"""
from __future__ import annotations

import dataclasses

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

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, info: DatasetInfo) -> None:
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

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = torch.from_numpy(np.ascontiguousarray(self.images[i].transpose(2, 0, 1)))
        label = int(self.labels[i]) if self.labels is not None else -1
        return x, label
