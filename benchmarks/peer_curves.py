"""Equal wall-clock learning curves: pixelar's PixelCNN++ against pclucas14/pixel-cnn-pp (the most used port).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/peer_curves.py --minutes 10 --points 5 \\
        [--config small|paper] [--contenders pcl pixelar pixelar-bf16] [--test 256] --out runs/peer-curves

Each contender trains in its own process, the same thread count each; the processes take turns,
one chunk of --minutes / --points at a time (so that the machine's load falls on all alike), for
--minutes of training wall time on the CIFAR-10 training prefix (../shared/data, 5,085 images):
batch 16, Adam 2e-4 (the port's main.py recipe), no EMA, no flips, the same architecture as
``../shared/peer_bench/pcnnpp_vs_pcl.py`` (--config small: 2 gated ResNets per block, 64 filters,
10 logistics, dropout 0.5). pixelar trains through its own ``Trainer`` (what ``pixelar train``
runs: data-dependent init included in its time), with ``train.precision=bf16`` for
``pixelar-bf16`` (the network under autocast, the likelihood in fp32); the port trains with its
own loop and loss, imported at run time from ../shared/peer_bench/pcl (nothing of it is copied into
pixelar). At --points evenly spaced training times each saves its weights; saving is not counted.

Afterwards every saved state is scored by the same code: pixelar's exact log-likelihood on the
first --test images of the CIFAR-10 test prefix (the port's weights through ``pixelar.convert``,
which reproduces the port's own loss to 7e-5 relative). Prints one table (training minutes,
steps, test bits/dim per contender) and writes OUT/curves.png and OUT/curves.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

import pixelar
from pixelar.convert import convert_pcl
from pixelar.convert.pcl import import_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, load_average  # benchmarks/machine.py

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data"
PCL_DIR = Path(os.environ.get("PIXELAR_PCL_DIR", SHARED / "peer_bench" / "pcl"))
CONFIGS = {"small": dict(num_resnet=2, num_filters=64, num_mixtures=10),
           "paper": dict(num_resnet=5, num_filters=160, num_mixtures=10)}
CONTENDERS = ("pcl", "pixelar", "pixelar-bf16")
BATCH, LR = 16, 2e-4


def train_images() -> np.ndarray:
    return np.load(DATA / "cifar10_train_prefix.npz")["images"]          # (N, 32, 32, 3) uint8


def train_pixelar(args: argparse.Namespace, out: Path, precision: str) -> Iterator[dict]:
    from pixelar.data.base import ArrayDataset, DatasetInfo
    from pixelar.training.config import TrainConfig
    from pixelar.training.trainer import Trainer
    torch.manual_seed(0)
    model = pixelar.build("pixelcnn_pp", "cifar10", dropout=0.5, **CONFIGS[args.config])
    cfg = TrainConfig(optimizer="adam", lr=LR, lr_decay=1.0, betas=(0.9, 0.999), ema=0.0, batch_size=BATCH,
                      precision=precision, log_every=10 ** 9, checkpoint_every=10 ** 9, keep_checkpoints=1)
    data = ArrayDataset(train_images(), None, DatasetInfo("cifar10-prefix", 3, 32, 256))
    trainer = Trainer(model, cfg, data, out / "run", progress=False, log=lambda message: None)
    trained = 0.0
    for k in range(1, args.points + 1):
        t = time.monotonic()
        trainer.run(minutes=args.minutes / args.points)
        trained += time.monotonic() - t
        torch.save(model.state_dict(), out / f"point{k}.pt")
        yield {"minutes": trained / 60, "steps": trainer.step, "state": f"point{k}.pt"}


def train_pcl(args: argparse.Namespace, out: Path) -> Iterator[dict]:
    port = import_port(PCL_DIR, Path(tempfile.mkdtemp(prefix="pcl-")))
    c = CONFIGS[args.config]
    torch.manual_seed(0)
    m = port.PixelCNN(nr_resnet=c["num_resnet"], nr_filters=c["num_filters"], nr_logistic_mix=c["num_mixtures"],
                      input_channels=3)
    opt = torch.optim.Adam(m.parameters(), lr=LR)
    m.train()
    images = torch.from_numpy(train_images()).permute(0, 3, 1, 2).contiguous()
    order, rng, at, step = [], np.random.default_rng(0), 0, 0
    trained = 0.0
    for k in range(1, args.points + 1):
        t = time.monotonic()
        while time.monotonic() - t < args.minutes / args.points * 60:
            if at + BATCH > len(order):                      # a new epoch, shuffled as the port's loader does
                order, at = rng.permutation(len(images)), 0
            x = (images[order[at:at + BATCH]].float() / 255.0 - 0.5) * 2
            at += BATCH
            loss = port.loss(x, m(x))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        trained += time.monotonic() - t
        torch.save(m.state_dict(), out / f"point{k}.pt")
        yield {"minutes": trained / 60, "steps": step, "state": f"point{k}.pt"}


def worker(args: argparse.Namespace) -> int:
    """Train one chunk per line read on stdin, answering each with the chunk's point as a JSON line."""
    out = args.out / args.worker
    out.mkdir(parents=True, exist_ok=True)
    chunks = train_pcl(args, out) if args.worker == "pcl" else \
        train_pixelar(args, out, "bf16" if args.worker == "pixelar-bf16" else "fp32")
    for _ in sys.stdin:
        print(json.dumps(next(chunks)), flush=True)
    return 0


def train_all(args: argparse.Namespace) -> dict[str, list[dict]]:
    """The contenders' processes take turns chunk by chunk (A1 B1 C1 A2 B2 C2 ...), so that a change
    in the machine's load during the run falls on all of them alike."""
    procs = {}
    for name in args.contenders:
        cmd = [sys.executable, __file__, "--worker", name, "--minutes", str(args.minutes), "--points",
               str(args.points), "--config", args.config, "--out", str(args.out)]
        procs[name] = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                       env=dict(os.environ, PYTHONWARNINGS="ignore"))
    points: dict[str, list[dict]] = {name: [] for name in procs}
    try:
        for k in range(args.points):
            for name, p in procs.items():
                p.stdin.write("go\n")
                p.stdin.flush()
                line = p.stdout.readline()
                if not line:
                    raise SystemExit(f"peer_curves: error: the {name} worker died (exit {p.wait()})")
                points[name].append(json.loads(line))
                print(f"  {name:14s} chunk {k + 1}/{args.points}: {points[name][-1]['steps']} steps, "
                      f"load average {load_average()}", flush=True)
    finally:
        for p in procs.values():
            p.stdin.close()
            p.wait()
    return points


@torch.no_grad()
def score(name: str, state_file: Path, config: str, test: torch.Tensor) -> float:
    state = torch.load(state_file, map_location="cpu", weights_only=True)
    if name == "pcl":
        model = convert_pcl(state)
    else:
        model = pixelar.build("pixelcnn_pp", "cifar10", dropout=0.5, **CONFIGS[config])
        model.load_state_dict(state)
    model.eval()
    nats = -sum(model.log_prob(x).sum().item() for x in test.split(64))
    return nats / math.log(2) / test.numel()


def plot(rows: dict[str, list[dict]], path: Path, title: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'pixelar[demo]'): no curves.png", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, points in rows.items():
        ax.plot([p["minutes"] for p in points], [p["bits_per_dim"] for p in points], marker="o", label=name)
    ax.set_xlabel("training wall time (minutes)")
    ax.set_ylabel("test bits/dim (exact, CIFAR-10 test prefix)")
    ax.set_title(textwrap.fill(title, 80), fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="training wall time of each contender")
    ap.add_argument("--points", type=int, default=5, help="evenly spaced scoring points")
    ap.add_argument("--config", default="small", choices=sorted(CONFIGS))
    ap.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    ap.add_argument("--test", type=int, default=256, help="test-prefix images scored")
    ap.add_argument("--out", type=Path, default=Path("runs/peer-curves"))
    ap.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not (DATA / "cifar10_train_prefix.npz").exists() or not (PCL_DIR / "model.py").exists():
        print(f"needs {DATA}/cifar10_*_prefix.npz and the port in {PCL_DIR} (../shared)", file=sys.stderr)
        return 2
    if args.worker:
        return worker(args)
    threads = torch.get_num_threads()
    machine = describe(threads)
    print(f"machine: {machine}", flush=True)
    trained = train_all(args)
    test = torch.from_numpy(np.load(DATA / "cifar10_test_prefix.npz")["images"][:args.test]).permute(0, 3, 1, 2).long()
    rows = {}
    for name, points in trained.items():
        for p in points:
            p["bits_per_dim"] = score(name, args.out / name / p["state"], args.config, test)
        rows[name] = points
    print(f"test bits/dim on the first {args.test} CIFAR-10 test-prefix images, {args.config} config, batch {BATCH}, "
          f"Adam {LR:g}:")
    for name, points in rows.items():
        print(f"  {name:14s} " + "  ".join(f"{p['minutes']:5.1f} min {p['steps']:5d} steps {p['bits_per_dim']:.3f}"
                                           for p in points))
    title = f"PixelCNN++ {args.config}, equal wall time; {machine}"
    plot(rows, args.out / "curves.png", title)
    (args.out / "curves.json").write_text(json.dumps({"machine": machine, "config": args.config, "rows": rows},
                                                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
