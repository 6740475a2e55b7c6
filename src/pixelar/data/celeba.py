"""CelebA aligned-and-cropped faces, centre-cropped and resized to 32, 64 or 128.

Layout under ``root`` (default ``cache_dir()/celeba``)::

    list_eval_partition.txt        # "000001.jpg 0" per line: 0 train, 1 valid, 2 test
    img_align_celeba/000001.jpg    # the folder, or
    img_align_celeba.zip           # the official zip holding that folder

Each 178x218 image is cropped to its central ``crop_size`` x ``crop_size``
square (140 by default: the face, without the background margins), then
resized to ``image_size`` with Pillow's antialiased Lanczos filter. CelebA is
distributed through Google Drive only, so nothing is downloaded.
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


class CelebADataset(Dataset):
    """Items: (3, image_size, image_size) uint8 tensors, label -1. Images are decoded lazily."""

    def __init__(self, root: Path, split: str, image_size: int, crop_size: int, info: DatasetInfo) -> None:
        self.image_size, self.crop_size, self.info = image_size, crop_size, info
        partition = root / "list_eval_partition.txt"
        folder, archive = root / "img_align_celeba", root / "img_align_celeba.zip"
        if not partition.is_file():
            raise DataError(f"celeba: list_eval_partition.txt not found; put the file at {partition} ({_HINT})")
        self.names = read_partition(partition, split)
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
        if min(w, h) < self.crop_size:
            raise DataError(f"{source} is {w}x{h}, smaller than the {self.crop_size}x{self.crop_size} "
                            f"crop; is it an aligned CelebA image?")
        top, left = center_crop_offsets(h, w, self.crop_size)
        image = image.crop((left, top, left + self.crop_size, top + self.crop_size))
        if self.image_size != self.crop_size:
            image = image.resize((self.image_size, self.image_size), Image.Resampling.LANCZOS)
        return to_chw(pil_to_hwc(image)), -1


def load_celeba(image_size: int, split: str = "train", root: str | os.PathLike | None = None,
                download: bool = True, crop_size: int = 140) -> CelebADataset:
    """``celeba{image_size}``: (3, image_size, image_size) uint8 faces; splits train/valid/test."""
    name = f"celeba{image_size}"
    if split not in SPLITS:
        raise DataError(f"{name} has no split '{split}'; choose one of {', '.join(SPLITS)}")
    if image_size not in IMAGE_SIZES or not image_size <= crop_size <= 178:
        raise DataError(f"{name}: image_size must be one of {IMAGE_SIZES} and crop_size between "
                        f"it and 178, got crop_size={crop_size}")
    root = Path(root) if root is not None else cache_dir() / "celeba"
    # A different crop is a different data set: its bits/dim must not be compared with celeba{N}'s.
    info_name = name if crop_size == 140 else f"{name}_crop{crop_size}"
    info = DatasetInfo(name=info_name, num_channels=3, image_size=image_size, num_levels=256)
    return CelebADataset(root, split, image_size, crop_size, info)
