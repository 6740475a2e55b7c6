"""What PixelSNAIL's full-resolution attention costs: peak memory and training-step time.

    .venv/bin/python benchmarks/attention_cost.py [--preset small] [--sizes 32 64] [--batch 16]
                                                  [--steps 2] [--checkpoint-activations] [--force]

One row per image size: a training step (forward + backward + optimizer update, dropout on,
after the data-dependent init and one warm-up step) at the given batch. Each row runs in a
fresh subprocess, so its peak resident memory (ru_maxrss, the memory a CPU run needs) is its
own. The attention column is the analytic size of the softmax matrices kept for backward,
num_blocks × N × (H·W)² × 4 bytes: it grows with the 4th power of the image side.

Safety on shared machines: each row is first measured at batch 1 and 2, the peak is
extrapolated linearly to --batch, and the row is skipped (with the estimate printed) if that
exceeds half of the memory available now, unless --force.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time


def _available_mib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("inf")


def _one(preset: str, size: int, batch: int, steps: int, checkpoint: bool) -> dict:
    """Run in the child process: time a training step, report peak RSS."""
    import torch

    import pixelar
    from pixelar.training.trainer import build_optimizer
    torch.set_num_threads(int(__import__("os").environ.get("BENCH_THREADS", "1")))
    torch.manual_seed(0)
    over = {"model.image_size": size, "model.checkpoint_activations": checkpoint}
    model_cfg, train_cfg = pixelar.registry.resolve("pixelsnail", preset, over)
    model = pixelar.registry.entry("pixelsnail").model_class(model_cfg)
    opt = build_optimizer(model.parameters(), train_cfg)
    x = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8)
    model.data_dependent_init(x)
    model.train()

    def step() -> None:
        loss = -model.log_prob(x).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - t0) / steps
    return {"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "parameters": model.num_parameters(), "num_blocks": model_cfg.num_blocks,
            "threads": torch.get_num_threads()}


def _child(preset: str, size: int, batch: int, steps: int, checkpoint: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", "--preset", preset, "--sizes", str(size), "--batch", str(batch),
           "--steps", str(steps)] + (["--checkpoint-activations"] if checkpoint else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small")
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--checkpoint-activations", action="store_true",
                    help="recompute each block in backward (less memory, about one more forward)")
    ap.add_argument("--force", action="store_true", help="run rows whose estimated memory looks too large")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_one(args.preset, args.sizes[0], args.batch, args.steps, args.checkpoint_activations)))
        return
    print(f"pixelsnail {args.preset}, batch {args.batch}, training step (forward+backward+update)"
          f"{', activation checkpointing' if args.checkpoint_activations else ''}; "
          f"{platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"{'size':>7} {'s/step':>8} {'images/s':>9} {'peak MiB':>10} {'attention MiB':>14}  note")
    for size in args.sizes:
        small = [_child(args.preset, size, b, 1, args.checkpoint_activations) for b in (1, 2)]
        per_image = small[1]["peak_mib"] - small[0]["peak_mib"]
        estimate = small[0]["peak_mib"] + per_image * (args.batch - 1)
        attention = small[0]["num_blocks"] * args.batch * (size * size) ** 2 * 4 / 2 ** 20
        if estimate > 0.5 * _available_mib() and not args.force:
            print(f"{size:>4}x{size:<2} {'-':>8} {'-':>9} {f'~{estimate:,.0f}':>10} {attention:>14,.0f}  skipped: "
                  f"estimated peak exceeds half the {_available_mib():,.0f} MiB available (--force runs it)")
            continue
        r = _child(args.preset, size, args.batch, args.steps, args.checkpoint_activations)
        print(f"{size:>4}x{size:<2} {r['seconds']:>8.2f} {args.batch / r['seconds']:>9.2f} {r['peak_mib']:>10,.0f} "
              f"{attention:>14,.0f}  {r['parameters']:,} parameters, {r['threads']} thread(s)", flush=True)


if __name__ == "__main__":
    main()
