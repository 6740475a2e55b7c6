"""Reading user images into model levels, and writing image grids (PNG).

Every image file pixelar reads (``complete``/``colorize``/``upscale`` inputs,
known-pixel masks, ``folder:`` and the other image data sets) goes through
:func:`open_image` and :func:`to_8bit`:

* **Size first.** The header's width x height is checked (against the size the
  caller expects, and against :data:`MAX_IMAGE_PIXELS`) before any pixel is
  decoded, so a small file declaring a huge image ("decompression bomb") is
  refused at once, with one line, and never decoded.
* **8 bits per value.** 16-bit images are scaled to 8 bits by keeping the high
  byte, ``v >> 8`` (0..65535 -> 0..255; an 8-bit image stored as ``257 * v``
  comes back exactly). That is what Pillow itself does for 16-bit RGB(A) and
  gray+alpha PNGs, so a 16-bit gray image and its RGB twin agree. Pillow's own
  ``convert("L")`` of a 16-bit gray image would instead clip every value above
  255, turning a typical 16-bit image all white.
"""
from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import PixelarError

# The largest image (width x height, in pixels) pixelar decodes: Pillow's own bound
# (89,478,485 px, about 0.33 GiB as RGBA). Pillow only warns between 1x and 2x this bound and
# raises past 2x; pixelar refuses everything past 1x, before decoding.
MAX_IMAGE_PIXELS = 89_478_485

# Pillow modes of one-channel images with more than 8 bits per value, taken as 16-bit (0..65535).
# "I" (32-bit signed) is what some Pillow versions and TIFF files give for 16-bit gray.
_DEEP_GRAY = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class ImageTooLarge(ValueError):
    """An image header declares more pixels than :data:`MAX_IMAGE_PIXELS` (or than expected)."""


@contextlib.contextmanager
def open_image(source: str | os.PathLike | IO[bytes], max_pixels: int | None = MAX_IMAGE_PIXELS
               ) -> Iterator[Image.Image]:
    """Open an image file lazily (header only) and refuse one larger than ``max_pixels``.

    Yields a Pillow image whose pixels are not decoded yet (decode with :func:`to_8bit`).
    Raises ``ImageTooLarge`` (a ValueError) for a header over ``max_pixels`` pixels and for
    Pillow's own ``DecompressionBombError`` (over 2 x :data:`MAX_IMAGE_PIXELS`, which is not an
    OSError). ``max_pixels=None`` leaves the bound to a caller that checks an exact size.
    FileNotFoundError, ``UnidentifiedImageError`` and other OSErrors pass through.
    """
    try:
        with warnings.catch_warnings():       # past 1x Pillow's bound it only warns; refused below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(f"it declares more than {2 * MAX_IMAGE_PIXELS:,} pixels ({e})") from None
    with img:
        w, h = img.size
        if max_pixels is not None and w * h > max_pixels:
            raise ImageTooLarge(f"it is {w}x{h} = {w * h:,} pixels, more than the {max_pixels:,} "
                                f"pixelar decodes")
        yield img


def to_8bit(img: Image.Image, mode: str) -> Image.Image:
    """Decode ``img`` into mode ``mode`` ("L", "RGB" or "RGBA") with 8 bits per value.

    16-bit gray (modes ``I;16``, ``I;16B``, ``I;16L`` and ``I`` holding 0..65535) becomes
    8-bit gray by ``v >> 8`` before the conversion; 16-bit RGB(A) and LA files are already
    reduced the same way by Pillow's decoder. Raises ValueError for floating-point images
    ("F") and "I" images with values outside 0..65535 (no 8-bit reading of them is right).
    """
    if img.mode in _DEEP_GRAY:
        a = np.asarray(img)                                    # (H, W) uint16 or int32
        if a.size and (int(a.min()) < 0 or int(a.max()) > 65535):
            raise ValueError(f"its {img.mode} values span {a.min()}..{a.max()}, outside the "
                             f"16-bit range 0..65535")
        img = Image.fromarray((a.astype(np.uint32) >> 8).astype(np.uint8), mode="L")
    elif img.mode == "F":
        raise ValueError("it holds floating-point values, not 8- or 16-bit integers")
    return img.convert(mode) if img.mode != mode else img.copy()


def image_channels(img: Image.Image) -> int:
    """1 for a gray image (with or without alpha, any bit depth), else 3; from the header only."""
    if img.mode == "P":
        return 3
    return 1 if len([b for b in img.getbands() if b != "A"]) == 1 else 3


def image_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """(width, height, channels) of an image file from its header; nothing is decoded.

    Raises PixelarError (one line) when the file is missing, unreadable or over
    :data:`MAX_IMAGE_PIXELS`.
    """
    p = Path(path)
    with _reading(p, "image"), open_image(p) as img:
        return img.size[0], img.size[1], image_channels(img)


@contextlib.contextmanager
def _reading(p: Path, what: str) -> Iterator[None]:
    """Turn every way reading ``p`` can fail into one-line PixelarErrors."""
    try:
        yield
    except PixelarError:
        raise
    except FileNotFoundError:
        raise PixelarError(f"{what} '{p}' does not exist") from None
    except ImageTooLarge as e:
        raise PixelarError(f"{what} '{p}' is too large to read: {e}; downscale it first") from None
    except ValueError as e:
        raise PixelarError(f"cannot read {what} '{p}': {e}; save it as an 8- or 16-bit PNG") from None
    except (UnidentifiedImageError, OSError) as e:
        raise PixelarError(f"cannot read {what} '{p}' ({e})") from None


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
    """Read an image file as a (C, H, W) uint8 tensor of levels 0..K-1; size and channels must match.

    8- and 16-bit files are read (16-bit values scaled by ``v >> 8``, see the module
    docstring); the size and channels are checked from the header before decoding.
    Raises PixelarError (one line) for a missing, unreadable or mismatched file.
    """
    p = Path(path)
    with _reading(p, "image"), open_image(p, max_pixels=None) as img:
        got = image_channels(img)
        if got != channels:
            raise PixelarError(f"{p} has {got} channel(s); the model expects {channels} "
                               f"({'RGB' if channels == 3 else 'grayscale'}): convert the image first")
        if img.size != (size, size):
            raise PixelarError(f"{p} is {img.size[0]}x{img.size[1]} pixels; the model expects "
                               f"{size}x{size}: crop or resize it first")
        a = np.asarray(to_8bit(img, "RGB" if channels == 3 else "L"), dtype=np.uint8)   # (H, W[, 3])
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(_levels_from_uint8(a, num_levels).transpose(2, 0, 1).copy())


def read_mask(path: str | os.PathLike, size: int) -> torch.Tensor:
    """A known-pixel mask from an image: white (>= 128 of 255, 8- or 16-bit) = known. Returns (1, H, W) bool."""
    p = Path(path)
    with _reading(p, "mask"), open_image(p, max_pixels=None) as img:
        if img.size != (size, size):
            raise PixelarError(f"mask {p} is {img.size[0]}x{img.size[1]}; it must be {size}x{size}")
        a = np.asarray(to_8bit(img, "L"))                                                # (H, W)
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


def write_atomically(path: str | os.PathLike, write: Callable[[Path], object], force: bool = False) -> Path:
    """``write(tmp)`` into a temporary file beside ``path``, then rename it over ``path`` (checked
    with :func:`check_writable`); a failed write leaves neither file behind."""
    p = check_writable(path, force)
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        write(tmp)
        tmp.replace(p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def save_png(img: Image.Image, path: str | os.PathLike, force: bool = False) -> Path:
    """Write atomically (temporary file, then rename); a failed write leaves neither file behind."""
    return write_atomically(path, lambda tmp: img.save(tmp, format="PNG"), force)


MAX_GIF_FRAMES = 1000


def read_gif(path: str | os.PathLike, num_levels: int = 256) -> np.ndarray:
    """An animated GIF's frames as (T, C, H, W) uint8 in 0..K-1: C = 1 when every frame is gray
    (R = G = B everywhere), else 3. Every frame is composited as a viewer shows it (Pillow's
    ``seek``), then mapped 0..255 -> 0..K-1 as :func:`read_image` does.

    GIF writers (Pillow's among them) merge a frame identical to the one before into it, adding its
    duration: a frame shown k times the shortest duration is repeated k times, so a clip with a
    still frame keeps its length."""
    p = Path(path)
    frames, durations = [], []
    with _reading(p, "clip"), open_image(p) as img:
        if getattr(img, "n_frames", 1) > MAX_GIF_FRAMES:
            raise PixelarError(f"clip '{p}' has {img.n_frames} frames, more than the {MAX_GIF_FRAMES} pixelar reads")
        for t in range(getattr(img, "n_frames", 1)):
            img.seek(t)
            frames.append(np.asarray(img.convert("RGB")))
            durations.append(max(int(img.info.get("duration") or 0), 0))
    base = min((d for d in durations if d > 0), default=0)
    repeats = [max(1, round(d / base)) if base else 1 for d in durations]
    if sum(repeats) > MAX_GIF_FRAMES:
        raise PixelarError(f"clip '{p}' holds {sum(repeats)} frames, more than the {MAX_GIF_FRAMES} pixelar reads")
    video = np.stack([f for f, k in zip(frames, repeats) for _ in range(k)])     # (T, H, W, 3)
    if (video == video[..., :1]).all():
        video = video[..., :1]
    return _levels_from_uint8(video, num_levels).transpose(0, 3, 1, 2).copy()


def save_gif(frames: torch.Tensor, path: str | os.PathLike, num_levels: int, scale: int = 1,
             frame_ms: int = 200, force: bool = False) -> Path:
    """Write (T, C, H, W) frames in 0..K-1 as an animated GIF that loops (atomically). Gray frames
    keep their exact 8-bit values; RGB frames go through Pillow's adaptive 256-colour palette, so a
    GIF is for looking at, never an exact copy (the npz is)."""
    x = levels_to_uint8(frames.cpu(), num_levels).permute(0, 2, 3, 1).numpy()
    mode = "L" if x.shape[-1] == 1 else "RGB"
    images = [Image.fromarray(f[..., 0] if mode == "L" else f, mode) for f in x]
    if scale > 1:
        images = [im.resize((im.width * scale, im.height * scale), Image.NEAREST) for im in images]
    return write_atomically(path, lambda tmp: images[0].save(tmp, format="GIF", save_all=True,
                                                             append_images=images[1:], duration=frame_ms,
                                                             loop=0, optimize=False), force)


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
