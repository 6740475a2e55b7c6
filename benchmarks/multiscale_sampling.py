"""Seconds per sample: parallel multiscale PixelCNN vs naive sampling of a PixelCNN of similar size.

    PYTHONPATH=src python benchmarks/multiscale_sampling.py [--device cuda] [--sizes 32 64] [--batches 1 16]

For each image side S and batch size b it prints

* multiscale: wall time of ``model.sample(b)`` (group sampler: B² base evaluations + a constant per
  doubling), divided by b;
* naive PixelCNN: the raster sampler needs S² network evaluations (×3 with a softmax head). Timing
  them all takes hours on a CPU, so ``--evals`` full evaluations are timed and the total is
  *extrapolated* (every evaluation of the naive sampler costs the same: it reruns the whole network
  on the whole canvas); ``--full-naive`` times the real sampler instead;
* the speedup (naive / multiscale) and the network evaluations each needs.

The PixelCNN's hidden width is chosen so that its parameter count is closest to the multiscale
model's. Both models have random weights: sampling time does not depend on the weights.
"""
from __future__ import annotations

import argparse
import time

import torch

import pixelar
from pixelar.sampling.multiscale import network_evaluations


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matched_pixelcnn(target_params: int, size: int, distribution: str, device: str) -> pixelar.models.base.AutoregressiveModel:
    """A PixelCNN (small preset's depth) whose hidden width gives the parameter count closest to ``target_params``."""
    best = None
    for hidden in range(8, 513, 8):
        m = pixelar.build("pixelcnn", "small", image_size=size, hidden=hidden, output_features=4 * hidden,
                          distribution=distribution)
        gap = abs(m.num_parameters() - target_params)
        if best is None or gap < best[0]:
            best = (gap, hidden)
        if m.num_parameters() > target_params:
            break
    return pixelar.build("pixelcnn", "small", image_size=size, hidden=best[1], output_features=4 * best[1],
                         distribution=distribution).to(device).eval()


@torch.no_grad()
def time_multiscale(model, n: int, device: str, repeats: int) -> float:
    g = torch.Generator(device=device).manual_seed(0)
    model.sample(n, generator=g)                        # warm-up
    _sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        model.sample(n, generator=g)
    _sync(device)
    return (time.perf_counter() - t) / repeats


@torch.no_grad()
def time_naive(model, n: int, device: str, evals: int, full: bool) -> tuple[float, bool]:
    """(seconds for one naive sample of n images, extrapolated?)."""
    if full:
        t = time.perf_counter()
        model.sample(n, method="naive", generator=torch.Generator(device=device).manual_seed(0))
        _sync(device)
        return time.perf_counter() - t, False
    c, h, w = model.image_shape
    x = torch.zeros(n, c, h, w, dtype=torch.long, device=device)
    model(x)                                            # warm-up
    _sync(device)
    t = time.perf_counter()
    for _ in range(evals):
        model(x)[:, :, 0:1, 0:1].sum().item()           # what one raster step computes and reads
    _sync(device)
    per_eval = (time.perf_counter() - t) / evals
    steps = h * w * (c if model.distribution.autoregressive_channels else 1)
    return per_eval * steps, True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small", help="multiscale_pixelcnn preset (image size overridden)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--evals", type=int, default=5, help="naive: network evaluations timed, then extrapolated")
    ap.add_argument("--full-naive", action="store_true", help="time the real naive sampler (slow)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"device {args.device}, {args.threads} CPU thread(s), torch {torch.__version__}")
    print("| side | batch | multiscale s/sample | evals | PixelCNN params | naive s/sample | evals | speedup |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        torch.manual_seed(0)
        ms = pixelar.build("multiscale_pixelcnn", args.preset, image_size=size).to(args.device).eval()
        pc = matched_pixelcnn(ms.num_parameters(), size, ms.config.distribution, args.device)
        c = ms.image_shape[0]
        naive_evals = size * size * (c if pc.distribution.autoregressive_channels else 1)
        for n in args.batches:
            t_ms = time_multiscale(ms, n, args.device, args.repeats) / n
            t_pc, extrapolated = time_naive(pc, n, args.device, args.evals, args.full_naive)
            t_pc /= n
            mark = "*" if extrapolated else ""
            print(f"| {size} | {n} | {t_ms:.4f} | {network_evaluations(ms)} | {pc.num_parameters():,} "
                  f"(multiscale {ms.num_parameters():,}) | {t_pc:.3f}{mark} | {naive_evals} | {t_pc / t_ms:.0f}x |")
    if not args.full_naive:
        print(f"* extrapolated from {args.evals} timed full-network evaluations x the number of raster steps")


if __name__ == "__main__":
    main()
