"""The .pxz container: a small header, one range-coded stream per tile, two checksums.

Layout (little-endian), documented in docs/codec.md::

    magic  b"PXZ"  version u8 (= 2)                      4 bytes
    model fingerprint (sha256 prefix)                   16 bytes
    channels u8, levels u16, tile size u16, batch u16     7 bytes
    flags u8 (bit 0: class labels present)               1 byte   (version 2; absent in version 1)
    number of images u32                                 4 bytes
    per image: height u32, width u32                     8 bytes each
    per image: class label u16 (when flag bit 0)         2 bytes each
    per tile: stream length in bytes, LEB128 varint      1-3 bytes each (tiles in image order)
    crc32 of the pixels (uint8, images in order, CHW)    4 bytes
    the tile streams, concatenated
    crc32 of every byte before it                        4 bytes

Fixed overhead: 40 bytes per file, plus 8 per image (10 with class labels) and a varint per tile (each stream itself ends
on a 32-bit word). Every field is checked against sane limits before anything is decoded, and the
trailing CRC catches flipped or missing bytes before the (slow) model is run.
"""
from __future__ import annotations

import dataclasses
import struct
import zlib

from ..errors import PixelarError

MAGIC = b"PXZ"
VERSION = 2
READABLE = (1, 2)             # version 1: no flags byte, no labels
FLAG_LABELS = 1
MAX_LABEL = (1 << 16) - 1
FINGERPRINT_BYTES = 16
MAX_IMAGES = 1 << 16
MAX_SIDE = 1 << 16
MAX_PIXELS = 1 << 28          # per file: bounds the decoder's work and memory
MAX_TILE = 1 << 12
FIXED_OVERHEAD = 4 + FINGERPRINT_BYTES + 7 + 1 + 4 + 4 + 4


@dataclasses.dataclass(frozen=True)
class Container:
    fingerprint: bytes
    channels: int
    levels: int
    tile: int
    batch: int
    shapes: list[tuple[int, int]]       # (height, width) of each image
    streams: list[bytes]                # one per tile, in image order, tiles raster within an image
    pixel_crc: int
    labels: list[int] | None = None     # the class label of each image (class-conditional models)


def tiles_of(shape: tuple[int, int], tile: int) -> int:
    """Number of tiles of side ``tile`` covering an image (height, width)."""
    return -(-shape[0] // tile) * -(-shape[1] // tile)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pack(c: Container) -> bytes:
    """Container -> bytes."""
    head = bytearray(MAGIC + bytes([VERSION]) + c.fingerprint)
    flags = FLAG_LABELS if c.labels is not None else 0
    head += struct.pack("<BHHHBI", c.channels, c.levels, c.tile, c.batch, flags, len(c.shapes))
    for h, w in c.shapes:
        head += struct.pack("<II", h, w)
    if c.labels is not None:
        if len(c.labels) != len(c.shapes) or any(not 0 <= k <= MAX_LABEL for k in c.labels):
            raise PixelarError(f"give one class label in 0..{MAX_LABEL} per image")
        head += struct.pack(f"<{len(c.labels)}H", *c.labels)
    for s in c.streams:
        head += _varint(len(s))
    head += struct.pack("<I", c.pixel_crc)
    body = bytes(head) + b"".join(c.streams)
    return body + struct.pack("<I", zlib.crc32(body))


def _corrupt(what: str) -> PixelarError:
    return PixelarError(f"not a valid .pxz file ({what}); it is truncated or corrupted, re-create it")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise _corrupt("it ends early")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def varint(self) -> int:
        n = shift = 0
        for _ in range(5):
            byte = self.take(1)[0]
            n |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return n
        raise _corrupt("a stream length is too long")


def unpack(data: bytes) -> Container:
    """bytes -> Container, every field checked; raises PixelarError (one line) on any defect."""
    if len(data) < FIXED_OVERHEAD:
        raise _corrupt("it is too short")
    if data[:3] != MAGIC:
        raise PixelarError("not a .pxz file (wrong magic bytes); give a file written by pixelar compress")
    version = data[3]
    if version not in READABLE:
        raise PixelarError(f".pxz version {version} is not supported (this pixelar reads versions "
                           f"{', '.join(map(str, READABLE))}); use a newer pixelar")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise _corrupt("checksum mismatch")
    r = _Reader(data[:-4])
    r.take(4)
    fingerprint = r.take(FINGERPRINT_BYTES)
    channels, levels, tile, batch = struct.unpack("<BHHH", r.take(7))
    flags = r.take(1)[0] if version >= 2 else 0
    n = struct.unpack("<I", r.take(4))[0]
    if channels not in (1, 3) or not 2 <= levels <= 256 or not 1 <= tile <= MAX_TILE or batch < 1 \
            or not 1 <= n <= MAX_IMAGES or flags & ~FLAG_LABELS:
        raise _corrupt("bad header fields")
    shapes = [struct.unpack("<II", r.take(8)) for _ in range(n)]
    if any(not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE) for h, w in shapes) \
            or sum(h * w for h, w in shapes) > MAX_PIXELS:
        raise _corrupt("bad image sizes")
    labels = list(struct.unpack(f"<{n}H", r.take(2 * n))) if flags & FLAG_LABELS else None
    lengths = [r.varint() for _ in range(sum(tiles_of(s, tile) for s in shapes))]
    pixel_crc = struct.unpack("<I", r.take(4))[0]
    if any(k % 4 for k in lengths) or sum(lengths) != len(r.data) - r.pos:
        raise _corrupt("stream lengths do not match the data")
    streams = [r.take(k) for k in lengths]
    return Container(fingerprint, channels, levels, tile, batch, shapes, streams, pixel_crc, labels)
