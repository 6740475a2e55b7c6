"""What several subcommands share: their common arguments, loading data, and checks."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import PixelarError


def add_model_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--model", required=required, help="model name (see `pixelar models`)")
    p.add_argument("--preset", help="named recipe of that model (default: the model's default)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value: model.KEY=V or train.KEY=V (repeatable)")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu",
                   help="torch device: cpu (default), cuda, cuda:1, mps, or auto (cuda when this torch "
                        "has a usable GPU, else cpu)")


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when this torch sees a usable GPU, else ``cpu``; any other name unchanged.
    (MPS is never picked by ``auto``: name it.)"""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def check_device(name: str) -> str:
    """``--device`` must name a device this torch has (checked before any work is done); returns it
    with ``auto`` resolved (:func:`resolve_device`)."""
    name = resolve_device(name)
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise PixelarError(f"--device {name!r} is not a torch device; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise PixelarError(f"--device {name}: this torch has no usable CUDA GPU "
                               f"(torch {torch.__version__}); use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise PixelarError(f"--device {name}: there are only {torch.cuda.device_count()} GPUs "
                               f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise PixelarError(f"--device {name}: MPS is not available here; use --device cpu")
    elif device.type != "cpu":
        raise PixelarError(f"--device {name}: pixelar runs on cpu, cuda or mps")
    return name


def add_weights(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", choices=("auto", "ema", "raw"), default="auto",
                   help="which weights of the checkpoint: ema (Polyak average), raw, or auto "
                        "(ema when the checkpoint has them)")


def add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-option", dest="data_options", action="append", default=[], metavar="KEY=VALUE",
                   help="a data-set option (e.g. image_size=64, num_levels=2), merged with those in the "
                        "--dataset name (repeatable; a key given twice is an error)")


def data_options(items: list[str] | None) -> dict[str, str]:
    """``--data-option`` flags as a dict; ``KEY=VALUE`` each, no key twice."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PixelarError(f"--data-option expects KEY=VALUE, got {item!r}")
        if key.strip() in out:
            raise PixelarError(f"--data-option {key.strip()} is given twice; give it once")
        out[key.strip()] = value.strip()
    return out


def check_output_file(path: str, force: bool) -> None:
    """``--out`` for a file: not a folder, no file where a folder of its path should be, a writable
    folder; an existing file needs ``--force`` (``imageio.check_writable``, which makes the folder)."""
    from ..imageio import check_writable
    p = Path(path)
    if p.is_dir():
        raise PixelarError(f"--out {path} is a directory; give a file name such as {p / 'out.png'}")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise PixelarError(f"--out {path}: {parent} is a file, not a directory; choose another --out")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise PixelarError(f"--out {path}: {parent} is not writable; choose another --out")
            break
    check_writable(path, force)


def add_output(p: argparse.ArgumentParser, what: str, scale: int | None = 4) -> None:
    p.add_argument("--out", required=True, help=what)
    if scale is not None:
        p.add_argument("--scale", type=int, default=scale, help="integer upscaling of the image for viewing")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def load_data(name: str, split: str, root: str | None, options: dict[str, str] | None = None) -> Any:
    from ..data import load_dataset
    if root is not None and not Path(root).is_dir():
        raise PixelarError(f"--data-root {root} is not a directory")
    data = load_dataset(name, split=split, root=root, **(options or {}))
    if len(data) == 0:
        raise PixelarError(f"the {split} split of {name} holds no images; choose another split or data set")
    return data


def check_data_fits(model_cfg: Any, info: Any, hint: str) -> None:
    """The data set's images must be what the model models: channels, size and levels."""
    want = (model_cfg.image_channels, model_cfg.image_size, model_cfg.num_levels)
    got = (info.num_channels, info.image_size, info.num_levels)
    if want != got:
        raise PixelarError(
            f"data set '{info.name}' has {got[1]}x{got[1]}x{got[0]} images with {got[2]} levels, but the model "
            f"expects {want[1]}x{want[1]}x{want[0]} with {want[2]} levels; {hint}")


def label_condition(model: Any, label: int | None, n: int, device: str) -> Any:
    """The model's condition for n images of class ``label`` (``--class``), through ``model.condition``."""
    k = model.config.num_classes
    if k == 0 and label is not None:
        raise PixelarError("--class given, but this model is not class-conditional")
    if k and label is None:
        raise PixelarError(f"this model is class-conditional: pass --class 0..{k - 1}")
    if k and not 0 <= label < k:
        raise PixelarError(f"--class must be in 0..{k - 1}, got {label}")
    batch = {"label": torch.full((n,), -1 if label is None else label, dtype=torch.long, device=device)}
    return model.condition(batch)


def positive(name: str, value: int, most: int | None = None) -> int:
    """``value`` must be in 1..most (a bound on what fits in memory, where one is given)."""
    if value < 1:
        raise PixelarError(f"{name} must be at least 1, got {value}")
    if most is not None and value > most:
        raise PixelarError(f"{name} must be at most {most}, got {value}")
    return value


def finite(name: str, value: float, positive_only: bool = False) -> float:
    import math
    if not math.isfinite(value) or (positive_only and value <= 0):
        raise PixelarError(f"{name} must be a finite{' positive' if positive_only else ''} number, got {value}")
    return value
