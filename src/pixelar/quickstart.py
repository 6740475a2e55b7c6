"""The quick start (``pixelar quickstart``, ``make demo``).

Part 1 trains the quick-start model from scratch on the built-in natural 32×32 patches for a fixed
number of optimizer STEPS (not minutes), so that the same command gives the same test bits/dim on a
quiet or a busy machine: the initial weights, the data order and the thread count are fixed
(bit-identical on one machine and torch build). It then compares the model's exact test bits/dim
with PNG and WebP lossless on the same held-out patches, and writes samples, completions, an NLL map
and the learning curve.

Part 2, when the pretrained quick-start checkpoint ships with pixelar (``pixelar pretrained``),
does the same with the model trained longer, and compresses the held-out patches with it
(``pixelar compress``'s codec), printing the file sizes next to PNG's and WebP's.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from . import pretrained, registry
from .evaluation.baselines import codec_result
from .evaluation.bpd import evaluate
from .evaluation.nll_map import write_nll_map
from .evaluation.plots import learning_curve_png
from .imageio import grid, save_png
from .training.trainer import Trainer

MODEL, PRESET = "pixelcnn", "quickstart"
STEPS = 2500                                    # the step budget (docs/quickstart.md: how it was chosen)
PRETRAINED = "pixelcnn-quickstart-natural"      # the same model trained longer (pixelar/pretrained/)


def _fresh_dir(out: str | Path) -> Path:
    """``out``, or ``out-2``, ``out-3``... if it already exists (never overwrite an earlier run)."""
    base = Path(out)
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def _checkpoints(total: int, log_every: int, evals: int) -> tuple[list[int], set[int]]:
    """The steps at which to print a line (every ``log_every``, and the last) and those at which to
    also score the test patches (``evals`` points spread over the run, the last included)."""
    lines = sorted(set(range(log_every, total, log_every)) | {total})
    tests = {max(1, round(total * (k + 1) / evals)) for k in range(evals)} if evals else {total}
    return sorted(set(lines) | tests), tests


def _figures(model: Any, test_images: torch.Tensor, out: Path, prefix: str, seed: int, num_samples: int,
             num_completions: int, progress: bool) -> dict[str, float]:
    """Samples, completions (top half known) and an NLL map of ``model``, written under ``out``."""
    g = torch.Generator().manual_seed(seed)
    result = {}
    if num_samples:
        t0 = time.monotonic()
        samples = model.sample(num_samples, generator=g, progress=progress)
        result["sample_seconds_per_image"] = (time.monotonic() - t0) / num_samples
        save_png(grid(samples, 256, scale=3), out / f"{prefix}samples.png")
    if num_completions:
        picks = test_images[torch.linspace(0, len(test_images) - 1, num_completions).long()]
        known = torch.zeros_like(picks, dtype=torch.bool)
        known[:, :, :16] = True
        done = model.complete(picks, known, generator=g, progress=progress)
        masked = torch.where(known, picks, torch.full_like(picks, 127))
        save_png(grid(torch.cat([picks, masked, done]), 256, nrow=num_completions, scale=3),
                 out / f"{prefix}completions.png")
        write_nll_map(model, _Images(picks), out / f"{prefix}nll_map.png", num_images=num_completions)
    return result


class _Images:
    """The smallest data set ``write_nll_map`` reads: (image, label) items."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], -1


def _table(log: Callable[[str], None], title: str, rows: list[tuple[str, str]]) -> None:
    log(title)
    width = max(len(r[0]) for r in rows) + 2
    for label, value in rows:
        log(f"  {label:<{width}}{value}")


def train_part(out: Path, test: Any, steps: int, model: str, preset: str, overrides: dict[str, Any], seed: int,
               log_every: int, evals: int, progress: bool, log: Callable[[str], None]) -> tuple[Trainer, dict[str, Any]]:
    """Part 1's training: ``steps`` optimizer steps, a line every ``log_every`` steps."""
    from .data import load_dataset
    train = load_dataset("natural", "train", permute_channels=True)   # colour augmentation (presets/quickstart.py)
    torch.manual_seed(seed)                       # the initial weights
    # The learning rate anneals to its final value over exactly the step budget (presets/quickstart.py),
    # unless the caller sets the schedule itself.
    schedule = {"train.lr_decay_steps": steps} if "train.lr_decay_steps" not in overrides else {}
    model_cfg, train_cfg = registry.resolve(model, preset, {**schedule, **overrides, "train.seed": seed})
    net = registry.entry(model).model_class(model_cfg)
    trainer = Trainer(net, train_cfg, train, out, progress=progress, log=log, extra_meta={"dataset": "natural?permute_channels=true"})
    log(f"training {model} ({preset}, {net.num_parameters():,} parameters) for {steps} steps of "
        f"{train_cfg.batch_size} patches on {torch.get_num_threads()} CPU thread(s) -> {out}")
    stops, tests = _checkpoints(steps, log_every, evals)
    t0, result, test_bpd = time.monotonic(), {}, float("nan")
    for stop in stops:
        # Trainer.run(steps=N) continues the same trainer up to N steps in total, so training in
        # pieces takes exactly the steps of one run (the data order depends only on the step).
        result = trainer.run(steps=stop)
        line = f"step {stop:>6}/{steps}  train {result['train_bpd']:.3f} bits/dim"
        if stop in tests:
            trainer.eval_data = test
            test_bpd = trainer.evaluate()["bits_per_dim"]
            trainer.eval_data = None
            line += f"  test {test_bpd:.3f}"
        log(f"{line}  {time.monotonic() - t0:7.1f} s")
    learning_curve_png(out / "metrics.jsonl", out / "learning_curve.png")
    return trainer, {"train_steps": trainer.step, "train_seconds": round(time.monotonic() - t0, 1),
                     "test_bits_per_dim": test_bpd, "parameters": net.num_parameters()}


def pretrained_part(out: Path, test: Any, test_images: torch.Tensor, baselines: dict[str, Any], name: str,
                    num_compress: int, seed: int, num_samples: int, num_completions: int, progress: bool,
                    log: Callable[[str], None]) -> dict[str, Any]:
    """Part 2: score, complete and compress the held-out patches with the pretrained checkpoint."""
    from .codec import api as codec
    model = registry.load(pretrained.PREFIX + name)
    e = pretrained.entry(name)
    log("")
    log(f"part 2: the same model trained longer, pretrained:{name} ({e['steps']} steps; "
        f"`pixelar pretrained {name}`)")
    r = evaluate(model, test, batch_size=64)
    summary: dict[str, Any] = {"pretrained": name, "pretrained_steps": e["steps"],
                               "pretrained_test_bits_per_dim": r["bits_per_dim"]}
    summary.update({f"pretrained_{k}": v for k, v in _figures(model, test_images, out, "pretrained_", seed,
                                                               num_samples, num_completions, progress).items()})
    n = min(num_compress, len(test_images))
    if n:
        patches = test_images[:n]
        t0 = time.monotonic()
        data = codec.encode(model, patches, progress=progress)
        encode_s = time.monotonic() - t0
        back = torch.stack(codec.decode(model, data))
        if not torch.equal(back, patches):
            raise RuntimeError("internal error: the codec did not give the patches back; please report it")
        (out / "test_patches.pxz").write_bytes(data)
        nhwc = patches.permute(0, 2, 3, 1).numpy()
        png, webp = codec_result(nhwc, "png"), codec_result(nhwc, "webp")
        raw = patches.numel()
        summary.update({"compressed_patches": n, "pxz_bytes": len(data), "png_bytes": png.total_bytes,
                        "webp_bytes": webp.total_bytes, "raw_bytes": raw, "encode_seconds": round(encode_s, 1)})
        _table(log, f"the first {n} held-out patches compressed losslessly (pixelar: one .pxz file; "
                    f"PNG and WebP: one file per patch; raw: {raw:,} bytes):",
               [(f"pixelar compress (pretrained:{name})", f"{len(data):>9,} bytes  {8 * len(data) / raw:.3f} bits/dim"),
                ("PNG (optimized)", f"{png.total_bytes:>9,} bytes  {png.bits_per_dim:.3f} bits/dim"),
                ("WebP lossless", f"{webp.total_bytes:>9,} bytes  {webp.bits_per_dim:.3f} bits/dim")])
    _table(log, f"exact test bits/dim on all {r['num_images']} held-out patches:",
           [(f"pretrained:{name}", f"{r['bits_per_dim']:.3f}"),
            ("PNG (optimized)", f"{baselines['png'].bits_per_dim:.3f}"),
            ("WebP lossless", f"{baselines['webp'].bits_per_dim:.3f}")])
    return summary


def run_quickstart(out: str | Path, steps: int = STEPS, model: str = MODEL, preset: str = PRESET,
                   overrides: dict[str, Any] | None = None, threads: int = 1, progress: bool | None = None,
                   log_every: int = 100, evals: int = 4,
                   use_pretrained: bool = True, num_samples: int = 8, num_completions: int = 4,
                   num_compress: int = 16, seed: int = 0, log: Callable[[str], None] | None = None) -> dict:
    """Run the quick start into a fresh ``out`` directory; returns (and writes) its summary.

    overrides: strict config overrides (``{"hidden": 16, "train.lr": 1e-3}``) of ``model``/``preset``.
    progress: tqdm bars (None = only when stdout is a terminal; otherwise a line every
    ``log_every`` steps). threads: the intra-op thread count, fixed so that the run is repeatable.
    evals: how many times the test patches are scored during training (for the learning curve).
    """
    from .data import load_dataset
    log = log or (lambda s: print(s, flush=True))
    progress = sys.stdout.isatty() if progress is None else progress
    out = _fresh_dir(out)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        test = load_dataset("natural", "test")
        test_images = torch.stack([test[i][0] for i in range(len(test))])          # (N, 3, 32, 32)
        nhwc = test_images.permute(0, 2, 3, 1).numpy()
        baselines = {c: codec_result(nhwc, c) for c in ("png", "webp")}
        log(f"natural patches: random 32x32 crops of 6 photos for training, {len(test)} patches of 3 other "
            f"photos for testing (never seen in training)")
        trainer, summary = train_part(out, test, steps, model, preset, overrides or {}, seed, log_every,
                                      evals, progress, log)
        ev = trainer.eval_model()
        summary.update(_figures(ev, test_images, out, "", seed, num_samples, num_completions, progress))
        summary.update({"model": model, "preset": preset, "threads": threads, "out": str(out),
                        "png_bits_per_dim": baselines["png"].bits_per_dim,
                        "webp_lossless_bits_per_dim": baselines["webp"].bits_per_dim, "test_patches": len(test)})
        log("")
        _table(log, f"exact test bits/dim on {len(test)} held-out 32x32 patches:",
               [(f"{model} ({preset}, {summary['train_steps']} steps, {summary['train_seconds'] / 60:.1f} min)",
                 f"{summary['test_bits_per_dim']:.3f}"),
                ("PNG (optimized)", f"{baselines['png'].bits_per_dim:.3f}"),
                ("WebP lossless", f"{baselines['webp'].bits_per_dim:.3f}")])
        log(f"wrote {out}/: samples.png, completions.png (rows: original, known top half, completion), "
            "nll_map.png, learning_curve.png, metrics.jsonl")
        if use_pretrained and PRETRAINED in pretrained.names():
            summary.update(pretrained_part(out, test, test_images, baselines, PRETRAINED, num_compress, seed,
                                           num_samples, num_completions, progress, log))
            log(f"wrote {out}/: pretrained_samples.png, pretrained_completions.png, pretrained_nll_map.png, "
                "test_patches.pxz")
        (out / "quickstart.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary
    finally:
        torch.set_num_threads(before)
