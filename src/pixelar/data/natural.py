"""The built-in natural-image data set: patches of photos shipped inside Python packages.

Needs no download: the photos come with scikit-image, scikit-learn and
matplotlib (``pip install 'pixelar[demo]'``). Train and test are split by
source photo, never by patch:

* train: astronaut, motorcycle_left, motorcycle_right, rocket (scikit-image),
  china (scikit-learn), grace_hopper (matplotlib);
* test: chelsea, coffee (scikit-image), flower (scikit-learn).

Test items are every patch on a stride-``patch_size`` grid of each test photo,
in a fixed order (photo, row, column). Train items are random crops: item ``i``
of epoch ``e`` is drawn uniformly over all crop positions of all train photos
by a generator seeded with (seed, e, i), so the set is random-access and
reproducible; an epoch has ``epoch_length`` items. Every source file is
checked against the sha256 manifest ``natural_manifest.json``.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelar.data.base import ArrayDataset, DatasetInfo
from pixelar.data.download import file_digest
from pixelar.data.transforms import decode_image, pil_to_hwc, seeded_generator, to_chw
from pixelar.errors import DataError

# Source photos as "package:path inside the package".
TRAIN_SOURCES = (
    "skimage:data/astronaut.png", "skimage:data/motorcycle_left.png",
    "skimage:data/motorcycle_right.png", "skimage:data/rocket.jpg",
    "sklearn:datasets/images/china.jpg", "matplotlib:mpl-data/sample_data/grace_hopper.jpg",
)
TEST_SOURCES = (
    "skimage:data/chelsea.png", "skimage:data/coffee.png", "sklearn:datasets/images/flower.jpg",
)
SPLITS = ("train", "test")
MANIFEST = Path(__file__).with_name("natural_manifest.json")
_INSTALL = "pip install 'pixelar[demo]'"


def source_path(source: str) -> Path:
    """File of ``"package:relative/path"``, found without importing the package."""
    package, relative = source.split(":", 1)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the natural data set needs the photos shipped with {package}, "
                        f"which is not installed: {_INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise DataError(f"{path} is missing from the installed {package}; reinstall it: {_INSTALL}")
    return path


@functools.lru_cache(maxsize=1)
def _manifest() -> dict[str, str]:
    return json.loads(MANIFEST.read_text())["sha256"]


@functools.cache
def source_photo(source: str, mode: str = "RGB") -> np.ndarray:
    """Verified, decoded photo as uint8 (H, W, C), C = 3 for "RGB", 1 for "L"; cached per process."""
    path = source_path(source)
    expected = _manifest().get(source)
    actual = file_digest(path, "sha256")
    if actual != expected:
        raise DataError(f"{path} is not the photo pixelar expects (sha256 {actual}, expected {expected}); "
                        f"reinstall the package that ships it: {_INSTALL}")
    photo = pil_to_hwc(decode_image(path.read_bytes(), str(path), mode))
    photo.setflags(write=False)   # shared by every dataset in the process
    return photo


def grid_patches(photo: np.ndarray, patch_size: int) -> np.ndarray:
    """All patches on the stride-``patch_size`` grid, row by row: (N, p, p, C)."""
    p = patch_size
    rows, cols = photo.shape[0] // p, photo.shape[1] // p
    grid = photo[: rows * p, : cols * p].reshape(rows, p, cols, p, -1)
    return grid.transpose(0, 2, 1, 3, 4).reshape(rows * cols, p, p, -1)


class NaturalTrainDataset(Dataset):
    """Random ``patch_size`` crops of the train photos; items (C, p, p) uint8, label -1."""

    def __init__(self, photos: list[np.ndarray], patch_size: int, epoch_length: int, seed: int,
                 info: DatasetInfo, permute_channels: bool = False) -> None:
        self.photos, self.patch_size, self.info = photos, patch_size, info
        self.permute_channels = permute_channels
        self.epoch_length, self.seed, self.epoch = epoch_length, seed, 0
        # Number of crop positions per photo; a crop is a uniform draw over their union.
        self.positions = np.array([(h - patch_size + 1) * (w - patch_size + 1)
                                   for h, w, _ in (p.shape for p in photos)], dtype=np.int64)
        self.cum_positions = np.cumsum(self.positions)

    def set_epoch(self, epoch: int) -> None:
        """Select the crops of ``epoch`` (each epoch draws fresh ones)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.epoch_length

    def crop_position(self, i: int) -> tuple[int, int, int]:
        """(photo index, top, left) of item ``i`` in the current epoch."""
        if not 0 <= i < self.epoch_length:
            raise IndexError(i)
        g = seeded_generator(self.seed, self.epoch, i)
        r = int(torch.randint(int(self.cum_positions[-1]), (1,), generator=g))
        k = int(np.searchsorted(self.cum_positions, r, side="right"))
        r -= int(self.cum_positions[k - 1]) if k else 0
        width = self.photos[k].shape[1] - self.patch_size + 1
        return k, r // width, r % width

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        k, top, left = self.crop_position(i)
        p = self.patch_size
        x = to_chw(self.photos[k][top: top + p, left: left + p])
        if self.permute_channels and x.shape[0] == 3:
            # Colour augmentation: the six training photos are nearly grey, so a model trained on
            # them alone learns "G ≈ R ≈ B" and fails on saturated colours (the flower test photo).
            # A random order of the R, G, B planes (seeded by (seed, epoch, item), like the crop).
            g = seeded_generator(self.seed, self.epoch, i, 0xC0105)
            x = x[torch.randperm(3, generator=g)]
        return x, -1


def load_natural(split: str = "train", root: str | os.PathLike | None = None, download: bool = True,
                 patch_size: int = 32, channels: int = 3, epoch_length: int = 4096,
                 seed: int = 0, permute_channels: bool = False) -> Dataset:
    """The "natural" data set: (C, patch_size, patch_size) uint8 photo patches, unlabelled.

    ``channels`` 3 (RGB) or 1 (grayscale, Pillow's "L"). ``root`` and
    ``download`` are accepted for a uniform signature and ignored. ``permute_channels``: training
    crops get a random order of their R, G, B planes (colour augmentation; the test split is never
    changed).
    """
    if split not in SPLITS:
        raise DataError(f"natural has no split '{split}'; choose one of {', '.join(SPLITS)}")
    if channels not in (1, 3) or not 1 <= patch_size <= 256 or epoch_length < 1:
        raise DataError(f"natural: channels must be 1 or 3, patch_size in 1..256 and epoch_length "
                        f"positive, got {channels}, {patch_size}, {epoch_length}")
    mode = "RGB" if channels == 3 else "L"
    name = "natural" if (patch_size, channels) == (32, 3) else f"natural_p{patch_size}_c{channels}"
    info = DatasetInfo(name=name, num_channels=channels, image_size=patch_size, num_levels=256)
    if split == "test":
        patches = np.concatenate([grid_patches(source_photo(s, mode), patch_size) for s in TEST_SOURCES])
        return ArrayDataset(patches, None, info)
    photos = [source_photo(s, mode) for s in TRAIN_SOURCES]
    return NaturalTrainDataset(photos, patch_size, epoch_length, seed, info, permute_channels)
