"""MNIST (IDX files) and binarized MNIST (Larochelle's ``.amat`` text files).

MNIST layout under ``root`` (default ``cache_dir()/mnist``), gzipped or raw::

    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

IDX: a big-endian header ``0 0 <type> <ndim>`` then ``ndim`` uint32 sizes,
then the values; type 0x08 is uint8. Binarized MNIST (``cache_dir()/binarized_mnist``):
``binarized_mnist_{train,valid,test}.amat``, one image per line as 784
space-separated 0/1 values, row-major 28x28.
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from pixelar.data.base import ArrayDataset, DatasetInfo
from pixelar.data.download import Resource, cache_dir, fetch
from pixelar.errors import DataError

# Mirrors tried in order (each a URL prefix ending in "/"); tests point these at a local server.
MNIST_MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
BINARIZED_MNIST_MIRRORS: list[str] = [
    "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",
]

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_MD5 = {  # of the .gz files
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MAX_BYTES = 16_000_000     # the largest official .gz (train images) is 9.9 MB
BINARIZED_SPLITS = ("train", "valid", "test")
_BINARIZED_ROWS = {"train": 50_000, "valid": 10_000, "test": 10_000}
_AMAT_DIMS = 784
_AMAT_LINE = 2 * _AMAT_DIMS - 1     # "0 1 0 ... 1": 784 digits and 783 single spaces


def parse_idx(data: bytes, source: str, ndim: int) -> np.ndarray:
    """IDX bytes -> uint8 array with the shape from the header (``ndim`` dims expected)."""
    if len(data) < 4:
        raise DataError(f"{source} is truncated (no IDX header); delete it and download it again")
    zero, dtype_code, got_ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08 or got_ndim != ndim:
        raise DataError(f"{source} is not a uint8 IDX file with {ndim} dims (magic "
                        f"{data[:4].hex()}, expected 000008{ndim:02x}); replace it with the official file")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source} is truncated (incomplete IDX header); delete it and download it again")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        raise DataError(f"{source} has {len(data)} bytes, its header {shape} says {expected}: "
                        f"it is truncated or corrupt; delete it and download it again")
    # Copy out of the immutable bytes so tensors made from it are writable.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read a raw or ``.gz`` IDX file (see :func:`parse_idx`)."""
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is truncated or corrupt ({type(e).__name__}: {e}); "
                        f"delete it and download it again") from e
    return parse_idx(data, str(path), ndim)


def _mnist_file(stem: str, root: Path, download: bool) -> Path:
    """Prefer the (md5-checked) .gz, then a raw file the user unpacked, else download the .gz."""
    raw = root / stem
    if raw.is_file() and not (root / f"{stem}.gz").exists():
        return raw
    resource = Resource(f"{stem}.gz", tuple(m + f"{stem}.gz" for m in MNIST_MIRRORS), md5=MNIST_MD5[stem],
                        max_bytes=MNIST_MAX_BYTES)
    return fetch(resource, root, download)


def load_mnist(split: str = "train", root: str | os.PathLike | None = None,
               download: bool = True) -> ArrayDataset:
    """MNIST split ("train" 60000 / "test" 10000) of (1, 28, 28) uint8 images, labels 0..9."""
    if split not in MNIST_FILES:
        raise DataError(f"mnist has no split '{split}'; choose one of {', '.join(MNIST_FILES)}")
    root = Path(root) if root is not None else cache_dir() / "mnist"
    images_path, labels_path = (_mnist_file(stem, root, download) for stem in MNIST_FILES[split])
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{images_path} holds {images.shape[1:]} images, expected 28x28; replace it")
    if len(images) != len(labels):
        raise DataError(f"{images_path} has {len(images)} images but {labels_path} has "
                        f"{len(labels)} labels; replace both with the official files")
    if len(labels) and labels.max() > 9:
        raise DataError(f"{labels_path} has labels above 9; replace it with the official file")
    info = DatasetInfo(name="mnist", num_channels=1, image_size=28, num_levels=256, num_classes=10)
    return ArrayDataset(images[:, :, :, None], labels.astype(np.int64), info)


def _amat_line_fallback(line: bytes, number: int, source: str) -> np.ndarray:
    """Parse one irregularly spaced line (tabs, several spaces) token by token."""
    tokens = line.split()
    if len(tokens) != _AMAT_DIMS or any(t not in (b"0", b"1") for t in tokens):
        raise DataError(f"{source} line {number}: expected {_AMAT_DIMS} values 0 or 1, got "
                        f"{len(tokens)} tokens; the file is truncated or corrupt: replace it")
    return np.array([t == b"1" for t in tokens], dtype=np.uint8)


def parse_amat(data: bytes, source: str) -> np.ndarray:
    """``.amat`` text -> uint8 (N, 28, 28, 1) array of 0/1 values."""
    lines = [line.strip() for line in data.split(b"\n")]
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line]
    if not numbered:
        raise DataError(f"{source} holds no images; replace it with the official file")
    if all(len(line) == _AMAT_LINE for _, line in numbered):
        # Fast path for the official single-space format: one (N, 1567) byte matrix.
        table = np.frombuffer(b"".join(line for _, line in numbered), dtype=np.uint8)
        table = table.reshape(len(numbered), _AMAT_LINE)
        digits, spaces = table[:, 0::2], table[:, 1::2]
        if np.all(spaces == ord(" ")) and np.all((digits == ord("0")) | (digits == ord("1"))):
            return (digits - ord("0")).reshape(-1, 28, 28, 1)
    rows = [_amat_line_fallback(line, number, source) for number, line in numbered]
    return np.stack(rows).reshape(-1, 28, 28, 1)


def load_binarized_mnist(split: str = "train", root: str | os.PathLike | None = None,
                         download: bool = True) -> ArrayDataset:
    """Binarized MNIST (Larochelle & Murray): 50000 train, 10000 valid, 10000 test
    (1, 28, 28) images with values 0/1 (``num_levels`` = 2), no labels.

    No checksum is published for these files, so a download is checked by parsing only.
    """
    if split not in BINARIZED_SPLITS:
        raise DataError(f"binarized_mnist has no split '{split}'; choose one of {', '.join(BINARIZED_SPLITS)}")
    root = Path(root) if root is not None else cache_dir() / "binarized_mnist"
    name = f"binarized_mnist_{split}.amat"
    # Each row is 784 digits and 783 spaces plus a newline (1,568 bytes); twice that bounds the file.
    max_bytes = 2 * (_AMAT_LINE + 1) * _BINARIZED_ROWS[split]
    resource = Resource(name, tuple(m + name for m in BINARIZED_MNIST_MIRRORS), max_bytes=max_bytes)
    path = fetch(resource, root, download)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}") from e
    images = parse_amat(data, str(path))
    info = DatasetInfo(name="binarized_mnist", num_channels=1, image_size=28, num_levels=2)
    return ArrayDataset(images, None, info)
