"""``pixelar eval``: exact bits/dim of a checkpoint on a data set, with each part of models made of parts."""
from __future__ import annotations

import argparse
import json
import math

from .. import registry
from .common import (
    add_data_options,
    add_device,
    add_weights,
    check_data_fits,
    check_output_file,
    data_options,
    load_data,
    positive,
)


def cmd_eval(args: argparse.Namespace) -> int:
    from ..errors import PixelarError
    from ..evaluation.bpd import evaluate
    positive("--batch-size", args.batch_size, most=1 << 16)
    if args.max_images < 0:
        raise PixelarError(f"--max-images must be >= 0 (0 = all), got {args.max_images}")
    options = data_options(args.data_options)
    if args.nll_map:
        positive("--nll-map-images", args.nll_map_images, most=256)
        check_output_file(args.nll_map, args.force)
    model = registry.load(args.checkpoint, map_location=args.device, weights=args.weights)
    data = load_data(args.dataset, args.split, args.data_root, options)
    check_data_fits(model.config, data.info, "evaluate on a data set of the kind the model was trained on")
    if args.nll_map:
        from ..evaluation.nll_map import write_nll_map
        write_nll_map(model, data, args.nll_map, num_images=args.nll_map_images, force=args.force)
    r = evaluate(model, data, batch_size=args.batch_size, max_images=args.max_images,
                 progress=not args.json, device=args.device)
    meta = model.checkpoint_meta
    r = {"dataset": args.dataset, "split": args.split, "checkpoint": str(model.checkpoint_dir),
         "step": meta.get("step"), "weights": model.loaded_weights, "model": model.name, **r}
    # nats per sub-pixel (Reed et al.'s Table 2 unit for video) = bits/dim x ln 2: the same figure
    r["nats_per_dim"] = r["bits_per_dim"] * math.log(2)
    if options:
        r["data_options"] = options
    if args.json:
        print(json.dumps(r, sort_keys=True, allow_nan=False))
        return 0
    kind = f" ({model.bound_description})" if r["bound"] else ""
    print(f"{args.dataset}/{args.split}: {r['bits_per_dim']:.4f} bits/dim, "
          f"{r['nats_per_image']:.2f} nats/image over {r['num_images']} images{kind} "
          f"({r['weights']} weights of {r['checkpoint']})")
    if model.can_predict:      # a video model: only the predicted frames are scored
        print(f"  = {r['nats_per_dim']:.4f} nats per sub-pixel of the predicted frames (Table 2's unit), "
              f"{r['nats_per_image']:.2f} nats per clip")
    for name, v in r.get("parts", {}).items():
        print(f"  part {name}: {v['bits_per_dim']:.4f} bits/dim of its own dimensions, "
              f"{v['nats_per_image']:.2f} nats/image, {v['share_bits_per_dim']:.4f} of the total bits/dim")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="exact bits/dim of a checkpoint on a data set")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", required=True)
    add_data_options(p)
    p.add_argument("--data-root")
    p.add_argument("--split", default="test")
    p.add_argument("--max-images", type=int, default=0, help="evaluate only the first N images (0 = all)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--nll-map", help="write the first few images beside heat maps of their bits per pixel")
    p.add_argument("--nll-map-images", type=int, default=4)
    p.add_argument("--force", action="store_true", help="overwrite --nll-map if it exists")
    add_weights(p)
    add_device(p)
    p.set_defaults(func=cmd_eval)
