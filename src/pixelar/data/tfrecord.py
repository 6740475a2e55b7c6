"""TFRecord files and ``tf.train.Example`` messages in pure Python (no TensorFlow).

A TFRecord file is a sequence of records, each::

    uint64 length (little endian) | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)

with masked_crc(x) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2^32) over CRC-32C (Castagnoli).
``data`` is a serialized ``tf.train.Example``: Features (field 1) holding map entries (field 1) of a
string key (1) and a Feature (2) whose one field is bytes_list (1), float_list (2) or int64_list (3),
each a repeated field 1 (floats and int64s packed or not). Only what these messages use of the
protobuf wire format is read: varints (type 0), 64-bit (1), length-delimited (2) and 32-bit (5).
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pixelar.errors import DataError


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path: str | Path, check_crc: bool = True) -> Iterator[bytes]:
    """Every record's data in a TFRecord file; a truncated or corrupt file raises DataError."""
    raw = Path(path).read_bytes()
    pos = 0
    while pos < len(raw):
        if pos + 12 > len(raw):
            raise DataError(f"{path} is truncated (an incomplete record header at byte {pos}); replace it")
        header = raw[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", raw[pos + 8:pos + 12])
        end = pos + 12 + length + 4
        if end > len(raw) or (check_crc and masked_crc(header) != hcrc):
            raise DataError(f"{path} is truncated or corrupt at byte {pos}; replace it")
        data = raw[pos + 12:pos + 12 + length]
        (dcrc,) = struct.unpack("<I", raw[end - 4:end])
        if check_crc and masked_crc(data) != dcrc:
            raise DataError(f"{path}: record at byte {pos} fails its CRC; the file is corrupt, replace it")
        yield data
        pos = end


def index_records(path: str | Path) -> list[tuple[int, int]]:
    """(offset of the data, length) of every record, read from the headers only (CRC of each header checked)."""
    out, size = [], Path(path).stat().st_size
    with open(path, "rb") as f:
        pos = 0
        while pos < size:
            header = f.read(12)
            if len(header) < 12 or masked_crc(header[:8]) != struct.unpack("<I", header[8:])[0]:
                raise DataError(f"{path} is truncated or corrupt at byte {pos}; replace it")
            (length,) = struct.unpack("<Q", header[:8])
            if pos + 16 + length > size:
                raise DataError(f"{path} is truncated (a record at byte {pos} runs past the end); replace it")
            out.append((pos + 12, length))
            pos += 16 + length
            f.seek(pos)
    return out


def read_record_at(path: str | Path, offset: int, length: int) -> bytes:
    """One record's data (located by :func:`index_records`), its CRC checked."""
    with open(path, "rb") as f:
        f.seek(offset)
        data, crc = f.read(length), f.read(4)
    if len(crc) < 4 or masked_crc(data) != struct.unpack("<I", crc)[0]:
        raise DataError(f"{path}: the record at byte {offset - 12} fails its CRC; the file is corrupt, replace it")
    return data


def write_records(path: str | Path, records: list[bytes]) -> None:
    """Write records in the TFRecord framing (for fixtures and tests)."""
    out = bytearray()
    for data in records:
        header = struct.pack("<Q", len(data))
        out += header + struct.pack("<I", masked_crc(header)) + data + struct.pack("<I", masked_crc(data))
    Path(path).write_bytes(bytes(out))


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise DataError("a tf.train.Example holds a malformed varint")
        b = buf[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        if not b & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value): an int for varint/fixed fields, bytes for length-delimited ones."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise DataError(f"a tf.train.Example uses protobuf wire type {wire}, which it never should")
        if pos > len(buf):
            raise DataError("a tf.train.Example is truncated")
        yield field, wire, value


def parse_example(data: bytes) -> dict[str, list[bytes] | np.ndarray]:
    """A serialized tf.train.Example -> {key: list of bytes | float32 array | int64 array}."""
    out: dict[str, list[bytes] | np.ndarray] = {}
    for f, _, features in _fields(data):
        if f != 1:
            continue
        for f2, _, entry in _fields(features):            # map<string, Feature> entries
            if f2 != 1:
                continue
            key, feature = "", b""
            for f3, _, v in _fields(entry):
                if f3 == 1:
                    key = v.decode("utf-8")
                elif f3 == 2:
                    feature = v
            for kind, _, lst in _fields(feature):
                values = [v for fn, _, v in _fields(lst) if fn == 1]
                wires = [w for fn, w, _ in _fields(lst) if fn == 1]
                if kind == 1:
                    out[key] = list(values)
                elif kind == 2:                               # packed (wire 2) or single floats (wire 5)
                    out[key] = np.frombuffer(b"".join(values), dtype="<f4").astype(np.float32)
                elif kind == 3:
                    ints: list[int] = []
                    for v, w in zip(values, wires):
                        if w == 2:
                            p = 0
                            while p < len(v):
                                x, p = _varint(v, p)
                                ints.append(x)
                        else:
                            ints.append(v)
                    out[key] = np.array([x - (1 << 64) if x >= 1 << 63 else x for x in ints], dtype=np.int64)
    return out


def _ld(field: int, payload: bytes) -> bytes:
    n, out = len(payload), bytearray([(field << 3) | 2])
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out) + payload


def encode_example(features: dict[str, list[bytes] | np.ndarray]) -> bytes:
    """A tf.train.Example holding bytes lists and float32 lists (packed), for fixtures and tests."""
    entries = b""
    for key, value in features.items():
        if isinstance(value, list):
            feature = _ld(1, b"".join(_ld(1, v) for v in value))
        else:
            feature = _ld(2, _ld(1, np.asarray(value, dtype="<f4").tobytes()))
        entries += _ld(1, _ld(1, key.encode()) + _ld(2, feature))
    return _ld(1, entries)
