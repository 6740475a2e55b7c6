"""``pixelar score``: exact bits/dim of every image, with out-of-distribution scores (docs/score.md)."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from .. import registry
from ..errors import PixelarError
from .common import (
    add_device,
    add_weights,
    check_data_fits,
    check_device,
    check_output_file,
    load_data,
    positive,
)


def _load(path: str, weights: str, device: str) -> Any:
    return registry.load(path, map_location=device, weights=weights)


def _typicality_source(args: argparse.Namespace, model: Any) -> Any:
    """The in-distribution images H is estimated from: a path (read like --input) or a data set name."""
    from ..evaluation.score_inputs import collect_inputs
    cfg = model.config
    if Path(args.typicality_from).exists():
        data = collect_inputs([args.typicality_from], cfg.image_channels, cfg.image_size, cfg.num_levels,
                              args.crop, args.split, args.images_key)
    else:
        data = load_data(args.typicality_from, args.typicality_split, args.data_root)
        check_data_fits(cfg, data.info, "give --typicality-from images of the kind the model was trained on")
    n = len(data) if args.typicality_images == 0 else min(args.typicality_images, len(data))
    if n < len(data):
        import torch.utils.data
        data = torch.utils.data.Subset(data, list(range(n)))
    return data


def _check_args(args: argparse.Namespace) -> str:
    from ..evaluation.score import output_format
    positive("--batch-size", args.batch_size, most=1 << 16)
    positive("--typicality-batch", args.typicality_batch, most=1 << 20)
    positive("--bootstrap", args.bootstrap, most=1_000_000)
    if args.typicality_images < 0:
        raise PixelarError(f"--typicality-images must be >= 0 (0 = all), got {args.typicality_images}")
    if not 0.0 < args.typicality_alpha < 1.0:
        raise PixelarError(f"--typicality-alpha must be in (0, 1), got {args.typicality_alpha}")
    if args.sort == "llr" and not args.reference:
        raise PixelarError("--sort llr needs --reference DIR (a background model); pass it or sort by bpd")
    if args.sort == "typicality" and not args.typicality_from:
        raise PixelarError("--sort typicality needs --typicality-from DATA; pass it or sort by bpd")
    check_device(args.device)
    fmt = output_format(args.out)
    check_output_file(args.out, args.force)
    return fmt


def _check_maps(directory: str, paths: list[Path], force: bool) -> None:
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise PixelarError(f"--nll-maps {d} is a file; give a directory")
    clash = next((p for p in paths if p.exists()), None)
    if clash is not None and not force:
        raise PixelarError(f"{clash} already exists; choose another --nll-maps or pass --force to overwrite it")


def cmd_score(args: argparse.Namespace) -> int:
    from ..evaluation import ood
    from ..evaluation.score import (
        add_reference_columns,
        add_typicality_columns,
        map_paths,
        rows_for,
        score_images,
        sort_rows,
        summary,
        write_nll_maps,
        write_scores,
    )
    from ..evaluation.score_inputs import collect_inputs
    _check_args(args)
    progress = sys.stderr.isatty()
    model = _load(args.checkpoint, args.weights, args.device)
    cfg = model.config
    ref = None
    if args.reference:
        ref = _load(args.reference, args.reference_weights, args.device)
        if (ref.image_shape, ref.config.num_levels) != (model.image_shape, cfg.num_levels):
            raise PixelarError(f"--reference {args.reference} models {ref.image_shape} images with "
                               f"{ref.config.num_levels} levels, the model {model.image_shape} with "
                               f"{cfg.num_levels}; give a background model of the same images")
    data = collect_inputs(args.input, cfg.image_channels, cfg.image_size, cfg.num_levels, args.crop,
                          args.split, args.images_key)
    names = [it.name for it in data.items]
    maps = map_paths(args.nll_maps, names) if args.nll_maps else []
    if args.nll_maps:
        _check_maps(args.nll_maps, maps, args.force)
    dims = math.prod(model.image_shape)
    scores = score_images(model, data, args.batch_size, progress, args.device, names)
    nll = scores["nll"]
    rows = rows_for(data.items, nll, dims, {k: v for k, v in scores.items() if k != "nll"})
    meta = model.checkpoint_meta
    head: dict[str, Any] = {"checkpoint": str(model.checkpoint_dir), "model": model.name, "step": meta.get("step"),
                            "weights": model.loaded_weights, "image_shape": list(model.image_shape),
                            "crop": args.crop, "bound": model.is_bound, **summary(nll, dims)}
    if ref is not None:
        nll_ref = score_images(ref, data, args.batch_size, progress, args.device, names, desc="reference")["nll"]
        add_reference_columns(rows, nll, nll_ref, dims)
        head["reference"] = {"checkpoint": str(ref.checkpoint_dir), "model": ref.name,
                             "weights": ref.loaded_weights, **summary(nll_ref, dims)}
    if args.typicality_from:
        source = _typicality_source(args, model)
        nll_in = score_images(model, source, args.batch_size, progress, args.device, desc="typicality")["nll"]
        entropy = ood.entropy_estimate(nll_in)
        m = args.typicality_batch
        threshold = ood.bootstrap_threshold(nll_in, entropy, m, args.typicality_alpha, args.bootstrap)
        batches = add_typicality_columns(rows, nll, entropy, m, threshold)
        head["typicality"] = {"source": args.typicality_from, "num_images": int(nll_in.size),
                              "entropy_nats": entropy, "entropy_bits_per_dim": entropy / (math.log(2.0) * dims),
                              "m": m, "alpha": args.typicality_alpha, "num_bootstrap": args.bootstrap,
                              "threshold_nats": threshold, **batches}
    if maps:
        write_nll_maps(model, data, maps, force=args.force)
        head["nll_maps"] = str(args.nll_maps)
    rows = sort_rows(rows, args.sort, args.descending)
    write_scores(args.out, rows, {**head, "sort": args.sort, "descending": args.descending}, force=args.force)
    kind = f" ({model.bound_description})" if model.is_bound else ""
    extra = ""
    if ref is not None:
        extra += f"; reference {head['reference']['bits_per_dim']:.4f} bits/dim"
    if args.typicality_from:
        t = head["typicality"]
        extra += (f"; typicality H = {t['entropy_bits_per_dim']:.4f} bits/dim, {t['num_ood_batches']} of "
                  f"{t['num_batches']} batches of {t['m']} atypical")
    print(f"scored {head['num_images']} images: {head['bits_per_dim']:.4f} bits/dim over all{kind}{extra}; "
          f"wrote {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from ..evaluation.score import SORT_KEYS
    from ..evaluation.score_inputs import CROPS
    p = sub.add_parser("score", help="exact bits/dim of every image (CSV/JSON), with OOD scores")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", nargs="+", required=True, metavar="PATH",
                   help="image files, folders of .png/.jpg/.jpeg (recursive) and .npz files")
    p.add_argument("--out", required=True, help="scores.csv (one row per image) or scores.json (summary + rows)")
    p.add_argument("--force", action="store_true", help="overwrite --out and the --nll-maps files")
    p.add_argument("--crop", choices=CROPS, default="none",
                   help="none: images must be the model's size; center: its centred window; tiles: all "
                        "non-overlapping model-sized tiles, one row each")
    p.add_argument("--sort", choices=tuple(SORT_KEYS), default="input", help="row order (ascending)")
    p.add_argument("--descending", action="store_true")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--split", default="test", help="which images of an .npz input (as npz:); default test")
    p.add_argument("--images-key", help="the .npz key of the images (default: by --split, or 'images')")
    p.add_argument("--nll-maps", metavar="DIR", help="write each image beside its bits-per-pixel map")
    p.add_argument("--reference", metavar="DIR", help="background model: adds the likelihood ratio (Ren et al.)")
    p.add_argument("--reference-weights", choices=("auto", "ema", "raw"), default="auto")
    p.add_argument("--typicality-from", metavar="DATA",
                   help="held-out in-distribution images (a data set name, folder or .npz): typicality test")
    p.add_argument("--typicality-split", default="test", help="split of a --typicality-from data set name")
    p.add_argument("--typicality-images", type=int, default=1000, help="use at most N of them (0 = all)")
    p.add_argument("--typicality-batch", type=int, default=1, metavar="M", help="images per tested batch")
    p.add_argument("--typicality-alpha", type=float, default=0.01, help="false-alarm rate of the test")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap batches for the threshold")
    p.add_argument("--data-root")
    add_weights(p)
    add_device(p)
    p.set_defaults(func=cmd_score)
