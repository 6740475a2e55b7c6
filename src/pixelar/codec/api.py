"""encode / decode: images of any size <-> .pxz bytes, with any unconditional or class-conditional model.

A class-conditional model codes each image given its class label; the labels are side information
stored in the file (2 bytes per image), so decoding needs nothing but the file and the checkpoint.
Spatially- or text-conditioned models are refused: their conditions (maps, captions) are not stored.

Images are cut into tiles of the model's size S (raster order within each image). Edge tiles are
padded with zeros on the right and bottom; the padding is known to both sides, so it is never
coded (it costs nothing, but the model does see black there). Tiles are coded independently, one
range-coded stream each, in batches of ``BATCH`` tiles (the decoder uses the same batches, so the
floats are computed on the same inputs).

Bit-exactness: encode and decode force ``torch.set_num_threads(1)`` (and restore the previous
value), so the float reductions inside the network run in one fixed order whatever the
environment's thread count; and both run the same loop (:mod:`pixelar.codec.loop`). Decoding on a
different machine or torch build may still differ in the last float bit; the pixel CRC then makes
it a clear error, never a silently different image.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from .. import config as config_lib
from ..errors import PixelarError
from ..models.base import AutoregressiveModel
from ..nn.modes import eval_mode
from .container import Container, pack, tiles_of, unpack
from .entropy import DecodeSource, EncodeSource, constriction
from .loop import code_tiles

BATCH = 64       # tiles per sequential pass; stored in the file, so decoders follow the encoder


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """One intra-op thread inside the block: a fixed float summation order on both sides."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fingerprint(model: AutoregressiveModel) -> bytes:
    """16 bytes: sha256 of the model's name, config (as config.json holds it) and every weight."""
    h = hashlib.sha256()
    h.update(json.dumps({"model": model.name, "config": config_lib.to_dict(model.config)}, sort_keys=True).encode())
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.digest()[:16]


def _check_model(model: AutoregressiveModel) -> None:
    _, s, w = model.image_shape
    if s != w:
        raise PixelarError(f"the codec needs a square model, {model.name} is {s}x{w}")


def tile_condition(model: AutoregressiveModel, labels: Sequence[int] | None, tiles_per_image: list[int]) -> Any:
    """The model's condition for every tile (each tile takes its image's label), None if unconditional.

    Goes through ``model.condition`` like the trainer and the commands; a model that also needs
    spatial maps or captions is refused (the codec stores class labels only).
    """
    k = model.config.num_classes
    if not k:
        if labels is not None:
            raise PixelarError(f"class labels given, but this {model.name} checkpoint is not class-conditional")
        if model.random_condition(1) is not None:
            raise PixelarError(f"{model.name} is conditioned on spatial maps or captions, which the codec "
                               f"does not store; compress with an unconditional or class-conditional checkpoint")
        return None
    if labels is None:
        raise PixelarError(f"this {model.name} checkpoint is class-conditional: give each image's class "
                           f"(--class 0..{k - 1}, or 'labels' in the npz)")
    if len(labels) != len(tiles_per_image):
        raise PixelarError(f"{len(labels)} class label(s) for {len(tiles_per_image)} image(s); give one per image")
    bad = [y for y in labels if not 0 <= int(y) < k]
    if bad:
        raise PixelarError(f"class label {bad[0]} is outside 0..{k - 1} (this model's classes)")
    per_tile = torch.tensor([int(y) for y, t in zip(labels, tiles_per_image) for _ in range(t)], dtype=torch.long)
    try:
        return model.condition({"label": per_tile})
    except PixelarError as e:
        raise PixelarError(f"the codec stores class labels only, and {model.name} needs more: {e}") from None


def _batch_condition(cond: Any, b: int, n: int, device: torch.device) -> Any:
    """Tiles b..b+n of a per-tile condition (a label tensor, or a model's dict holding one)."""
    if cond is None:
        return None
    if isinstance(cond, dict):
        return {key: v[b:b + n].to(device) for key, v in cond.items()}
    return cond[b:b + n].to(device)


def _as_list(x: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    images = list(x.unbind(0)) if torch.is_tensor(x) else list(x)
    if not images:
        raise PixelarError("nothing to compress: give at least one image")
    return images


def _check_images(model: AutoregressiveModel, images: list[torch.Tensor]) -> None:
    C, K = model.image_shape[0], model.config.num_levels
    for k, im in enumerate(images):
        if im.dim() != 3 or im.shape[0] != C or im.dtype.is_floating_point or im.dtype == torch.bool:
            raise PixelarError(f"image {k} must be an integer ({C}, H, W) tensor for this model, "
                               f"got {im.dtype} {tuple(im.shape)}")
        if im.numel() and (int(im.min()) < 0 or int(im.max()) >= K):
            raise PixelarError(f"image {k} has values outside 0..{K - 1} (the model's levels)")


def cut(images: list[torch.Tensor], S: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (C, H, W) -> tiles (T, C, S, S) int64 zero-padded, and their pad masks (T, 1, S, S) bool."""
    tiles, pads = [], []
    for im in images:
        C, H, W = im.shape
        for r in range(0, H, S):
            for q in range(0, W, S):
                t = torch.zeros(C, S, S, dtype=torch.long)
                p = torch.ones(1, S, S, dtype=torch.bool)
                part = im[:, r:r + S, q:q + S]
                t[:, :part.shape[1], :part.shape[2]] = part.long()
                p[:, :part.shape[1], :part.shape[2]] = False
                tiles.append(t)
                pads.append(p)
    return torch.stack(tiles), torch.stack(pads)


def paste(tiles: torch.Tensor, shapes: list[tuple[int, int]], S: int) -> list[torch.Tensor]:
    """Inverse of :func:`cut`: tiles (T, C, S, S) -> images (C, H, W) uint8."""
    out, k = [], 0
    for H, W in shapes:
        im = torch.zeros(tiles.shape[1], H, W, dtype=torch.uint8)
        for r in range(0, H, S):
            for q in range(0, W, S):
                h, w = min(S, H - r), min(S, W - q)
                im[:, r:r + h, q:q + w] = tiles[k, :, :h, :w].to(torch.uint8)
                k += 1
        out.append(im)
    return out


def pixel_crc(images: list[torch.Tensor]) -> int:
    crc = 0
    for im in images:
        crc = zlib.crc32(im.to(torch.uint8).contiguous().numpy().tobytes(), crc)
    return crc


@torch.no_grad()
def encode(model: AutoregressiveModel, x: torch.Tensor | Sequence[torch.Tensor], progress: bool = False,
           labels: Sequence[int] | torch.Tensor | None = None) -> bytes:
    """Losslessly compress images with ``model``.

    x: (N, C, H, W) uint8 (levels 0..K-1), or a list of (C, H, W) images of any sizes.
    labels: one class per image, for a class-conditional model (stored in the file).
    Returns the .pxz bytes (docs/codec.md); their length is about the model's NLL in bits / 8.
    """
    constriction()
    _check_model(model)
    images = [im.cpu() for im in _as_list(x)]
    _check_images(model, images)
    S = model.image_shape[-1]
    labels = None if labels is None else [int(y) for y in labels]
    cond = tile_condition(model, labels, [tiles_of(tuple(im.shape[1:]), S) for im in images])
    tiles, pads = cut(images, S)
    streams: list[bytes] = []
    device = next(model.parameters()).device
    with one_thread(), eval_mode(model):
        for b in range(0, tiles.shape[0], BATCH):
            t, p = tiles[b:b + BATCH].to(device), pads[b:b + BATCH].to(device)
            enc = EncodeSource(t.long())

            def source(part: str, target: torch.Tensor | None, enc: EncodeSource = enc) -> EncodeSource:
                enc.target = target
                return enc
            coded = code_tiles(model, t, p, source, progress, _batch_condition(cond, b, t.shape[0], device))
            if not torch.equal(coded.cpu(), t.long().cpu()):
                raise PixelarError("internal error: the coding loop changed a pixel; please report it")
            streams += enc.streams()
    return pack(Container(fingerprint(model), images[0].shape[0], model.config.num_levels, S, BATCH,
                          [tuple(im.shape[1:]) for im in images], streams, pixel_crc(images), labels))


@torch.no_grad()
def decode(model: AutoregressiveModel, data: bytes, progress: bool = False) -> list[torch.Tensor]:
    """The images (list of (C, H, W) uint8) of .pxz ``data`` written by :func:`encode` with this model.

    Use ``torch.stack`` for an (N, C, H, W) batch when all images have one size. Raises PixelarError
    (one line) for another model, a truncated or corrupted file, or a decoding mismatch.
    """
    constriction()
    c = unpack(bytes(data))
    _check_model(model)
    if c.fingerprint != fingerprint(model):
        raise PixelarError("this file was compressed with a different model (fingerprint mismatch); "
                           "decompress with the checkpoint it was made with")
    S = model.image_shape[-1]
    if (c.channels, c.levels, c.tile) != (model.image_shape[0], model.config.num_levels, S):
        raise _mismatch()
    cond = tile_condition(model, c.labels, [tiles_of(shape, S) for shape in c.shapes])
    pads = cut([torch.zeros(c.channels, h, w, dtype=torch.uint8) for h, w in c.shapes], S)[1]
    device = next(model.parameters()).device
    out = []
    with one_thread(), eval_mode(model):
        for b in range(0, pads.shape[0], c.batch):
            p = pads[b:b + c.batch].to(device)
            dec = DecodeSource(c.streams[b:b + c.batch])
            zeros = torch.zeros(p.shape[0], c.channels, S, S, dtype=torch.long, device=device)
            out.append(code_tiles(model, zeros, p, lambda part, target, dec=dec: dec, progress,
                                  _batch_condition(cond, b, p.shape[0], device)).cpu())
    images = paste(torch.cat(out), c.shapes, S)
    if pixel_crc(images) != c.pixel_crc:
        raise PixelarError("decoded pixels fail the checksum: the file is corrupt or was made on a machine "
                           "whose floats differ; re-compress here")
    return images


def _mismatch() -> PixelarError:
    return PixelarError("the file's image format does not match this model; use the checkpoint it was made with")


def labels_of(data: bytes) -> list[int] | None:
    """The class labels stored in a .pxz file (one per image), None for an unconditional file."""
    return unpack(bytes(data)).labels


def stats(data: bytes) -> dict[str, int]:
    """Sizes of a .pxz file's parts in bytes: payload (the streams) and overhead (everything else)."""
    c = unpack(data)
    payload = sum(len(s) for s in c.streams)
    return {"total": len(data), "payload": payload, "overhead": len(data) - payload,
            "tiles": sum(tiles_of(s, c.tile) for s in c.shapes)}


__all__ = ["BATCH", "decode", "encode", "fingerprint", "labels_of", "stats"]
