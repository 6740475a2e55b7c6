"""Trainer input pipeline: batches/s of decoding a `folder:` data set with --workers 0, 1, 2.

The folder holds the 24 Kodak photos (768x512 PNGs, from ../shared/data/kodak24.npz) repeated to
--images files; every item decodes one PNG and cuts a random 32x32 crop, as `pixelar train
--dataset folder:DIR?crop=random` does. Only the input pipeline runs (no model), so the figure is
the most a training step could be fed. Also checks that every worker count gives the same batches.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/input_pipeline.py --batches 24
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixelar.data.generic import load_folder
from pixelar.training.loader import BatchPlan, batches

KODAK = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "kodak24.npz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=192)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--batches", type=int, default=24)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not KODAK.exists():
        raise SystemExit(f"{KODAK} is absent: this benchmark needs the Kodak suite (../shared/data)")
    with np.load(KODAK) as z:
        photos = [z[f"kodim{i:02d}"] for i in range(1, 25)]
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.images):
            Image.fromarray(photos[i % 24]).save(Path(tmp) / f"{i:04d}.png")
        data = load_folder(tmp, image_size=32, crop="random", seed=0)
        plan = BatchPlan(len(data), seed=0, global_batch=args.batch_size, per_rank=args.batch_size)
        reference = None
        print(f"{args.images} PNGs (768x512), batch {args.batch_size}, {args.batches} batches, random 32x32 crops")
        for workers in args.workers:
            start = time.perf_counter()
            got = [b["image"] for b in itertools.islice(batches(data, plan, 0, 0, "cpu", workers), args.batches)]
            seconds = time.perf_counter() - start
            same = reference is None or all(torch.equal(a, b) for a, b in zip(reference, got))
            reference = reference or got
            print(f"--workers {workers}: {args.batches / seconds:6.2f} batches/s "
                  f"({args.batches * args.batch_size / seconds:7.1f} images/s, worker start-up included); "
                  f"same batches as --workers {args.workers[0]}: {same}")


if __name__ == "__main__":
    main()
