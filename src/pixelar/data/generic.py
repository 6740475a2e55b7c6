"""Your own images: ``npz:PATH`` (uint8 arrays) and ``folder:PATH`` (PNG/JPEG files).

Both take split-specific data if the source has any (``train_images``/``x_train``
keys, ``train/`` subfolders). A source that has some split-specific data but not
the requested split is an error, never a silent fallback to other images. Without
split-specific data, a folder serves every split, while an ``.npz`` with a plain
``images`` key serves only "train" unless the key is named explicitly
(``images_key=images``): a test score is never taken on training images unasked.
Options go in the data set name: ``npz:PATH?num_levels=2``,
``folder:PATH?image_size=64&resize=true`` (see :func:`pixelar.data.load_dataset`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from pixelar.data.base import ArrayDataset, DatasetInfo
from pixelar.data.npzfile import array_keys, open_npz, read_array
from pixelar.data.transforms import (
    center_crop_offsets,
    decode_image,
    pil_to_hwc,
    random_crop_offsets,
    seeded_generator,
    to_chw,
)
from pixelar.errors import DataError

SPLITS = ("train", "valid", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _split_keys(split: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Candidate (image keys, label keys) of ``split``, in order of preference."""
    names = (split, "val") if split == "valid" else (split,)
    images = tuple(k for n in names for k in (f"{n}_images", f"x_{n}"))
    labels = tuple(k for n in names for k in (f"{n}_labels", f"y_{n}"))
    return images, labels


def _paired_labels_key(images_key: str) -> str:
    """The labels key that goes with an images key: images/labels, S_images/S_labels, x_S/y_S."""
    if images_key == "images":
        return "labels"
    if images_key.endswith("_images"):
        return images_key[: -len("_images")] + "_labels"
    if images_key.startswith("x_"):
        return "y_" + images_key[2:]
    return f"{images_key}_labels"


def _choose_keys(source: str, keys: list[str], split: str, images_key: str | None,
                 labels_key: str | None) -> tuple[str, str | None]:
    """(images key, labels key or None) of ``split``; see :func:`load_npz` for the rules."""
    if images_key is not None:
        if labels_key is None and _paired_labels_key(images_key) in keys:
            labels_key = _paired_labels_key(images_key)
        return images_key, labels_key
    image_keys, label_keys = _split_keys(split)
    if not any(k in keys for s in SPLITS for k in _split_keys(s)[0]) and "images" in keys:
        if split != "train":   # one unsplit set: it is training data, never a silent test set
            raise DataError(f"{source} has only 'images' (no {split}_images or x_{split} key), served "
                            f"as the train split; to score a {split} split on it, name the key "
                            f"explicitly ({source}?images_key=images), or save the {split} images "
                            f"under '{split}_images'")
        image_keys, label_keys = ("images",), ("labels",)
    chosen = next((k for k in image_keys if k in keys), None)
    if chosen is None:
        raise DataError(f"{source} has no '{split}' images (looked for {', '.join(image_keys)}; "
                        f"keys are {', '.join(sorted(keys)) or 'none'}); name the key "
                        f"({source}?images_key=KEY) or choose another split")
    if labels_key is None:
        labels_key = next((k for k in label_keys if k in keys), None)
    return chosen, labels_key


def load_npz(path: str | os.PathLike, split: str = "train", images_key: str | None = None,
             labels_key: str | None = None, num_levels: int = 256) -> ArrayDataset:
    """Integer images from an ``.npz``: uint8 (N, H, W, C) or (N, H, W) arrays, H == W, C = 1 or 3.

    The values are the pixel levels themselves, 0..num_levels-1 (0..255; 0/1 with
    ``num_levels=2``). Float images (e.g. 0..1) and other integer types are refused, never
    cast: a cast would give a likelihood of different images than the file's.

    Keys by split: ``{split}_images`` or ``x_{split}`` (labels ``{split}_labels`` /
    ``y_{split}``; "valid" also tries ``val``). A file with none of these but an ``images``
    key (``labels``) holds one unsplit set: it serves the train split only, and "valid" /
    "test" are refused, so no test score is ever taken on training images. ``images_key``
    (any split) names the images explicitly; its labels default to the paired key
    (``images``/``labels``, ``S_images``/``S_labels``, ``x_S``/``y_S``) unless ``labels_key``
    says otherwise. In a data set name: ``npz:PATH?images_key=images&num_levels=2``.
    The file is never unpickled and its array sizes are checked before allocating.
    """
    path = Path(path)
    source = f"npz:{path}"
    if split not in SPLITS:
        raise DataError(f"{source} has no split '{split}'; choose one of {', '.join(SPLITS)}")
    with open_npz(path, source) as zf:
        keys = array_keys(zf)
        images_key, labels_key = _choose_keys(source, keys, split, images_key, labels_key)
        images = read_array(zf, images_key, source)
        labels = read_array(zf, labels_key, source) if labels_key is not None else None
        conditions = _read_conditions(zf, keys, split, source)
    if images.ndim == 3:
        images = images[:, :, :, None]
    if images.dtype.kind == "f":
        lo, hi = (float(images.min()), float(images.max())) if images.size else (0.0, 0.0)
        raise DataError(f"{source} '{images_key}' holds {images.dtype} values ({lo:g}..{hi:g}), not "
                        f"integer pixel levels; save uint8 levels instead, e.g. "
                        f"(x * 255).round().astype(numpy.uint8) for images in 0..1")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != images.shape[2] \
            or images.shape[3] not in (1, 3):
        raise DataError(f"{source} '{images_key}' must be uint8 (N, S, S, C) with C 1 or 3 (NHWC), "
                        f"got {images.dtype} {images.shape}")
    if len(images) and images.max() >= num_levels:
        raise DataError(f"{source} '{images_key}' has values up to {images.max()}, but "
                        f"num_levels={num_levels}; pass the right one ({source}?num_levels=256)")
    num_classes = 0
    if labels is not None:
        if labels.shape != (len(images),) or labels.dtype.kind not in "iu" \
                or (len(labels) and labels.min() < 0):
            raise DataError(f"{source} '{labels_key}' must be {len(images)} non-negative ints, "
                            f"got {labels.dtype} {labels.shape}")
        labels = labels.astype(np.int64)
        num_classes = int(labels.max()) + 1 if len(labels) else 0
    info = DatasetInfo(name=source, num_channels=images.shape[3], image_size=images.shape[1],
                       num_levels=num_levels, num_classes=num_classes)
    for key, values in conditions.items():
        if len(values) != len(images):
            raise DataError(f"npz:{path} has {len(values)} '{key}' entries for {len(images)} images; "
                            "give one per image")
    return ArrayDataset(np.ascontiguousarray(images), labels, info, conditions)


def _read_conditions(zf: Any, keys: list[str], split: str, source: str) -> dict[str, Any]:
    """Conditions beside the label: ``{split}_spatial`` (or ``spatial``) float maps (N, h, w) or
    (N, h, w, c), NHWC like the images, returned as (N, c, h, w) float32; ``{split}_captions`` (or
    ``captions``) strings (N,)."""
    out: dict[str, Any] = {}
    names = (split, "val") if split == "valid" else (split,)
    for field, suffix in (("spatial", "spatial"), ("caption", "captions")):
        key = next((k for k in [f"{n}_{suffix}" for n in names] + [suffix] if k in keys), None)
        if key is None:
            continue
        values = read_array(zf, key, source)
        if field == "spatial":
            if values.dtype.kind != "f" or values.ndim not in (3, 4) or not np.isfinite(values).all():
                raise DataError(f"{source} '{key}' must be finite float maps (N, h, w) or (N, h, w, c), "
                                f"got {values.dtype} {values.shape}")
            values = values[..., None] if values.ndim == 3 else values
            out[field] = np.ascontiguousarray(values.transpose(0, 3, 1, 2), dtype=np.float32)
        else:
            if values.dtype.kind != "U" or values.ndim != 1:
                raise DataError(f"{source} '{key}' must be a 1-D array of strings, got {values.dtype} {values.shape}")
            out[field] = [str(v) for v in values]
    return out


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


class ImageFolderDataset(Dataset):
    """Every PNG/JPEG under a folder (recursively, sorted by path), cropped to ``image_size``.

    Items: (C, image_size, image_size) uint8 tensors with C = 3 (RGB) or 1 (L),
    label -1. Optionally the shorter side is first resized to ``resize``.
    Random crops use a generator seeded by (seed, epoch, index): call
    :meth:`set_epoch` for fresh crops each epoch.
    """

    def __init__(self, files: list[Path], image_size: int, crop: str, channels: int,
                 resize: int | None, seed: int, info: DatasetInfo) -> None:
        self.files, self.image_size, self.crop, self.info = files, image_size, crop, info
        self.mode = "RGB" if channels == 3 else "L"
        self.resize, self.seed, self.epoch = resize, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the random crops of ``epoch`` (no effect with crop="center")."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path = self.files[i]
        try:
            data = path.read_bytes()
        except OSError as e:
            raise DataError(f"cannot read {path}: {e}") from e
        image = decode_image(data, str(path), self.mode)
        if self.resize is not None:
            w, h = image.size
            scale = self.resize / min(w, h)
            image = image.resize((max(self.resize, round(w * scale)), max(self.resize, round(h * scale))),
                                 Image.Resampling.LANCZOS)
        w, h = image.size
        s = self.image_size
        if min(w, h) < s:
            raise DataError(f"{path} is {w}x{h}, smaller than image_size={s}; remove it, pass a smaller "
                            f"image_size, or resize the images (add ?resize=true to the folder: name)")
        if self.crop == "random":
            top, left = random_crop_offsets(h, w, s, seeded_generator(self.seed, self.epoch, i))
        else:
            top, left = center_crop_offsets(h, w, s)
        return to_chw(pil_to_hwc(image.crop((left, top, left + s, top + s)))), -1


def load_folder(path: str | os.PathLike, split: str = "train", image_size: int = 32,
                crop: str = "center", channels: int = 3, resize: int | bool | None = None,
                seed: int = 0) -> ImageFolderDataset:
    """``folder:PATH``: ``PATH/<split>/`` if PATH has train/valid/test subfolders, else all of PATH.

    Each image (any size, 8- or 16-bit) is cropped to ``image_size`` (``crop`` "center" or
    "random"), after its shorter side is resized (Lanczos) to ``resize`` pixels if given:
    ``resize=True`` (or 1) means to ``image_size``; ``None``/``False``/0 means no resizing.
    In a data set name: ``folder:PATH?image_size=64&resize=true``.
    """
    path = Path(path)
    if split not in SPLITS:
        raise DataError(f"folder:{path} has no split '{split}'; choose one of {', '.join(SPLITS)}")
    if crop not in ("center", "random") or channels not in (1, 3) or image_size < 1:
        raise DataError(f"folder:{path}: crop must be 'center' or 'random', channels 1 or 3 and "
                        f"image_size positive, got crop={crop!r} channels={channels} image_size={image_size}")
    if resize is True or resize == 1:
        resize = image_size
    elif resize is False or resize == 0:
        resize = None
    if resize is not None and resize < image_size:
        raise DataError(f"folder:{path}: resize={resize} would make every image smaller than "
                        f"image_size={image_size}; pass resize=true (to image_size) or a side >= {image_size}")
    if not path.is_dir():
        raise DataError(f"image folder not found: put your PNG/JPEG images in {path}")
    if any((path / s).is_dir() for s in SPLITS):
        if not (path / split).is_dir():
            raise DataError(f"folder:{path} has split subfolders but no '{split}/'; put the {split} "
                            f"images in {path / split}")
        path = path / split
    files = _image_files(path)
    if not files:
        raise DataError(f"no .png/.jpg/.jpeg images found under {path}; put your images there")
    info = DatasetInfo(name=f"folder:{path}", num_channels=channels, image_size=image_size, num_levels=256)
    return ImageFolderDataset(files, image_size, crop, channels, resize, seed, info)
