"""``pixelar models``, ``pixelar config`` and ``pixelar datasets``: what there is."""
from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from .. import config as config_lib
from .. import registry
from .common import add_model_args


def _parameters(entry: registry.ModelEntry, preset: Any) -> int:
    with torch.device("meta"):     # count parameters without allocating (some presets are >100 M)
        return entry.model_class(preset.model).num_parameters()


def models_catalog() -> list[dict[str, Any]]:
    """Every model with its presets: description, data set, parameter count, default flag."""
    out = []
    for name, e in registry.MODELS.items():
        presets = []
        for preset, fn in e.presets.items():
            p = fn()
            presets.append({"name": preset, "description": p.description, "dataset": p.dataset,
                            "parameters": _parameters(e, p), "default": preset == e.default_preset})
        out.append({"name": name, "class": e.model_class.__name__, "default_preset": e.default_preset,
                    "presets": presets})
    return out


def cmd_models(args: argparse.Namespace) -> int:
    catalog = models_catalog()
    if args.json:
        print(json.dumps({"models": catalog}, indent=2))
        return 0
    width = max(len(m["name"]) for m in catalog) + 1
    print(f"{'model':<{width}} {'preset':<22} {'parameters':>12}  description")
    for m in catalog:
        for p in m["presets"]:
            default = " (default)" if p["default"] else ""
            print(f"{m['name']:<{width}} {p['name']:<22} {p['parameters']:>12,}  {p['description']}{default}")
    return 0


def _as_set_value(value: Any) -> str:
    """A config value written as ``--set`` reads it back (config._convert)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def cmd_config(args: argparse.Namespace) -> int:
    overrides = config_lib.parse_assignments(args.overrides)
    model_cfg, train_cfg = registry.resolve(args.model, args.preset, overrides)
    e = registry.entry(args.model)
    name = args.preset or e.default_preset
    p = registry.get_preset(args.model, name)
    config = {"model": args.model, "preset": name, "description": p.description, "dataset": p.dataset,
              "overrides": overrides, "model_config": config_lib.to_dict(model_cfg),
              "train_config": config_lib.to_dict(train_cfg)}
    if args.json:
        print(json.dumps(config, indent=2))
        return 0
    print(f"# {args.model} --preset {name}: {p.description}")
    if p.dataset:
        print(f"# for --dataset {p.dataset}")
    if overrides:
        print(f"# with {' '.join(f'--set {k}={v}' for k, v in overrides.items())}")
    print("# every line is a --set KEY=VALUE that `pixelar train` accepts")
    for section, values in (("model", config["model_config"]), ("train", config["train_config"])):
        for key, value in values.items():
            print(f"{section}.{key}={_as_set_value(value)}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from ..data import cache_dir, datasets_status
    rows = datasets_status()
    if args.json:
        print(json.dumps({"cache": str(cache_dir()), "datasets": [r.as_dict() for r in rows]}, indent=2))
        return 0
    print(f"cache: {cache_dir()} ($PIXELAR_DATA moves it; --data-root DIR on train/eval reads one data set "
          "from DIR)")
    for r in rows:
        print(f"{r.name}: {r.description}")
        print(f"    {r.source}" if r.state == "-" else f"    {r.state}: {r.location}; {r.source}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list models and presets with parameter counts")
    p.add_argument("--json", action="store_true", help="one JSON object: models, presets, descriptions, "
                                                       "data sets, parameter counts")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("config", help="print a preset's full model and train config")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="one JSON object instead of KEY=VALUE lines")
    p.set_defaults(func=cmd_config)
    p = sub.add_parser("datasets", help="list data sets: description, where their files are, whether present")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_datasets)
