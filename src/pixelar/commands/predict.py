"""``pixelar predict``: continue a video clip with a video model (Reed et al. 2017 §4.3)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import registry
from ..errors import PixelarError
from .common import add_device, add_output, add_weights, check_output_file, finite, positive


def read_clip(path: str, num_levels: int = 256) -> dict[str, np.ndarray]:
    """A clip: an animated ``.gif`` (frames only; gray when every frame is, 8-bit values mapped to the
    model's levels) or an npz with ``video`` (T, H, W) or (T, H, W, C) uint8 (NHWC, as every pixelar
    npz, in the model's levels), optional ``actions`` (T, A) and ``state`` (T, A_s) floats.
    Returns {"video": (T, C, H, W), ...}."""
    if Path(path).suffix.lower() == ".gif":
        from ..imageio import read_gif
        return {"video": read_gif(path, num_levels)}
    data = _load_npz(path, "--input", "give an npz with a 'video' array (T, H, W[, C]) uint8, or an animated .gif")
    video = data.get("video")
    if video is None:
        raise PixelarError(f"--input {path} has no 'video' array (it has {', '.join(data) or 'nothing'}); "
                           "save the clip as video=(T, H, W[, C]) uint8")
    if video.dtype != np.uint8 or video.ndim not in (3, 4):
        raise PixelarError(f"--input {path}: 'video' must be uint8 (T, H, W) or (T, H, W, C), got "
                           f"{video.dtype} {video.shape}")
    out = {"video": (video[..., None] if video.ndim == 3 else video).transpose(0, 3, 1, 2)}
    out.update(read_vectors(data, path))
    return out


def read_vectors(data: dict[str, np.ndarray], path: str) -> dict[str, np.ndarray]:
    """The per-step ``actions`` and ``state`` arrays an npz holds (checked: finite, (T, dim))."""
    out = {}
    for key in ("actions", "state"):
        if key in data:
            v = np.asarray(data[key])
            if v.ndim != 2 or v.dtype.kind not in "fiu" or not np.isfinite(v).all():
                raise PixelarError(f"{path}: '{key}' must be finite numbers of shape (T, dim), got "
                                   f"{v.dtype} {v.shape}")
            out[key] = v.astype(np.float32)
    return out


def _load_npz(path: str, flag: str, hint: str) -> dict[str, np.ndarray]:
    """Every array of the npz at ``path`` (no pickles); an unreadable file is a one-line error."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise PixelarError(f"{flag} {path} is not a readable .npz ({type(e).__name__}); {hint}") from None


def _actions_from(path: str) -> dict[str, np.ndarray]:
    data = _load_npz(path, "--actions-from", "give an npz with 'actions' (T, A) and/or 'state' (T, A_s)")
    vectors = read_vectors(data, f"--actions-from {path}")
    if not vectors:
        raise PixelarError(f"--actions-from {path} has neither 'actions' nor 'state' (it has "
                           f"{', '.join(data) or 'nothing'})")
    return vectors


def _vectors(model: Any, clip: dict[str, np.ndarray], key: str, dim: int, needed: int, path: str) -> torch.Tensor | None:
    """(1, T, dim) float: the clip's per-step vectors, zero-padded to the model's T (only ``needed`` steps matter)."""
    if dim == 0:
        return None
    v = clip.get(key)
    if v is None:
        raise PixelarError(f"{model.name} is conditioned on {dim}-d {key}, --input {path} has none; add "
                           f"'{key}' ({model.config.num_frames}, {dim}) to the npz, or give them with "
                           "--actions-from NPZ")
    if v.shape[1] != dim or v.shape[0] < needed:
        raise PixelarError(f"--input {path}: '{key}' must be at least ({needed}, {dim}) for this prediction, "
                           f"got {v.shape}")
    full = np.zeros((model.config.num_frames, dim), np.float32)
    rows = min(len(v), model.config.num_frames)
    full[:rows] = v[:rows]
    return torch.from_numpy(full)[None]


def cmd_predict(args: argparse.Namespace) -> int:
    finite("--temperature", args.temperature, positive_only=True)
    positive("--frames", args.frames)
    positive("--context", args.context)
    positive("--frame-ms", args.frame_ms)
    out = Path(args.out)
    if out.suffix not in (".npz", ".gif"):
        raise PixelarError(f"--out {args.out} must end in .npz (the predicted clip, exact) or .gif (animated, "
                           "given | predicted side by side); a PNG strip is written beside it")
    strip_path = out.with_suffix(".png")
    check_output_file(args.out, args.force)
    check_output_file(str(strip_path), args.force)
    model = registry.load(args.checkpoint, map_location=args.device, weights=args.weights)
    clip = read_clip(args.input, getattr(model.config, "num_levels", 256))
    if args.actions_from:
        clip.update(_actions_from(args.actions_from))
    if not model.can_predict:
        raise PixelarError(f"{model.name} is an image model; predict needs a video model "
                           "(video_pixelcnn_ot, video_pixelcnn_otlogn, video_pixelcnn_ot_baseline, video_pixelcnn_otn)")
    c = model.config
    if args.context != c.num_context:
        raise PixelarError(f"this model predicts from {c.num_context} context frames; pass --context {c.num_context}")
    if args.frames > model.num_predicted:
        raise PixelarError(f"this model predicts at most {model.num_predicted} frames after {c.num_context}; "
                           f"pass --frames {model.num_predicted} or fewer")
    video = clip["video"]
    if video.shape[0] < c.num_context or video.shape[1:] != (c.image_channels, c.image_size, c.image_size):
        raise PixelarError(f"--input {args.input}: the model takes frames of {c.image_size}x{c.image_size} with "
                           f"{c.image_channels} channel(s) and needs at least {c.num_context}; the clip has "
                           f"{video.shape[0]} of {video.shape[2]}x{video.shape[3]} with {video.shape[1]}")
    if c.num_levels < 256 and int(video.max()) >= c.num_levels:
        raise PixelarError(f"--input {args.input}: values up to {int(video.max())}, the model has {c.num_levels} levels")
    steps = c.num_context + args.frames
    actions = _vectors(model, clip, "actions", c.action_dim, steps - 1, args.input)
    state = _vectors(model, clip, "state", c.state_dim, steps, args.input)
    from ..sampling.video import predict
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    context = torch.from_numpy(np.ascontiguousarray(video[: c.num_context]))[None]
    pred = predict(model, context, actions, state, frames=args.frames, generator=g, temperature=args.temperature,
                   progress=True)[0].cpu()                                  # (K + frames, C, S, S)
    _write(out, strip_path, pred, torch.from_numpy(np.ascontiguousarray(video[:steps])), c.num_levels, args.scale,
           args.force, args.frame_ms)
    print(f"wrote {args.frames} predicted frames after {c.num_context} given ones to {out} and {strip_path}")
    return 0


def _write(out: Path, strip_path: Path, pred: torch.Tensor, given: torch.Tensor, levels: int, scale: int,
           force: bool, frame_ms: int) -> None:
    """The predicted clip as npz (``video`` (T, H, W, C) uint8, exact) or as an animated GIF (each
    frame: the given clip's frame | the predicted one, 2 black pixels apart; black where the clip
    has no frame), and a PNG strip: the given clip on top (as many frames as it has), the context +
    predicted frames below."""
    from ..imageio import grid, save_gif, save_png, write_atomically
    k = pred.shape[0]
    padded = torch.cat([given, torch.zeros(k - given.shape[0], *given.shape[1:], dtype=given.dtype)])
    rows = [padded, pred] if given.shape[0] > 0 else [pred]
    if out.suffix == ".gif":
        gap = torch.zeros(*pred.shape[:3], 2, dtype=pred.dtype)
        save_gif(torch.cat([padded, gap, pred], dim=3), out, levels, scale=scale, frame_ms=frame_ms, force=force)
    else:
        def write_npz(tmp: Path) -> None:
            with tmp.open("wb") as f:        # a file object: np.savez would append .npz to a path
                np.savez(f, video=pred.permute(0, 2, 3, 1).numpy())
        write_atomically(out, write_npz, force)
    save_png(grid(torch.cat(rows), levels, nrow=k, scale=scale), strip_path, force=force)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="continue a video clip: the given frames, then frames sampled by a video model")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="npz clip: video (T, H, W[, C]) uint8, optional actions/state "
                   "(T, dim); or an animated .gif (frames only)")
    p.add_argument("--actions-from", metavar="NPZ", help="actions (T, A) and/or state (T, A_s) from this npz "
                   "(for a .gif input, or to replace the clip's own)")
    p.add_argument("--context", type=int, default=2, help="given frames the prediction starts from (the model's K)")
    p.add_argument("--frames", type=int, default=18, help="frames to predict after the context")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    add_weights(p)
    p.add_argument("--frame-ms", type=int, default=200, help="GIF output: milliseconds per frame")
    add_output(p, "the clip (context + predicted frames): .npz (exact) or .gif (animated, given | predicted); "
                  "a PNG strip is written with the same stem")
    add_device(p)
    p.set_defaults(func=cmd_predict)
