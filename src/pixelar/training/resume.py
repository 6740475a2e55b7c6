"""Exact resume: the newest checkpoint of a run that loads, applied whole or not at all."""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint as ckpt
from .. import config as config_lib
from ..errors import CheckpointError
from .guard import all_finite

_INT_KEYS = ("step", "epoch", "batch_in_epoch")


def check_training_state(state: Any, directory: Path) -> dict[str, Any]:
    """``training_state.pt`` must be the dict the trainer writes; else CheckpointError (one line)."""
    bad = f"{directory / ckpt.STATE} is not a pixelar training state"
    if not isinstance(state, dict):
        raise CheckpointError(f"{bad} (a {type(state).__name__}, not a dict)")
    for key in _INT_KEYS:
        if not isinstance(state.get(key), int) or isinstance(state.get(key), bool) or state[key] < 0:
            raise CheckpointError(f"{bad} ({key!r} is missing or not a non-negative integer)")
    if not isinstance(state.get("skipped_nonfinite", 0), int):
        raise CheckpointError(f"{bad} ('skipped_nonfinite' is not an integer)")
    elapsed = state.get("elapsed_s", 0.0)      # absent in checkpoints older than the field: 0
    if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not 0 <= elapsed < math.inf:
        raise CheckpointError(f"{bad} ('elapsed_s' is not a non-negative number of seconds)")
    rng = state.get("torch_rng")
    if not (torch.is_tensor(rng) and rng.dtype == torch.uint8 and rng.dim() == 1
            and rng.numel() == torch.get_rng_state().numel()):
        raise CheckpointError(f"{bad} ('torch_rng' is not a CPU generator state)")
    opt = state.get("optimizer")
    if not (isinstance(opt, dict) and isinstance(opt.get("state"), dict)
            and isinstance(opt.get("param_groups"), list)):
        raise CheckpointError(f"{bad} ('optimizer' is not an optimizer state)")
    return state


def resume(trainer: Any) -> Path:
    """Continue ``trainer`` from the newest checkpoint that loads; say which ones were skipped and why."""
    out = trainer.out
    candidates = ckpt.checkpoint_dirs(out)
    if not candidates:
        raise CheckpointError(f"--resume: no checkpoint in {out / 'checkpoints'}")
    for directory in candidates:
        try:
            meta = ckpt.read_meta(directory)
        except CheckpointError as e:
            trainer.log(f"skipping checkpoint {directory.name}: {e}")
            continue
        # a checkpoint written before a field existed holds the model that field's FIELDS_ADDED value gives
        stored = (config_lib.with_added_fields(type(trainer.model.config), meta["config"])
                  if isinstance(meta["config"], dict) else meta["config"])
        if meta["model"] != trainer.model.name or stored != config_lib.to_dict(trainer.model.config):
            raise CheckpointError(f"{directory} holds a different model or config "
                                  f"('{meta['model']}'); resume with the same --model/--preset/--set")
        try:  # read and check everything first, so that a bad file never leaves half a state applied
            weights = ckpt.load_weights(directory / ckpt.WEIGHTS)
            ema = ckpt.load_weights(directory / ckpt.EMA_WEIGHTS) if trainer.ema is not None else None
            state = check_training_state(ckpt.load_training_state(directory), directory)
            if not all_finite(weights.values()) or (ema is not None and not all_finite(ema.values())):
                raise CheckpointError(f"{directory} holds non-finite weights")
            _apply(trainer, weights, ema, state)
        except CheckpointError as e:
            trainer.log(f"skipping checkpoint {directory.name}: {e}")
            continue
        trainer._trim_metrics()
        return directory
    raise CheckpointError(f"--resume: none of the checkpoints in {out / 'checkpoints'} could be loaded")


def _apply(trainer: Any, weights: dict[str, torch.Tensor], ema: dict[str, torch.Tensor] | None,
           state: dict[str, Any]) -> None:
    """Load all of it into ``trainer``, or put everything back as it was and raise CheckpointError."""
    before = (copy.deepcopy(trainer.model.state_dict()), copy.deepcopy(trainer.optimizer.state_dict()),
              copy.deepcopy(trainer.ema.state) if trainer.ema is not None else None)
    try:
        trainer.model.load_state_dict(weights)
        if ema is not None:
            trainer.ema.load_state(ema)
        trainer.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
    except Exception as e:  # wrong keys, shapes or optimizer layout: nothing of it stays applied
        trainer.model.load_state_dict(before[0])
        trainer.optimizer.load_state_dict(before[1])
        if before[2] is not None:
            trainer.ema.load_state(before[2])
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"its state does not fit this model and optimizer ({first})") from None
    trainer.step, trainer.epoch = state["step"], state["epoch"]
    trainer.batch_in_epoch = state["batch_in_epoch"]
    trainer.skipped_nonfinite = int(state.get("skipped_nonfinite", 0))
    trainer.elapsed_before = float(state.get("elapsed_s", 0.0))   # elapsed_s goes on counting from here
