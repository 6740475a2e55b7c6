"""Seconds per image of the naive and the cached sampler, 32×32×3, batch sizes 1 and 16.

    PYTHONPATH=src .venv/bin/python benchmarks/sampling_speed.py [--batch 1 16] [--naive-steps 3]
        [--rows 32] [--threads N] [--only pixelcnn_pp:cifar10 ...]

Naive: the reference raster loop runs the whole network on the full canvas at every
step, so every step costs the same; its time per image is EXTRAPOLATED from timing
``--naive-steps`` consecutive steps of the real naive sampler (a completion whose only
unknown sub-pixels are the first few in raster order), times the number of steps of a
full sample. Cached: MEASURED over a full sample (``--rows 32``), or, with fewer rows,
extrapolated from the first ``--rows`` image rows (a multiple of 4, so that PixelCNN++'s
low-resolution rows are represented in proportion) of a real cached sampling run.
Models missing from the registry are skipped with a message.
"""
from __future__ import annotations

import argparse
import platform
import time

import torch

import pixelar
from pixelar.sampling import complete
from pixelar.sampling.naive import draw, steps

MODELS = [("pixelcnn", "cifar10"), ("gated_pixelcnn", "cifar10"), ("pixelcnn_pp", "cifar10_released"),
          ("pixelcnn_pp", "small"), ("pixelsnail", None)]


def build(name: str, preset: str | None) -> pixelar.models.base.AutoregressiveModel:
    torch.manual_seed(0)
    model = pixelar.build(name, preset, image_size=32, image_channels=3)
    return model.eval()


def cond_for(model, n: int) -> torch.Tensor | None:
    return torch.arange(n) % model.config.num_classes if model.config.num_classes else None


def _known_except(model, n: int, todo: list) -> torch.Tensor:
    """All sub-pixels known but the steps in ``todo``: the naive sampler then runs exactly those steps."""
    known = torch.ones(n, *model.image_shape, dtype=torch.bool)
    for i, j, ch in todo:
        known[:, slice(None) if ch is None else ch, i, j] = False
    return known


def naive_seconds_per_image(model, n: int, num_steps: int) -> float:
    """Time num_steps consecutive naive steps (after one warm-up step); extrapolate to a full sample."""
    all_steps = steps(model)
    x = torch.zeros(n, *model.image_shape, dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    complete(model, x, _known_except(model, n, all_steps[:1]), cond=cond_for(model, n), generator=g,
             method="naive")                                   # warm-up
    known = _known_except(model, n, all_steps[:num_steps])
    t0 = time.perf_counter()
    complete(model, x, known, cond=cond_for(model, n), generator=g, method="naive")
    per_step = (time.perf_counter() - t0) / num_steps
    return per_step * len(all_steps) / n


def cached_seconds_per_image(model, n: int, rows: int) -> float:
    """Run the cached sampler (same loop as sampling/cached.py) over the first ``rows`` rows."""
    c, h, w = model.image_shape
    x = torch.zeros(n, c, h, w, dtype=torch.long)
    known = torch.zeros_like(x, dtype=torch.bool)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        t0 = time.perf_counter()
        state = model.incremental(n, cond_for(model, n))
        for i, j, ch in steps(model):
            if i >= rows:
                break
            params = state.params(x, i, j, ch)
            draw(model, x, known, params, i, j, ch, g, 1.0, {})
        seconds = time.perf_counter() - t0
    return seconds * (h / rows) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--naive-steps", type=int, default=3, help="consecutive naive steps timed per model")
    ap.add_argument("--rows", type=int, default=32, help="cached: image rows timed (32 = a full sample)")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--only", nargs="*", default=None, help="model:preset entries to run, e.g. pixelcnn_pp:small")
    args = ap.parse_args()
    if args.rows % 4 or not 4 <= args.rows <= 32:
        ap.error("--rows must be a multiple of 4 in 4..32")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"sampling speed, 32x32x3, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"naive: extrapolated from {args.naive_steps} consecutive steps (every naive step runs the whole "
          "network on the full canvas, so all steps cost the same)")
    print("cached: " + ("measured over a full sample" if args.rows == 32 else
                        f"extrapolated from the first {args.rows} of 32 rows of a cached run"))
    print(f"{'model':<16}{'preset':<10}{'params':>12}{'batch':>7}{'naive s/img':>14}{'cached s/img':>14}{'speed-up':>10}")
    for name, preset in MODELS:
        label = f"{name}:{preset or 'default'}"
        if args.only is not None and label not in args.only and name not in args.only:
            continue
        if name not in pixelar.MODELS:
            print(f"{name:<16}(not in the registry in this version: skipped)")
            continue
        preset = preset or pixelar.MODELS[name].default_preset
        model = build(name, preset)
        for n in args.batch:
            naive = naive_seconds_per_image(model, n, args.naive_steps)
            if model.has_cached_sampler():
                cached = cached_seconds_per_image(model, n, args.rows)
                tail = f"{cached:>14.3f}{naive / cached:>9.0f}x"
            else:
                tail = f"{'(no cached)':>14}{'':>10}"
            print(f"{name:<16}{preset:<10}{model.num_parameters():>12,}{n:>7}{naive:>14.2f}{tail}", flush=True)


if __name__ == "__main__":
    main()
