"""``pixelar train``: train a model from a preset on a data set, resumably."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .. import checkpoint as ckpt
from .. import config as config_lib
from .. import registry
from ..errors import CheckpointError, PixelarError
from .common import add_device, add_model_args, check_data_fits, load_data


def cmd_train(args: argparse.Namespace) -> int:
    from ..parallel import device_for, init_from_env
    from ..training.trainer import Trainer
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
    train_data = load_data(args.dataset, "train", args.data_root)
    check_data_fits(model_cfg, train_data.info,
                    "pick a matching --preset or --set model.image_size=/model.image_channels=/model.num_levels=")
    eval_data = None if args.eval_split == "none" else load_data(args.dataset, args.eval_split, args.data_root)
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model")
    add_model_args(p)
    p.add_argument("--dataset", required=True, help="data set name (see `pixelar datasets`)")
    p.add_argument("--data-root", help="directory holding the data set files (default: the cache)")
    p.add_argument("--eval-split", default="test", help="split evaluated during/after training ('none' to skip)")
    p.add_argument("--out", required=True, help="run directory (checkpoints, metrics.jsonl, learning curve)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--steps", type=int, help="train until this many steps in total")
    g.add_argument("--epochs", type=int, help="train until this many epochs in total")
    g.add_argument("--minutes", type=float, help="train for this many minutes of wall time")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    add_device(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)
