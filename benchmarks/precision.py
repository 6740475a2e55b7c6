"""Training throughput by precision (the network under autocast; log-likelihoods always fp32) and
memory format (train.memory_format: contiguous NCHW or channels_last NHWC weights and activations).

    .venv/bin/python benchmarks/precision.py [--model pixelcnn_pp] [--preset small] [--device cpu]
        [--layouts contiguous,channels_last]

CPU: fp32 and bf16. With --device cuda: fp32, bf16 and fp16 (with loss scaling).
Each figure: the median images/s of --rounds rounds of --steps steps of batch --batch of random
images of the preset's shape and number of levels, after 2 warm-up steps; the precisions alternate within every round (same initial weights, same
data), so the machine's noise hits them alike. bf16 pays off only where the CPU has native bf16
matrix units (AMX-BF16, AVX-512-BF16): the first line names the CPU's extensions.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import pixelar
from pixelar.data.base import ArrayDataset, DatasetInfo
from pixelar.training.config import TrainConfig
from pixelar.training.trainer import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, load_average  # benchmarks/machine.py


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="pixelcnn_pp")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3, help="steps per measured round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; the precisions alternate within each")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--layouts", default="contiguous", help="train.memory_format values, comma-separated")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    shape_cfg, _ = pixelar.registry.resolve(args.model, args.preset)
    c, size, levels = shape_cfg.image_channels, shape_cfg.image_size, shape_cfg.num_levels
    rng = np.random.default_rng(0)
    images = rng.integers(0, levels, (args.batch * (args.steps * args.rounds + 3), size, size, c), dtype=np.uint8)
    data = ArrayDataset(images, None, DatasetInfo("random", c, size, levels))
    precisions = ["fp32", "bf16"] + (["fp16"] if args.device.startswith("cuda") else [])
    layouts = args.layouts.split(",")
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else describe(torch.get_num_threads())
    print(f"{args.model} {args.preset}, batch {args.batch}, {size}x{size}x{c}, {levels} levels, {device_name}", flush=True)
    runs = [(p, layout) for layout in layouts for p in precisions]
    with tempfile.TemporaryDirectory() as out:
        trainers = {}
        for precision, layout in runs:       # the same initial weights for every run
            torch.manual_seed(0)
            model_cfg, train_cfg = pixelar.registry.resolve(args.model, args.preset)
            model = pixelar.registry.entry(args.model).model_class(model_cfg)
            cfg = TrainConfig(**{**train_cfg.__dict__, "precision": precision, "memory_format": layout,
                                 "batch_size": args.batch, "checkpoint_every": 10 ** 9, "ema": 0.0})
            key = (precision, layout)
            trainers[key] = Trainer(model, cfg, data, f"{out}/{precision}-{layout}", device=args.device,
                                    progress=False)
            trainers[key].run(steps=2)     # warm-up (and data-dependent init)
        rates: dict[tuple[str, str], list[float]] = {k: [] for k in runs}
        for _ in range(args.rounds):             # alternated, so that the machine's noise hits all alike
            for key, t in trainers.items():
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                start = time.perf_counter()
                t.run(steps=t.step + args.steps)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                rates[key].append(args.batch * args.steps / (time.perf_counter() - start))
    base = statistics.median(rates[runs[0]])
    for (precision, layout), r in rates.items():
        med = statistics.median(r)
        print(f"  {precision} {layout}: {med:.2f} images/s (median of {args.rounds} rounds of {args.steps} steps; "
              f"{med / base:.2f}x {runs[0][0]} {runs[0][1]})")
    print(f"  load average after: {load_average()}")


if __name__ == "__main__":
    main()
