"""Reading user images into model levels, and writing image grids (PNG)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import PixelarError


def _levels_from_uint8(a: np.ndarray, num_levels: int) -> np.ndarray:
    """0..255 -> 0..K-1 by rounding (identity for K = 256; threshold at 128 for K = 2)."""
    if num_levels == 256:
        return a
    return np.floor(a.astype(np.float64) * (num_levels - 1) / 255.0 + 0.5).astype(np.uint8)


def levels_to_uint8(x: torch.Tensor, num_levels: int) -> torch.Tensor:
    """0..K-1 -> 0..255 for display."""
    if num_levels == 256:
        return x.to(torch.uint8)
    return (x.double() * 255.0 / (num_levels - 1)).round().to(torch.uint8)


def read_image(path: str | os.PathLike, channels: int, size: int, num_levels: int = 256) -> torch.Tensor:
    """Read an image file as a (C, H, W) uint8 tensor of levels 0..K-1; size and channels must match."""
    p = Path(path)
    try:
        with Image.open(p) as img:
            img.load()
            bands = [b for b in img.getbands() if b != "A"]
            if img.mode == "P":
                img, bands = img.convert("RGB"), ["R", "G", "B"]
            got = 1 if len(bands) == 1 else len(bands)
            if got != channels:
                raise PixelarError(f"{p} has {got} channel(s); the model expects {channels} "
                                   f"({'RGB' if channels == 3 else 'grayscale'}): convert the image first")
            if img.size != (size, size):
                raise PixelarError(f"{p} is {img.size[0]}x{img.size[1]} pixels; the model expects "
                                   f"{size}x{size}: crop or resize it first")
            a = np.asarray(img.convert("RGB" if channels == 3 else "L"), dtype=np.uint8)
    except FileNotFoundError:
        raise PixelarError(f"image '{p}' does not exist") from None
    except (UnidentifiedImageError, OSError) as e:
        raise PixelarError(f"cannot read image '{p}' ({e})") from None
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(_levels_from_uint8(a, num_levels).transpose(2, 0, 1).copy())


def read_mask(path: str | os.PathLike, size: int) -> torch.Tensor:
    """A known-pixel mask from an image: white (>= 128) = known. Returns (1, H, W) bool."""
    p = Path(path)
    try:
        with Image.open(p) as img:
            if img.size != (size, size):
                raise PixelarError(f"mask {p} is {img.size[0]}x{img.size[1]}; it must be {size}x{size}")
            a = np.asarray(img.convert("L"))
    except FileNotFoundError:
        raise PixelarError(f"mask '{p}' does not exist") from None
    except (UnidentifiedImageError, OSError) as e:
        raise PixelarError(f"cannot read mask '{p}' ({e})") from None
    return torch.from_numpy(a >= 128)[None]


def grid(images: torch.Tensor, num_levels: int, nrow: int | None = None, pad: int = 2,
         scale: int = 1) -> Image.Image:
    """Tile (N, C, H, W) level images into one PIL image (white padding, optional integer upscaling)."""
    x = levels_to_uint8(images.cpu(), num_levels)
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    canvas = np.full((ncol * (h + pad) + pad, nrow * (w + pad) + pad, 3), 255, dtype=np.uint8)
    for k in range(n):
        r, col = divmod(k, nrow)
        tile = x[k].permute(1, 2, 0).numpy()
        if c == 1:
            tile = np.repeat(tile, 3, axis=2)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = tile
    img = Image.fromarray(canvas)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return img


def check_writable(path: str | os.PathLike, force: bool = False) -> Path:
    """Refuse to overwrite an existing file unless ``force``; create the parent directory."""
    p = Path(path)
    if p.exists() and not force:
        raise PixelarError(f"{p} already exists; choose another --out or pass --force to overwrite it")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def save_png(img: Image.Image, path: str | os.PathLike, force: bool = False) -> Path:
    """Write atomically (temporary file, then rename)."""
    p = check_writable(path, force)
    tmp = p.with_name(f".{p.name}.tmp")
    img.save(tmp, format="PNG")
    tmp.replace(p)
    return p


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file, read from its header (PixelarError if missing or unreadable)."""
    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        raise PixelarError(f"image '{path}' does not exist") from None
    except (UnidentifiedImageError, OSError) as e:
        raise PixelarError(f"cannot read image '{path}' ({e})") from None


def image_channels(path: str | os.PathLike) -> int:
    """1 for a grayscale image file (alpha ignored), 3 for a colour one (palette images are colour)."""
    try:
        with Image.open(path) as img:
            bands = [b for b in img.getbands() if b != "A"]
            return 1 if len(bands) == 1 and img.mode != "P" else 3
    except FileNotFoundError:
        raise PixelarError(f"image '{path}' does not exist") from None
    except (UnidentifiedImageError, OSError) as e:
        raise PixelarError(f"cannot read image '{path}' ({e})") from None


def known_mask(spec: str, size: int) -> torch.Tensor:
    """(1, H, W) bool of known pixels from 'top-half', 'left-half' or a mask image path (white = known)."""
    m = torch.zeros(1, size, size, dtype=torch.bool)
    if spec == "top-half":
        m[:, : size // 2] = True
    elif spec == "left-half":
        m[:, :, : size // 2] = True
    else:
        m = read_mask(spec, size)
    return m
