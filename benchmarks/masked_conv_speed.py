"""Masked convolutions without the masked-out rows: the PixelCNN training step, full kernel vs cut kernel.

    PYTHONPATH=src .venv/bin/python benchmarks/masked_conv_speed.py [--rounds 10] [--threads 1]

A k×k masked kernel is zero below its centre row, so ``MaskedConv2d`` multiplies only its top
k // 2 + 1 rows (3×3 -> 2×3, 7×7 -> 4×7; ``src/pixelar/nn/masked.py``). This times one RMSProp
step (forward, backward, update) of ``pixelcnn/mnist`` (binarized MNIST, batch 16) and
``pixelcnn/small`` (RGB, 256-way softmax, batch 16) with the cut kernel against the same model,
same weights, whose masked convolutions run the full k×k kernel (the previous forward). The two
take turns, one step each, for ``--rounds`` rounds after a warm-up round, so that a noisy shared
machine slows them alike; the table gives median images/s and the ratio, and the largest
difference of their losses (the same sums in another order: float rounding only). Random images
of the right shape: the step's cost does not depend on the pixel values.
"""
from __future__ import annotations

import argparse
import copy
import math
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import pixelar
from pixelar.nn.masked import MaskedConv2d
from pixelar.training.trainer import build_optimizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, load_average  # benchmarks/machine.py

PRESETS = ("pixelcnn/mnist", "pixelcnn/small")


def _full_kernel_forward(self: MaskedConv2d, x: torch.Tensor) -> torch.Tensor:
    """The forward before the cut: every k×k tap multiplied, the masked ones by zero."""
    return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding)


def full_kernel(model: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``model`` whose masked convolutions run the full kernel."""
    model = copy.deepcopy(model)
    for m in model.modules():
        if isinstance(m, MaskedConv2d):
            m.forward = types.MethodType(_full_kernel_forward, m)
    return model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=10, help="measured rounds (one step per variant per round)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {describe(args.threads)}", flush=True)
    print(f"| {'preset':16s} | {'full kernel img/s':>17s} | {'cut kernel img/s':>16s} | {'speed-up':>8s} | "
          f"{'max |loss diff|':>15s} |")
    print(f"|{'-' * 18}|{'-' * 19}|{'-' * 18}|{'-' * 10}|{'-' * 17}|")
    for key in PRESETS:
        name, preset = key.split("/")
        torch.manual_seed(0)
        cut = pixelar.build(name, preset=preset)
        full = full_kernel(cut)
        _, train_cfg = pixelar.registry.resolve(name, preset)
        runs = {"full": (full, build_optimizer(full.parameters(), train_cfg)),
                "cut": (cut, build_optimizer(cut.parameters(), train_cfg))}
        c, size, levels = cut.config.image_channels, cut.config.image_size, cut.config.num_levels
        gen = torch.Generator().manual_seed(0)
        times: dict[str, list[float]] = {k: [] for k in runs}
        losses: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.rounds + 1):
            x = torch.randint(0, levels, (args.batch, c, size, size), generator=gen)
            for variant, (model, opt) in runs.items():
                model.train()
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                loss = -model.log_prob(x).mean() / (math.log(2.0) * c * size * size)   # bits/dim
                loss.backward()
                opt.step()
                if r:                                                  # round 0 warms up
                    times[variant].append(time.perf_counter() - t0)
                losses[variant].append(loss.item())
        ips = {k: args.batch / np.median(v) for k, v in times.items()}
        diff = max(abs(a - b) for a, b in zip(losses["full"], losses["cut"]))
        print(f"| {key:16s} | {ips['full']:17.1f} | {ips['cut']:16.1f} | {ips['cut'] / ips['full']:7.2f}x | "
              f"{diff:15.2e} |", flush=True)
    print(f"(load average after: {load_average()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
