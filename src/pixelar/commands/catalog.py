"""``pixelar models`` and ``pixelar datasets``: what there is."""
from __future__ import annotations

import argparse

import torch

from .. import registry


def cmd_models(args: argparse.Namespace) -> int:
    width = max(len(name) for name in registry.MODELS) + 1
    print(f"{'model':<{width}} {'preset':<22} {'parameters':>12}  description")
    for name, e in registry.MODELS.items():
        for preset, fn in e.presets.items():
            p = fn()
            with torch.device("meta"):     # count parameters without allocating (some presets are >100 M)
                n = e.model_class(p.model).num_parameters()
            default = " (default)" if preset == e.default_preset else ""
            print(f"{name:<{width}} {preset:<22} {n:>12,}  {p.description}{default}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from ..data import list_datasets
    for name in list_datasets():
        print(name)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("models", help="list models and presets with parameter counts").set_defaults(func=cmd_models)
    sub.add_parser("datasets", help="list data sets").set_defaults(func=cmd_datasets)
