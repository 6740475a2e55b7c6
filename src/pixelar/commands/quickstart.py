"""``pixelar quickstart``: train the quick-start model for a fixed step budget on built-in natural
patches, compare with PNG/WebP, then score, complete and compress them with the pretrained one."""
from __future__ import annotations

import argparse


def cmd_quickstart(args: argparse.Namespace) -> int:
    from .. import config as config_lib
    from ..errors import PixelarError
    from ..quickstart import run_quickstart
    for name, value in (("--steps", args.steps), ("--threads", args.threads), ("--log-every", args.log_every)):
        if value < 1:
            raise PixelarError(f"{name} must be at least 1, got {value}")
    run_quickstart(args.out, steps=args.steps, model=args.model, preset=args.preset,
                   overrides=config_lib.parse_assignments(args.overrides), threads=args.threads,
                   progress=False if args.quiet else None, log_every=args.log_every,
                   use_pretrained=not args.no_pretrained)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from ..quickstart import MODEL, PRESET, STEPS
    p = sub.add_parser("quickstart", help="train a small model on built-in natural patches, compare with "
                                          "PNG/WebP, then compress them with the pretrained one")
    p.add_argument("--out", default="runs/quickstart", help="run directory (a fresh -2, -3... if it exists)")
    p.add_argument("--steps", type=int, default=STEPS,
                   help=f"optimizer steps (default {STEPS}: about 5 minutes on 2 quiet cores; the same "
                        "result on a busy machine, only later)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads (default 1: the figure is then the same on any machine with this CPU "
                        "and torch; other counts change the float sums, hence the last digits)")
    p.add_argument("--log-every", type=int, default=100, help="steps between progress lines")
    p.add_argument("--model", default=MODEL)
    p.add_argument("--preset", default=PRESET)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value: model.KEY=V or train.KEY=V (repeatable)")
    p.add_argument("--no-pretrained", action="store_true", help="skip part 2 (the pretrained checkpoint)")
    p.add_argument("--quiet", action="store_true", help="no progress bars, even on a terminal")
    p.set_defaults(func=cmd_quickstart)
