"""Seconds per frame of video prediction (Reed et al. 2017 Table 4's video rows), measured side by side.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/video_speed.py [--frames 18] [--size 64] [--naive-pixels 32]

* O(TN) model (``video_pixelcnn_otn``, small preset: a Gated PixelCNN per frame on the ConvLSTM state),
  two rows: the naive loop (the whole filmstrip network for every draw, Table 4's "O(TN) VPN" row,
  the 1.0x reference) and pixelar's cached per-pixel sampler (one incremental Gated PixelCNN step per
  draw). A full 18-frame 64x64 clip would take hours on 2 CPU cores, so both are timed on the first
  ``--naive-pixels`` draws of a frame and **extrapolated** linearly to the frame's S² (·C) draws
  (every draw runs the same computation on the same canvas size);
* O(T) baseline (``video_pixelcnn_ot_baseline``, small preset): one network evaluation per frame;
* O(T) model (``video_pixelcnn_ot``, small preset): frame after frame, four pixel groups per frame;
* O(T log N) model (``video_pixelcnn_otlogn``, small preset): the multiscale sampler for every frame.

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


def _draws_per_frame(model) -> int:
    return len(steps(model)) // model.num_predicted


@torch.no_grad()
def naive_per_frame(model, pixels: int) -> float:
    """Seconds of ``pixels`` naive draws (whole network per draw), scaled to one frame's S² (·C) draws."""
    cond = _clip_cond(model)
    x = torch.zeros(1, *model.image_shape, dtype=torch.long)
    known = torch.zeros_like(x, dtype=torch.bool)
    todo = steps(model)[:pixels]
    g = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    for i, j, ch in todo:
        params = model(x, cond)[:, :, i:i + 1, j:j + 1]
        draw(model, x, known, params, i, j, ch, g, 1.0, {})
    return (time.perf_counter() - t) / len(todo) * _draws_per_frame(model)


@torch.no_grad()
def cached_per_frame(model, pixels: int) -> float:
    """The O(TN) model's cached frame sampler: the encoder over the context, then ``pixels`` incremental
    Gated PixelCNN steps on the first predicted frame, scaled to the frame's S² (·C) draws (the encoder's
    one step per frame is timed once and added)."""
    cond = model.video_condition(_clip_cond(model), 1, torch.device("cpu"))
    fm = model.frame_model
    t = time.perf_counter()
    state = model.encoder_begin(cond)
    h = state.condition()
    encoder = time.perf_counter() - t
    x = torch.zeros(1, *fm.image_shape, dtype=torch.long)
    known = torch.zeros_like(x, dtype=torch.bool)
    todo = steps(fm)[:pixels]
    g = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    inc = fm.incremental(1, None, spatial=h)
    for i, j, ch in todo:
        draw(fm, x, known, inc.params(x, i, j, ch), i, j, ch, g, 1.0, {})
    return encoder / model.config.num_context + (time.perf_counter() - t) / len(todo) * len(steps(fm))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=18)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--naive-pixels", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    T = 2 + args.frames
    built = {name: pixelar.build(name, "small", image_size=args.size, num_frames=T).eval()
             for name in ("video_pixelcnn_otn", "video_pixelcnn_ot_baseline", "video_pixelcnn_ot",
                          "video_pixelcnn_otlogn")}
    otn = built["video_pixelcnn_otn"]
    rows = [("O(TN) video_pixelcnn_otn, naive (extrap.)", naive_per_frame(otn, args.naive_pixels)),
            ("O(TN) video_pixelcnn_otn, cached (extrap.)", cached_per_frame(otn, args.naive_pixels)),
            ("O(T) baseline video_pixelcnn_ot_baseline", per_frame(built["video_pixelcnn_ot_baseline"], args.frames)),
            ("O(T) video_pixelcnn_ot", per_frame(built["video_pixelcnn_ot"], args.frames)),
            ("O(T log N) video_pixelcnn_otlogn", per_frame(built["video_pixelcnn_otlogn"], args.frames))]
    base = rows[0][1]
    print(f"{args.frames} frames of {args.size}x{args.size}, batch 1, 1 thread, seconds per frame "
          f"(the O(TN) rows: timed on the first {args.naive_pixels} draws of a frame, extrapolated to "
          f"{_draws_per_frame(otn)} draws per frame):")
    for name, s in rows:
        print(f"  {name:44s} {s:10.3f} s/frame  {base / s:8.0f}x")


if __name__ == "__main__":
    main()
