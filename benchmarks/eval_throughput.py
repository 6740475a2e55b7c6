"""Exact-evaluation throughput: images/s of ``pixelar.evaluation.evaluate`` (inference mode) against the
same loop under ``torch.no_grad`` and with autograd on, at several batch sizes, one process, alternated.

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/eval_throughput.py --model pixelcnn_pp --preset small

Random weights (the cost does not depend on them); images: the CIFAR-10 test prefix in ../shared/data
when present, else uniform noise (said in the output). Every mode must give the same bits/dim.
"""
from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np
import torch

import pixelar
from pixelar.evaluation.bpd import evaluate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10_test_prefix.npz"


class Images(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="pixelcnn_pp")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--batches", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = pixelar.build(args.model, args.preset)
    C, H, W = model.image_shape
    if DATA.exists() and (C, H, W) == (3, 32, 32):
        a = np.load(DATA)["images"][:args.images]
        x, source = torch.from_numpy(a).permute(0, 3, 1, 2).long(), f"{DATA.name}"
    else:
        x = torch.randint(0, model.config.num_levels, (args.images, C, H, W))
        source = "uniform noise (no CIFAR-10 prefix found)"
    data = Images(x)
    if model.needs_data_dependent_init:
        model.data_dependent_init(x[:16])
    print(f"{args.model}/{args.preset}, {args.images} images of {source}, {torch.get_num_threads()} thread(s)")
    modes = {"inference_mode (pixelar)": lambda: contextlib.nullcontext(),
             "no_grad": torch.no_grad, "autograd on": torch.enable_grad}
    best: dict[tuple[str, int], float] = {}
    bpd: dict[str, float] = {}
    for _ in range(args.repeats):
        for b in args.batches:
            for name, ctx in modes.items():
                # evaluate() is decorated with inference_mode; the others call its undecorated body
                fn = evaluate if name.startswith("inference") else evaluate.__wrapped__
                with ctx():
                    t = time.perf_counter()
                    r = fn(model, data, batch_size=b)
                    dt = time.perf_counter() - t
                best[name, b] = max(best.get((name, b), 0.0), args.images / dt)
                bpd.setdefault(name, r["bits_per_dim"])
    print(f"{'mode':28s}" + "".join(f"{'batch ' + str(b):>12s}" for b in args.batches) + "   (images/s, best of repeats)")
    for name in modes:
        print(f"{name:28s}" + "".join(f"{best[name, b]:12.1f}" for b in args.batches))
    spread = max(bpd.values()) - min(bpd.values())
    print(f"bits/dim {bpd['inference_mode (pixelar)']:.6f} in every mode (spread {spread:.1e})")
    return 0 if spread < 1e-6 else 1


if __name__ == "__main__":
    raise SystemExit(main())
