"""Grayscale and Pyramid PixelCNN vs a plain PixelCNN++ of similar size, each trained for the same time.

    .venv/bin/python benchmarks/auxiliary_cifar.py --minutes 5

Train: ../shared/data/cifar10_train_prefix.npz (5085 real CIFAR-10 training images); test:
cifar10_test_prefix.npz (the first 1017 official test images). For each model it prints one JSON
line: parameters, steps, test bits/dim (an upper bound for the auxiliary-variable models, with
the per-part figures), and sampling seconds per image. It writes colorize.png (rows: a real test
image, its 4-bit grayscale view ŷ, colourings sampled from p(x | ŷ), the MAP colouring) and
upscale.png (rows: a real test image, its 16x16 block mean, Pyramid PixelCNN upscalings).
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
from pixelar.imageio import grid, save_png
from pixelar.models.auxiliary import downsample, grayscale_view
from pixelar.training.trainer import Trainer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODELS = [("grayscale_pixelcnn", "small"), ("pyramid_pixelcnn", "small"), ("pixelcnn_pp", "small")]


def _images(data, n: int) -> torch.Tensor:
    return torch.stack([data[i][0] for i in range(n)])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5.0, help="training time per model")
    ap.add_argument("--data", type=Path, default=DATA, help="folder with cifar10_*_prefix.npz")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-auxiliary"))
    ap.add_argument("--test-images", type=int, default=0, help="score only the first N test images (0 = all)")
    ap.add_argument("--sample-images", type=int, default=2, help="images per timed sampling run")
    ap.add_argument("--colorize-images", type=int, default=6, help="test images in the colorization grid")
    ap.add_argument("--colorings", type=int, default=3, help="sampled colourings per image")
    ap.add_argument("--no-map", action="store_true", help="leave the MAP colouring out of the grid (one fewer pass)")
    ap.add_argument("--consistent", action="store_true",
                    help="colour and upscale consistently with ŷ (pixelar's option; default: the paper's sampling)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", default=",".join(f"{m}:{p}" for m, p in MODELS),
                    help="comma-separated model:preset list")
    args = ap.parse_args()
    train_file, test_file = args.data / "cifar10_train_prefix.npz", args.data / "cifar10_test_prefix.npz"
    if not (train_file.exists() and test_file.exists()):
        print(f"CIFAR-10 prefix files not found in {args.data} (see ../shared/data/README.md); pass --data DIR",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    train = load_dataset(f"npz:{train_file}", "train")
    test = load_dataset(f"npz:{test_file}?images_key=images", "test")   # the prefix file has only images/labels
    out_dir = args.out / time.strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    trained = {}
    for spec in args.models.split(","):
        name, preset = spec.split(":")
        torch.manual_seed(0)
        model_cfg, train_cfg = pixelar.registry.resolve(name, preset)
        model = pixelar.registry.entry(name).model_class(model_cfg)
        trainer = Trainer(model, train_cfg, train, out_dir / f"{name}-{preset}", progress=False)
        result = trainer.run(minutes=args.minutes)
        m = trainer.eval_model().eval()
        r = evaluate(m, test, batch_size=64, max_images=args.test_images)
        g = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        m.sample(args.sample_images, generator=g)
        per_image = (time.perf_counter() - t0) / args.sample_images
        row = {"model": name, "preset": preset, "parameters": m.num_parameters(), "minutes": args.minutes,
               "steps": result["step"], "train_images": len(train), "test_images": r["num_images"],
               "test_bits_per_dim": round(r["bits_per_dim"], 4), "bound": r["bound"],
               "sampling_seconds_per_image": round(per_image, 2),
               "sampler": "naive per factor" if hasattr(m, "log_prob_parts") else "auto",
               "threads": torch.get_num_threads()}
        if "parts_bits_per_dim" in r:
            row["parts_bits_per_dim"] = {k: round(v, 4) for k, v in r["parts_bits_per_dim"].items()}
        print(json.dumps(row), flush=True)
        trained[name] = m
    x = _images(test, args.colorize_images)                                     # (n, 3, 32, 32) uint8
    if "grayscale_pixelcnn" in trained:
        m = trained["grayscale_pixelcnn"]
        aux = grayscale_view(x)                                                 # (n, 1, 32, 32)
        k = args.colorings
        g = torch.Generator().manual_seed(1)
        t0 = time.perf_counter()
        samples = m.colorize(aux.repeat_interleave(k, 0), generator=g,
                             consistent=args.consistent).view(len(x), k, 3, 32, 32)
        print(json.dumps({"colorize_seconds_per_image": round((time.perf_counter() - t0) / (len(x) * k), 2),
                          "batch": len(x) * k}), flush=True)
        shown = (aux * 16 + 8).expand(-1, 3, -1, -1).to(torch.uint8)
        columns = [x[:, None], shown[:, None], samples]
        if not args.no_map:
            columns.append(m.colorize(aux, generator=g, map_sampling=True, consistent=args.consistent)[:, None])
        rows = torch.cat(columns, dim=1)                                        # (n, columns, 3, H, W)
        kept = (grayscale_view(samples.flatten(0, 1)) == aux.repeat_interleave(k, 0)).float().mean()
        print(json.dumps({"colorings_pixels_with_the_gray_view_of_y": round(float(kept), 4)}), flush=True)
        if args.consistent and float(kept) != 1.0:
            raise SystemExit(f"consistent colourings changed the gray view of {1 - float(kept):.2%} of the pixels")
        save_png(grid(rows.flatten(0, 1), 256, nrow=rows.shape[1], scale=3), out_dir / "colorize.png", force=True)
    if "pyramid_pixelcnn" in trained:
        m = trained["pyramid_pixelcnn"]
        low = downsample(x)                                                     # (n, 3, 16, 16)
        k = args.colorings
        g = torch.Generator().manual_seed(2)
        t0 = time.perf_counter()
        ups = m.upscale(low.repeat_interleave(k, 0), generator=g,
                        consistent=args.consistent).view(len(x), k, 3, 32, 32)
        print(json.dumps({"upscale_16_to_32_seconds_per_image": round((time.perf_counter() - t0) / (len(x) * k), 2),
                          "batch": len(x) * k}), flush=True)
        shown = low.repeat_interleave(2, 2).repeat_interleave(2, 3).to(torch.uint8)
        rows = torch.cat([x[:, None], shown[:, None], ups], dim=1)
        save_png(grid(rows.flatten(0, 1), 256, nrow=k + 2, scale=3), out_dir / "upscale.png", force=True)
    print(json.dumps({"out": str(out_dir)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
