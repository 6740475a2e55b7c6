"""Bits/dim of standard lossless codecs, the floor a density model should beat.

Each image is encoded on its own (as a model scores each image on its own)
with Pillow: PNG at maximum effort (``optimize=True``, zlib level 9) and WebP
lossless (``lossless=True, quality=100, method=6``). Every encoding is decoded
again and compared with the input, so a reported figure is always for a truly
lossless round trip. Bits/dim = 8 * total bytes / total dimensions (N*H*W*C),
container headers included.
"""
from __future__ import annotations

import dataclasses
import io

import numpy as np
from PIL import Image

CODECS = ("png", "webp")


@dataclasses.dataclass(frozen=True)
class CodecResult:
    codec: str
    total_bytes: int      # sum of the encoded sizes, headers included
    total_dims: int       # N * H * W * C
    bits_per_dim: float   # 8 * total_bytes / total_dims


def _as_nhwc(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:            # (N, H, W) grayscale
        images = images[:, :, :, None]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] not in (1, 3) or not images.size:
        raise ValueError(f"images must be a non-empty uint8 (N, H, W, C) array with C 1 or 3, "
                         f"got {images.dtype} {images.shape}")
    return images


def encode(image_hwc: np.ndarray, codec: str) -> bytes:
    """One uint8 (H, W, C) image -> PNG or lossless-WebP bytes."""
    pil = Image.fromarray(image_hwc[:, :, 0] if image_hwc.shape[2] == 1 else image_hwc)
    buf = io.BytesIO()
    if codec == "png":
        pil.save(buf, format="PNG", optimize=True, compress_level=9)
    elif codec == "webp":
        pil.save(buf, format="WEBP", lossless=True, quality=100, method=6, exact=True)
    else:
        raise ValueError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
    return buf.getvalue()


def decode(data: bytes, channels: int) -> np.ndarray:
    """Encoded bytes -> uint8 (H, W, channels) array."""
    with Image.open(io.BytesIO(data)) as im:
        array = np.asarray(im.convert("L" if channels == 1 else "RGB"))
    return array[:, :, None] if channels == 1 else array


def codec_result(images: np.ndarray, codec: str) -> CodecResult:
    """Encode every image of uint8 (N, H, W, C) ``images`` separately; check it round-trips.

    Raises RuntimeError if any decoded image differs from its input.
    """
    images = _as_nhwc(images)
    total_bytes = 0
    for i, image in enumerate(images):
        data = encode(image, codec)
        if not np.array_equal(decode(data, image.shape[2]), image):
            raise RuntimeError(f"{codec} did not round-trip image {i} exactly; this Pillow build's "
                               f"{codec} encoder is not lossless")
        total_bytes += len(data)
    return CodecResult(codec, total_bytes, images.size, 8.0 * total_bytes / images.size)


def codec_bits_per_dim(images: np.ndarray, codec: str) -> float:
    """Bits per dimension of ``codec`` ("png" or "webp") over uint8 (N, H, W, C) ``images``."""
    return codec_result(images, codec).bits_per_dim
