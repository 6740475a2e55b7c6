"""CelebA aligned-and-cropped faces, centre-cropped and resized to 32, 64 or 128.

Layout under ``root`` (default ``cache_dir()/celeba``)::

    list_eval_partition.txt        # "000001.jpg 0" per line: 0 train, 1 valid, 2 test
    img_align_celeba/000001.jpg    # the folder, or
    img_align_celeba.zip           # the official zip holding that folder

Each 178x218 image is cropped to its central ``crop_size`` x ``crop_size``
square (140 by default: the face, without the background margins), then
resized to ``image_size`` with Pillow's antialiased Lanczos filter. CelebA is
distributed through Google Drive only, so nothing is downloaded.

Kolesnikov & Lampert's protocol (§4.2) is available as options: "a fixed [·] crop (left margin [·]
pixels, right margin [·] pixel, top margin [·], bottom margin [·] pixels)" is ``margins=L,R,T,B``
(pixels cut from each side; the numbers are lost in the text, so there is no default), and "a random
[·] subset of all images as training set and the remaining images as a test set" is
``partition=random`` with ``train_fraction`` (lost: 0.9 is our choice) and ``split_seed``: every image of
list_eval_partition.txt, shuffled by the seed, split into train and test (no valid split). A crop that
is not image_size square is resized with Lanczos (the text mentions no resize: our choice).
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset

from pixelar.data.base import DatasetInfo
from pixelar.data.download import cache_dir
from pixelar.data.transforms import center_crop_offsets, decode_image, pil_to_hwc, to_chw
from pixelar.errors import DataError

SPLITS = {"train": "0", "valid": "1", "test": "2"}
IMAGE_SIZES = (32, 64, 128)
_HINT = ("download 'Align&Cropped Images' (img_align_celeba.zip) and list_eval_partition.txt "
         "from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html")


def read_partition(path: Path, split: str) -> list[str]:
    """File names of ``split`` listed in ``list_eval_partition.txt``, sorted."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {path} ({type(e).__name__}: {e}); replace it with the official file") from e
    names = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2") or "/" in fields[0] or "\\" in fields[0]:
            raise DataError(f"{path} line {number} is not '<file>.jpg <0|1|2>': {line[:60]!r}; "
                            f"replace it with the official file")
        if fields[1] == SPLITS[split]:
            names.append(fields[0])
    return sorted(names)


def random_partition(path: Path, split: str, train_fraction: float, seed: int) -> list[str]:
    """K&L's split: every listed image, shuffled by ``seed``; the first ``train_fraction`` is "train", the
    rest "test" (sorted names within each)."""
    names = sorted(n for s in SPLITS for n in read_partition(path, s))
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed)).tolist()
    cut = round(train_fraction * len(names))
    chosen = order[:cut] if split == "train" else order[cut:]
    return sorted(names[i] for i in chosen)


def parse_margins(text: str) -> tuple[int, int, int, int] | None:
    """"L,R,T,B" pixels -> (left, right, top, bottom); "" -> None (the centred square crop)."""
    if not text:
        return None
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or min(values) < 0 or values[0] + values[1] >= 178 or values[2] + values[3] >= 218:
        raise DataError(f"celeba: margins must be four pixel counts LEFT,RIGHT,TOP,BOTTOM that leave part of the "
                        f"178x218 image, e.g. margins=25,25,45,45; got {text!r}")
    return values  # type: ignore[return-value]


class CelebADataset(Dataset):
    """Items: (3, image_size, image_size) uint8 tensors, label -1. Images are decoded lazily."""

    def __init__(self, root: Path, split: str, image_size: int, crop_size: int, info: DatasetInfo,
                 margins: tuple[int, int, int, int] | None = None, partition_protocol: str = "official",
                 train_fraction: float = 0.9, split_seed: int = 0) -> None:
        self.image_size, self.crop_size, self.info, self.margins = image_size, crop_size, info, margins
        partition = root / "list_eval_partition.txt"
        folder, archive = root / "img_align_celeba", root / "img_align_celeba.zip"
        if not partition.is_file():
            raise DataError(f"celeba: list_eval_partition.txt not found; put the file at {partition} ({_HINT})")
        self.names = (random_partition(partition, split, train_fraction, split_seed)
                      if partition_protocol == "random" else read_partition(partition, split))
        self.zip_path: Path | None = None
        if folder.is_dir():
            self.folder = folder
            missing = [n for n in self.names if not (folder / n).is_file()]
        elif archive.is_file():
            self.folder, self.zip_path = folder, archive
            try:
                with zipfile.ZipFile(archive) as zf:
                    members = {i.filename for i in zf.infolist() if not i.is_dir()}
            except (zipfile.BadZipFile, OSError) as e:
                raise DataError(f"{archive} is truncated or corrupt ({e}); download it again") from e
            missing = [n for n in self.names if f"img_align_celeba/{n}" not in members]
        else:
            raise DataError(f"celeba: images not found; put the img_align_celeba folder at {folder} "
                            f"or the zip at {archive} ({_HINT})")
        if missing:
            raise DataError(f"celeba: {len(missing)} images of the {split} split are missing "
                            f"(e.g. {missing[0]}) from {self.zip_path or folder}; re-extract the official zip")
        self._zip: zipfile.ZipFile | None = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self.names)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_zip": None, "_pid": -1}

    def _read(self, name: str) -> tuple[bytes, str]:
        if self.zip_path is None:
            path = self.folder / name
            try:
                return path.read_bytes(), str(path)
            except OSError as e:
                raise DataError(f"cannot read {path}: {e}") from e
        if self._pid != os.getpid():
            self._zip, self._pid = zipfile.ZipFile(self.zip_path), os.getpid()
        source = f"{self.zip_path}:img_align_celeba/{name}"
        try:
            return self._zip.read(f"img_align_celeba/{name}"), source
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise DataError(f"{source} is corrupt ({e}); download the zip again") from e

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        data, source = self._read(self.names[i])
        image = decode_image(data, source, "RGB")
        w, h = image.size
        if self.margins is not None:
            left, right, top, bottom = self.margins
            if left + right >= w or top + bottom >= h:
                raise DataError(f"{source} is {w}x{h}: the margins {self.margins} leave nothing")
            image = image.crop((left, top, w - right, h - bottom))
            if image.size != (self.image_size, self.image_size):
                image = image.resize((self.image_size, self.image_size), Image.Resampling.LANCZOS)
            return to_chw(pil_to_hwc(image)), -1
        if min(w, h) < self.crop_size:
            raise DataError(f"{source} is {w}x{h}, smaller than the {self.crop_size}x{self.crop_size} "
                            f"crop; is it an aligned CelebA image?")
        top, left = center_crop_offsets(h, w, self.crop_size)
        image = image.crop((left, top, left + self.crop_size, top + self.crop_size))
        if self.image_size != self.crop_size:
            image = image.resize((self.image_size, self.image_size), Image.Resampling.LANCZOS)
        return to_chw(pil_to_hwc(image)), -1


def load_celeba(image_size: int, split: str = "train", root: str | os.PathLike | None = None,
                download: bool = True, crop_size: int = 140, margins: str = "", partition: str = "official",
                train_fraction: float = 0.9, split_seed: int = 0) -> CelebADataset:
    """``celeba{image_size}``: (3, image_size, image_size) uint8 faces; splits train/valid/test
    (``partition=random``: train/test, K&L's protocol; ``margins=L,R,T,B``: their fixed crop)."""
    name = f"celeba{image_size}"
    if partition not in ("official", "random"):
        raise DataError(f"{name}: partition must be 'official' or 'random', got {partition!r}")
    if partition == "random" and not 0.0 < train_fraction < 1.0:
        raise DataError(f"{name}: train_fraction must be in (0, 1), got {train_fraction}")
    splits = SPLITS if partition == "official" else ("train", "test")
    if split not in splits:
        raise DataError(f"{name} has no split '{split}'{' with partition=random' if partition == 'random' else ''}; "
                        f"choose one of {', '.join(splits)}")
    cut = parse_margins(margins)
    if image_size not in IMAGE_SIZES or not image_size <= crop_size <= 178:
        raise DataError(f"{name}: image_size must be one of {IMAGE_SIZES} and crop_size between "
                        f"it and 178, got crop_size={crop_size}")
    root = Path(root) if root is not None else cache_dir() / "celeba"
    # A different crop is a different data set: its bits/dim must not be compared with celeba{N}'s.
    info_name = name if crop_size == 140 else f"{name}_crop{crop_size}"
    if cut is not None:
        info_name = f"{name}_margins{'-'.join(map(str, cut))}"
    if partition == "random":
        info_name += f"_random{train_fraction:g}-{split_seed}"
    info = DatasetInfo(name=info_name, num_channels=3, image_size=image_size, num_levels=256)
    return CelebADataset(root, split, image_size, crop_size, info, cut, partition, train_fraction, split_seed)
