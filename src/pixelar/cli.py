"""Command-line interface: the parser and the error promise; the subcommands are in ``pixelar.commands``.

Errors meant for people (PixelarError) print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .errors import PixelarError


def _parser() -> argparse.ArgumentParser:
    from .commands import register_all
    ap = argparse.ArgumentParser(prog="pixelar", description="Autoregressive image density models.")
    sub = ap.add_subparsers(dest="command", required=True)
    register_all(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except PixelarError as e:
        print(f"pixelar {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pixelar {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
