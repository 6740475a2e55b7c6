"""Seconds per frame of video prediction (Reed et al. 2017 Table 4's video rows), measured side by side.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/video_speed.py [--frames 18] [--size 64] [--naive-pixels 32]

* O(T) model (``video_pixelcnn_ot``, small preset): frame after frame, four pixel groups per frame;
* O(T log N) model (``video_pixelcnn_otlogn``, small preset): the multiscale sampler for every frame;
* O(TN) reference: the naive loop over the O(T) model's positions (one whole-network evaluation per
  pixel, as a per-pixel video model samples). A full 18-frame 64x64 clip would take hours on 2 CPU
  cores, so it is timed on the first ``--naive-pixels`` draws and **extrapolated** linearly to
  S² draws per frame (every draw runs the same network on the same canvas size).

Untrained weights (sampling cost does not depend on them). Batch of 1 clip, one thread.
"""
from __future__ import annotations

import argparse
import time

import torch

import pixelar
from pixelar.sampling.naive import draw, steps
from pixelar.sampling.video import predict


def _clip_cond(model, n: int = 1):
    return model.random_condition(n, torch.Generator().manual_seed(0))


def per_frame(model, frames: int) -> float:
    cond = _clip_cond(model)
    t = time.perf_counter()
    predict(model, cond["context"], cond["actions"], cond["state"], frames=frames,
            generator=torch.Generator().manual_seed(0))
    return (time.perf_counter() - t) / frames


@torch.no_grad()
def naive_per_frame(model, pixels: int) -> float:
    """Seconds of ``pixels`` naive draws (whole network per draw), scaled to one frame's S² draws."""
    cond = _clip_cond(model)
    x = torch.zeros(1, *model.image_shape, dtype=torch.long)
    known = torch.zeros_like(x, dtype=torch.bool)
    todo = steps(model)[:pixels]
    g = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    for i, j, ch in todo:
        params = model(x, cond)[:, :, i:i + 1, j:j + 1]
        draw(model, x, known, params, i, j, ch, g, 1.0, {})
    per_draw = (time.perf_counter() - t) / len(todo)
    return per_draw * model.config.image_size ** 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=18)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--naive-pixels", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    T = 2 + args.frames
    ot = pixelar.build("video_pixelcnn_ot", "small", image_size=args.size, num_frames=T).eval()
    otlogn = pixelar.build("video_pixelcnn_otlogn", "small", image_size=args.size, num_frames=T).eval()
    rows = [("O(TN) naive reference (extrapolated)", naive_per_frame(ot, args.naive_pixels)),
            ("O(T) video_pixelcnn_ot", per_frame(ot, args.frames)),
            ("O(T log N) video_pixelcnn_otlogn", per_frame(otlogn, args.frames))]
    base = rows[0][1]
    print(f"{args.frames} frames of {args.size}x{args.size}, batch 1, 1 thread, seconds per frame:")
    for name, s in rows:
        print(f"  {name:40s} {s:10.3f} s/frame  {base / s:8.0f}x")


if __name__ == "__main__":
    main()
