"""PixelRNN Table 4: test NLL in nats on the fixed binarized MNIST, next to the paper's figures.

    PYTHONPATH=src .venv/bin/python benchmarks/table4_binarized_mnist.py --minutes 8
    PYTHONPATH=src .venv/bin/python benchmarks/table4_binarized_mnist.py --minutes 60 --resume

Trains each preset (default: pixelcnn/mnist, row_lstm/mnist, diagonal_bilstm/mnist) on the
50,000 training images of ``binarized_mnist.npz`` (../shared/data, the Larochelle/Murray fixed
binarization), for ``--minutes`` of wall time per model and per invocation, then scores all
10,000 test images exactly: -log p(x) in nats summed over the test set, divided by 10,000.

Resumable: each model trains in ``OUT/<model>-<preset>/`` with the Trainer's checkpoints
(weights, RMSProp state, data position, RNG). ``--resume`` continues every model from its
newest checkpoint (bit-identical to one long run on CPU) and adds the wall time to the total
in ``table4.json``; without it an existing run folder is an error. ``--minutes 0 --resume``
only evaluates. The paper trained to convergence on GPUs; on 2 shared CPU cores a few
minutes reach only a fraction of one epoch (3,125 steps of batch 16).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import pixelar
from pixelar import checkpoint as ckpt
from pixelar.data import load_dataset
from pixelar.data.generic import load_npz
from pixelar.errors import DataError
from pixelar.evaluation.bpd import evaluate
from pixelar.training.trainer import Trainer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PAPER_NATS = {"pixelcnn/mnist": 81.30, "row_lstm/mnist": 80.54, "diagonal_bilstm/mnist": 79.20,
              "diagonal_bilstm/mnist_1layer": 80.75}
DEFAULT_MODELS = "pixelcnn/mnist,row_lstm/mnist,diagonal_bilstm/mnist"


def test_subset(test: Any, n: int) -> Any:
    """The first n of a fixed shuffle (the test split is ordered by digit class); n=0: all."""
    if n <= 0 or n >= len(test):
        return test
    idx = np.sort(np.random.default_rng(0).permutation(len(test))[:n])
    return torch.utils.data.Subset(test, idx.tolist())


def run_one(spec: str, args: argparse.Namespace, train: Any, test: Any) -> dict:
    name, preset = spec.split("/")
    out = args.out / f"{name}-{preset}"
    if ckpt.checkpoint_dirs(out) and not args.resume:
        raise SystemExit(f"{out} already holds a run: pass --resume to continue it, or another --out")
    overrides = {"train.batch_size": args.batch_size} if args.batch_size else {}
    for item in args.set:   # e.g. --set model.hidden=32 --set train.ema=0.999 (same on every --resume)
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except ValueError:
            overrides[key] = value
    model_cfg, train_cfg = pixelar.registry.resolve(name, preset, overrides)
    torch.manual_seed(train_cfg.seed)
    model = pixelar.registry.entry(name).model_class(model_cfg)
    curve = test_subset(test, args.curve_images) if args.curve_images else None
    trainer = Trainer(model, train_cfg, train, out, eval_data=curve, progress=False,
                      log=lambda m: print(m, flush=True))
    ledger_path = out / "table4.json"
    ledger = json.loads(ledger_path.read_text()) if ledger_path.exists() else {"train_seconds": 0.0}
    ledger["overrides"] = overrides   # add_pretrained.py records them with the checkpoint
    if ckpt.checkpoint_dirs(out):
        print(f"{spec}: resuming from {trainer.resume().name}", flush=True)
    result = {"step": trainer.step, "seconds": 0.0}
    if args.minutes > 0:
        result = trainer.run(minutes=args.minutes)
        ledger["train_seconds"] += result["seconds"]
        out.mkdir(parents=True, exist_ok=True)
        ledger_path.write_text(json.dumps(ledger, indent=1))
        if "stopped_by" in result:   # SIGTERM/SIGINT: the Trainer wrote a checkpoint; no evaluation
            raise SystemExit(f"{spec}: stopped by {result['stopped_by']} at step {trainer.step}; "
                             f"continue with the same command and --resume")
    t0 = time.monotonic()
    r = evaluate(trainer.eval_model(), test, batch_size=args.eval_batch_size)
    summary = {"model": spec, "parameters": model.num_parameters(), "steps": trainer.step,
               "epochs": round(trainer.step / trainer.batches_per_epoch, 3),
               "train_minutes_total": round(ledger["train_seconds"] / 60, 1),
               "test_images": r["num_images"], "test_nats": round(r["nats_per_image"], 2),
               "paper_nats": PAPER_NATS.get(spec), "eval_seconds": round(time.monotonic() - t0, 1),
               "threads": torch.get_num_threads()}
    ledger.update(summary)
    out.mkdir(parents=True, exist_ok=True)
    ledger_path.write_text(json.dumps(ledger, indent=1))
    print(json.dumps(summary), flush=True)
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated model/preset list")
    ap.add_argument("--minutes", type=float, default=8.0, help="training wall time per model, this invocation")
    ap.add_argument("--resume", action="store_true", help="continue the runs in --out")
    ap.add_argument("--data", type=Path, default=DATA, help="folder holding binarized_mnist.npz")
    ap.add_argument("--out", type=Path, default=Path("runs/table4"))
    ap.add_argument("--test-images", type=int, default=0, help="score a fixed random subset (0 = all 10,000)")
    ap.add_argument("--batch-size", type=int, default=0, help="override the presets' batch size (16)")
    ap.add_argument("--eval-batch-size", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, e.g. model.hidden=32 or train.eval_every=2000 (repeat; "
                         "pass the same ones on every --resume)")
    ap.add_argument("--curve-images", type=int, default=0,
                    help="with train.eval_every: score this fixed test subset during training "
                         "(the learning curve in metrics.jsonl); the final figure is on --test-images")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    path = args.data / "binarized_mnist.npz"
    if path.exists():
        train, test = load_npz(path, "train", num_levels=2), load_npz(path, "test", num_levels=2)
    else:   # the official .amat files in pixelar's cache (data set "binarized_mnist"), if there
        try:
            train, test = (load_dataset("binarized_mnist", split, download=False) for split in ("train", "test"))
        except DataError as e:
            print(f"binarized MNIST not found: no {path} (see ../shared/data/README.md; pass --data DIR) "
                  f"and no .amat files ({e})", file=sys.stderr)
            return 2
    test = test_subset(test, args.test_images)
    rows = [run_one(spec.strip(), args, train, test) for spec in args.models.split(",") if spec.strip()]
    print(f"\nTable 4, binarized MNIST test NLL (nats; {rows[0]['test_images']} test images)")
    print(f"{'model':30s} {'steps':>7s} {'epochs':>7s} {'train min':>9s} {'ours':>8s} {'paper':>7s}")
    for r in rows:
        paper = f"{r['paper_nats']:.2f}" if r["paper_nats"] else "-"
        print(f"{r['model']:30s} {r['steps']:7d} {r['epochs']:7.2f} {r['train_minutes_total']:9.1f} "
              f"{r['test_nats']:8.2f} {paper:>7s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
