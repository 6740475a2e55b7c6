"""Data sets by name: ``load_dataset("cifar10", "test")``.

Every returned data set yields ``(x, label)``, ``x`` a uint8 tensor (C, H, W)
with values 0..num_levels-1, ``label`` an int (-1 when unlabelled), and has
``.info`` (:class:`DatasetInfo`). Loaders are imported only when used.

Options go in keyword arguments or in the name itself, so that a command line
can give them: ``npz:PATH?num_levels=2&images_key=images``,
``folder:PATH?image_size=64&resize=true``, ``natural?patch_size=16``
(:func:`parse_dataset_spec`; values are typed by the loader's signature).

Files live in ``root`` (default ``cache_dir()/<data set>``, where ``cache_dir()``
is ``$PIXELAR_DATA`` or ``~/.cache/pixelar``). Files with published checksums
are downloaded when missing (``download=True``); the others raise a DataError
saying where to put them.
"""
from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import types
import typing
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from pixelar.data.base import ArrayDataset, DatasetInfo
from pixelar.data.download import cache_dir
from pixelar.errors import ConfigError, DataError

__all__ = ["ArrayDataset", "DatasetInfo", "cache_dir", "datasets_status", "describe_datasets", "list_datasets",
           "load_dataset", "parse_dataset_spec"]


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
    def load(split: str, root: Any, download: bool, crop_size: int = 140, margins: str = "",
             partition: str = "official", train_fraction: float = 0.9, split_seed: int = 0) -> Dataset:
        from pixelar.data.celeba import load_celeba
        return load_celeba(size, split, root, download, crop_size=crop_size, margins=margins, partition=partition,
                           train_fraction=train_fraction, split_seed=split_seed)
    return load


def _natural(split: str, root: Any, download: bool, patch_size: int = 32, channels: int = 3,
             epoch_length: int = 4096, seed: int = 0, permute_channels: bool = False) -> Dataset:
    from pixelar.data.natural import load_natural
    return load_natural(split, root, download, patch_size=patch_size, channels=channels,
                        epoch_length=epoch_length, seed=seed, permute_channels=permute_channels)


def _moving_digits(split: str, root: Any, download: bool, image_size: int = 64, num_frames: int = 20,
                   num_context: int = 2, num_sequences: int | None = None, seed: int = 0,
                   digits: str | None = None) -> Dataset:
    from pixelar.data.video import MovingDigits
    return MovingDigits(split, image_size, num_frames, num_context, num_sequences, seed, digits)


def _moving_mnist(split: str, root: Any, download: bool, num_context: int = 2) -> Dataset:
    from pixelar.data.video import load_moving_mnist
    return load_moving_mnist(split, root, download, num_context)


def _robot_pushing(split: str, root: Any, download: bool, image_size: int = 64, num_context: int = 2) -> Dataset:
    from pixelar.data.video import load_robot_pushing
    return load_robot_pushing(split, root, image_size, num_context)


_TRAIN_TEST = ("train", "test")
_TRAIN_VALID_TEST = ("train", "valid", "test")
_DATASETS: dict[str, _Entry] = {
    "cifar10": _Entry(_TRAIN_TEST, _cifar("cifar10"), "CIFAR-10: 50,000 train / 10,000 test 32x32 RGB, 10 classes"),
    "cifar100": _Entry(_TRAIN_TEST, _cifar("cifar100"),
                       "CIFAR-100: 50,000 train / 10,000 test 32x32 RGB, 100 fine classes"),
    "mnist": _Entry(_TRAIN_TEST, _mnist, "MNIST: 60,000 train / 10,000 test 28x28 gray digits, 10 classes"),
    "binarized_mnist": _Entry(_TRAIN_VALID_TEST, _binarized_mnist,
                              "binarized MNIST (Larochelle & Murray): 50,000 / 10,000 / 10,000 28x28, 2 levels"),
    "imagenet32_npz": _Entry(_TRAIN_TEST, _imagenet(32, "npz"),
                             "ImageNet 32x32 (Chrabaszcz et al. npz release), 1000 classes; test = validation"),
    "imagenet64_npz": _Entry(_TRAIN_TEST, _imagenet(64, "npz"),
                             "ImageNet 64x64 (Chrabaszcz et al. npz release), 1000 classes; test = validation"),
    "imagenet32_png": _Entry(_TRAIN_TEST, _imagenet(32, "png"),
                             "ImageNet 32x32 (van den Oord et al. PNG release, the PixelRNN paper's); test = validation"),
    "imagenet64_png": _Entry(_TRAIN_TEST, _imagenet(64, "png"),
                             "ImageNet 64x64 (van den Oord et al. PNG release, the PixelRNN paper's); test = validation"),
    "celeba32": _Entry(_TRAIN_VALID_TEST, _celeba(32), "CelebA aligned faces, centre 140x140 crop resized to 32x32"),
    "celeba64": _Entry(_TRAIN_VALID_TEST, _celeba(64), "CelebA aligned faces, centre 140x140 crop resized to 64x64"),
    "celeba128": _Entry(_TRAIN_VALID_TEST, _celeba(128),
                        "CelebA aligned faces, centre 140x140 crop resized to 128x128"),
    "natural": _Entry(_TRAIN_TEST, _natural, "32x32 patches of 9 photos shipped in scikit-image/-learn and "
                                            "matplotlib (train and test split by photo); no download"),
    "moving_digits": _Entry(("train", "valid", "test_seen", "test_novel"), _moving_digits,
                            "action-conditional moving digits, 20 frames of 64x64, 2 given (built in)"),
    "moving_mnist": _Entry(_TRAIN_VALID_TEST, _moving_mnist, "Moving MNIST (Srivastava et al.), 20 frames of 64x64"),
    "robot_pushing": _Entry(("train", "test_seen", "test_novel"), _robot_pushing,
                            "Robot Pushing (Finn et al.) TFRecords, 20 frames, 5-d actions and state"),
}
_PREFIXED = {
    "npz:PATH": "an .npz of uint8 NHWC arrays (keys train_images / x_train / images ...); "
                "options ?num_levels=2&images_key=KEY&labels_key=KEY",
    "folder:PATH": "a folder of PNG/JPEG images, cropped to image_size; "
                   "options ?image_size=64&resize=true&crop=random&channels=1&seed=0",
}


def list_datasets() -> list[str]:
    """Registered data set names (plus the ``npz:PATH`` and ``folder:PATH`` forms)."""
    return [*_DATASETS, *_PREFIXED]


def describe_datasets() -> dict[str, str]:
    """Name -> one-line description, for ``pixelar datasets``."""
    return {**{n: e.about for n, e in _DATASETS.items()}, **_PREFIXED}


def datasets_status() -> list[Any]:
    """For each data set: description, the folder its files are (or would be) in under
    :func:`cache_dir`, whether they are there, and how they get there
    (:class:`pixelar.data.status.DatasetStatus`). Looks at file names only: nothing is read or downloaded."""
    from pixelar.data.status import dataset_status
    return [dataset_status(name, about) for name, about in describe_datasets().items()]


def parse_dataset_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split a data set name from its options: ``"npz:d.npz?num_levels=2&images_key=x"`` ->
    ``("npz:d.npz", {"num_levels": "2", "images_key": "x"})``.

    The options are a URL query (``KEY=VALUE`` joined by ``&``, %-escapes allowed); values
    stay strings, typed later by :func:`load_dataset` from the loader's signature, so a
    command line can merge ``KEY=VALUE`` flags into them. A ``npz:``/``folder:`` path that
    contains ``?`` and exists as written is taken whole. Raises ConfigError for a malformed
    query or a key given twice.
    """
    name, sep, query = spec.partition("?")
    if not sep:
        return spec, {}
    kind, _, path = spec.partition(":")
    if kind in ("npz", "folder") and Path(os.path.expanduser(path)).exists():
        return spec, {}
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True)
        if not pairs:
            raise ValueError("no options after '?'")
    except ValueError:
        raise ConfigError(f"data set options '{query}' in '{spec}' are not KEY=VALUE pairs joined by '&'; "
                          f"write e.g. npz:PATH?num_levels=2&images_key=images") from None
    options: dict[str, str] = {}
    for key, value in pairs:
        if key in options:
            raise ConfigError(f"data set option {key} is given twice in '{spec}'; give it once")
        options[key] = value
    return name, options


_NONE_WORDS = ("none", "null", "")
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _from_text(text: str, hint: Any) -> Any:
    """``text`` as a value of type ``hint`` (str, int, float, bool, ``X | None``); ValueError if not."""
    allowed = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    word = text.strip().lower()
    if type(None) in allowed and word in _NONE_WORDS:
        return None
    if bool in allowed and (word in _BOOL_WORDS or (int not in allowed and word in ("1", "0"))):
        return _BOOL_WORDS.get(word, word == "1")
    for kind in (int, float):
        if kind in allowed:
            with contextlib.suppress(ValueError):     # "2.5" is no int, "x" no number
                return kind(text)
    if str in allowed or Any in allowed:
        return text
    raise ValueError(text)


def _describe(hint: Any) -> str:
    allowed = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return " or ".join("none" if a is type(None) else getattr(a, "__name__", str(a)) for a in allowed)


def _checked_options(name: str, loader: Callable[..., Dataset], options: dict[str, Any]) -> dict[str, Any]:
    """``options`` known to ``loader``, string values converted to the types of its signature."""
    params = list(inspect.signature(loader).parameters)
    allowed = [p for p in params if p not in ("split", "root", "download", "path")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"data set {name} has no option {', '.join(unknown)}; "
                          f"its options are: {', '.join(allowed) or 'none'}")
    hints = typing.get_type_hints(loader)
    typed = {}
    for key, value in options.items():
        if isinstance(value, str) and key in hints:
            try:
                value = _from_text(value, hints[key])
            except ValueError:
                raise ConfigError(f"data set {name} option {key}={value!r} is not a valid "
                                  f"{_describe(hints[key])}") from None
        typed[key] = value
    return typed


def load_dataset(name: str, split: str = "train", root: str | os.PathLike | None = None,
                 download: bool = True, **options: Any) -> Dataset:
    """Load data set ``name``'s ``split``; the result has ``.info: DatasetInfo``.

    ``name`` is one of :func:`list_datasets`, or ``npz:PATH`` / ``folder:PATH``, optionally
    followed by options: ``npz:PATH?num_levels=2``, ``folder:PATH?image_size=64&resize=true``.
    ``root`` is the folder holding the files (default ``cache_dir()/<name>``);
    ``download`` allows fetching files that have published checksums.
    ``options`` are per data set (e.g. ``image_size``, ``crop`` for folders,
    ``num_levels``, ``images_key`` for npz, ``patch_size`` for natural), given in the name or
    as keyword arguments (strings are converted by the loader's signature; a key given both
    ways is an error); an unknown option or a value of the wrong type raises ConfigError.
    Raises DataError for unknown names or splits and missing or corrupt files.
    """
    spec = name
    name, in_name = parse_dataset_spec(spec)
    twice = sorted(set(in_name) & set(options))
    if twice:
        raise ConfigError(f"data set option {', '.join(twice)} is given both in '{spec}' and as an "
                          f"argument; give it once")
    options = {**in_name, **options}
    if name.startswith(("npz:", "folder:")):
        from pixelar.data import generic
        kind, path = name.split(":", 1)
        loader = generic.load_npz if kind == "npz" else generic.load_folder
        if not path:
            raise DataError(f"'{name}' names no path; write {kind}:path/to/your/{'file.npz' if kind == 'npz' else 'images'}")
        options = _checked_options(name, loader, options)
        return loader(os.path.expanduser(path), split, **options)
    entry = _DATASETS.get(name)
    if entry is None:
        raise DataError(f"unknown data set '{name}'; choose one of {', '.join(list_datasets())}")
    if split not in entry.splits:
        raise DataError(f"{name} has no split '{split}'; choose one of {', '.join(entry.splits)}")
    options = _checked_options(name, entry.loader, options)
    return entry.loader(split, root, download, **options)
