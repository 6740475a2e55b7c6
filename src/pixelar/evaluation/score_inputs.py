"""The images ``pixelar score`` reads: image files, folders of them, and ``.npz`` files.

Decoding is exactly ``pixelar eval``'s on a ``folder:`` data set
(:func:`pixelar.data.transforms.decode_image`): the file is decoded into the model's mode, "RGB"
or "L" (grayscale files become RGB by repeating the gray value, RGBA files lose their alpha,
palette files are expanded), 16-bit values are reduced by ``v >> 8`` (never clipped, never
rescaled otherwise), and a header declaring more than ``imageio.MAX_IMAGE_PIXELS`` is refused
before decoding. Image files hold 256 levels, so a model of other levels (binarized MNIST) scores
only ``.npz`` inputs, whose values are the levels themselves (as ``npz:PATH?num_levels=2``).

Sizes: one rule, ``crop``:

* ``"none"`` (default): every image must be exactly the model's S x S; any other size is refused
  with one line naming the file.
* ``"center"``: the centred S x S window (``folder:``'s crop; rounded up-left); an image with a
  side shorter than S is refused.
* ``"tiles"``: the image is cut into non-overlapping S x S tiles in raster order from the top-left
  corner, one row each (named ``PATH#rRcC``, tile row R and column C); the last W mod S columns and
  H mod S rows are not scored. An image with a side shorter than S is refused.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from ..data.generic import IMAGE_SUFFIXES, load_npz
from ..data.npzfile import array_keys, open_npz
from ..data.transforms import center_crop_offsets, decode_image, pil_to_hwc
from ..errors import PixelarError

CROPS = ("none", "center", "tiles")


@dataclasses.dataclass(frozen=True)
class ScoreItem:
    """One scored image: ``name`` (unique: the path, ``PATH[i]`` for npz index i, ``PATH#rRcC`` for a
    tile), ``path`` (the file it came from), ``item`` (npz index, tile "R,C" or "")."""
    name: str
    path: str
    item: str


class ScoreInputs(torch.utils.data.Dataset):
    """(C, S, S) uint8 level images with labels (-1 = none), and a :class:`ScoreItem` for each."""

    def __init__(self, images: list[torch.Tensor], labels: list[int], items: list[ScoreItem]) -> None:
        self.images, self.labels, self.items = images, labels, items

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], self.labels[i]


def _windows(h: int, w: int, size: int, crop: str, name: str) -> list[tuple[int, int, str]]:
    """(top, left, tile label) of the S x S windows scored in an h x w image, per the crop rule."""
    if crop == "none":
        if (h, w) != (size, size):
            raise PixelarError(f"{name} is {w}x{h} pixels, but the model scores {size}x{size} images; "
                               f"pass --crop center or --crop tiles, or resize it")
        return [(0, 0, "")]
    if min(h, w) < size:
        raise PixelarError(f"{name} is {w}x{h} pixels, smaller than the model's {size}x{size}; "
                           f"remove it or resize it")
    if crop == "center":
        top, left = center_crop_offsets(h, w, size)
        return [(top, left, "")]
    return [(r * size, c * size, f"{r},{c}") for r in range(h // size) for c in range(w // size)]


def _add(out: ScoreInputs, hwc: np.ndarray, label: int, name: str, path: str, item: str, size: int,
         crop: str) -> None:
    h, w = hwc.shape[:2]
    for top, left, tile in _windows(h, w, size, crop, name):
        window = hwc[top:top + size, left:left + size]
        out.images.append(torch.from_numpy(np.ascontiguousarray(window.transpose(2, 0, 1))))
        out.labels.append(label)
        if tile:
            r, c = tile.split(",")
            out.items.append(ScoreItem(f"{name}#r{r}c{c}", path, tile if not item else f"{item}:{tile}"))
        else:
            out.items.append(ScoreItem(name, path, item))


def _image_file(out: ScoreInputs, path: Path, channels: int, size: int, num_levels: int, crop: str) -> None:
    if num_levels != 256:
        raise PixelarError(f"{path}: image files hold 256 levels, but the model has {num_levels}; give "
                           f"the images as an .npz of levels 0..{num_levels - 1}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PixelarError(f"cannot read {path}: {e.strerror or e}") from None
    image = decode_image(data, str(path), "RGB" if channels == 3 else "L")
    _add(out, pil_to_hwc(image), -1, str(path), str(path), "", size, crop)


def _npz_file(out: ScoreInputs, path: Path, channels: int, size: int, num_levels: int, crop: str,
              split: str, images_key: str | None) -> None:
    if images_key is None:
        with open_npz(path, f"npz:{path}") as zf:
            keys = array_keys(zf)
        split_keys = (f"{split}_images", f"x_{split}") + (("val_images", "x_val") if split == "valid" else ())
        if "images" in keys and not any(k in keys for k in split_keys):
            images_key = "images"   # one unsplit set, named on the command line: score it
    data = load_npz(path, split=split, images_key=images_key, num_levels=num_levels)
    if data.info.num_channels != channels:
        raise PixelarError(f"{path} holds {data.info.num_channels}-channel images, but the model scores "
                           f"{channels}-channel ones; give images of the model's kind")
    labels = data.labels if data.labels is not None else np.full(len(data.images), -1)
    for i, hwc in enumerate(data.images):
        _add(out, hwc, int(labels[i]), f"{path}[{i}]", str(path), str(i), size, crop)


def collect_inputs(inputs: list[str], channels: int, size: int, num_levels: int = 256, crop: str = "none",
                   split: str = "test", images_key: str | None = None) -> ScoreInputs:
    """Read ``inputs`` (image files, folders searched recursively for .png/.jpg/.jpeg in sorted path
    order, ``.npz`` files) into model-sized level images, in the order given.

    ``split``/``images_key`` choose an npz's images as ``npz:`` does; an npz holding one unsplit
    ``images`` array is scored whatever the split. Raises PixelarError (one line, naming the file)
    for a missing or unreadable input, a size the crop rule refuses, or images of another kind.
    """
    if crop not in CROPS:
        raise PixelarError(f"--crop must be one of {', '.join(CROPS)}, got {crop!r}")
    out = ScoreInputs([], [], [])
    for spec in inputs:
        p = Path(spec)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
            if not files:
                raise PixelarError(f"no .png/.jpg/.jpeg images found under {p}; put your images there")
            for f in files:
                _image_file(out, f, channels, size, num_levels, crop)
        elif not p.exists():
            raise PixelarError(f"input {p} does not exist; give image files, folders or .npz files")
        elif p.suffix.lower() == ".npz":
            _npz_file(out, p, channels, size, num_levels, crop, split, images_key)
        else:
            _image_file(out, p, channels, size, num_levels, crop)
    names = [it.name for it in out.items]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise PixelarError(f"{dup} is given twice (directly or inside a folder); give each input once")
    return out

