"""CIFAR-10 and CIFAR-100 from the official "python version" archives.

Layout under ``root`` (default ``cache_dir()/cifar10`` or ``cifar100``)::

    cifar-10-python.tar.gz          # official archive, md5-checked
    cifar-10-batches-py/            # extracted from it on first use
        data_batch_1 .. data_batch_5, test_batch

Each batch is a pickled dict ``{data: uint8 (N, 3072), labels: [N ints]}``
(CIFAR-100: ``fine_labels``), the 3072 values being the R, G and B 32x32
planes in row-major order, N the official count (CIFAR-10: 10,000 per batch;
CIFAR-100: 50,000 train, 10,000 test), which is required. Batches are read
with a restricted unpickler that can only rebuild numpy arrays from bytes the
file holds.
"""
from __future__ import annotations

import dataclasses
import os
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from pixelar.data.base import ArrayDataset, DatasetInfo
from pixelar.data.download import Resource, cache_dir, fetch
from pixelar.data.safe_pickle import safe_load
from pixelar.errors import DataError

# Mirrors tried in order; tests point this at a local server.
CIFAR_MIRRORS: list[str] = ["https://www.cs.toronto.edu/~kriz/"]
ARCHIVE_MAX_BYTES = 200_000_000     # both official archives are about 170 MB: a longer download is cut off


@dataclasses.dataclass(frozen=True)
class CifarSpec:
    name: str
    archive: str
    md5: str
    folder: str                      # folder inside the archive
    splits: dict[str, tuple[str, ...]]
    label_key: str
    num_classes: int
    rows: dict[str, int]             # file -> its official number of images


CIFAR10 = CifarSpec(
    name="cifar10", archive="cifar-10-python.tar.gz", md5="c58f30108f718f92721af3b95e74349a",
    folder="cifar-10-batches-py",
    splits={"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
    label_key="labels", num_classes=10,
    rows={**{f"data_batch_{i}": 10_000 for i in range(1, 6)}, "test_batch": 10_000})
CIFAR100 = CifarSpec(
    name="cifar100", archive="cifar-100-python.tar.gz", md5="eb9058c3a382ffc7106e55718bd8a4b2",
    folder="cifar-100-python", splits={"train": ("train",), "test": ("test",)},
    label_key="fine_labels", num_classes=100, rows={"train": 50_000, "test": 10_000})
SPECS = {spec.name: spec for spec in (CIFAR10, CIFAR100)}


def _resource(spec: CifarSpec) -> Resource:
    return Resource(spec.archive, tuple(m + spec.archive for m in CIFAR_MIRRORS), md5=spec.md5,
                    max_bytes=ARCHIVE_MAX_BYTES)


def _extract(archive: Path, spec: CifarSpec, dest: Path) -> None:
    """Extract the batch files of ``spec`` from ``archive`` into ``dest`` (nothing else).

    Only regular files with the exact expected names are written, each through
    a temp file and an atomic rename, so a failed extraction leaves no partial
    batch behind and no archive member can write outside ``dest``.
    """
    wanted = {f"{spec.folder}/{f}": f for files in spec.splits.values() for f in files}
    dest.mkdir(parents=True, exist_ok=True)
    found = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if name not in wanted:
                    continue
                if not member.isreg():
                    raise DataError(f"{archive} member {member.name} is not a regular file; "
                                    f"replace the archive with the official one")
                src = tar.extractfile(member)
                fd, tmp = tempfile.mkstemp(prefix=".extract.", dir=dest)
                try:
                    with os.fdopen(fd, "wb") as out:
                        while chunk := src.read(1 << 20):
                            out.write(chunk)
                    os.replace(tmp, dest / wanted[name])
                finally:
                    Path(tmp).unlink(missing_ok=True)
                found.add(name)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise DataError(f"{archive} is truncated or corrupt ({type(e).__name__}: {e}); "
                        f"delete it and download it again") from e
    missing = sorted(set(wanted) - found)
    if missing:
        raise DataError(f"{archive} lacks {', '.join(missing)}; it is not the official "
                        f"{spec.name} archive: replace it")


def _get(batch: dict[Any, Any], key: str, path: Path) -> Any:
    # Python-2 pickles give str keys under latin-1; Python-3 protocol-2 ones give bytes.
    for k in (key, key.encode()):
        if k in batch:
            return batch[k]
    raise DataError(f"{path} has no '{key}' entry; it is not a CIFAR batch: replace it with the official file")


def read_batch(path: Path, label_key: str, num_classes: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR batch file of ``rows`` images -> (images uint8 (rows, 32, 32, 3), labels int64 (rows,))."""
    batch = safe_load(path, "a CIFAR batch")
    if not isinstance(batch, dict):
        raise DataError(f"{path} holds a {type(batch).__name__}, not a CIFAR batch dict; replace it")
    data = _get(batch, "data", path)
    labels = _get(batch, label_key, path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape != (rows, 3072):
        shape = getattr(data, "shape", None)
        raise DataError(f"{path}: 'data' must be uint8 ({rows}, 3072) as in the official file, got "
                        f"{getattr(data, 'dtype', type(data))} {shape}; the file is corrupt: replace it "
                        f"with the official one")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: '{label_key}' is not a list of ints; replace the file") from e
    if labels.shape != (len(data),) or (len(labels) and (labels.min() < 0 or labels.max() >= num_classes)):
        raise DataError(f"{path}: '{label_key}' must hold {len(data)} ints in 0..{num_classes - 1}; "
                        f"the file is corrupt: replace it with the official one")
    # (N, 3072) holds the R, G, B planes of 32x32 each: -> (N, 3, 32, 32) -> NHWC.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def load_cifar(name: str, split: str = "train", root: str | os.PathLike | None = None,
               download: bool = True) -> ArrayDataset:
    """CIFAR-10 or CIFAR-100 split as an in-memory dataset of (3, 32, 32) uint8 images.

    ``name`` is "cifar10" or "cifar100"; ``split`` "train" (50000) or "test" (10000).
    """
    spec = SPECS[name]
    if split not in spec.splits:
        raise DataError(f"{name} has no split '{split}'; choose one of {', '.join(spec.splits)}")
    root = Path(root) if root is not None else cache_dir() / name
    folder = root / spec.folder
    all_files = [f for files in spec.splits.values() for f in files]
    if not all((folder / f).is_file() for f in all_files):
        archive = fetch(_resource(spec), root, download)
        _extract(archive, spec, folder)
    parts = [read_batch(folder / f, spec.label_key, spec.num_classes, spec.rows[f]) for f in spec.splits[split]]
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    labels = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    info = DatasetInfo(name=name, num_channels=3, image_size=32, num_levels=256,
                       num_classes=spec.num_classes)
    return ArrayDataset(images, labels, info)
