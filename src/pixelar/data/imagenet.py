"""Downsampled ImageNet 32x32 and 64x64, in its two public releases.

The releases were made with different resizing code, so their bits/dim are
not comparable; they are distinct data sets here:

* ``imagenet{32,64}_npz`` (Chrabaszcz, Loshchilov & Hutter 2017):
  ``train_data_batch_1.npz`` .. ``train_data_batch_10.npz`` and ``val_data.npz``,
  each with ``data`` uint8 (N, 3*s*s) holding the R, G, B planes row-major and
  ``labels`` 1..1000. Found in ``root`` or any folder directly inside it.
* ``imagenet{32,64}_png`` (van den Oord et al. 2016): ``train_{s}x{s}.tar`` and
  ``valid_{s}x{s}.tar`` of PNG files, read straight from the uncompressed tar.

Split "test" is the official validation set (neither release has a test set).
No checksums are published, so nothing is downloaded: put the files in ``root``.
"""
from __future__ import annotations

import os
import tarfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelar.data.base import DatasetInfo
from pixelar.data.download import cache_dir
from pixelar.data.npzfile import open_npz, read_array
from pixelar.data.transforms import decode_image, pil_to_hwc, to_chw
from pixelar.errors import DataError

SPLITS = ("train", "test")
_NPZ_FILES = {"train": tuple(f"train_data_batch_{i}.npz" for i in range(1, 11)), "test": ("val_data.npz",)}
_NPZ_HINT = "the Downsampled ImageNet npz release of Chrabaszcz et al., from https://image-net.org/download-images"
_PNG_HINT = "van den Oord et al.'s PNG archives, the old Downsampled ImageNet, from https://image-net.org/download-images"


def _check_split(name: str, split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"{name} has no split '{split}'; choose one of {', '.join(SPLITS)} "
                        f"('test' is the official validation set)")


def _find(root: Path, filename: str, name: str, hint: str) -> Path:
    """``root/filename`` or ``root/<folder>/filename`` (as the release zips unpack)."""
    candidates = [root / filename]
    if root.is_dir():
        candidates += [d / filename for d in sorted(root.iterdir()) if d.is_dir()]
    for path in candidates:
        if path.is_file():
            return path
    raise DataError(f"{name}: {filename} not found; put the file at {root / filename} ({hint})")


def _npz_member(path: Path, key: str) -> np.ndarray:
    """Array ``key`` of an ``.npz``: memory-mapped when the zip stores it uncompressed,
    else read into memory. Never unpickles; sizes are checked before allocating
    (:func:`pixelar.data.npzfile.read_array`)."""
    with open_npz(path, str(path)) as zf:
        if f"{key}.npy" not in zf.namelist():
            raise DataError(f"{path} has no '{key}' array; it is not a downsampled-ImageNet batch: replace it")
        return read_array(zf, key, str(path), mmap_path=path)


class ImageNetNpzDataset(Dataset):
    """Chrabaszcz et al.'s batches; items are (3, s, s) uint8 tensors and labels 0..999."""

    def __init__(self, paths: list[Path], size: int, info: DatasetInfo) -> None:
        self.info = info
        self.size = size
        self.images: list[np.ndarray] = []
        labels = []
        for path in paths:
            data = _npz_member(path, "data")
            lab = np.asarray(_npz_member(path, "labels")).astype(np.int64).reshape(-1)
            if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * size * size:
                raise DataError(f"{path}: 'data' must be uint8 (N, {3 * size * size}), got {data.dtype} "
                                f"{data.shape}; is it the {size}x{size} release? replace it")
            if len(lab) != len(data) or (len(lab) and (lab.min() < 1 or lab.max() > 1000)):
                raise DataError(f"{path}: 'labels' must hold {len(data)} values in 1..1000; replace the file")
            self.images.append(data)
            labels.append(lab - 1)   # the release numbers classes from 1
        self.labels = np.concatenate(labels)
        self.offsets = np.cumsum([0] + [len(d) for d in self.images])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i = i % len(self)
        b = int(np.searchsorted(self.offsets, i, side="right")) - 1
        row = np.array(self.images[b][i - self.offsets[b]])        # copy out of the memmap
        return torch.from_numpy(row.reshape(3, self.size, self.size)), int(self.labels[i])


def load_imagenet_npz(size: int, split: str = "train", root: str | os.PathLike | None = None,
                      download: bool = True) -> ImageNetNpzDataset:
    """``imagenet{size}_npz``: (3, size, size) uint8 images with labels 0..999."""
    name = f"imagenet{size}_npz"
    _check_split(name, split)
    root = Path(root) if root is not None else cache_dir() / name
    paths = [_find(root, f, name, _NPZ_HINT) for f in _NPZ_FILES[split]]
    info = DatasetInfo(name=name, num_channels=3, image_size=size, num_levels=256, num_classes=1000)
    return ImageNetNpzDataset(paths, size, info)


class TarPngDataset(Dataset):
    """PNG files read by offset from an uncompressed tar; items are (3, s, s) uint8, label -1.

    The member index (regular ``.png`` files only, sorted by name) is built once;
    each process opens its own file handle, so DataLoader workers are safe.
    """

    def __init__(self, path: Path, size: int, info: DatasetInfo) -> None:
        self.path, self.size, self.info = path, size, info
        entries = []
        try:
            with tarfile.open(path, "r:") as tar:
                for member in tar:
                    if member.isreg() and member.name.lower().endswith(".png"):
                        entries.append((member.name, member.offset_data, member.size))
        except (tarfile.TarError, EOFError, OSError) as e:
            raise DataError(f"{path} is not a readable uncompressed tar ({type(e).__name__}: {e}); "
                            f"replace it with the official archive") from e
        if not entries:
            raise DataError(f"{path} holds no PNG files; replace it with the official archive")
        entries.sort()
        self.names = [e[0] for e in entries]
        self.offsets = np.array([e[1] for e in entries], dtype=np.int64)
        self.sizes = np.array([e[2] for e in entries], dtype=np.int64)
        self._file = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self.names)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None, "_pid": -1}

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if self._pid != os.getpid():
            self._file, self._pid = open(self.path, "rb"), os.getpid()
        self._file.seek(int(self.offsets[i]))
        data = self._file.read(int(self.sizes[i]))
        source = f"{self.path}:{self.names[i]}"
        if len(data) != self.sizes[i]:
            raise DataError(f"{source} is truncated; replace the archive with the official one")
        image = decode_image(data, source, "RGB")
        if image.size != (self.size, self.size):
            raise DataError(f"{source} is {image.size[0]}x{image.size[1]}, expected "
                            f"{self.size}x{self.size}; is it the right archive?")
        return to_chw(pil_to_hwc(image)), -1


def load_imagenet_png(size: int, split: str = "train", root: str | os.PathLike | None = None,
                      download: bool = True) -> TarPngDataset:
    """``imagenet{size}_png``: (3, size, size) uint8 images, unlabelled."""
    name = f"imagenet{size}_png"
    _check_split(name, split)
    root = Path(root) if root is not None else cache_dir() / name
    archive = f"{'train' if split == 'train' else 'valid'}_{size}x{size}.tar"
    info = DatasetInfo(name=name, num_channels=3, image_size=size, num_levels=256)
    return TarPngDataset(_find(root, archive, name, _PNG_HINT), size, info)
