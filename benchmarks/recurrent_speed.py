"""Training (and evaluation) throughput of the PixelRNN layers against the PixelCNN (issue 16).

    PYTHONPATH=src .venv/bin/python benchmarks/recurrent_speed.py [--reference] [--rounds 8] [--eval]

One RMSProp step (the presets' optimizer: forward, backward, update) on real binarized-MNIST
batches of 16 (``../shared/data/binarized_mnist.npz``), 1 thread, for ``pixelcnn/mnist``,
``row_lstm/mnist`` and ``diagonal_bilstm/mnist`` built with ``pixelar.build(name,
preset="mnist")``, and for a PixelCNN of the PixelRNN presets' size (h=16, 7 layers). The
models take turns, one step each, for ``--rounds`` rounds after a warm-up round, so that a
noisy shared machine slows them alike; the table shows the median images/s per model and its
ratio to both PixelCNNs. ``--reference`` adds the same two
PixelRNNs running the old step-by-step layers (the frozen copy in
``tests/models/test_recurrent_equivalence.py``, same weights), so the speed-up is measured
in the same run. ``--eval`` also times ``log_prob`` of 100 test images under ``no_grad``.
Exits 2 if the data file is missing.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

import pixelar
from pixelar.nn import recurrent
from pixelar.training.trainer import build_optimizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, load_average  # benchmarks/machine.py

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "binarized_mnist.npz"
MODELS = ("pixelcnn", "row_lstm", "diagonal_bilstm")
MATCHED = "pixelcnn h=16, 7 layers (PixelRNN size)"


def reference_layers(model: torch.nn.Module) -> torch.nn.Module:
    """The model with its Row LSTM / Diagonal BiLSTM layers swapped for the frozen old ones."""
    path = ROOT / "tests" / "models" / "test_recurrent_equivalence.py"
    spec = importlib.util.spec_from_file_location("recurrent_reference", path)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    old = {recurrent.RowLSTM: ref.ReferenceRowLSTM, recurrent.DiagonalBiLSTM: ref.ReferenceDiagonalBiLSTM}
    for module in model.modules():
        if type(module) in old:   # same parameters and buffers (the reference's very names): only forward differs
            module.forward = types.MethodType(old[type(module)].forward, module)
    return model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="binarized_mnist.npz")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=8, help="measured rounds (one step per model per round)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reference", action="store_true", help="also run the old step-by-step layers")
    ap.add_argument("--eval", action="store_true", help="also time log_prob of 100 test images (no_grad)")
    args = ap.parse_args()
    if not args.data.exists():
        print(f"binarized MNIST not found at {args.data} (see ../shared/data/README.md; pass --data)",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    data = np.load(args.data)
    train = torch.from_numpy(data["train_images"]).permute(0, 3, 1, 2).contiguous()   # (N, 1, 28, 28) 0/1
    test = torch.from_numpy(data["test_images"]).permute(0, 3, 1, 2).contiguous()
    test = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:100]]   # class-ordered
    dims = math.prod(train.shape[1:])

    def trainable(name: str, old: bool = False, **over) -> tuple:
        """The mnist preset of ``name`` (``over``: config overrides), seeded, with its optimizer."""
        torch.manual_seed(0)
        model = pixelar.build(name, preset="mnist", **over)
        if old:
            model = reference_layers(model)
        _, train_cfg = pixelar.registry.resolve(name, "mnist")
        return model, build_optimizer(model.parameters(), train_cfg)

    # pixelcnn/mnist grew to h=48 and 10 layers for Table 4; the PixelRNNs' presets are h=16 and 7
    # layers. A PixelCNN of their size is measured too, so that the ratios do not flatter the
    # recurrences by comparing them with a model three times their width.
    runs = {MATCHED: trainable("pixelcnn", hidden=16, num_layers=7)}
    for name in MODELS:
        for old in ((False, True) if args.reference and name != "pixelcnn" else (False,)):
            runs[f"{name}/mnist" + (" (old layers)" if old else "")] = trainable(name, old)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {k: [] for k in runs}
    print(f"machine: {describe(args.threads)}", flush=True)
    for r in range(args.rounds + 1):
        x = train[order[r * args.batch:(r + 1) * args.batch]]
        for key, (model, opt) in runs.items():
            model.train()
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = -model.log_prob(x).mean() / (math.log(2.0) * dims)     # bits/dim, as the Trainer
            loss.backward()
            opt.step()
            if r:                                                         # round 0 warms up
                times[key].append(time.perf_counter() - t0)
    base = args.batch / np.median(times["pixelcnn/mnist"])
    base_matched = args.batch / np.median(times[MATCHED])
    print(f"\ntraining, batch {args.batch}, median of {args.rounds} interleaved RMSProp steps "
          f"(load average after: {load_average()})")
    print(f"| {'model':40s} | {'images/s':>8s} | {'vs pixelcnn/mnist':>17s} | {'vs same-size pixelcnn':>21s} |")
    print(f"|{'-' * 42}|{'-' * 10}|{'-' * 19}|{'-' * 23}|")
    for key, ts in times.items():
        ips = args.batch / np.median(ts)
        print(f"| {key:40s} | {ips:8.1f} | {ips / base:16.2f}x | {ips / base_matched:20.2f}x |")
    if args.eval:
        print("\nevaluation: log_prob of 100 test images, no_grad, median of 3")
        for key, (model, _) in runs.items():
            model.eval()
            ts = []
            with torch.no_grad():
                for _ in range(4):
                    t0 = time.perf_counter()
                    model.log_prob(test)
                    ts.append(time.perf_counter() - t0)
            print(f"| {key:40s} | {np.median(ts[1:]):6.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
