"""``pixelar quickstart``: train a small model on built-in natural patches, compare with PNG/WebP."""
from __future__ import annotations

import argparse


def cmd_quickstart(args: argparse.Namespace) -> int:
    from ..quickstart import run_quickstart
    run_quickstart(args.out, minutes=args.minutes, model=args.model, preset=args.preset, progress=not args.quiet)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quickstart", help="train a small model on built-in natural patches, compare with PNG/WebP")
    p.add_argument("--out", default="runs/quickstart")
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--model", default="pixelcnn")
    p.add_argument("--preset", default="small")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_quickstart)
