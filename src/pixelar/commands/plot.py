"""``pixelar plot RUN...``: the learning curves of several runs overlaid on one figure."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import PixelarError
from .common import check_output_file

_HINTS = {"test_bpd": "train with an --eval-split (the default 'test') or pass --metric train_bpd",
          "train_bpd": "let it train past its first log interval (train.log_every steps)"}


def _metrics_file(run: str) -> Path:
    """RUN is a run directory (its metrics.jsonl is read) or a metrics.jsonl file itself."""
    p = Path(run)
    path = p / "metrics.jsonl" if p.is_dir() else p
    if not path.is_file():
        raise PixelarError(f"{run}: no {'metrics.jsonl in that directory' if p.is_dir() else 'such run directory'}; "
                           "pass run directories written by pixelar train (or their metrics.jsonl)")
    return path


def _names(paths: list[Path]) -> list[str]:
    """Each run's directory name, or the path given when two runs share a name."""
    names = [p.parent.name or str(p.parent) for p in paths]
    return [n if names.count(n) == 1 else str(p.parent) for n, p in zip(names, paths)]


def cmd_plot(args: argparse.Namespace) -> int:
    from ..evaluation.plots import curve_series, figure_class, overlay_png, read_metrics
    figure_class(required=True)          # no matplotlib: one line naming the extra, before any work
    check_output_file(args.out, args.force)
    paths = [_metrics_file(run) for run in args.runs]
    runs = []
    for name, path in zip(_names(paths), paths):
        rows = read_metrics(path)
        if not rows:
            raise PixelarError(f"{path} is empty (no metric rows yet); plot it once the run has logged, "
                               "or leave it out")
        series = curve_series(rows, [args.metric])
        if not series:
            raise PixelarError(f"{path} has no {args.metric} rows; {_HINTS[args.metric]}")
        if args.x == "time" and series[0].elapsed_s is None:
            raise PixelarError(f"{path} carries no wall-clock times (rows without 'elapsed_s' or 'time', "
                               "written by an older pixelar); plot against --x steps")
        runs.append((name, series))
    log = ("x" if args.log_x else "") + ("y" if args.log else "")
    out = overlay_png(runs, args.out, x=args.x, log=log, title=args.title, force=args.force)
    print(f"{out}: {args.metric} of {len(runs)} run{'s' * (len(runs) > 1)} against "
          f"{'training step' if args.x == 'steps' else 'training wall time'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="overlay the learning curves of several runs (needs matplotlib)")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (their metrics.jsonl) or metrics files")
    p.add_argument("--out", default="plot.png", help="PNG to write (default plot.png)")
    p.add_argument("--x", choices=("steps", "time"), default="steps",
                   help="x axis: training step, or training wall time (metrics with elapsed_s/time)")
    p.add_argument("--log", action="store_true", help="log scale on the bits/dim axis")
    p.add_argument("--log-x", action="store_true", help="log scale on the step / wall-time axis")
    p.add_argument("--metric", choices=("test_bpd", "train_bpd"), default="test_bpd",
                   help="which curve (default test_bpd: EMA and raw evaluations, when both exist)")
    p.add_argument("--title", help="figure title (default: the metric and the number of runs)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=cmd_plot)
