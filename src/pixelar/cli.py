"""Command-line interface: the parser and the error promise; the subcommands are in ``pixelar.commands``.

The promise: a failure the user can act on prints ONE line, ``pixelar CMD: error: what was wrong;
what to do``, and exits with status 2. That covers PixelarError (raised by the library for bad
input, data and checkpoints), OSError (a full disk, a missing permission, a path that is not a
directory) and MemoryError. Anything else is a bug in pixelar and keeps its traceback.
A closed output pipe (``pixelar datasets | head``) ends the command quietly.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .errors import PixelarError


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors (a bad number, a missing flag) kept to the one-line promise."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from .commands import register_all
    from .version import __version__
    ap = _Parser(prog="pixelar", description="Autoregressive image density models.")
    ap.add_argument("--version", action="version", version=f"pixelar {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    register_all(sub)
    return ap


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _os_error(e: OSError) -> str:
    where = f"{e.filename}: " if e.filename else ""
    why = e.strerror or str(e) or type(e).__name__
    return f"{where}{why}; check the path, its permissions and the free disk space"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv                     # what `pixelar train` records in run.json
    try:
        if getattr(args, "device", None) is not None:
            from .commands.common import check_device
            # `auto` resolved here, once; what was asked is kept for run.json (a resume re-resolves it)
            args.device_asked, args.device = args.device, check_device(args.device)
        return args.func(args) or 0
    except PixelarError as e:
        message = _one_line(e)
    except BrokenPipeError:
        # The reader went away (``| head``): send what is left to /dev/null, no message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    except OSError as e:
        message = _one_line(_os_error(e))
    except MemoryError:
        message = "out of memory; use a smaller model, batch size or -n"
    except KeyboardInterrupt:
        print(f"pixelar {args.command}: interrupted", file=sys.stderr)
        return 130
    print(f"pixelar {args.command}: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
