"""The subcommands behind ``pixelar`` (the parser is in cli.py). Each is a few library calls."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from . import config as config_lib
from . import registry
from .errors import CheckpointError, PixelarError
from .training import checkpoint as ckpt


def check_data_fits(model_cfg: Any, info: Any, hint: str) -> None:
    """The data set's images must be what the model models: channels, size and levels."""
    want = (model_cfg.image_channels, model_cfg.image_size, model_cfg.num_levels)
    got = (info.num_channels, info.image_size, info.num_levels)
    if want != got:
        raise PixelarError(
            f"data set '{info.name}' has {got[1]}x{got[1]}x{got[0]} images with {got[2]} levels, but the model "
            f"expects {want[1]}x{want[1]}x{want[0]} with {want[2]} levels; {hint}")


def cmd_models(args: argparse.Namespace) -> int:
    print(f"{'model':<20} {'preset':<22} {'parameters':>12}  description")
    for name, e in registry.MODELS.items():
        for preset, fn in e.presets.items():
            p = fn()
            with torch.device("meta"):     # count parameters without allocating (some presets are >100 M)
                n = e.model_class(p.model).num_parameters()
            default = " (default)" if preset == e.default_preset else ""
            print(f"{name:<20} {preset:<22} {n:>12,}  {p.description}{default}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import list_datasets
    for name in list_datasets():
        print(name)
    return 0


def _load_data(name: str, split: str, root: str | None) -> Any:
    from .data import load_dataset
    return load_dataset(name, split=split, root=root)


def cmd_train(args: argparse.Namespace) -> int:
    from .training.distributed import device_for, init_from_env
    from .training.trainer import Trainer
    ctx = init_from_env(args.device)       # torchrun: join the process group; else one process
    args.device = device_for(ctx, args.device)
    overrides = config_lib.parse_assignments(args.overrides)
    model_cfg, train_cfg = registry.resolve(args.model, args.preset, overrides)
    out = Path(args.out)
    if ckpt.checkpoint_dirs(out) and not args.resume:
        raise PixelarError(f"{out} already holds a training run; pass --resume to continue it "
                           "or choose another --out")
    if args.resume and not ckpt.checkpoint_dirs(out):
        raise CheckpointError(f"--resume: no checkpoint in {out / 'checkpoints'}")
    train_data = _load_data(args.dataset, "train", args.data_root)
    check_data_fits(model_cfg, train_data.info,
                    "pick a matching --preset or --set model.image_size=/model.image_channels=/model.num_levels=")
    eval_data = None if args.eval_split == "none" else _load_data(args.dataset, args.eval_split, args.data_root)
    torch.manual_seed(train_cfg.seed)          # the same seed gives the same initial weights
    model = registry.entry(args.model).model_class(model_cfg)
    trainer = Trainer(model, train_cfg, train_data, out, eval_data=eval_data, device=args.device,
                      progress=not args.quiet, extra_meta={"dataset": args.dataset}, dist_ctx=ctx)
    if args.resume:
        used = trainer.resume()
        if ctx.is_main:
            print(f"resuming from {used} (step {trainer.step})")
    result = trainer.run(steps=args.steps, epochs=args.epochs, minutes=args.minutes)
    if not ctx.is_main:
        return 0
    if "stopped_by" in result:
        print(f"stopped by {result['stopped_by']} at step {result['step']}; checkpoint {result['checkpoint']}; "
              f"continue with the same command and --resume")
        return 0
    line = f"step {result['step']}: train {result['train_bpd']:.4f} bits/dim"
    if "test_bits_per_dim" in result:
        line += f", {args.eval_split} {result['test_bits_per_dim']:.4f} bits/dim"
    print(line + f"; checkpoint {result['checkpoint']}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation.bpd import evaluate
    from .imageio import check_writable
    if args.nll_map:
        check_writable(args.nll_map, args.force)
    model = ckpt.load(args.checkpoint, map_location=args.device)
    data = _load_data(args.dataset, args.split, args.data_root)
    check_data_fits(model.config, data.info, "evaluate on a data set of the kind the model was trained on")
    if args.nll_map:
        from .evaluation.nll_map import write_nll_map
        write_nll_map(model, data, args.nll_map, num_images=args.nll_map_images, force=args.force)
    r = evaluate(model, data, batch_size=args.batch_size, max_images=args.max_images,
                 progress=not args.json, device=args.device)
    r = {"dataset": args.dataset, "split": args.split, **r}
    if args.json:
        print(json.dumps(r, sort_keys=True))
    else:
        what = getattr(model, "bound_description", "upper bound: dequantized continuous likelihood")
        kind = f" ({what})" if r["bound"] else ""
        print(f"{args.dataset}/{args.split}: {r['bits_per_dim']:.4f} bits/dim, "
              f"{r['nats_per_image']:.2f} nats/image over {r['num_images']} images{kind}")
        for name, v in r.get("scales", {}).items():
            print(f"  scale {name}: {v['bits_per_dim']:.4f} bits/dim of its new pixels, "
                  f"{v['nats_per_image']:.2f} nats/image")
        for name, bpd in r.get("parts_bits_per_dim", {}).items():
            print(f"  part {name}: {bpd:.4f} bits/dim")
    return 0


def _cond(model: Any, label: int | None, n: int, device: str) -> torch.Tensor | None:
    k = model.config.num_classes
    if k == 0:
        if label is not None:
            raise PixelarError("--class given, but this model is not class-conditional")
        return None
    if label is None:
        raise PixelarError(f"this model is class-conditional: pass --class 0..{k - 1}")
    if not 0 <= label < k:
        raise PixelarError(f"--class must be in 0..{k - 1}, got {label}")
    return torch.full((n,), label, dtype=torch.long, device=device)


def cmd_sample(args: argparse.Namespace) -> int:
    from .imageio import check_writable, grid, save_png
    if args.n < 1:
        raise PixelarError("-n must be at least 1")
    check_writable(args.out, args.force)
    model = ckpt.load(args.checkpoint, map_location=args.device)
    cond = _cond(model, args.label, args.n, args.device)
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    x = model.sample(args.n, cond=cond, generator=g, temperature=args.temperature, method=args.method,
                     progress=True, map_sampling=args.map_sampling, log_scale_shift=args.log_scale_shift)
    save_png(grid(x, model.config.num_levels, scale=args.scale), args.out, force=args.force)
    print(f"wrote {args.n} samples to {args.out}")
    return 0


def known_mask(spec: str, size: int) -> torch.Tensor:
    """(1, H, W) bool from 'top-half', 'left-half' or a mask image path."""
    from .imageio import read_mask
    m = torch.zeros(1, size, size, dtype=torch.bool)
    if spec == "top-half":
        m[:, : size // 2] = True
    elif spec == "left-half":
        m[:, :, : size // 2] = True
    else:
        m = read_mask(spec, size)
    return m


def cmd_complete(args: argparse.Namespace) -> int:
    from .imageio import check_writable, grid, read_image, save_png
    if args.n < 1:
        raise PixelarError("-n must be at least 1")
    check_writable(args.out, args.force)
    model = ckpt.load(args.checkpoint, map_location=args.device)
    c, s, k = model.config.image_channels, model.config.image_size, model.config.num_levels
    x = read_image(args.input, c, s, k)                             # (C, H, W)
    known = known_mask(args.known, s).expand(c, s, s)               # (C, H, W)
    cond = _cond(model, args.label, args.n, args.device)
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    xs = x[None].expand(args.n, -1, -1, -1).to(args.device)
    out = model.complete(xs, known[None].expand_as(xs).to(args.device), cond=cond, generator=g,
                         temperature=args.temperature, method=args.method, progress=True)
    shown = torch.where(known, x, torch.full_like(x, (k - 1) // 2))  # unknown region grey
    save_png(grid(torch.cat([shown[None], out.cpu()]), k, nrow=args.n + 1, scale=args.scale), args.out, force=args.force)
    print(f"wrote the masked input and {args.n} completions to {args.out}")
    return 0


def _image_side(path: str) -> int:
    """The side of a square image file (PixelarError if missing, unreadable or not square)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as img:
            w, h = img.size
    except FileNotFoundError:
        raise PixelarError(f"image '{path}' does not exist") from None
    except (UnidentifiedImageError, OSError) as e:
        raise PixelarError(f"cannot read image '{path}' ({e})") from None
    if w != h:
        raise PixelarError(f"{path} is {w}x{h}; upscale takes square images")
    return w


def cmd_upscale(args: argparse.Namespace) -> int:
    """Super-resolution: the input's pixels are kept as the known low-resolution pixels."""
    from PIL import Image
    from .imageio import check_writable, levels_to_uint8, read_image, save_png
    check_writable(args.out, args.force)
    model = ckpt.load(args.checkpoint, map_location=args.device)
    if not hasattr(model, "upscale"):
        raise PixelarError(f"{model.name} models one resolution and cannot upscale; use a model with "
                           "scales (multiscale_pixelcnn or pyramid_pixelcnn)")
    c, k = model.config.image_channels, model.config.num_levels
    low = read_image(args.input, c, _image_side(args.input), k)                     # (C, h, h)
    cond = _cond(model, args.label, 1, args.device)
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    # multiscale_pixelcnn keeps the given pixels at stride S/h; pyramid_pixelcnn samples an image whose
    # half-resolution pyramid levels average back to the input exactly
    extra = {"cond": cond} if cond is not None else {}
    high = model.upscale(low[None].to(args.device), generator=g, temperature=args.temperature, **extra)[0]
    a = levels_to_uint8(high.cpu(), k).permute(1, 2, 0).numpy()                     # (S, S, C) 0..255
    save_png(Image.fromarray(a[:, :, 0] if c == 1 else a), args.out, force=args.force)
    print(f"wrote the {high.shape[-1]}x{high.shape[-1]} upscaling of {args.input} "
          f"({low.shape[-1]}x{low.shape[-1]}) to {args.out}")


def read_gray_view(path: str, model: Any) -> torch.Tensor:
    """ŷ (1, H, W) int64 of an image file: a 1-channel image is taken as the gray levels, a colour
    one is converted with the model's own luma (both then quantized to the model's aux_levels)."""
    from PIL import Image

    from .imageio import read_image
    from .models.auxiliary import grayscale_levels, quantize_gray
    c = model.config
    try:
        with Image.open(path) as img:
            channels = 1 if len(img.getbands()) - ("A" in img.getbands()) == 1 and img.mode != "P" else 3
    except OSError:   # missing or unreadable: read_image says why
        channels = 1
    x = read_image(path, channels, c.image_size, c.num_levels)        # (C, H, W) levels
    gray = x.long() if channels == 1 else grayscale_levels(x[None])[0]
    return quantize_gray(gray, c.num_levels, c.aux_levels)


def cmd_colorize(args: argparse.Namespace) -> int:
    from .imageio import check_writable, grid, save_png
    if args.n < 1:
        raise PixelarError("-n must be at least 1")
    check_writable(args.out, args.force)
    model = ckpt.load(args.checkpoint, map_location=args.device)
    if not hasattr(model, "colorize"):
        raise PixelarError(f"colorize needs a grayscale_pixelcnn checkpoint; {args.checkpoint} holds a "
                           f"{model.name} model")
    aux = read_gray_view(args.input, model)                               # (1, H, W) in 0..L-1
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    out = model.colorize(aux[None].expand(args.n, -1, -1, -1).to(args.device), generator=g,
                         temperature=args.temperature, progress=True, map_sampling=args.map_sampling,
                         log_scale_shift=args.log_scale_shift).cpu()
    c = model.config
    # ŷ shown at the centre of its gray bin, as a grey RGB tile
    shown = ((aux * c.num_levels + c.num_levels // 2) // c.aux_levels).clamp(max=c.num_levels - 1)
    tiles = torch.cat([shown.expand(3, -1, -1)[None].to(out.dtype), out])
    save_png(grid(tiles, c.num_levels, nrow=args.n + 1, scale=args.scale), args.out, force=args.force)
    print(f"wrote ŷ and {args.n} colourings to {args.out}")
    return 0


def cmd_check_causality(args: argparse.Namespace) -> int:
    from .evaluation.causality import find_leaks
    overrides = config_lib.parse_assignments(args.overrides)
    overrides.setdefault("model.image_size", str(args.image_size))
    torch.manual_seed(args.seed)
    model = registry.build(args.model, args.preset, **overrides)
    leaks = find_leaks(model, seed=args.seed)
    c, h, w = model.image_shape
    if leaks:
        print(f"LEAK in {args.model}: {leaks[0]}")
        return 1
    print(f"{args.model} ({args.preset or registry.entry(args.model).default_preset}) is exactly causal: "
          f"checked all {c * h * w} sub-pixels of a {h}x{w}x{c} image")
    return 0


def cmd_receptive_field(args: argparse.Namespace) -> int:
    from .evaluation.receptive_field import receptive_field, write_receptive_field
    from .imageio import check_writable, read_image
    check_writable(args.out, args.force)
    if args.checkpoint:
        if args.preset or args.overrides or args.image_size:
            raise PixelarError("--checkpoint holds its own config: drop --preset/--set/--image-size")
        model = ckpt.load(args.checkpoint, expect_model=args.model)
        what = f"{model.name} from {args.checkpoint}"
    else:
        if not args.model:
            raise PixelarError("say which model: --model NAME (with --preset/--set) or --checkpoint DIR")
        overrides = config_lib.parse_assignments(args.overrides)
        if args.image_size:
            overrides["model.image_size"] = str(args.image_size)
        torch.manual_seed(args.seed)
        model = registry.build(args.model, args.preset, **overrides)
        what = f"{args.model} ({args.preset or registry.entry(args.model).default_preset}) at random init"
        if getattr(model, "needs_data_dependent_init", False) and not args.no_init:
            # The weights training starts from: weight-normalized models first get their
            # data-dependent init (here on noise images from the seed), as the trainer does.
            g = torch.Generator().manual_seed(args.seed + 1)
            noise = torch.randint(0, model.config.num_levels, (args.init_images, *model.image_shape), generator=g)
            labels = (torch.randint(0, model.config.num_classes, (args.init_images,), generator=g)
                      if model.config.num_classes else None)
            model.data_dependent_init(noise, labels)
            what += f" (data-dependent init on {args.init_images} noise images)"
    c, s, k = model.image_shape[0], model.config.image_size, model.config.num_levels
    row, col = args.pixel
    if not (0 <= row < s and 0 <= col < s):
        raise PixelarError(f"--pixel {row} {col} is outside the model's {s}x{s} image")
    x = read_image(args.image, c, s, k)[None] if args.image else None
    cond = torch.zeros(1, dtype=torch.long) if model.config.num_classes else None
    rf = receptive_field(model, row, col, x=x, cond=cond, seed=args.seed, threshold=args.threshold)
    write_receptive_field(rf, args.out, force=args.force, scale=args.scale)
    r = {"model": model.name, "pixel": [row, col], "image_size": s, "ordering": getattr(model, "ordering", "raster"),
         "context_pixels": rf.context_size, "covered_pixels": rf.covered, "fraction": rf.fraction,
         "threshold": args.threshold, "outside_context_nonzero": rf.outside, "out": str(args.out)}
    if args.json:
        print(json.dumps(r, sort_keys=True))
    else:
        print(f"{what}, pixel ({row}, {col}) of {s}x{s}: {rf.covered}/{rf.context_size} pixels of the causal "
              f"context ({100 * rf.fraction:.1f}%) have |d log p / dx| > {args.threshold:g}; map: {args.out}")
    return 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    from .quickstart import run_quickstart
    run_quickstart(args.out, minutes=args.minutes, model=args.model, preset=args.preset,
                   progress=not args.quiet)
    return 0
