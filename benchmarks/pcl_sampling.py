"""Sampling speed of a converted pclucas14/pixel-cnn-pp model: pixelar's cached sampler vs the port's loop.

    PYTHONPATH=src .venv/bin/python benchmarks/pcl_sampling.py [--config paper|small|tiny] [--batch 16]
        [--image-size 32] [--rows 32] [--port-steps 0] [--reps 1] [--threads 1] [--pcl DIR]

The port (../shared/peer_bench/pcl, or --pcl DIR) is built with random weights; pixelar gets the
same weights through ``pixelar.convert.convert_pcl``. Both sample ``--batch`` images; the two
are timed alternately in one process, ``--reps`` times each.

* port: the sampling loop of its main.py, one full forward pass ``model(data, sample=True)`` per
  pixel followed by ``sample_from_discretized_mix_logistic``, H·W steps. Every step runs the whole
  network on the whole canvas, so each costs the same: with ``--port-steps K`` > 0 only K steps
  (after one warm-up step) are timed and the time is EXTRAPOLATED to H·W steps.
* pixelar: ``model.sample(method="cached")``; with ``--rows R`` < H, the cached loop is timed
  over the first R rows (a multiple of 4, so the low-resolution rows come in proportion) and
  EXTRAPOLATED to H rows. The port files are Python 2 in one line and call .cuda() in the loss:
  they are copied to a scratch folder with those two edits, as ../shared/peer_bench does.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from pixelar.convert import convert_pcl
from pixelar.sampling.naive import draw, steps

PCL = Path(__file__).resolve().parents[1].parent / "shared" / "peer_bench" / "pcl"
CONFIGS = {"paper": (5, 160, 10), "small": (2, 64, 10), "tiny": (1, 32, 5)}   # nr_resnet, nr_filters, mix


def import_port(src: Path):
    """(PixelCNN class, sample_from_discretized_mix_logistic) of the port at ``src``."""
    scratch = Path(tempfile.mkdtemp(prefix="pcl-port-"))
    for name in ("model.py", "layers.py", "utils.py"):
        text = (src / name).read_text()
        if name == "utils.py":
            text = re.sub(r"print e\b", "print(e)", text).replace(
                "Variable(torch.zeros(xs + [nr_mix]).cuda(), requires_grad=False)",
                "torch.zeros(xs + [nr_mix], device=x.device)")
        (scratch / name).write_text(text)
    sys.path.insert(0, str(scratch))
    import model as port_model  # the port's own module names
    import utils as port_utils
    return port_model.PixelCNN, port_utils.sample_from_discretized_mix_logistic


def port_seconds(m, sample_op, n: int, size: int, mix: int, num_steps: int) -> float:
    """Seconds for the port's loop to sample n images (extrapolated from num_steps steps if > 0)."""
    total = size * size
    todo = total if num_steps <= 0 else min(num_steps + 1, total)
    data = torch.zeros(n, 3, size, size)
    with torch.no_grad():
        t0 = time.perf_counter()
        for step in range(todo):
            if step == 1 and num_steps > 0:
                t0 = time.perf_counter()            # step 0 is the warm-up
            i, j = divmod(step, size)
            out = m(data, sample=True)
            data[:, :, i, j] = sample_op(out, mix)[:, :, i, j]
        seconds = time.perf_counter() - t0
    return seconds if num_steps <= 0 else seconds / (todo - 1) * total


def pixelar_seconds(model, n: int, rows: int, seed: int) -> float:
    """Seconds for pixelar's cached sampler to sample n images (extrapolated from ``rows`` rows)."""
    _, h, _ = model.image_shape
    g = torch.Generator().manual_seed(seed)
    if rows >= h:
        t0 = time.perf_counter()
        model.sample(n, generator=g, method="cached")
        return time.perf_counter() - t0
    x = torch.zeros(n, *model.image_shape, dtype=torch.long)
    known = torch.zeros_like(x, dtype=torch.bool)
    with torch.no_grad():                              # the loop of sampling/cached.py, cut after rows
        t0 = time.perf_counter()
        state = model.incremental(n, None)
        for i, j, ch in steps(model):
            if i >= rows:
                break
            draw(model, x, known, state.params(x, i, j, ch), i, j, ch, g, 1.0, {})
        return (time.perf_counter() - t0) * h / rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="paper", choices=sorted(CONFIGS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--rows", type=int, default=32, help="pixelar: rows timed (>= image size: a full sample)")
    ap.add_argument("--port-steps", type=int, default=0, help="port: steps timed (0: a full sample)")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pcl", type=Path, default=PCL, help="folder with the port's model.py, layers.py, utils.py")
    a = ap.parse_args()
    if not (a.pcl / "model.py").exists():
        sys.exit(f"the pixel-cnn-pp port is not at {a.pcl}: pass --pcl DIR (a checkout of pclucas14/pixel-cnn-pp)")
    if a.rows < a.image_size and a.rows % 4:
        ap.error("--rows must be a multiple of 4")
    torch.set_num_threads(a.threads)
    R, F, M = CONFIGS[a.config]
    PixelCNN, sample_op = import_port(a.pcl)
    torch.manual_seed(0)
    port = PixelCNN(nr_resnet=R, nr_filters=F, nr_logistic_mix=M).eval()
    model = convert_pcl(port.state_dict(), image_size=a.image_size)
    s = a.image_size
    print(f"sampling {a.batch} images {s}x{s}x3, PixelCNN++ {R}x{F}x{M} ({model.num_parameters():,} parameters); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared), "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, Python {platform.python_version()}")
    print("port: " + ("a full sample" if a.port_steps <= 0 else
                      f"extrapolated from {a.port_steps} of {s * s} steps (each a full forward pass)"))
    print("pixelar cached: " + ("a full sample" if a.rows >= s else f"extrapolated from {a.rows} of {s} rows"))
    times: dict[str, list[float]] = {"port loop (1 forward/pixel)": [], "pixelar cached": []}
    for rep in range(a.reps):
        times["port loop (1 forward/pixel)"].append(port_seconds(port, sample_op, a.batch, s, M, a.port_steps))
        times["pixelar cached"].append(pixelar_seconds(model, a.batch, a.rows, rep))
    port_s = statistics.median(times["port loop (1 forward/pixel)"])
    print(f"| {'sampler':<28} | {'s / 16 images' if a.batch == 16 else 's / batch':>13} | {'s / image':>9} "
          f"| {'vs port':>8} |")
    print(f"|{'-' * 30}|{'-' * 15}|{'-' * 11}|{'-' * 10}|")
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"| {name:<28} | {t:>13.1f} | {t / a.batch:>9.2f} | {port_s / t:>7.1f}x |")


if __name__ == "__main__":
    main()
