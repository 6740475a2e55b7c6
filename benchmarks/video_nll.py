"""Table 2's layout on moving digits: the small presets of its four rows (O(T) baseline, O(TN), O(T),
O(T log N)) trained for the same wall time each, validation and test negative log-likelihood in nats per
sub-pixel (over the 18 predicted frames).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/video_nll.py --minutes 30 [--image-size 64] \\
        [--digits ../shared/data/mnist_train.npz] [--eval-clips 50] [--out runs/video_nll]

Digits come from the MNIST npz when it is there (else the built-in glyphs; said in the output).
The O(T) baseline (``video_pixelcnn_ot_baseline``) is Table 2's "convolutional LSTM model without spatial
dependencies"; the O(TN) row (``video_pixelcnn_otn``) is pixelar's per-pixel Gated PixelCNN frame model,
standing in for the VPN whose figures the paper quotes. All four give exact likelihoods.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time

import torch

import pixelar
from pixelar.data import load_dataset
from pixelar.evaluation.bpd import evaluate
from pixelar.training.trainer import Trainer

MODELS = ("video_pixelcnn_ot_baseline", "video_pixelcnn_otn", "video_pixelcnn_ot", "video_pixelcnn_otlogn")
SPLITS = ("valid", "test_seen", "test_novel")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--digits", default="../shared/data/mnist_train.npz")
    ap.add_argument("--eval-clips", type=int, default=50)
    ap.add_argument("--out", default="runs/video_nll")
    args = ap.parse_args()
    torch.set_num_threads(1)
    digits = args.digits if os.path.exists(args.digits) else None
    print(f"digits: {digits or 'built-in glyphs (no MNIST npz found)'}; {args.minutes} min per model; "
          f"{args.image_size}x{args.image_size}, 20 frames, 2 given")
    data = {s: load_dataset("moving_digits", s, image_size=args.image_size, digits=digits,
                            num_sequences=None if s == "train" else args.eval_clips) for s in ("train", *SPLITS)}
    print(f"{'model':26s} {'steps':>6s} " + " ".join(f"{s:>11s}" for s in SPLITS) + "   (nats per sub-pixel)")
    for name in MODELS:
        torch.manual_seed(0)
        p = pixelar.registry.get_preset(name, "small")
        model = pixelar.build(name, "small", image_size=args.image_size)
        t0 = time.time()
        trainer = Trainer(model, dataclasses.replace(p.train, eval_every=0), data["train"],
                          os.path.join(args.out, name), progress=False, log=lambda _m: None)
        trainer.run(minutes=args.minutes)
        nats = [evaluate(model.eval(), data[s], batch_size=4)["bits_per_dim"] * math.log(2) for s in SPLITS]
        print(f"{name:26s} {trainer.step:6d} " + " ".join(f"{v:11.4f}" for v in nats)
              + f"   ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
