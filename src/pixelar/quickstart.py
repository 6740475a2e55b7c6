"""The quick start: train a small model on built-in natural 32×32 patches for a few minutes,
then compare its exact test bits/dim with PNG and WebP lossless, and draw samples and completions."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from . import registry
from .evaluation.baselines import codec_bits_per_dim
from .imageio import grid, save_png
from .training.trainer import Trainer


def _fresh_dir(out: str | Path) -> Path:
    """``out``, or ``out-2``, ``out-3``... if it already exists (never overwrite an earlier run)."""
    base = Path(out)
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def run_quickstart(out: str | Path, minutes: float = 4.0, model: str = "pixelcnn",
                   preset: str = "small", progress: bool = True, num_samples: int = 8,
                   num_completions: int = 4, seed: int = 0) -> dict:
    from .data import load_dataset
    out = _fresh_dir(out)
    train = load_dataset("natural", "train")
    test = load_dataset("natural", "test")
    test_images = torch.stack([test[i][0] for i in range(len(test))])          # (N, 3, 32, 32)
    nhwc = test_images.permute(0, 2, 3, 1).numpy()
    png, webp = codec_bits_per_dim(nhwc, "png"), codec_bits_per_dim(nhwc, "webp")
    print(f"natural patches: {len(train)} train crops per epoch, {len(test)} test patches "
          f"(test photos are never seen in training)")
    print(f"training {model} ({preset}) for {minutes:g} minutes on the CPU -> {out}")

    torch.manual_seed(seed)
    model_cfg, train_cfg = registry.resolve(model, preset, {"train.eval_every": 200})
    net = registry.entry(model).model_class(model_cfg)
    trainer = Trainer(net, train_cfg, train, out, eval_data=test, progress=progress,
                      extra_meta={"dataset": "natural"})
    t0 = time.monotonic()
    result = trainer.run(minutes=minutes)          # ends with an exact evaluation on the test patches
    train_s = time.monotonic() - t0
    ev = trainer.eval_model()
    test_r = {k[len("test_"):]: v for k, v in result.items() if k.startswith("test_")}

    g = torch.Generator().manual_seed(seed)
    t0 = time.monotonic()
    samples = ev.sample(num_samples, generator=g, progress=progress)
    sample_s = time.monotonic() - t0
    save_png(grid(samples, 256, scale=3), out / "samples.png")

    # Completion: the top half of a few test patches is known, the bottom half is sampled.
    picks = test_images[torch.linspace(0, len(test) - 1, num_completions).long()]
    known = torch.zeros_like(picks, dtype=torch.bool)
    known[:, :, :16] = True
    done = ev.complete(picks, known, generator=g, progress=progress)
    masked = torch.where(known, picks, torch.full_like(picks, 127))
    save_png(grid(torch.cat([picks, masked, done]), 256, nrow=num_completions, scale=3), out / "completions.png")

    summary = {"model": model, "preset": preset, "parameters": net.num_parameters(),
               "train_steps": result["step"], "train_seconds": round(train_s, 1),
               "test_bits_per_dim": test_r["bits_per_dim"], "png_bits_per_dim": png,
               "webp_lossless_bits_per_dim": webp, "test_patches": test_r["num_images"],
               "sample_seconds_per_image": sample_s / num_samples, "out": str(out)}
    (out / "quickstart.json").write_text(json.dumps(summary, indent=2) + "\n")
    print()
    rows = [(f"{model} ({preset}, {result['step']} steps, {train_s / 60:.1f} min)", test_r["bits_per_dim"]),
            ("PNG (optimized)", png), ("WebP lossless", webp)]
    width = max(len(r[0]) for r in rows) + 2
    print(f"exact test bits/dim on {test_r['num_images']} held-out 32x32 patches:")
    for label, value in rows:
        print(f"  {label:<{width}}{value:.3f}")
    print(f"wrote {out / 'samples.png'}, {out / 'completions.png'} (rows: original, known top half, "
          f"completion), {out / 'learning_curve.png'}, {out / 'metrics.jsonl'}")
    return summary
