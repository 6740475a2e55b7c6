"""``pixelar convert``: turn another project's checkpoint into a pixelar checkpoint directory.

    pixelar convert --from pcl CHECKPOINT.pth --out DIR [--nr-resnet 5 --nr-filters 160
                    --nr-logistic-mix 10] [--image-size 32] [--force]

``register(subparsers)`` adds the subcommand; its handler ``run(args)`` returns the exit status
and raises :class:`~pixelar.errors.PixelarError` (one line, printed by the CLI) on bad input.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import CheckpointError

SOURCES = ("pcl",)   # pclucas14/pixel-cnn-pp


def register(subparsers: Any) -> None:
    """Add ``convert`` to an ``argparse`` subparsers object (``parser.add_subparsers()``)."""
    p = subparsers.add_parser("convert", help="convert another project's checkpoint into a pixelar checkpoint",
                              description="Convert a pclucas14/pixel-cnn-pp state_dict (.pth, read with "
                                          "weights_only=True) into a pixelar pixelcnn_pp checkpoint directory.")
    p.add_argument("--from", dest="source", required=True, choices=SOURCES,
                   help="pcl: pclucas14/pixel-cnn-pp (torch.save(model.state_dict()))")
    p.add_argument("checkpoint", help="the .pth file to convert")
    p.add_argument("--out", required=True, help="directory for config.json + model.safetensors")
    p.add_argument("--nr-resnet", type=int, default=None, help="check: gated ResNets per block (read from shapes)")
    p.add_argument("--nr-filters", type=int, default=None, help="check: filters (read from shapes)")
    p.add_argument("--nr-logistic-mix", type=int, default=None, help="check: mixture components (read from shapes)")
    p.add_argument("--image-size", type=int, default=32, help="image side the model scores/samples (multiple of 4)")
    p.add_argument("--force", action="store_true", help="replace an existing pixelar checkpoint at --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Convert ``args.checkpoint`` into ``args.out``; 0 on success."""
    from .pcl import convert_pcl  # lazy: `pixelar --help` does not import the models
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.force:
        raise CheckpointError(f"{out} exists and is not empty; choose another --out or pass --force")
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"{out} is a file, not a directory; choose another --out")
    model = convert_pcl(args.checkpoint, args.nr_resnet, args.nr_filters, args.nr_logistic_mix,
                        args.image_size)
    model.save(str(out))   # with --force this replaces a pixelar checkpoint, never another folder
    c = model.config
    print(f"converted {args.checkpoint} -> {out}: pixelcnn_pp {c.num_resnet}x{c.num_filters}x{c.num_mixtures}, "
          f"{c.image_channels}x{c.image_size}x{c.image_size}, {model.num_parameters():,} parameters")
    return 0
