"""What several subcommands share: their common arguments, loading data, and checks."""
from __future__ import annotations

import argparse
from typing import Any

import torch

from ..errors import PixelarError


def add_model_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--model", required=required, help="model name (see `pixelar models`)")
    p.add_argument("--preset", help="named recipe of that model (default: the model's default)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value: model.KEY=V or train.KEY=V (repeatable)")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ...")


def add_output(p: argparse.ArgumentParser, what: str, scale: int | None = 4) -> None:
    p.add_argument("--out", required=True, help=what)
    if scale is not None:
        p.add_argument("--scale", type=int, default=scale, help="integer upscaling of the image for viewing")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def load_data(name: str, split: str, root: str | None) -> Any:
    from ..data import load_dataset
    return load_dataset(name, split=split, root=root)


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


def positive(name: str, value: int) -> int:
    if value < 1:
        raise PixelarError(f"{name} must be at least 1, got {value}")
    return value
