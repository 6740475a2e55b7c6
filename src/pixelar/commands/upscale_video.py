"""``pixelar upscale-video``: a low-resolution clip and its first high-resolution frame -> the high-resolution
clip, frame after frame, with a video upscaler (Reed et al. 2017 §4.3, ``video_upscaler``)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from .. import registry
from ..errors import PixelarError
from .common import add_device, add_output, add_weights, check_output_file, finite
from .predict import read_clip


def cmd_upscale_video(args: argparse.Namespace) -> int:
    finite("--temperature", args.temperature, positive_only=True)
    if not 0 <= args.seed < 2 ** 63:
        raise PixelarError(f"--seed must be in 0..2^63-1, got {args.seed}")
    out = Path(args.out)
    if out.suffix != ".npz":
        raise PixelarError(f"--out {args.out} must end in .npz (the high-resolution clip, video=(T, H, W, C) uint8)")
    check_output_file(args.out, args.force)
    model = registry.load(args.checkpoint, map_location=args.device, weights=args.weights)
    if not model.can_upscale_video:
        raise PixelarError(f"{model.name} is not a video upscaler; upscale-video needs a video_upscaler checkpoint")
    from ..imageio import read_image, write_atomically
    C, S, _ = model.image_shape
    k = model.config.num_levels
    low = read_clip(args.input, k)["video"]                                 # (T, C, h, w)
    if low.shape[1:] != (C, S // 2, S // 2):
        raise PixelarError(f"--input {args.input}: the model upscales {S // 2}x{S // 2} frames with {C} channel(s) "
                           f"to {S}x{S}; the clip's frames are {low.shape[2]}x{low.shape[3]} with {low.shape[1]}")
    if k < 256 and int(low.max()) >= k:
        raise PixelarError(f"--input {args.input}: values up to {int(low.max())}, the model has {k} levels")
    first = read_image(args.first, C, S, k)                                # (C, S, S)
    from ..sampling.video import upscale_video
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    high = upscale_video(model, torch.from_numpy(np.ascontiguousarray(low))[None].to(args.device),
                         first[None].to(args.device), generator=g, temperature=args.temperature,
                         progress=True)[0].cpu()                             # (T, C, S, S)

    def write_npz(tmp: Path) -> None:
        with tmp.open("wb") as f:            # a file object: np.savez would append .npz to a path
            np.savez(f, video=high.permute(0, 2, 3, 1).numpy())
    write_atomically(out, write_npz, args.force)
    print(f"wrote {high.shape[0]} frames of {S}x{S} (upscaled from {S // 2}x{S // 2}) to {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upscale-video", help="upscale a low-resolution clip 2x with a video_upscaler, given its "
                                             "first high-resolution frame")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="the low-resolution clip: npz with video (T, h, w[, C]) uint8, "
                   "or an animated .gif; its frames must be the 2x2 sub-sampling of the high-resolution ones")
    p.add_argument("--first", required=True, help="the first high-resolution frame (image of the model's size)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    add_weights(p)
    add_output(p, "the high-resolution clip: .npz with video (T, H, W, C) uint8", scale=None)
    add_device(p)
    p.set_defaults(func=cmd_upscale_video)
