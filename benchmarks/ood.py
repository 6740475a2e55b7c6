"""Out-of-distribution detection with exact likelihoods: AUROC of raw likelihood, likelihood ratio, typicality.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ood.py --minutes 3 --cache runs/bench-ood

In-distribution: CIFAR-10. The model (``--model``/``--preset``, default ``pixelcnn`` ``small``)
trains for ``--minutes`` on the CIFAR-10 training prefix in ../shared/data (5,085 images) less its
last ``--held-out`` images, which estimate the entropy H for the typicality test. The background
model for the likelihood ratio is the same preset trained for the same time on the same images
perturbed as Ren et al. (2019) do: each pixel replaced, with probability ``--rate`` (0.2), by a
uniform random value (per channel). Both checkpoints go to ``--cache``; a later run with the same
``--cache`` loads them instead of training.

Scored (at most ``--num-test`` images each): the CIFAR-10 test prefix (in-distribution); OOD:
MNIST test digits as RGB (28x28 padded with 2 black pixels on every side to 32x32, the gray value
repeated in R, G and B: MNIST's background is black, so the padding is background), the built-in
``natural`` test patches (photos shipped with scikit-image / scikit-learn / matplotlib), and
uniform noise (each sub-pixel uniform on 0..255, seed 0).

OOD scores (higher = more OOD), each reported as AUROC (in-distribution vs that set):
raw likelihood = NLL; likelihood ratio = -(log p_model - log p_background); typicality = |NLL - H|
per image (M = 1) and eps over disjoint batches of ``--batch-m`` images (batch AUROC).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

import pixelar
from pixelar.data import load_dataset
from pixelar.data.base import ArrayDataset, DatasetInfo
from pixelar.errors import CheckpointError, DataError
from pixelar.evaluation import ood
from pixelar.evaluation.score import score_images
from pixelar.training.trainer import Trainer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def array_set(images: np.ndarray, name: str) -> ArrayDataset:
    return ArrayDataset(np.ascontiguousarray(images), None, DatasetInfo(name, images.shape[3], images.shape[1], 256))


def mnist_as_rgb(path: Path, n: int) -> np.ndarray:
    """(n, 32, 32, 3) uint8: 28x28 digits padded with 2 black pixels on each side, gray repeated in RGB."""
    with np.load(path) as f:
        x = f["images"][:n]                                         # (n, 28, 28, 1)
    x = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    return np.repeat(x, 3, axis=3)


def train_or_load(name: str, args: argparse.Namespace, train: object) -> tuple[object, dict]:
    """The model in ``cache/name``: loaded when a checkpoint is there, else trained for ``--minutes``."""
    run = args.cache / name
    try:
        model = pixelar.registry.load(run)
        return model, {"trained": False, "step": model.checkpoint_meta.get("step")}
    except CheckpointError:
        pass
    torch.manual_seed(0)
    model_cfg, train_cfg = pixelar.registry.resolve(args.model, args.preset)
    model = pixelar.registry.entry(args.model).model_class(model_cfg)
    t0 = time.monotonic()
    result = Trainer(model, train_cfg, train, run, progress=False, log=lambda s: None).run(minutes=args.minutes)
    seconds = time.monotonic() - t0
    return pixelar.registry.load(run), {"trained": True, "step": result["step"], "train_seconds": round(seconds, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="pixelcnn")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--minutes", type=float, default=3.0, help="training time of each of the two models")
    ap.add_argument("--rate", type=float, default=0.2, help="background model: fraction of pixels perturbed")
    ap.add_argument("--data", type=Path, default=DATA, help="folder with cifar10_*_prefix.npz and mnist_test.npz")
    ap.add_argument("--cache", type=Path, default=Path("runs/bench-ood"), help="checkpoints (reused when present)")
    ap.add_argument("--num-test", type=int, default=1017, help="images per scored set")
    ap.add_argument("--held-out", type=int, default=500, help="training-prefix images kept out for H")
    ap.add_argument("--batch-m", type=int, default=10, help="M of the batch typicality test")
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(1)
    train_file, test_file = args.data / "cifar10_train_prefix.npz", args.data / "cifar10_test_prefix.npz"
    if not (train_file.exists() and test_file.exists()):
        print(f"benchmarks/ood.py: the CIFAR-10 prefix files are absent from {args.data} "
              "(see ../shared/data/README.md); pass --data DIR", file=sys.stderr)
        return 2
    with np.load(train_file) as f:
        train_images = f["images"]
    with np.load(test_file) as f:
        test_images = f["images"][: args.num_test]
    fit, held = train_images[: -args.held_out], train_images[-args.held_out:]
    train = array_set(fit, "cifar10_prefix_train")
    model, info = train_or_load("model", args, train)
    background, bg_info = train_or_load("background", args, ood.PerturbedDataset(train, args.rate, seed=0))

    sets: dict[str, object] = {"cifar10_test": array_set(test_images, "cifar10_test")}
    absent: dict[str, str] = {}
    mnist = args.data / "mnist_test.npz"
    if mnist.exists():
        sets["mnist_rgb"] = array_set(mnist_as_rgb(mnist, args.num_test), "mnist_rgb")
    else:
        absent["mnist_rgb"] = f"{mnist} is absent"
    try:
        natural = load_dataset("natural", "test")
        sets["natural"] = torch.utils.data.Subset(natural, range(min(args.num_test, len(natural))))
    except DataError as e:
        absent["natural"] = str(e)
    rng = np.random.default_rng(0)
    sets["uniform_noise"] = array_set(rng.integers(0, 256, (args.num_test, 32, 32, 3), dtype=np.uint8), "noise")

    dims = math.prod(model.image_shape)
    t0 = time.monotonic()
    nll_held = score_images(model, array_set(held, "held_out"), args.batch_size)["nll"]
    entropy = ood.entropy_estimate(nll_held)
    nll = {k: score_images(model, d, args.batch_size)["nll"] for k, d in sets.items()}
    nll_bg = {k: score_images(background, d, args.batch_size)["nll"] for k, d in sets.items()}
    score_seconds = time.monotonic() - t0
    m = args.batch_m
    threshold = ood.bootstrap_threshold(nll_held, entropy, m, alpha=0.01)

    def scores(k: str) -> dict[str, np.ndarray]:
        return {"likelihood": nll[k], "likelihood_ratio": -ood.likelihood_ratio(nll[k], nll_bg[k]),
                "typicality": ood.typicality_scores(nll[k], entropy),
                f"typicality_m{m}": ood.typicality_statistic(nll[k], entropy, m)}

    ind = scores("cifar10_test")
    table = []
    for k in sets:
        row = {"set": k, "images": len(nll[k]), "bpd": float(ood.nats_to_bits_per_dim(nll[k].mean(), dims)),
               "background_bpd": float(ood.nats_to_bits_per_dim(nll_bg[k].mean(), dims)),
               "flagged_m": float((ood.typicality_statistic(nll[k], entropy, m) > threshold).mean())}
        if k != "cifar10_test":
            row.update({f"auroc_{s}": ood.auroc(ind[s], v) for s, v in scores(k).items()})
        table.append(row)
    print(f"| set | images | bits/dim (model) | bits/dim (background) | AUROC likelihood | AUROC likelihood "
          f"ratio | AUROC typicality (M=1) | AUROC typicality (M={m}) | batches of {m} flagged (alpha 0.01) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in table:
        a = [f"{r[f'auroc_{s}']:.3f}" if f"auroc_{s}" in r else "(in-dist.)"
             for s in ("likelihood", "likelihood_ratio", "typicality", f"typicality_m{m}")]
        print(f"| {r['set']} | {r['images']} | {r['bpd']:.3f} | {r['background_bpd']:.3f} | {' | '.join(a)} "
              f"| {r['flagged_m']:.1%} |")
    for k, why in absent.items():
        print(f"| {k} | absent: {why} |")
    summary = {"model": f"{args.model}/{args.preset}", "parameters": model.num_parameters(), "model_run": info,
               "background_run": bg_info, "rate": args.rate, "minutes": args.minutes, "train_images": len(fit),
               "held_out": len(held), "entropy_bits_per_dim": entropy / (math.log(2) * dims), "m": m,
               "threshold_nats": threshold, "score_seconds": round(score_seconds, 1), "threads": 1,
               "table": table, "absent": absent}
    args.cache.mkdir(parents=True, exist_ok=True)
    (args.cache / "ood.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "table"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
