"""Small, exact image transforms shared by the loaders: seeding, crops, decoding.

Decoding (16-bit scaling, the pixel bound) is :mod:`pixelar.imageio`'s, shared with user images.

Random choices go through a ``torch.Generator`` seeded from (seed, epoch,
index), so item ``i`` of epoch ``e`` is the same on every run and in every
DataLoader worker, whatever order items are read in.
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch
from PIL import Image

from pixelar.errors import DataError
from pixelar.imageio import MAX_IMAGE_PIXELS, ImageTooLarge, open_image, to_8bit

_MASK64 = (1 << 64) - 1


def _splitmix64(z: int) -> int:
    """One step of SplitMix64: a bijective 64-bit mixer, so nearby keys give unrelated seeds."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def mix_seed(*keys: int) -> int:
    """Combine integer keys (seed, epoch, index, ...) into one 63-bit seed."""
    h = 0
    for k in keys:
        h = _splitmix64(h ^ (int(k) & _MASK64))
    return h >> 1


def seeded_generator(*keys: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded by :func:`mix_seed` of ``keys``."""
    return torch.Generator().manual_seed(mix_seed(*keys))


def center_crop_offsets(height: int, width: int, size: int) -> tuple[int, int]:
    """(top, left) of the centred ``size`` x ``size`` window (rounded up-left)."""
    return (height - size) // 2, (width - size) // 2


def random_crop_offsets(height: int, width: int, size: int,
                        generator: torch.Generator) -> tuple[int, int]:
    """(top, left) drawn uniformly over all valid ``size`` x ``size`` windows."""
    top = int(torch.randint(height - size + 1, (1,), generator=generator))
    left = int(torch.randint(width - size + 1, (1,), generator=generator))
    return top, left


def decode_image(data: bytes, source: str, mode: str, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode PNG/JPEG bytes into a Pillow image in ``mode`` ("RGB" or "L"), 8 bits per value.

    16-bit images are scaled by ``v >> 8`` (:func:`pixelar.imageio.to_8bit`), never clipped.
    An image declaring more than ``max_pixels`` pixels is refused from its header, before
    anything is decoded. Raises DataError (one line) for every undecodable file.
    """
    try:
        with open_image(io.BytesIO(data), max_pixels) as im:
            return to_8bit(im, mode)
    except ImageTooLarge as e:
        raise DataError(f"image {source} is too large to decode: {e}; downscale or remove the file") from e
    except (OSError, ValueError) as e:
        raise DataError(f"cannot decode image {source} ({type(e).__name__}: {e}); "
                        f"remove or replace the file") from e


def to_chw(array_hwc: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, C) numpy array -> contiguous uint8 (C, H, W) tensor."""
    return torch.from_numpy(array_hwc.transpose(2, 0, 1).copy())   # own, writable memory


def pil_to_hwc(image: Image.Image) -> np.ndarray:
    """Pillow image in mode "RGB" or "L" -> uint8 (H, W, C) array with C = 3 or 1."""
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


class RandomHFlip:
    """A training set whose items are mirrored left-right with probability 1/2 (Kolesnikov & Lampert §4.1:
    "We augment the training data by random horizontal image flipping"); spatial conditioning maps are
    mirrored with their image.

    Item ``i`` of epoch ``e`` is flipped when a generator seeded by (seed, e, i) says so: the same on every
    run, in every worker and after a resume. ``set_epoch`` selects the epoch (and passes it on to the data
    set it wraps); everything else (``info``, ...) is the wrapped data set's.
    """

    def __init__(self, dataset: Any, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":                      # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        select = getattr(self.dataset, "set_epoch", None)
        if select is not None:
            select(epoch)

    def flipped(self, index: int) -> bool:
        return bool(torch.rand((), generator=seeded_generator(self.seed, self.epoch, index, 0xF11F)) < 0.5)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        image, target = self.dataset[index]
        if not self.flipped(index):
            return image, target
        if isinstance(target, dict) and torch.is_tensor(target.get("spatial")):
            target = {**target, "spatial": target["spatial"].flip(-1)}
        return image.flip(-1), target
