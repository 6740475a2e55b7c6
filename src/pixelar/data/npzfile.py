"""Reading ``.npz`` files that may be hostile: never unpickle, never trust a header's sizes.

An ``.npz`` is a zip archive of ``.npy`` members (``numpy.savez`` stores them,
``savez_compressed`` deflates them). Each member's header declares a dtype and
a shape; ``numpy.load`` allocates what the header declares before reading a
byte, so a 1 KB file can ask for 114 GiB (MemoryError, or the OOM killer).
:func:`read_array` first checks the declared size against the bytes the
member really holds, and those against the file's size on disk (a stored
member cannot be larger than the file; deflate cannot expand more than
1032:1), and only then allocates. Object (pickled) arrays are refused.
"""
from __future__ import annotations

import contextlib
import math
import os
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pixelar.errors import DataError

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")    # a local file header, or an empty archive
_NPY_MAGIC = b"\x93NUMPY"
_DEFLATE_MAX_RATIO = 1032                      # deflate's hard limit on uncompressed / compressed bytes
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}


@contextlib.contextmanager
def open_npz(path: str | os.PathLike, source: str) -> Iterator[zipfile.ZipFile]:
    """Open ``path`` as an ``.npz`` zip archive; ``source`` names it in errors ("npz:PATH").

    Raises DataError (one line) for a missing file, a ``.npy`` file, a file that is not
    a zip archive at all (text, pickle, ...) and a truncated or corrupt archive.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except FileNotFoundError as e:
        raise DataError(f"npz file not found: put it at {path}") from e
    except OSError as e:
        raise DataError(f"cannot read {source} ({type(e).__name__}: {e})") from e
    if magic.startswith(_NPY_MAGIC):
        raise DataError(f"{source} is a .npy file (one array), not an .npz: write it with "
                        f"numpy.savez(path, train_images=..., test_images=...)")
    if magic[:4] not in _ZIP_MAGIC:
        raise DataError(f"{source} is not an .npz file (a NumPy zip archive; it starts with {magic[:4]!r}): "
                        f"write it with numpy.savez or numpy.savez_compressed")
    try:
        with zipfile.ZipFile(path) as zf:
            yield zf
    except zipfile.BadZipFile as e:
        raise DataError(f"{source} is truncated or corrupt (BadZipFile: {e}); write it again") from e


def array_keys(zf: zipfile.ZipFile) -> list[str]:
    """Names of the arrays in an open ``.npz`` (members ``KEY.npy``), in archive order."""
    return [n[:-4] for n in zf.namelist() if n.endswith(".npy")]


def _read_header(f: object) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(f)
    reader = _HEADER_READERS.get(version)
    if reader is None:
        raise ValueError(f"unsupported .npy format version {version}")
    return reader(f)


def _check_sizes(info: zipfile.ZipInfo, header_bytes: int, shape: tuple[int, ...], dtype: np.dtype,
                 file_bytes: int) -> str | None:
    """Why the member cannot hold what its header declares (None if it can)."""
    declared = math.prod(shape) * dtype.itemsize               # Python ints: no overflow
    if info.file_size < header_bytes + declared:
        return (f"declares a {dtype} array of shape {shape} ({declared:,} bytes), but the member "
                f"holds only {max(info.file_size - header_bytes, 0):,} bytes")
    if info.compress_size > file_bytes or (info.compress_type == zipfile.ZIP_STORED
                                           and info.file_size != info.compress_size):
        return f"its zip entry declares {info.file_size:,} bytes in a {file_bytes:,}-byte file"
    if info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + 1024:
        return (f"its zip entry declares {info.file_size:,} bytes from {info.compress_size:,} "
                f"compressed ones, more than deflate can expand")
    return None


def read_array(zf: zipfile.ZipFile, key: str, source: str, mmap_path: Path | None = None) -> np.ndarray:
    """Array ``key`` of an open ``.npz``, its sizes checked before anything is allocated.

    With ``mmap_path`` (the archive's path) a stored, uncompressed member is memory-mapped
    read-only instead of read; a deflated one is always read into memory.
    Raises DataError (one line): no such key, object (pickled) arrays, a header whose sizes
    the file cannot hold, other compressions than stored/deflated, truncation, bad CRC.
    """
    try:
        info = zf.getinfo(f"{key}.npy")
    except KeyError:
        raise DataError(f"{source} has no '{key}' array; its arrays are "
                        f"{', '.join(array_keys(zf)) or 'none'}") from None
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise DataError(f"{source} '{key}' uses zip compression {info.compress_type}; write the file "
                        f"with numpy.savez or numpy.savez_compressed")
    file_bytes = os.path.getsize(zf.filename) if zf.filename else info.compress_size
    try:
        with zf.open(info) as f:
            shape, fortran, dtype = _read_header(f)
            header_bytes = f.tell()
        if dtype.hasobject:
            raise DataError(f"{source} '{key}' holds pickled objects; refusing to load them: "
                            f"save plain uint8 arrays instead")
        problem = _check_sizes(info, header_bytes, shape, dtype, file_bytes)
        if problem is not None:
            raise DataError(f"{source} '{key}' is corrupt or hostile: {problem}; write it again")
        if mmap_path is not None and info.compress_type == zipfile.ZIP_STORED:
            return np.memmap(mmap_path, dtype=dtype, mode="r", shape=shape, order="F" if fortran else "C",
                             offset=_data_offset(mmap_path, info) + header_bytes)
        with zf.open(info) as f:           # the sizes are known good: numpy may allocate now
            return np.lib.format.read_array(f, allow_pickle=False)
    except DataError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise DataError(f"{source} '{key}' is truncated or corrupt ({type(e).__name__}: {e}); "
                        f"write it again") from e


def _data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Byte offset in ``path`` where a stored member's data starts (after its local header)."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        fixed = f.read(30)                   # 30 fixed bytes, then the name and an extra field
        if len(fixed) != 30 or fixed[:4] != b"PK\x03\x04":
            raise ValueError("bad local file header")
        name_len, extra_len = struct.unpack("<HH", fixed[26:30])
    return info.header_offset + 30 + name_len + extra_len
