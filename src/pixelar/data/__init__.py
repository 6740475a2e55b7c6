"""Data sets by name: ``load_dataset("cifar10", "test")``.

Every returned data set yields ``(x, label)``, ``x`` a uint8 tensor (C, H, W)
with values 0..num_levels-1, ``label`` an int (-1 when unlabelled), and has
``.info`` (:class:`DatasetInfo`). Loaders are imported only when used.

Files live in ``root`` (default ``cache_dir()/<data set>``, where ``cache_dir()``
is ``$PIXELAR_DATA`` or ``~/.cache/pixelar``). Files with published checksums
are downloaded when missing (``download=True``); the others raise a DataError
saying where to put them.
"""
from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable
from typing import Any

from torch.utils.data import Dataset

from pixelar.data.base import ArrayDataset, DatasetInfo
from pixelar.data.download import cache_dir
from pixelar.errors import ConfigError, DataError

__all__ = ["ArrayDataset", "DatasetInfo", "cache_dir", "list_datasets", "load_dataset"]


@dataclasses.dataclass(frozen=True)
class _Entry:
    splits: tuple[str, ...]
    loader: Callable[..., Dataset]    # (split, root, download, **options) -> Dataset
    about: str


def _cifar(name: str) -> Callable[..., Dataset]:
    def load(split: str, root: Any, download: bool) -> Dataset:
        from pixelar.data.cifar import load_cifar
        return load_cifar(name, split, root, download)
    return load


def _mnist(split: str, root: Any, download: bool) -> Dataset:
    from pixelar.data.mnist import load_mnist
    return load_mnist(split, root, download)


def _binarized_mnist(split: str, root: Any, download: bool) -> Dataset:
    from pixelar.data.mnist import load_binarized_mnist
    return load_binarized_mnist(split, root, download)


def _imagenet(size: int, release: str) -> Callable[..., Dataset]:
    def load(split: str, root: Any, download: bool) -> Dataset:
        from pixelar.data import imagenet
        loader = imagenet.load_imagenet_npz if release == "npz" else imagenet.load_imagenet_png
        return loader(size, split, root, download)
    return load


def _celeba(size: int) -> Callable[..., Dataset]:
    def load(split: str, root: Any, download: bool, crop_size: int = 140) -> Dataset:
        from pixelar.data.celeba import load_celeba
        return load_celeba(size, split, root, download, crop_size=crop_size)
    return load


def _natural(split: str, root: Any, download: bool, patch_size: int = 32, channels: int = 3,
             epoch_length: int = 4096, seed: int = 0) -> Dataset:
    from pixelar.data.natural import load_natural
    return load_natural(split, root, download, patch_size=patch_size, channels=channels,
                        epoch_length=epoch_length, seed=seed)


_TRAIN_TEST = ("train", "test")
_TRAIN_VALID_TEST = ("train", "valid", "test")
_DATASETS: dict[str, _Entry] = {
    "cifar10": _Entry(_TRAIN_TEST, _cifar("cifar10"), "CIFAR-10, 32x32 RGB, 10 classes"),
    "cifar100": _Entry(_TRAIN_TEST, _cifar("cifar100"), "CIFAR-100, 32x32 RGB, 100 fine classes"),
    "mnist": _Entry(_TRAIN_TEST, _mnist, "MNIST, 28x28 gray, 10 classes"),
    "binarized_mnist": _Entry(_TRAIN_VALID_TEST, _binarized_mnist, "binarized MNIST (Larochelle), 28x28, 2 levels"),
    "imagenet32_npz": _Entry(_TRAIN_TEST, _imagenet(32, "npz"), "ImageNet 32x32, Chrabaszcz et al. npz release"),
    "imagenet64_npz": _Entry(_TRAIN_TEST, _imagenet(64, "npz"), "ImageNet 64x64, Chrabaszcz et al. npz release"),
    "imagenet32_png": _Entry(_TRAIN_TEST, _imagenet(32, "png"), "ImageNet 32x32, van den Oord et al. PNG release"),
    "imagenet64_png": _Entry(_TRAIN_TEST, _imagenet(64, "png"), "ImageNet 64x64, van den Oord et al. PNG release"),
    "celeba32": _Entry(_TRAIN_VALID_TEST, _celeba(32), "CelebA aligned, centre crop resized to 32x32"),
    "celeba64": _Entry(_TRAIN_VALID_TEST, _celeba(64), "CelebA aligned, centre crop resized to 64x64"),
    "celeba128": _Entry(_TRAIN_VALID_TEST, _celeba(128), "CelebA aligned, centre crop resized to 128x128"),
    "natural": _Entry(_TRAIN_TEST, _natural, "32x32 patches of photos shipped in scikit-image/-learn, matplotlib"),
}
_PREFIXED = {
    "npz:PATH": "an .npz of uint8 NHWC arrays (keys train_images / x_train / images ...)",
    "folder:PATH": "a folder of PNG/JPEG images, cropped to image_size",
}


def list_datasets() -> list[str]:
    """Registered data set names (plus the ``npz:PATH`` and ``folder:PATH`` forms)."""
    return [*_DATASETS, *_PREFIXED]


def describe_datasets() -> dict[str, str]:
    """Name -> one-line description, for ``pixelar datasets``."""
    return {**{n: e.about for n, e in _DATASETS.items()}, **_PREFIXED}


def _check_options(name: str, loader: Callable[..., Dataset], options: dict[str, Any]) -> None:
    params = list(inspect.signature(loader).parameters)
    allowed = [p for p in params if p not in ("split", "root", "download", "path")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"data set {name} has no option {', '.join(unknown)}; "
                          f"its options are: {', '.join(allowed) or 'none'}")


def load_dataset(name: str, split: str = "train", root: str | os.PathLike | None = None,
                 download: bool = True, **options: Any) -> Dataset:
    """Load data set ``name``'s ``split``; the result has ``.info: DatasetInfo``.

    ``name`` is one of :func:`list_datasets`, or ``npz:PATH`` / ``folder:PATH``.
    ``root`` is the folder holding the files (default ``cache_dir()/<name>``);
    ``download`` allows fetching files that have published checksums.
    ``options`` are per data set (e.g. ``image_size``, ``crop`` for folders,
    ``patch_size`` for natural); an unknown option raises ConfigError.
    Raises DataError for unknown names or splits and missing or corrupt files.
    """
    if name.startswith("npz:") or name.startswith("folder:"):
        from pixelar.data import generic
        kind, path = name.split(":", 1)
        loader = generic.load_npz if kind == "npz" else generic.load_folder
        if not path:
            raise DataError(f"'{name}' names no path; write {kind}:path/to/your/{'file.npz' if kind == 'npz' else 'images'}")
        _check_options(name, loader, options)
        return loader(os.path.expanduser(path), split, **options)
    entry = _DATASETS.get(name)
    if entry is None:
        raise DataError(f"unknown data set '{name}'; choose one of {', '.join(list_datasets())}")
    if split not in entry.splits:
        raise DataError(f"{name} has no split '{split}'; choose one of {', '.join(entry.splits)}")
    _check_options(name, entry.loader, options)
    return entry.loader(split, root, download, **options)
