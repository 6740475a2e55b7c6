"""``pixelar train``: train a model from a preset on a data set, resumably."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .. import checkpoint as ckpt
from .. import registry
from ..errors import CheckpointError, PixelarError
from . import runfile
from .common import (
    add_data_options,
    add_device,
    add_model_args,
    check_data_fits,
    check_device,
    finite,
    load_data,
    positive,
)

# What a run directory may hold before its first checkpoint without being someone else's folder
# (and run.json, when pixelar wrote it).
_RUN_LEFTOVERS = {".lock"}


def check_run_dir(out: Path, resume: bool, force: bool) -> None:
    """``--out`` must be a new or empty directory, a run to ``--resume``, or anything with ``--force``."""
    if out.exists() and not out.is_dir():
        raise PixelarError(f"--out {out} is a file; choose a directory for the run")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise PixelarError(f"--out {out}: {parent} is a file, not a directory")
            break
    root = out / "checkpoints"
    if root.exists() and not root.is_dir():
        raise PixelarError(f"{root} is a file, so no checkpoint can be written; move it away or choose "
                           "another --out")
    has_run = bool(ckpt.checkpoint_dirs(out))
    if has_run and not resume:
        raise PixelarError(f"{out} already holds a training run; pass --resume to continue it "
                           "or choose another --out")
    if resume and not has_run:
        raise CheckpointError(f"--resume: no checkpoint in {root}")
    if not has_run and out.is_dir() and not force:
        foreign = sorted(p.name for p in out.iterdir()
                         if p.name not in _RUN_LEFTOVERS and not (p == root and not any(root.iterdir()))
                         and not (p.name == runfile.RUN_FILE and runfile.is_leftover(p)))
        if foreign:
            raise PixelarError(f"--out {out} is not empty and holds no checkpoint ({', '.join(foreign[:3])}"
                               f"{', ...' if len(foreign) > 3 else ''}); choose a new directory, or pass "
                               "--force to train there (a fresh run replaces its metrics.jsonl)")


def cmd_train(args: argparse.Namespace) -> int:
    from ..parallel import device_for, init_from_env, shutdown
    from ..training.lock import RunLock
    from ..training.trainer import Trainer
    if args.steps is not None:
        positive("--steps", args.steps)
    if args.epochs is not None:
        positive("--epochs", args.epochs)
    if args.minutes is not None:
        finite("--minutes", args.minutes, positive_only=True)
    out = Path(args.out)
    check_run_dir(out, args.resume, args.force)
    # The settings: the flags, and on --resume run.json for every flag left out (runfile.py).
    run = runfile.settings(args, out)
    model_cfg, train_cfg, options = run["model_cfg"], run["train_cfg"], run["data_options"]
    for key in ("model", "dataset", "eval_split", *runfile.OPTIONS):
        setattr(args, key, run[key])
    args.steps, args.epochs, args.minutes = (run["length"].get(k) for k in runfile.LENGTH)
    args.device = check_device(args.device)     # `auto` resolved on this machine
    ctx = init_from_env(args.device)       # torchrun: join the process group; else one process
    args.device = device_for(ctx, args.device)
    lock = RunLock(out)
    if ctx.is_main:
        lock.acquire()                     # held until the run ends, however it ends
    try:
        if ctx.is_main:
            check_run_dir(out, args.resume, args.force)   # again, now that no other run can change it
        code = _train(args, ctx, model_cfg, train_cfg, options, out, lock, Trainer, run)
    finally:
        lock.release()
    shutdown(ctx)     # only after a run that ended well: after an error the other ranks may never arrive
    return code


def _train(args, ctx, model_cfg, train_cfg, options, out, lock, trainer_class, run) -> int:
    train_data = load_data(args.dataset, "train", args.data_root, options)
    check_data_fits(model_cfg, train_data.info,
                    "pick a matching --preset or --set model.image_size=/model.image_channels=/model.num_levels=")
    eval_data = None if args.eval_split == "none" else load_data(args.dataset, args.eval_split, args.data_root,
                                                                 options)
    torch.manual_seed(train_cfg.seed)          # the same seed gives the same initial weights
    model = registry.entry(args.model).model_class(model_cfg)
    meta = {"dataset": args.dataset, **({"data_options": options} if options else {})}
    trainer = trainer_class(model, train_cfg, train_data, out, eval_data=eval_data, device=args.device,
                            progress=not args.quiet, extra_meta=meta, dist_ctx=ctx, lock=lock,
                            workers=args.workers, tensorboard=args.tensorboard,
                            log_every_seconds=args.log_every_seconds)
    used = trainer.resume() if args.resume else None
    if ctx.is_main:   # after the resume loaded, so that a refused checkpoint leaves run.json as it was
        runfile.write(out, runfile.record(run, list(getattr(args, "argv", [])), args.device, used, trainer.step))
        if used is not None:
            print(f"resuming from {used} (step {trainer.step})")
    start = trainer.step
    result = trainer.run(steps=args.steps, epochs=args.epochs, minutes=args.minutes)
    if not ctx.is_main:
        return 0
    if "stopped_by" in result:
        print(f"stopped by {result['stopped_by']} at step {result['step']}; checkpoint {result['checkpoint']}; "
              f"continue with: pixelar train --out {out} --resume")
        return 0
    line = f"step {result['step']}: " + (f"train {result['train_bpd']:.4f} bits/dim" if result["step"] > start
                                          else "nothing to train (the run is at its length)")
    if "test_bits_per_dim" in result:
        line += f", {args.eval_split} {result['test_bits_per_dim']:.4f} bits/dim"
    print(line + f"; checkpoint {result['checkpoint']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model",
                       description="Train a model; `pixelar train --out DIR --resume` alone continues the run "
                                   "in DIR with the settings in DIR/run.json (docs/runs.md).")
    add_model_args(p, required=False)
    p.add_argument("--dataset", help="data set name (see `pixelar datasets`)")
    add_data_options(p)
    p.add_argument("--data-root", help="directory holding the data set files (default: the cache)")
    p.add_argument("--eval-split", help="split evaluated during/after training (default test; 'none' to skip)")
    p.add_argument("--out", required=True, help="run directory (run.json, checkpoints, metrics.jsonl, learning curve)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--steps", type=int, help="train until this many steps in total")
    g.add_argument("--epochs", type=int, help="train until this many epochs in total")
    g.add_argument("--minutes", type=float, help="train for this many minutes of wall time")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in --out; flags left out are read from its run.json")
    p.add_argument("--force", action="store_true",
                   help="train into an existing directory that holds no run (its metrics.jsonl is replaced)")
    add_device(p)
    p.add_argument("--quiet", action=argparse.BooleanOptionalAction,
                   help="no progress bar (--no-quiet: show it, e.g. resuming a run started with --quiet)")
    # logging and input pipeline (docs/logging.md); recorded in run.json, free to change on --resume
    p.add_argument("--log-every-seconds", type=float, metavar="S",
                   help="not on a terminal: a progress line every train.log_every steps or S seconds (30)")
    p.add_argument("--tensorboard", action=argparse.BooleanOptionalAction,
                   help="also write TensorBoard event files to OUT/tensorboard (pip install tensorboard)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="DataLoader processes decoding the training images (0: in this process); same batches")
    # None = not given, so that a resume can tell a flag left out (taken from run.json) from one given
    # (which must equal run.json's); a fresh run fills in runfile.FRESH_DEFAULTS.
    p.set_defaults(func=cmd_train, **{k: None for k in runfile.FRESH_DEFAULTS})
