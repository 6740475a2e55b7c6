"""Figures of training runs: the learning curve of one run (written by the trainer) and overlays of
several runs (``pixelar plot``), plus the matplotlib plumbing the NLL and receptive-field maps share.

Drawn with matplotlib (the ``demo``/``test`` extras), imported lazily and used through its object
API on an Agg canvas (``matplotlib.figure.Figure``, never pyplot): no global backend is switched, so a
notebook's backend is left alone, and no window ever opens. Without matplotlib the trainer's learning
curve and the maps fall back to plain Pillow drawings (a figure never makes a run fail), while
``pixelar plot`` refuses with a one-line error that names the extra.

The data preparation (``curve_series``) is kept apart from the drawing so it can be tested alone.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ..errors import PixelarError
from ..imageio import save_png

METRICS = ("train_bpd", "test_bpd")
DPI = 110
_MISSING = "matplotlib is not installed; pip install 'pixelar[demo]' (or pip install matplotlib)"


def read_metrics(path: Path) -> list[dict]:
    """The rows of a ``metrics.jsonl`` ([] when there is none); a line cut by a crash is skipped."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash; the rest is still good
        if isinstance(row, dict) and isinstance(row.get("step"), (int, float)):
            rows.append(row)
    return rows


# ---- data preparation ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Series:
    """One curve: ``metric`` (train_bpd | test_bpd) of one set of weights, in bits/dim."""
    metric: str
    weights: str | None                  # "ema" | "raw" on eval rows; None on train rows and older rows
    steps: tuple[int, ...]
    bpd: tuple[float, ...]
    elapsed_s: tuple[float, ...] | None  # training seconds at each point; None when the rows carry no time

    @property
    def label(self) -> str:
        name = "train" if self.metric == "train_bpd" else "test"
        # Train bits/dim is the running mean of the loss over a log interval, always of the raw
        # weights being optimized; eval rows say which weights were evaluated.
        return f"{name} ({self.weights.upper() if self.weights == 'ema' else self.weights})" \
            if self.weights else name


def row_seconds(rows: Sequence[dict]) -> list[float | None]:
    """Training seconds of each row. ``elapsed_s`` (cumulative training seconds, across resumes) when
    any row has it, else ``time`` (unix s) minus the first row's ``time``: one clock per file, never a
    mix. Rows without that field (an eval row written without it, say) get a value interpolated over
    the step from the rows that have one; all None when no row carries a time (older metrics)."""
    key = "elapsed_s" if any(_number(r.get("elapsed_s")) for r in rows) else "time"
    t0 = 0.0 if key == "elapsed_s" else next((r["time"] for r in rows if _number(r.get("time"))), 0.0)
    secs = [float(r[key]) - t0 if _number(r.get(key)) else None for r in rows]
    known = sorted((r["step"], s) for r, s in zip(rows, secs) if s is not None)
    if not known:
        return [None] * len(rows)
    ks, kv = zip(*known)
    return [s if s is not None else float(np.interp(r["step"], ks, kv)) for r, s in zip(rows, secs)]


def curve_series(rows: Sequence[dict], metrics: Sequence[str] = METRICS) -> list[Series]:
    """Split metric rows into curves: one per metric and per ``weights`` value (train first, then the
    EMA, raw and unlabelled evaluations), each sorted by step; non-finite values are dropped."""
    secs = row_seconds(rows)
    timed = any(s is not None for s in secs)
    groups: dict[tuple[str, str | None], list[tuple[int, float, float | None]]] = {}
    for r, s in zip(rows, secs):
        for m in metrics:
            if _number(r.get(m)) and math.isfinite(r[m]):
                weights = r.get("weights") if m != "train_bpd" else None
                groups.setdefault((m, weights), []).append((int(r["step"]), float(r[m]), s))
    order = {None: 0, "ema": 1, "raw": 2}
    out = []
    for (m, weights), pts in sorted(groups.items(), key=lambda kv: (list(metrics).index(kv[0][0]),
                                                                  order.get(kv[0][1], 3), str(kv[0][1]))):
        pts.sort(key=lambda p: p[0])
        out.append(Series(m, weights, tuple(p[0] for p in pts), tuple(p[1] for p in pts),
                          tuple(p[2] for p in pts) if timed else None))
    return out


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def time_unit(seconds: float) -> tuple[str, float]:
    """A readable unit for a time axis that reaches ``seconds``: (name, seconds per unit)."""
    if seconds < 180:
        return "s", 1.0
    if seconds < 3 * 3600:
        return "min", 60.0
    return "h", 3600.0


# ---- matplotlib plumbing ---------------------------------------------------------------------------
def figure_class(required: bool = False) -> Any:
    """``matplotlib.figure.Figure`` (Agg canvas, no pyplot), or None when matplotlib is missing
    (``required``: raise the one-line error that names the extra instead)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        if required:
            raise PixelarError(_MISSING) from None
        warnings.warn(f"{_MISSING}: drawing a plain figure without axes or colour bars", stacklevel=3)
        return None
    return Figure


def save_figure(fig: Any, path: str | os.PathLike, force: bool = False) -> Path:
    """Render ``fig`` on an Agg canvas and write it as a PNG atomically (``imageio.save_png``: refuses
    to overwrite without ``force``). One PNG encoding, by Pillow: the canvas's pixels are copied."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    fig.set_dpi(DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    img = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    return save_png(img.convert("RGB"), path, force=force)


def _scale_axes(ax: Any, log: str | None) -> None:
    """Log scales for the axes named in ``log`` (call after plotting). An axis whose data span less
    than a decade (bits/dim nearly always does) gets plain round ticks (4, 4.5, 5), not the one or
    two powers of ten a log axis would label."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    class _Positive(MaxNLocator):
        def tick_values(self, vmin: float, vmax: float) -> Any:
            ticks = super().tick_values(vmin, vmax)
            return ticks[ticks > 0]

    for axis in log or "":
        lo, hi = ax.dataLim.intervalx if axis == "x" else ax.dataLim.intervaly
        getattr(ax, f"set_{axis}scale")("log")
        target = ax.xaxis if axis == "x" else ax.yaxis
        narrow = lo > 0 and hi / lo < 10
        target.set_major_locator(_Positive(nbins=6, steps=[1, 2, 2.5, 5, 10]) if narrow else LogLocator(base=10))
        target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        # Over decades: the 2s and 5s between the powers of ten are labelled too.
        target.set_minor_formatter(NullFormatter() if narrow else FuncFormatter(_two_five))


def _two_five(v: float, _: Any) -> str:
    return f"{v:g}" if v > 0 and round(v / 10 ** math.floor(math.log10(v))) in (2, 5) else ""


def _x_of(s: Series, x: str, per_unit: float) -> list[float]:
    return list(s.steps) if x == "steps" else [t / per_unit for t in s.elapsed_s or ()]


_STYLE = {("train_bpd", None): {"color": "#1f77b4", "lw": 1.4, "alpha": 0.9},
          ("test_bpd", "ema"): {"color": "#d62728", "lw": 2.0, "marker": "o", "ms": 4.5},
          ("test_bpd", "raw"): {"color": "#ff7f0e", "lw": 1.6, "ls": "--", "marker": "s", "ms": 4},
          ("test_bpd", None): {"color": "#d62728", "lw": 2.0, "marker": "o", "ms": 4.5}}


def _check_log(log: str | None) -> str | None:
    if log not in (None, "", "x", "y", "xy"):
        raise PixelarError(f"log scale must be 'x', 'y' or 'xy', got {log!r}")
    return log or None


def learning_curve_png(metrics_path: Path, out_path: Path, log: str | None = None,
                       title: str | None = None) -> Path:
    """The run's bits/dim curves (train; test of the EMA and/or raw weights) against the step and,
    when the rows carry times, against training wall time in a second panel; ``log`` = "y", "x" or
    "xy" for log scales. The title names the run (its directory). Overwrites ``out_path``: the
    trainer redraws it at every checkpoint."""
    log = _check_log(log)
    stamp = (_stat(metrics_path), log, title)
    if _DRAWN.get(str(out_path)) == (*stamp, _stat(out_path)):
        return Path(out_path)            # nothing new since this process drew it (checkpoint, then eval)
    series = curve_series(read_metrics(Path(metrics_path)))
    title = title or f"run {Path(metrics_path).resolve().parent.name}: bits/dim"
    Figure = figure_class()
    if Figure is None:
        out = _pil_learning_curve(series, Path(out_path), title)
        _DRAWN[str(out_path)] = (*stamp, _stat(out))
        return out
    panels = ["steps"] + (["time"] if any(s.elapsed_s for s in series) else [])
    fig = Figure(figsize=(6.2 * len(panels), 4.2), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    end = max((t for s in series for t in s.elapsed_s or ()), default=0.0)
    unit, per_unit = time_unit(end)
    for ax, x in zip(axes, panels):
        for s in series:
            xs = _x_of(s, x, per_unit)
            ax.plot(xs, s.bpd, label=f"{s.label}: {s.bpd[-1]:.3f} at step {s.steps[-1]}",
                    **_STYLE.get((s.metric, s.weights), _STYLE["test_bpd", None]))
        ax.set_xlabel("training step" if x == "steps" else f"training wall time ({unit})")
    for ax in axes:
        _scale_axes(ax, log)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("bits per dimension (bits/dim)")
    if series:
        axes[0].legend(loc="upper right", fontsize="small", framealpha=0.9)
    else:
        axes[0].text(0.5, 0.5, "no metrics yet", transform=axes[0].transAxes, ha="center", color="0.4")
    fig.suptitle(title)
    out = save_figure(fig, out_path, force=True)
    _DRAWN[str(out_path)] = (*stamp, _stat(out))
    return out


_DRAWN: dict[str, tuple] = {}     # out path -> what it was drawn from (metrics stat, options, its own stat)


def _stat(path: str | os.PathLike) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def overlay_png(runs: Sequence[tuple[str, Sequence[Series]]], out_path: str | os.PathLike,
                x: str = "steps", log: str | None = None, title: str | None = None,
                force: bool = False) -> Path:
    """Several runs' curves of one metric on one axis (``pixelar plot``): one colour per run, the
    EMA evaluation solid, the raw one dashed; ``x`` = "steps" or "time" (every series needs times).
    Needs matplotlib (a one-line error names the extra)."""
    log = _check_log(log)
    Figure = figure_class(required=True)
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.subplots()
    end = max((t for _, ss in runs for s in ss for t in s.elapsed_s or ()), default=0.0)
    unit, per_unit = time_unit(end)
    colours = [f"C{i % 10}" for i in range(len(runs))]
    metric = next((s.metric for _, ss in runs for s in ss), "test_bpd")
    for colour, (name, series) in zip(colours, runs):
        for s in series:
            tag = f" ({s.weights.upper() if s.weights == 'ema' else s.weights})" if s.weights else ""
            style = {"ls": "--", "marker": "s"} if s.weights == "raw" else {"ls": "-", "marker": "o"}
            if s.metric == "train_bpd":
                style = {"ls": "-"}
            ax.plot(_x_of(s, x, per_unit), s.bpd, color=colour, lw=1.6, ms=3.5, **style,
                    label=f"{name}{tag}: {s.bpd[-1]:.3f} at step {s.steps[-1]}")
    ax.set_xlabel("training step" if x == "steps" else f"training wall time ({unit})")
    ax.set_ylabel(f"{'test' if metric == 'test_bpd' else 'train'} bits per dimension (bits/dim)")
    _scale_axes(ax, log)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", framealpha=0.9)
    ax.set_title(title or f"{'test' if metric == 'test_bpd' else 'train'} bits/dim of "
                 f"{len(runs)} run{'s' if len(runs) != 1 else ''}")
    return save_figure(fig, out_path, force=force)


# ---- the Pillow fallback (no matplotlib) -----------------------------------------------------------
def _pil_learning_curve(series: Sequence[Series], out_path: Path, title: str,
                        size: tuple[int, int] = (640, 400)) -> Path:
    """Train bits/dim (line) and test bits/dim (dots) against step, plain Pillow."""
    w, h = size
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 60, w - 20, 30, h - 40
    d.rectangle([left, top, right, bottom], outline="black")
    d.text((left, 8), f"{title}  (line: train, dots: test)", fill="black")
    pts = [(st, v) for s in series for st, v in zip(s.steps, s.bpd)]
    if pts:
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        x0, x1 = min(xs), max(max(xs), min(xs) + 1)
        y0, y1 = min(ys), max(ys)
        if y1 - y0 < 1e-6:
            y0, y1 = y0 - 0.5, y1 + 0.5

        def to_px(s: float, v: float) -> tuple[float, float]:
            return (left + (s - x0) / (x1 - x0) * (right - left), bottom - (v - y0) / (y1 - y0) * (bottom - top))

        for k in range(5):
            v = y0 + (y1 - y0) * k / 4
            _, py = to_px(x0, v)
            d.line([left - 4, py, left, py], fill="black")
            d.text((4, py - 6), f"{v:.2f}", fill="black")
        d.text((left, bottom + 8), f"step {x0}", fill="black")
        d.text((right - 90, bottom + 8), f"step {x1}", fill="black")
        d.text((4, top - 14), "bits/dim", fill="black")
        for s in series:
            line = [to_px(st, v) for st, v in zip(s.steps, s.bpd)]
            if s.metric == "train_bpd" and len(line) > 1:
                d.line(line, fill=(31, 119, 180), width=2)
            elif s.metric != "train_bpd":
                for px, py in line:
                    d.ellipse([px - 4, py - 4, px + 4, py + 4], fill=(214, 39, 40))
    return save_png(img, out_path, force=True)
