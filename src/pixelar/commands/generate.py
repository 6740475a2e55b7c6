"""``pixelar sample``, ``complete``, ``upscale`` and ``colorize``: images drawn from a checkpoint."""
from __future__ import annotations

import argparse

import torch

from .. import registry
from ..errors import PixelarError
from .common import add_device, add_output, add_weights, check_output_file, finite, label_condition, positive

MAX_SAMPLES = 4096    # -n: images sampled in one batch


def _check_sampling_args(args: argparse.Namespace) -> None:
    """Numbers that cannot sample anything are refused before the checkpoint is read."""
    finite("--temperature", args.temperature, positive_only=True)
    finite("--log-scale-shift", getattr(args, "log_scale_shift", 0.0))
    finite("--log-variance-shift", getattr(args, "log_variance_shift", 0.0))
    if getattr(args, "log_scale_shift", 0.0) and getattr(args, "log_variance_shift", 0.0):
        raise PixelarError("give --log-variance-shift or --log-scale-shift, not both: they are one control in two "
                           "units (a log-variance shift c is a log-scale shift c/2)")
    if not 0 <= args.seed < 2 ** 63:
        raise PixelarError(f"--seed must be in 0..2^63-1, got {args.seed}")
    if getattr(args, "scale", None) is not None:
        positive("--scale", args.scale, most=64)


def _sampling_args(p: argparse.ArgumentParser, mixture_options: bool = True) -> None:
    add_weights(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0)
    if mixture_options:
        p.add_argument("--map", dest="map_sampling", action="store_true",
                       help="mixture models: sample the component, take its mode (Kolesnikov & Lampert §4.2)")
        p.add_argument("--log-scale-shift", type=float, default=0.0,
                       help="mixture models: subtract this from the predicted log-scales (reduced variance)")
        p.add_argument("--log-variance-shift", type=float, default=0.0,
                       help="mixture models: subtract this from the predicted log-variances (Kolesnikov & Lampert "
                            "§4.2's units; = a log-scale shift of half as much)")


def _mixture_options(args: argparse.Namespace) -> dict[str, object]:
    return {"map_sampling": args.map_sampling, "log_scale_shift": args.log_scale_shift,
            "log_variance_shift": args.log_variance_shift}


def cmd_sample(args: argparse.Namespace) -> int:
    _check_sampling_args(args)
    from ..imageio import grid, save_png
    positive("-n", args.n, most=MAX_SAMPLES)
    check_output_file(args.out, args.force)
    model = registry.load(args.checkpoint, map_location=args.device, weights=args.weights)
    cond = label_condition(model, args.label, args.n, args.device)
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    x = model.sample(args.n, cond=cond, generator=g, temperature=args.temperature, method=args.method,
                     progress=True, **_mixture_options(args))
    save_png(grid(x, model.config.num_levels, scale=args.scale), args.out, force=args.force)
    print(f"wrote {args.n} samples to {args.out}")
    return 0


def cmd_complete(args: argparse.Namespace) -> int:
    _check_sampling_args(args)
    from ..imageio import grid, known_mask, read_image, save_png
    positive("-n", args.n, most=MAX_SAMPLES)
    check_output_file(args.out, args.force)
    model = registry.load(args.checkpoint, map_location=args.device, weights=args.weights)
    c, s, k = model.config.image_channels, model.config.image_size, model.config.num_levels
    x = read_image(args.input, c, s, k)                             # (C, H, W)
    known = known_mask(args.known, s).expand(c, s, s)               # (C, H, W)
    cond = label_condition(model, args.label, args.n, args.device)
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    xs = x[None].expand(args.n, -1, -1, -1).to(args.device)
    out = model.complete(xs, known[None].expand_as(xs).to(args.device), cond=cond, generator=g,
                         temperature=args.temperature, method=args.method, progress=True)
    shown = torch.where(known, x, torch.full_like(x, (k - 1) // 2))  # unknown region grey
    save_png(grid(torch.cat([shown[None], out.cpu()]), k, nrow=args.n + 1, scale=args.scale), args.out,
             force=args.force)
    print(f"wrote the masked input and {args.n} completions to {args.out}")
    return 0


def cmd_upscale(args: argparse.Namespace) -> int:
    """Super-resolution: the input's pixels are kept as the known low-resolution pixels."""
    _check_sampling_args(args)
    from PIL import Image

    from ..imageio import image_info, levels_to_uint8, read_image, save_png
    check_output_file(args.out, args.force)
    model = registry.load(args.checkpoint, map_location=args.device, weights=args.weights)
    c, k = model.config.image_channels, model.config.num_levels
    w, h, _ = image_info(args.input)                     # from the header (size-bounded): nothing decoded yet
    if w != h:
        raise PixelarError(f"cannot upscale {w}x{h}: upscale takes square images")
    # which sizes a model can upscale from, and whether it can at all, is sampling.upscale's to say
    low = read_image(args.input, c, w, k)                                            # (C, h, h)
    cond = label_condition(model, args.label, 1, args.device)
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    # multiscale_pixelcnn keeps the given pixels at stride S/h; pyramid_pixelcnn samples each finer level
    # given the one below, and with --consistent only images whose 2x2 means give the input exactly
    extra = {"consistent": args.consistent} if model.group_sampler == "pyramid" else {}
    high = model.upscale(low[None].to(args.device), cond=cond, generator=g, temperature=args.temperature,
                         **_mixture_options(args), **extra)[0]
    a = levels_to_uint8(high.cpu(), k).permute(1, 2, 0).numpy()                     # (S, S, C) 0..255
    save_png(Image.fromarray(a[:, :, 0] if c == 1 else a), args.out, force=args.force)
    print(f"wrote the {high.shape[-1]}x{high.shape[-1]} upscaling of {args.input} "
          f"({low.shape[-1]}x{low.shape[-1]}) to {args.out}")
    return 0


def read_gray_view(path: str, model: object) -> torch.Tensor:
    """ŷ (1, H, W) int64 of an image file: a 1-channel image is taken as the gray levels, a colour
    one is converted with the model's own luma (both then quantized to the model's aux_levels)."""
    from ..imageio import image_info, read_image
    from ..models.auxiliary import grayscale_levels, quantize_gray
    c = model.config
    channels = image_info(path)[2]
    x = read_image(path, channels, c.image_size, c.num_levels)        # (C, H, W) levels
    gray = x.long() if channels == 1 else grayscale_levels(x[None])[0]
    return quantize_gray(gray, c.num_levels, c.aux_levels)


def cmd_colorize(args: argparse.Namespace) -> int:
    _check_sampling_args(args)
    from ..imageio import grid, save_png
    positive("-n", args.n, most=MAX_SAMPLES)
    check_output_file(args.out, args.force)
    model = registry.load(args.checkpoint, map_location=args.device, weights=args.weights)
    if not model.can_colorize:
        raise PixelarError(f"colorize needs a grayscale_pixelcnn checkpoint; {args.checkpoint} holds a "
                           f"{model.name} model")
    aux = read_gray_view(args.input, model)                               # (1, H, W) in 0..L-1
    g = torch.Generator(device=args.device).manual_seed(args.seed)
    out = model.colorize(aux[None].expand(args.n, -1, -1, -1).to(args.device), generator=g,
                         temperature=args.temperature, progress=True, consistent=args.consistent,
                         **_mixture_options(args)).cpu()
    c = model.config
    # ŷ shown at the centre of its gray bin, as a grey RGB tile
    shown = ((aux * c.num_levels + c.num_levels // 2) // c.aux_levels).clamp(max=c.num_levels - 1)
    tiles = torch.cat([shown.expand(3, -1, -1)[None].to(out.dtype), out])
    save_png(grid(tiles, c.num_levels, nrow=args.n + 1, scale=args.scale), args.out, force=args.force)
    print(f"wrote ŷ and {args.n} colourings to {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw samples into an image grid")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("-n", type=int, default=16, help="number of samples")
    _sampling_args(p)
    p.add_argument("--class", dest="label", type=int, help="class label for class-conditional models")
    p.add_argument("--method", default="auto", choices=("auto", "naive", "cached", "groups"),
                   help="auto = the fastest exact sampler the model has (groups, else cached, else naive)")
    add_output(p, "PNG grid to write")
    add_device(p)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("complete", help="sample the unknown pixels of an image, keeping the known ones")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="image of the model's size and channel count")
    p.add_argument("--known", required=True,
                   help="top-half, left-half, or a mask PNG (white = known) of the image's size")
    p.add_argument("-n", type=int, default=4, help="number of completions")
    _sampling_args(p, mixture_options=False)
    p.add_argument("--class", dest="label", type=int)
    p.add_argument("--method", default="auto", choices=("auto", "naive", "cached"),
                   help="auto = the fastest exact sampler the model has (cached, else naive)")
    add_output(p, "PNG grid: the masked input, then the completions")
    add_device(p)
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("upscale", help="super-resolution: keep a low-resolution image's pixels, sample the rest")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help="square image, the model's size / 2^k pixels wide")
    _sampling_args(p)
    p.add_argument("--class", dest="label", type=int, help="class label for class-conditional models")
    p.add_argument("--consistent", action="store_true",
                   help="pyramid_pixelcnn: sample only images whose 2x2 means give the input exactly (default: "
                        "the paper's ordinary sampling of each level given the one below)")
    add_output(p, "PNG of the model's size", scale=None)
    add_device(p)
    p.set_defaults(func=cmd_upscale)

    p = sub.add_parser("colorize", help="colour a grayscale image with a grayscale_pixelcnn (samples of p(x | ŷ))")
    p.add_argument("--checkpoint", required=True, help="a grayscale_pixelcnn checkpoint or run directory")
    p.add_argument("--input", required=True,
                   help="grayscale (or colour) image of the model's size; it is reduced to the 4-bit grayscale ŷ")
    p.add_argument("-n", type=int, default=4, help="number of colourings")
    p.add_argument("--consistent", action="store_true",
                   help="sample only colourings whose 4-bit grayscale is the input's exactly (default: the "
                        "paper's ordinary sampling of p(x | ŷ))")
    _sampling_args(p)
    add_output(p, "PNG grid: ŷ, then the colourings")
    add_device(p)
    p.set_defaults(func=cmd_colorize)
