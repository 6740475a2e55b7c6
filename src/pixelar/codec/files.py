"""Files for ``pixelar compress`` / ``decompress``: PNG (or any image Pillow reads), folders, npz.

Inputs are read at their own size (no resizing) as levels 0..K-1 of the model (8-bit values rounded
to K levels when K < 256, which is lossy for such models: compress 8-bit images with a 256-level
model). An npz input holds uint8 images (N, H, W, C) under ``images`` or ``test_images``, or one
(H, W, C) image per key; beside ``images``/``test_images`` an npz may hold the class labels
(``labels``/``test_labels``, one int per image) that a class-conditional model codes with.
Decompressing writes one PNG, or a folder of 000000.png, 000001.png, ... (and labels.txt, one label
per line, when the file holds class labels).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..errors import PixelarError
from ..imageio import (
    _levels_from_uint8,
    _reading,
    check_writable,
    image_channels,
    levels_to_uint8,
    open_image,
    save_png,
    to_8bit,
    write_atomically,
)
from ..models.base import AutoregressiveModel
from .api import decode, encode, labels_of

IMAGE_SUFFIXES = (".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def _chw(a: np.ndarray, channels: int, num_levels: int, what: str) -> torch.Tensor:
    """(H, W[, C]) uint8 -> (C, H, W) uint8 levels."""
    if a.ndim == 2:
        a = a[:, :, None]
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != channels:
        raise PixelarError(f"{what} is {a.dtype} {a.shape}; the model codes uint8 images with {channels} channel(s)")
    return torch.from_numpy(_levels_from_uint8(a, num_levels).transpose(2, 0, 1).copy())


def _read_png(p: Path, channels: int, num_levels: int) -> torch.Tensor:
    with _reading(p, "image"), open_image(p) as img:
        if image_channels(img) != channels:
            raise PixelarError(f"{p} has {image_channels(img)} channel(s); the model codes {channels}")
        a = np.asarray(to_8bit(img, "RGB" if channels == 3 else "L"), dtype=np.uint8)
    return _chw(a, channels, num_levels, str(p))


def _read_npz(p: Path, channels: int, num_levels: int) -> tuple[list[torch.Tensor], list[int] | None]:
    from ..data.npzfile import array_keys, open_npz, read_array
    source = f"npz:{p}"
    with open_npz(p, source) as zf:
        keys = array_keys(zf)
        for key, label_key in (("images", "labels"), ("test_images", "test_labels")):
            if key in keys:
                a = read_array(zf, key, source)
                if a.ndim != 4:
                    raise PixelarError(f"{p}:{key} must be (N, H, W, C) uint8, got {a.shape}")
                labels = None
                if label_key in keys:
                    y = read_array(zf, label_key, source).reshape(-1)
                    if len(y) != len(a) or not np.issubdtype(y.dtype, np.integer):
                        raise PixelarError(f"{p}:{label_key} must hold one integer label per image")
                    labels = [int(v) for v in y]
                return [_chw(im, channels, num_levels, f"{p}:{key}") for im in a], labels
        arrays = [(k, read_array(zf, k, source)) for k in keys]
    images = [_chw(a, channels, num_levels, f"{p}:{k}") for k, a in arrays if a.ndim in (2, 3) and a.dtype == np.uint8]
    if not images:
        raise PixelarError(f"{p} holds no uint8 images (expected 'images' (N, H, W, C) or one image per key)")
    return images, None


def read_inputs(path: str | os.PathLike, channels: int, num_levels: int
                ) -> tuple[list[torch.Tensor], list[int] | None]:
    """Images (C, H, W) uint8 from an image file, a folder of images (sorted by name) or an npz, and
    the npz's class labels (None when it has none, and for image files)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise PixelarError(f"folder {p} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return [_read_png(f, channels, num_levels) for f in files], None
    if not p.exists():
        raise PixelarError(f"input {p} does not exist")
    if p.suffix.lower() == ".npz":
        return _read_npz(p, channels, num_levels)
    return [_read_png(p, channels, num_levels)], None


def compress_files(model: AutoregressiveModel, inputs: str | os.PathLike, out: str | os.PathLike,
                   force: bool = False, progress: bool = False, label: int | None = None) -> tuple[int, int]:
    """Compress the images at ``inputs`` into ``out`` (.pxz); returns (images, bytes written).

    A class-conditional model codes every image with class ``label`` (``--class``), or with the
    npz's own labels when it has them and ``label`` is None.
    """
    target = check_writable(out, force)
    images, labels = read_inputs(inputs, model.image_shape[0], model.config.num_levels)
    if label is not None:
        labels = [label] * len(images)
    elif not model.config.num_classes:
        labels = None            # an npz's labels mean nothing to an unconditional model
    data = encode(model, images, progress=progress, labels=labels)
    write_atomically(target, lambda tmp: tmp.write_bytes(data), force=True)   # --out checked above
    return len(images), len(data)


def decompress_file(model: AutoregressiveModel, inputs: str | os.PathLike, out: str | os.PathLike,
                    force: bool = False, progress: bool = False) -> list[Path]:
    """Decode ``inputs`` (.pxz) to one PNG at ``out`` (one image) or a folder ``out`` of PNGs."""
    from PIL import Image
    src = Path(inputs)
    if not src.is_file():
        raise PixelarError(f"input {src} does not exist")
    out = Path(out)
    if out.suffix.lower() == ".png":
        check_writable(out, force)
    elif out.exists() and any(out.iterdir()) and not force:
        raise PixelarError(f"{out} exists and is not empty; choose another --out or pass --force")
    data = src.read_bytes()
    images = decode(model, data, progress=progress)
    labels = labels_of(data)
    if out.suffix.lower() == ".png" and len(images) != 1:
        raise PixelarError(f"{src} holds {len(images)} images; give a folder as --out")
    paths = [out] if out.suffix.lower() == ".png" else [out / f"{k:06d}.png" for k in range(len(images))]
    for path, im in zip(paths, images):
        a = levels_to_uint8(im, model.config.num_levels).permute(1, 2, 0).numpy()
        path.parent.mkdir(parents=True, exist_ok=True)
        save_png(Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a), path, force=True)   # --out checked above
    if labels is not None and out.suffix.lower() != ".png":
        (out / "labels.txt").write_text("".join(f"{y}\n" for y in labels))
    return paths
