"""Training-step throughput of PixelCNN++ presets on this machine.

    .venv/bin/python benchmarks/pixelcnn_pp_step.py [--preset cifar10] [--batch 16] [--steps 3]
                                                    [--checkpoint-activations]

One step = forward + backward + Adamax update on a batch of 32×32×3 images, after one
warm-up step (which also runs the data-dependent init). Prints images/s and the peak
resident memory of the process (ru_maxrss), which on CPU is the memory a run needs.
"""
from __future__ import annotations

import argparse
import platform
import resource
import time

import torch

import pixelar
from pixelar.training.trainer import build_optimizer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="cifar10_released")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--checkpoint-activations", action="store_true",
                    help="recompute gated ResNet activations in backward (less memory)")
    args = ap.parse_args()
    torch.manual_seed(0)
    over = {"model.checkpoint_activations": args.checkpoint_activations}
    model_cfg, train_cfg = pixelar.registry.resolve("pixelcnn_pp", args.preset, over)
    model = pixelar.registry.entry("pixelcnn_pp").model_class(model_cfg)
    opt = build_optimizer(model.parameters(), train_cfg)
    x = torch.randint(0, 256, (args.batch, 3, 32, 32), dtype=torch.uint8)
    cond = torch.randint(0, 10, (args.batch,)) if model_cfg.num_classes else None
    model.data_dependent_init(x, cond)
    model.train()

    def step() -> None:
        loss = -model.log_prob(x, cond).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = (time.perf_counter() - t0) / args.steps
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pixelcnn_pp {args.preset}: {model.num_parameters():,} parameters, batch {args.batch}, 32x32x3, "
          f"forward+backward+{train_cfg.optimizer}"
          f"{', activation checkpointing' if args.checkpoint_activations else ''}")
    print(f"  {seconds:.2f} s/step, {args.batch / seconds:.2f} images/s, peak memory {peak_mib:,.0f} MiB "
          f"(process RSS), {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}")


if __name__ == "__main__":
    main()
