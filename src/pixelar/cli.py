"""Command-line interface: argument parsing only; every subcommand calls the library.

Errors meant for people (PixelarError) print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .errors import PixelarError


def _add_model_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--model", required=required, help="model name (see `pixelar models`)")
    p.add_argument("--preset", help="named recipe of that model (default: the model's default)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value: model.KEY=V or train.KEY=V (repeatable)")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="pixelar", description="Autoregressive image density models.")
    sub = ap.add_subparsers(dest="command", required=True)

    sub.add_parser("models", help="list models and presets with parameter counts")
    sub.add_parser("datasets", help="list data sets")

    p = sub.add_parser("train", help="train a model")
    _add_model_args(p)
    p.add_argument("--dataset", required=True, help="data set name (see `pixelar datasets`)")
    p.add_argument("--data-root", help="directory holding the data set files (default: the cache)")
    p.add_argument("--eval-split", default="test", help="split evaluated during/after training ('none' to skip)")
    p.add_argument("--out", required=True, help="run directory (checkpoints, metrics.jsonl, learning curve)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--steps", type=int, help="train until this many steps in total")
    g.add_argument("--epochs", type=int, help="train until this many epochs in total")
    g.add_argument("--minutes", type=float, help="train for this many minutes of wall time")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("eval", help="exact bits/dim of a checkpoint on a data set")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-root")
    p.add_argument("--split", default="test")
    p.add_argument("--max-images", type=int, default=0, help="evaluate only the first N images (0 = all)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--nll-map", help="write the first few images beside heat maps of their bits per pixel")
    p.add_argument("--nll-map-images", type=int, default=4)
    p.add_argument("--force", action="store_true", help="overwrite --nll-map if it exists")
    p.add_argument("--device", default="cpu")

    p = sub.add_parser("sample", help="draw samples into an image grid")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("-n", type=int, default=16, help="number of samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--class", dest="label", type=int, help="class label for class-conditional models")
    p.add_argument("--method", default="auto", choices=("auto", "naive", "cached", "groups"),
                   help="auto = the fastest exact sampler the model has (groups, else cached, else naive)")
    p.add_argument("--map", dest="map_sampling", action="store_true",
                   help="mixture models: sample the component, take its mode (Kolesnikov & Lampert §4.2)")
    p.add_argument("--log-scale-shift", type=float, default=0.0,
                   help="mixture models: subtract this from the predicted log-scales (reduced variance)")
    p.add_argument("--out", required=True, help="PNG grid to write")
    p.add_argument("--scale", type=int, default=4, help="integer upscaling of the grid for viewing")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--device", default="cpu")

    p = sub.add_parser("complete", help="sample the unknown pixels of an image, keeping the known ones")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="image of the model's size and channel count")
    p.add_argument("--known", required=True,
                   help="top-half, left-half, or a mask PNG (white = known) of the image's size")
    p.add_argument("-n", type=int, default=4, help="number of completions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--class", dest="label", type=int)
    p.add_argument("--method", default="auto", choices=("auto", "naive", "cached"),
                   help="auto = the fastest exact sampler the model has (cached, else naive)")
    p.add_argument("--out", required=True, help="PNG grid: the masked input, then the completions")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--force", action="store_true")
    p.add_argument("--device", default="cpu")

    p = sub.add_parser("upscale", help="super-resolution: keep a low-resolution image's pixels, sample the rest")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="square image, the model's size / 2^k pixels wide")
    p.add_argument("--out", required=True, help="PNG of the model's size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--class", dest="label", type=int, help="class label for class-conditional models")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--device", default="cpu")

    p = sub.add_parser("colorize", help="colour a grayscale image with a grayscale_pixelcnn (samples of p(x | ŷ))")
    p.add_argument("--checkpoint", required=True, help="a grayscale_pixelcnn checkpoint or run directory")
    p.add_argument("--input", required=True,
                   help="grayscale (or colour) image of the model's size; it is reduced to the 4-bit grayscale ŷ")
    p.add_argument("--out", required=True, help="PNG grid: ŷ, then the colourings")
    p.add_argument("-n", type=int, default=4, help="number of colourings")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--map", dest="map_sampling", action="store_true",
                   help="MAP sampling: each sub-pixel takes its most likely allowed level")
    p.add_argument("--log-scale-shift", type=float, default=0.0,
                   help="mixture models: subtract this from the predicted log-scales (reduced variance)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--device", default="cpu")

    p = sub.add_parser("check-causality", help="exact gradient test: does any output see itself or the future?")
    _add_model_args(p)
    p.add_argument("--image-size", type=int, default=8,
                   help="check at this image size (default 8: exhaustive over every sub-pixel)")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("receptive-field", help="map |d log p(x_i | x_<i) / dx| of one pixel, causal context outlined")
    _add_model_args(p, required=False)
    p.add_argument("--checkpoint", help="a trained model (instead of --model/--preset at random init)")
    p.add_argument("--pixel", type=int, nargs=2, required=True, metavar=("ROW", "COL"), help="the target pixel")
    p.add_argument("--image-size", type=int, help="build the model at this image size (random init only)")
    p.add_argument("--image", help="input image (default: uniform noise drawn from --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and of the noise input")
    p.add_argument("--threshold", type=float, default=1e-3, help="magnitude that counts as covered")
    p.add_argument("--init-images", type=int, default=8,
                   help="noise images for the data-dependent init of weight-normalized models (random init)")
    p.add_argument("--no-init", action="store_true", help="skip that init: raw constructor weights")
    p.add_argument("--out", required=True, help="PNG heat map to write")
    p.add_argument("--scale", type=int, default=12, help="screen pixels per image pixel")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("quickstart", help="train a small model on built-in natural patches, compare with PNG/WebP")
    p.add_argument("--out", default="runs/quickstart")
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--model", default="pixelcnn")
    p.add_argument("--preset", default="small")
    p.add_argument("--quiet", action="store_true")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from . import commands
    try:
        return getattr(commands, "cmd_" + args.command.replace("-", "_"))(args) or 0
    except PixelarError as e:
        print(f"pixelar {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pixelar {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
