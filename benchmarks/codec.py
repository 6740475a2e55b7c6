"""pixelar's lossless codec against PNG, WebP lossless and JPEG-XL lossless, in bits/dim.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/codec.py --minutes 3 --cifar 16 --kodak 4

1. Train ``pixelcnn_pp small`` (or --checkpoint DIR: load one) on the CIFAR-10 *training* prefix
   (../shared/data/cifar10_train_prefix.npz) for --minutes of wall time; the benchmark images are
   never trained on.
2. CIFAR-10: the first --cifar images of the test prefix, compressed as one .pxz file.
3. Kodak24: a --crop x --crop centre crop of the first --kodak images (whole images take hours on
   this CPU), compressed as one .pxz file, so 32x32 tiles: (crop/32)² per image.
4. PNG (optimize, zlib 9), WebP lossless (method 6) and JPEG-XL lossless (imagecodecs, effort 9 when
   available) encode each image separately, as standalone files, every one checked to round-trip.
   For Kodak they run on the same crops and, for context, on the full images.

Bits/dim = 8 · bytes / (N·H·W·C), file headers included. Each pixelar row also gives the model's exact
NLL of the same tiles and checks the size bound (payload <= 1.005 x NLL/8 + 4 bytes per tile, overhead <=
40 bytes + 8 per image + 3 per tile): a broken bound stops the benchmark. Exits 2 when the data is absent.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import pixelar
from pixelar.codec import decode, encode, stats
from pixelar.codec.container import FIXED_OVERHEAD
from pixelar.evaluation.baselines import codec_result

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # benchmarks/machine.py

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def jpegxl_bpd(images: np.ndarray) -> float | None:
    """JPEG-XL lossless bits/dim over uint8 (N, H, W, C), each image on its own; None if unavailable."""
    try:
        import imagecodecs
        if not imagecodecs.JPEGXL.available:
            return None
    except ImportError:
        return None
    total = 0
    for im in images:
        data = imagecodecs.jpegxl_encode(im, lossless=True, effort=9)
        if not np.array_equal(imagecodecs.jpegxl_decode(data), im):
            raise RuntimeError("JPEG-XL did not round-trip")
        total += len(data)
    return 8.0 * total / images.size


def baselines(images: np.ndarray) -> dict[str, float | None]:
    return {"png": codec_result(images, "png").bits_per_dim, "webp": codec_result(images, "webp").bits_per_dim,
            "jpegxl": jpegxl_bpd(images)}


def train_model(minutes: float, out: Path) -> pixelar.models.base.AutoregressiveModel:
    from pixelar.data import load_dataset
    from pixelar.training.trainer import Trainer
    train = load_dataset(f"npz:{DATA / 'cifar10_train_prefix.npz'}", "train")
    torch.manual_seed(0)
    model_cfg, train_cfg = pixelar.registry.resolve("pixelcnn_pp", "small")
    model = pixelar.registry.entry("pixelcnn_pp").model_class(model_cfg)
    trainer = Trainer(model, train_cfg, train, out, progress=False)
    result = trainer.run(minutes=minutes)
    print(f"trained pixelcnn_pp small for {minutes} min: {result['step']} steps on {len(train)} images",
          file=sys.stderr)
    return model.eval()          # the raw weights: after a few minutes the EMA has barely moved


def model_nll_bits(model, images_nhwc: np.ndarray) -> float:
    """The model's exact NLL in bits of the images as the codec codes them: cut into tiles of the
    model's size (the crops here are whole multiples of it, so no tile is padded)."""
    x = torch.from_numpy(images_nhwc).permute(0, 3, 1, 2).long()
    s = model.config.image_size
    n, c, h, w = x.shape
    if h % s or w % s:
        raise SystemExit(f"--crop must be a multiple of the model's image size {s}")
    tiles = x.reshape(n, c, h // s, s, w // s, s).permute(0, 2, 4, 1, 3, 5).reshape(-1, c, s, s)
    with torch.no_grad():
        return -sum(model.log_prob(t).sum().item() for t in tiles.split(16)) / np.log(2)


def run_pixelar(model, images_nhwc: np.ndarray) -> dict[str, float]:
    """Encode + decode (checked bit-exact), bits/dim, seconds per image, and the size bound of
    docs/codec.md checked: payload <= 1.005 x NLL/8 + 4 bytes per tile (the coder's last word), and
    the container's overhead <= 40 bytes per file + 8 per image + 3 per tile (the tile lengths)."""
    x = torch.from_numpy(images_nhwc).permute(0, 3, 1, 2).contiguous()
    nll_bits = model_nll_bits(model, images_nhwc)
    t = time.perf_counter()
    data = encode(model, x)
    t_enc = time.perf_counter() - t
    t = time.perf_counter()
    y = decode(model, data)
    t_dec = time.perf_counter() - t
    assert torch.equal(torch.stack(y), x), "pixelar did not round-trip"
    n, s = len(images_nhwc), stats(data)
    payload_bound = 1.005 * nll_bits / 8 + 4 * s["tiles"]
    overhead_bound = FIXED_OVERHEAD + 8 * n + 3 * s["tiles"]
    if s["payload"] > payload_bound or s["overhead"] > overhead_bound:
        raise SystemExit(f"size bound broken: {s} against payload <= {payload_bound:.0f}, "
                         f"overhead <= {overhead_bound}")
    return {"model_nll": nll_bits / images_nhwc.size, "pixelar": 8.0 * len(data) / images_nhwc.size,
            "bytes": len(data), "payload_bytes": s["payload"], "payload_bound_bytes": round(payload_bound),
            "overhead_bytes": s["overhead"], "overhead_bound_bytes": overhead_bound,
            "encode_s_per_image": t_enc / n, "decode_s_per_image": t_dec / n}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=3.0, help="training time (ignored with --checkpoint)")
    ap.add_argument("--checkpoint", help="a pixelcnn_pp checkpoint to use instead of training")
    ap.add_argument("--weights", default="raw", choices=("auto", "ema", "raw"),
                    help="with --checkpoint: raw by default (after a few minutes the EMA has barely moved)")
    ap.add_argument("--cifar", type=int, default=16, help="CIFAR-10 test images")
    ap.add_argument("--kodak", type=int, default=4, help="Kodak images (centre crops)")
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-codec"))
    args = ap.parse_args()
    files = [DATA / f for f in ("cifar10_train_prefix.npz", "cifar10_test_prefix.npz", "kodak24.npz")]
    if not all(f.exists() for f in files):
        print(f"benchmark data not found in {DATA} (see ../shared/data/README.md)", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    start = time.perf_counter()
    model = (pixelar.registry.load(args.checkpoint, weights=args.weights) if args.checkpoint
             else train_model(args.minutes, args.out / f"pixelcnn_pp-small-{int(time.time())}"))
    rows = {}
    cifar = np.load(files[1])["images"][:args.cifar]
    rows[f"CIFAR-10 test, first {args.cifar}"] = {**run_pixelar(model, cifar), **baselines(cifar)}
    print(json.dumps(rows), file=sys.stderr, flush=True)         # partial results survive a kill
    kodak = np.load(files[2])
    names = [str(n) for n in kodak["names"]][:args.kodak]
    full = [kodak[n] for n in names]
    c = args.crop
    crops = np.stack([im[(im.shape[0] - c) // 2:(im.shape[0] + c) // 2, (im.shape[1] - c) // 2:(im.shape[1] + c) // 2]
                      for im in full])
    rows[f"Kodak {', '.join(names)}: centre {c}x{c} crops"] = {**run_pixelar(model, crops), **baselines(crops)}
    print(json.dumps(rows), file=sys.stderr, flush=True)
    per_image = [baselines(im[None]) for im in full]          # same size each: the mean is the total's bpd
    whole = {k: None if per_image[0][k] is None else float(np.mean([b[k] for b in per_image]))
             for k in ("png", "webp", "jpegxl")}
    rows[f"Kodak {', '.join(names)}: full images (classical codecs only)"] = whole
    print(json.dumps({"machine": describe(1), "seconds": round(time.perf_counter() - start), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
