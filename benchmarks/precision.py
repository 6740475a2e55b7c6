"""Training throughput by precision (the network under autocast; log-likelihoods always fp32).

    .venv/bin/python benchmarks/precision.py [--model pixelcnn_pp] [--preset small] [--device cpu]

CPU: fp32 and bf16. With --device cuda: fp32, bf16 and fp16 (with loss scaling).
Each figure: images/s over --steps steps of batch --batch at 32×32×3, after 2 warm-up steps.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

import pixelar
from pixelar.data.base import ArrayDataset, DatasetInfo
from pixelar.training.config import TrainConfig
from pixelar.training.trainer import Trainer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="pixelcnn_pp")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.batch * (args.steps + 3), 32, 32, 3), dtype=np.uint8)
    data = ArrayDataset(images, None, DatasetInfo("random", 3, 32, 256))
    precisions = ["fp32", "bf16"] + (["fp16"] if args.device.startswith("cuda") else [])
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else \
        f"CPU, {torch.get_num_threads()} threads"
    print(f"{args.model} {args.preset}, batch {args.batch}, 32x32x3, {device_name}, torch {torch.__version__}")
    for precision in precisions:
        torch.manual_seed(0)
        model_cfg, train_cfg = pixelar.registry.resolve(args.model, args.preset)
        model = pixelar.registry.entry(args.model).model_class(model_cfg)
        cfg = TrainConfig(**{**train_cfg.__dict__, "precision": precision, "batch_size": args.batch,
                             "checkpoint_every": 10 ** 9, "ema": 0.0})
        with tempfile.TemporaryDirectory() as out:
            t = Trainer(model, cfg, data, out, device=args.device, progress=False)
            t.run(steps=2)                                   # warm-up (and data-dependent init)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            t.run(steps=2 + args.steps)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
        print(f"  {precision}: {args.batch * args.steps / seconds:.2f} images/s")


if __name__ == "__main__":
    main()
