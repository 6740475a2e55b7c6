"""``pixelar check-causality`` and ``pixelar receptive-field``: what a model's conditionals read."""
from __future__ import annotations

import argparse
import json

import torch

from .. import config as config_lib
from .. import registry
from ..errors import PixelarError
from .common import add_model_args, add_output


def cmd_check_causality(args: argparse.Namespace) -> int:
    from ..evaluation.causality import find_leaks
    overrides = config_lib.parse_assignments(args.overrides)
    overrides.setdefault("model.image_size", str(args.image_size))
    torch.manual_seed(args.seed)
    model = registry.build(args.model, args.preset, **overrides)
    leaks = find_leaks(model, seed=args.seed)
    c, h, w = model.image_shape
    if leaks:
        print(f"LEAK in {args.model}: {leaks[0]}")
        return 1
    print(f"{args.model} ({args.preset or registry.entry(args.model).default_preset}) is exactly causal: "
          f"checked all {c * h * w} sub-pixels of a {h}x{w}x{c} image")
    return 0


def _model_at_random_init(args: argparse.Namespace) -> tuple[object, str]:
    if not args.model:
        raise PixelarError("say which model: --model NAME (with --preset/--set) or --checkpoint DIR")
    overrides = config_lib.parse_assignments(args.overrides)
    if args.image_size:
        overrides["model.image_size"] = str(args.image_size)
    torch.manual_seed(args.seed)
    model = registry.build(args.model, args.preset, **overrides)
    what = f"{args.model} ({args.preset or registry.entry(args.model).default_preset}) at random init"
    if model.needs_data_dependent_init and not args.no_init:
        # The weights training starts from: weight-normalized models first get their
        # data-dependent init (here on noise images from the seed), as the trainer does.
        if not 1 <= args.init_images <= 4096:
            raise PixelarError(f"--init-images must be in 1..4096 (or pass --no-init), got {args.init_images}")
        g = torch.Generator().manual_seed(args.seed + 1)
        noise = torch.randint(0, model.config.num_levels, (args.init_images, *model.image_shape), generator=g)
        model.data_dependent_init(noise, model.random_condition(args.init_images, generator=g))
        what += f" (data-dependent init on {args.init_images} noise images)"
    check_finite_weights(model, "after its data-dependent init; raise --init-images or pass --no-init")
    return model, what


def check_finite_weights(model: torch.nn.Module, when: str) -> None:
    """A receptive field computed from NaN or inf weights means nothing: refuse it."""
    bad = sum(int((~torch.isfinite(p)).sum()) for p in model.parameters() if p.is_floating_point())
    if bad:
        raise PixelarError(f"{bad} of the model's weights are not finite {when}")


# PixelSNAIL §3.1, Figures 6-9: "a conditional distribution p(x_15,15|...) at the center of the image ...
# for a randomly initialized model", each figure its own model: (model, preset, extra --set, caption).
PAPER_FIGURES = {
    6: ("gated_pixelcnn", "receptive_field", [], "Gated PixelCNN, 7 gated layers, 6M parameters"),
    7: ("pixelcnn_pp", "receptive_field", [], "PixelCNN++ with the same number of gated ResNet blocks"),
    8: ("pixelsnail", "receptive_field", [], "PixelSNAIL, 7 blocks (4 residual + 3 attention), raster"),
    9: ("pixelsnail", "receptive_field", ["model.ordering=zigzag"], "PixelSNAIL, 7 blocks, zigzag ordering"),
}
PAPER_PIXEL = (15, 15)


def _apply_figure(args: argparse.Namespace) -> None:
    """``--figure N``: the model, preset, ordering and pixel of PixelSNAIL's Figure N (random init, 32x32)."""
    if args.figure is None:
        if args.pixel is None:
            raise PixelarError("say which pixel: --pixel ROW COL (or --figure 6..9 for PixelSNAIL's figures)")
        return
    if args.model or args.preset or args.checkpoint or args.image_size:
        raise PixelarError("--figure sets the model, preset and image size: drop --model/--preset/"
                           "--checkpoint/--image-size")
    args.model, args.preset, extra, _ = PAPER_FIGURES[args.figure]
    args.overrides = [*extra, *args.overrides]
    args.pixel = args.pixel or list(PAPER_PIXEL)


def cmd_receptive_field(args: argparse.Namespace) -> int:
    from ..evaluation.receptive_field import receptive_field, write_receptive_field
    from ..imageio import read_image
    from .common import check_output_file, positive
    _apply_figure(args)
    check_output_file(args.out, args.force)
    positive("--scale", args.scale, most=64)
    if not (args.threshold >= 0 and args.threshold != float("inf")):
        raise PixelarError(f"--threshold must be a finite number >= 0, got {args.threshold}")
    if args.checkpoint:
        if args.preset or args.overrides or args.image_size:
            raise PixelarError("--checkpoint holds its own config: drop --preset/--set/--image-size")
        model = registry.load(args.checkpoint, expect_model=args.model)
        check_finite_weights(model, f"in {args.checkpoint}")
        what = f"{model.name} from {args.checkpoint}"
    else:
        model, what = _model_at_random_init(args)
    if args.figure is not None:
        what = f"PixelSNAIL Fig. {args.figure}: {what}"
    c, s, k = model.image_shape[0], model.config.image_size, model.config.num_levels
    row, col = args.pixel
    if not (0 <= row < s and 0 <= col < s):
        raise PixelarError(f"--pixel {row} {col} is outside the model's {s}x{s} image")
    x = read_image(args.image, c, s, k)[None] if args.image else None
    rf = receptive_field(model, row, col, x=x, seed=args.seed, threshold=args.threshold)
    write_receptive_field(rf, args.out, force=args.force, scale=args.scale, title=what)
    r = {"model": model.name, "pixel": [row, col], "figure": args.figure, "image_size": s, "ordering": model.ordering,
         "context_pixels": rf.context_size, "covered_pixels": rf.covered, "fraction": rf.fraction,
         "threshold": args.threshold, "outside_context_nonzero": rf.outside, "out": str(args.out)}
    if args.json:
        print(json.dumps(r, sort_keys=True, allow_nan=False))
    else:
        caption = f" ({PAPER_FIGURES[args.figure][3]})" if args.figure is not None else ""
        print(f"{what}{caption}, pixel ({row}, {col}) of {s}x{s}: {rf.covered}/{rf.context_size} pixels of the causal "
              f"context ({100 * rf.fraction:.1f}%) have |d log p / dx| > {args.threshold:g}; map: {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-causality", help="exact gradient test: does any output see itself or the future?")
    add_model_args(p)
    p.add_argument("--image-size", type=int, default=8,
                   help="check at this image size (default 8: exhaustive over every sub-pixel)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_check_causality)

    p = sub.add_parser("receptive-field", help="map |d log p(x_i | x_<i) / dx| of one pixel, causal context outlined")
    add_model_args(p, required=False)
    p.add_argument("--checkpoint", help="a trained model (instead of --model/--preset at random init)")
    p.add_argument("--pixel", type=int, nargs=2, metavar=("ROW", "COL"),
                   help="the target pixel (required unless --figure gives it)")
    p.add_argument("--figure", type=int, choices=sorted(PAPER_FIGURES),
                   help="PixelSNAIL's Figure 6, 7, 8 or 9: that figure's model at random init, pixel (15, 15) "
                        "of 32x32 (6: Gated PixelCNN, 7: PixelCNN++, 8: PixelSNAIL raster, 9: zigzag)")
    p.add_argument("--image-size", type=int, help="build the model at this image size (random init only)")
    p.add_argument("--image", help="input image (default: uniform noise drawn from --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and of the noise input")
    p.add_argument("--threshold", type=float, default=1e-3, help="magnitude that counts as covered")
    p.add_argument("--init-images", type=int, default=8,
                   help="noise images for the data-dependent init of weight-normalized models (random init)")
    p.add_argument("--no-init", action="store_true", help="skip that init: raw constructor weights")
    add_output(p, "PNG heat map to write", scale=12)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_receptive_field)
