"""Train a preset on the CIFAR-10 prefix in ../shared/data for a fixed time; report exact test bits/dim.

    .venv/bin/python benchmarks/train_cifar_prefix.py --model pixelcnn_pp --preset small --minutes 10

Train: cifar10_train_prefix.npz (the first 1017 images of each official training batch, 5085
images); test: cifar10_test_prefix.npz (the first 1017 official test images). These are
real CIFAR-10 images, but the training set is a tenth of the real one, so the figure is not
the paper's number: it shows what a few minutes on this machine buy.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import pixelar
from pixelar.data import load_dataset
from pixelar.evaluation.bpd import evaluate
from pixelar.training.trainer import Trainer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="pixelcnn_pp")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--data", type=Path, default=DATA, help="folder with cifar10_*_prefix.npz")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-cifar-prefix"))
    args = ap.parse_args()
    train_file, test_file = args.data / "cifar10_train_prefix.npz", args.data / "cifar10_test_prefix.npz"
    if not (train_file.exists() and test_file.exists()):
        print(f"CIFAR-10 prefix files not found in {args.data} (see ../shared/data/README.md); "
              "pass --data DIR", file=sys.stderr)
        return 2
    train = load_dataset(f"npz:{train_file}", "train")
    test = load_dataset(f"npz:{test_file}?images_key=images", "test")   # the prefix file has only images/labels
    torch.manual_seed(0)
    model_cfg, train_cfg = pixelar.registry.resolve(args.model, args.preset)
    model = pixelar.registry.entry(args.model).model_class(model_cfg)
    out = args.out / f"{args.model}-{args.preset}-{int(time.time())}"
    trainer = Trainer(model, train_cfg, train, out, progress=False)
    result = trainer.run(minutes=args.minutes)
    r = evaluate(trainer.eval_model(), test, batch_size=64)
    summary = {"model": args.model, "preset": args.preset, "parameters": model.num_parameters(),
               "minutes": args.minutes, "steps": result["step"], "train_images": len(train),
               "test_images": r["num_images"], "test_bits_per_dim": round(r["bits_per_dim"], 4),
               "ema": train_cfg.ema, "threads": torch.get_num_threads()}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
