"""``pixelar pretrained``: the checkpoints shipped with pixelar, with their measured figures."""
from __future__ import annotations

import argparse
import json

from .. import pretrained


def _figure(e: dict) -> str:
    f = e.get("figure") or {}
    unit = {"bits_per_dim": "bits/dim", "nats_per_image": "nats/image"}.get(f.get("metric"), f.get("metric", ""))
    return f"{f.get('value', float('nan')):.4f} {unit} on {f.get('dataset')}/{f.get('split')}"


def cmd_pretrained(args: argparse.Namespace) -> int:
    if args.name:
        e = pretrained.entry(args.name)
        if not args.no_verify:
            pretrained.checkpoint_dir(args.name)       # every sha256, or a one-line error
        if args.json:
            print(json.dumps({"name": args.name, **e}, sort_keys=True))
            return 0
        print(f"{args.name}: {e.get('description', '')}")
        print(f"  model            {e['model']} (preset {e.get('preset')}, overrides {e.get('overrides') or {}})")
        print(f"  trained on       {e.get('training_data')}")
        print(f"  steps            {e.get('steps')} in {e.get('wall_seconds', 0) / 60:.1f} min on {e.get('machine')}")
        print(f"  figure           {_figure(e)} ({e['figure'].get('num_images')} images, "
              f"{e['figure'].get('weights')} weights)")
        print(f"  reproduce        {e.get('figure_command')}")
        print(f"  trained with     {e.get('train_command')}")
        print(f"  files (sha256 verified) in {pretrained.ROOT / args.name}")
        return 0
    entries = pretrained.manifest()
    if args.json:
        print(json.dumps([{"name": n, **entries[n]} for n in sorted(entries)], sort_keys=True))
        return 0
    if not entries:
        print("no pretrained checkpoints are shipped with this pixelar")
        return 0
    width = max(len(n) for n in entries) + 2
    print(f"{'name':<{width}}{'model':<22}{'steps':>8}  figure")
    for n in sorted(entries):
        e = entries[n]
        model = f"{e['model']}/{e.get('preset')}"
        print(f"{n:<{width}}{model:<22}{e.get('steps', 0):>8}  {_figure(e)}")
    print("load one with pixelar.load('pretrained:NAME') or --checkpoint pretrained:NAME; "
          "`pixelar pretrained NAME` shows how it was trained and how to reproduce its figure")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrained", help="list the pretrained checkpoints shipped with pixelar and their figures")
    p.add_argument("name", nargs="?", help="show one checkpoint in full (and verify its files)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--no-verify", action="store_true", help="with NAME: skip the sha256 check of its files")
    p.set_defaults(func=cmd_pretrained)
