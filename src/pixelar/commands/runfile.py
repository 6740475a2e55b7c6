"""``run.json``: what ``pixelar train`` records about a run, so that ``--resume`` alone continues it.

The record holds the settings of the run (model, preset, every ``--set``, the resolved model and
train configs, data set and its options, evaluation split), the options of the latest invocation
(length, device, data root, progress), and every invocation's argv, time and pixelar version.
It is written atomically (temporary file, fsync, rename) by rank 0: when a fresh run starts, and
again after each resume has loaded its checkpoint; a resume appends to the history, it never
drops any of it.

On ``--resume`` a flag left out takes the recorded value; a flag given must equal it, except:

* ``MAY_CHANGE``: the length (``--steps`` / ``--epochs`` / ``--minutes``), ``--device``,
  ``--data-root`` (files moved to another disk or machine), ``--quiet`` / ``--no-quiet``,
  ``--workers``, ``--tensorboard`` and ``--log-every-seconds`` (none of them touches the weights);
* ``TRAIN_MAY_CHANGE``: the ``train.*`` keys that steer logging, evaluation and checkpointing,
  never the weights (evaluation draws from its own generator, not the training RNG).

A refused resume names the first key that differs, in one line.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
from pathlib import Path
from typing import Any

from .. import config as config_lib
from .. import registry
from ..errors import CheckpointError, PixelarError
from ..training.config import TrainConfig
from ..version import __version__

RUN_FILE = "run.json"
FORMAT = "pixelar-run"
LENGTH = ("steps", "epochs", "minutes")
# Flags of one invocation: recorded, taken from the record when left out, free to change on resume.
# (A new flag of this kind goes here and into FRESH_DEFAULTS with its default, nothing else.)
OPTIONS = ("device", "data_root", "quiet", "workers", "tensorboard", "log_every_seconds")
MAY_CHANGE = (*LENGTH, *OPTIONS)
TRAIN_MAY_CHANGE = frozenset({"log_every", "eval_every", "eval_max_images", "eval_batch_size",
                              "checkpoint_every", "keep_checkpoints", "max_nonfinite_in_a_row"})
# `pixelar train` flags left at None by its parser, so that a resume can tell a given flag from a
# left-out one; here the values a fresh run takes for them.
FRESH_DEFAULTS: dict[str, Any] = {"preset": None, "overrides": [], "data_options": [], "eval_split": "test",
                                  "device": "cpu", "data_root": None, "quiet": False, "force": False,
                                  "workers": 0, "tensorboard": False, "log_every_seconds": 30.0}


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return "none" if value is None else str(value)


def read(out: Path) -> dict[str, Any] | None:
    """The run record of ``out``, or None when the run has none (started before pixelar wrote one).
    A record that is not one raises CheckpointError: it is never silently replaced."""
    path = out / RUN_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path} cannot be read ({type(e).__name__}); move it away and resume with the "
                              "full command (--model, --dataset, --steps ...)") from None
    bad = _malformed(record)
    if bad:
        raise CheckpointError(f"{path} is not a pixelar run record ({bad}); move it away and resume with the "
                              "full command (--model, --dataset, --steps ...)")
    return record


def _malformed(record: Any) -> str:
    """What is wrong with a run record read from disk ("" when nothing is)."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return f"no \"format\": \"{FORMAT}\""
    kinds = {"model": str, "preset": str, "dataset": str, "eval_split": str, "device": str,
             "model_config": dict, "train_config": dict, "overrides": dict, "data_options": dict,
             "length": dict, "history": list}
    for key, kind in kinds.items():
        if not isinstance(record.get(key), kind):
            return f"{key!r} is missing or not a JSON {kind.__name__}"
    if not (record.get("data_root") is None or isinstance(record["data_root"], str)):
        return "'data_root' is not a string"
    length = record["length"]
    number = {"steps": int, "epochs": int, "minutes": (int, float)}
    if len(length) != 1 or not all(k in LENGTH and isinstance(v, number[k]) and not isinstance(v, bool)
                                   and v > 0 for k, v in length.items()):
        return "'length' is not one of {\"steps\": N}, {\"epochs\": N}, {\"minutes\": M}"
    return ""


def is_leftover(path: Path) -> bool:
    """Whether ``path`` is a run record pixelar wrote (a run that stopped before its first checkpoint)."""
    try:
        return json.loads(path.read_text()).get("format") == FORMAT
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def write(out: Path, record: dict[str, Any]) -> None:
    """Replace ``out/run.json`` atomically: a crash leaves the old record or the new one, whole."""
    path = out / RUN_FILE
    tmp = out / f".{RUN_FILE}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(json.dumps(record, indent=2, allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(out, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        if tmp.exists():
            tmp.unlink()


def _refuse(key: str, stored: Any, given: Any, where: Path, note: str = "") -> PixelarError:
    return PixelarError(f"resume refused: {key} is {_show(stored)} in {where / RUN_FILE} but {_show(given)} "
                        f"here{note}; drop the flag or use a new --out")


def settings(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The run's settings from the flags and, on ``--resume``, from ``out/run.json``.

    Returns the record to write (without its history) plus ``model_cfg`` / ``train_cfg`` objects.
    Raises PixelarError when a required flag is missing or a resume is refused.
    """
    given = {k: getattr(args, k) for k in (*FRESH_DEFAULTS, "model", "dataset", *LENGTH)
             if getattr(args, k, None) is not None}
    if getattr(args, "device_asked", None) is not None:    # `--device auto` as asked (cli.main resolves it)
        given["device"] = args.device_asked
    stored = read(out) if args.resume else None
    if stored is None:
        return _fresh(given, out, args.resume)
    return _resumed(given, stored, out)


def _fresh(given: dict[str, Any], out: Path, resume: bool) -> dict[str, Any]:
    missing = [flag for flag, ok in (("--model", "model" in given), ("--dataset", "dataset" in given),
                                     ("--steps, --epochs or --minutes", any(k in given for k in LENGTH)))
               if not ok]
    if missing:
        if resume:
            raise PixelarError(f"{out / RUN_FILE} is missing (the run started before pixelar recorded its "
                               f"settings); give {', '.join(missing)} as when the run started")
        raise PixelarError(f"a new run needs {', '.join(missing)}; see pixelar train --help "
                           "(only --resume of a run with a run.json reads them from there)")
    s = {**FRESH_DEFAULTS, **given}
    overrides = config_lib.parse_assignments(s["overrides"])
    model_cfg, train_cfg = registry.resolve(s["model"], s["preset"], overrides)
    from .common import data_options
    return {"model": s["model"], "preset": s["preset"] or registry.entry(s["model"]).default_preset,
            "overrides": overrides, "model_config": config_lib.to_dict(model_cfg),
            "train_config": config_lib.to_dict(train_cfg), "dataset": s["dataset"],
            "data_options": data_options(s["data_options"]), "eval_split": s["eval_split"],
            **{k: s[k] for k in OPTIONS}, "length": {k: given[k] for k in LENGTH if k in given},
            "model_cfg": model_cfg, "train_cfg": train_cfg}


def _resumed(given: dict[str, Any], stored: dict[str, Any], out: Path) -> dict[str, Any]:
    from .common import data_options
    for key in ("model", "preset", "dataset", "eval_split"):
        if key in given and given[key] != stored[key]:
            raise _refuse(key, stored[key], given[key], out,
                          " (a different model)" if key == "model" else "")
    options = dict(stored["data_options"])
    for key, value in data_options(given.get("data_options")).items():
        if options.get(key) != value:
            raise _refuse(f"data option {key}", options.get(key), value, out)
    model_name = stored["model"]
    try:
        model_cfg = config_lib.from_dict(registry.entry(model_name).model_class.config_class,
                                         stored["model_config"])
        # A train key this pixelar added since the run started takes its default.
        train_cfg = config_lib.replace(TrainConfig(), stored["train_config"], prefix="train.")
    except PixelarError as e:
        raise CheckpointError(f"{out / RUN_FILE} does not fit this pixelar ({e}); resume with the pixelar "
                              "that started the run, or start a new --out") from None
    overrides = config_lib.parse_assignments(given.get("overrides"))
    model_over, train_over = registry.split_overrides(overrides)
    new_model = config_lib.replace(model_cfg, model_over, prefix="model.")
    new_train = config_lib.replace(train_cfg, train_over, prefix="train.")
    for section, old, new, free in (("model", model_cfg, new_model, frozenset()),
                                    ("train", train_cfg, new_train, TRAIN_MAY_CHANGE)):
        for key in config_lib.field_names(old):
            if key not in free and getattr(old, key) != getattr(new, key):
                raise _refuse(f"{section}.{key}", getattr(old, key), getattr(new, key), out)
    length = {k: given[k] for k in LENGTH if k in given} or dict(stored["length"])
    # an option this pixelar added since the run started takes its fresh default
    options_now = {k: given.get(k, stored.get(k, FRESH_DEFAULTS[k])) for k in OPTIONS}
    return {"model": model_name, "preset": stored["preset"], "overrides": {**stored["overrides"], **overrides},
            "model_config": config_lib.to_dict(new_model), "train_config": config_lib.to_dict(new_train),
            "dataset": stored["dataset"], "data_options": options, "eval_split": stored["eval_split"],
            **options_now, "length": length,
            "model_cfg": new_model, "train_cfg": new_train, "history": list(stored["history"])}


def record(s: dict[str, Any], argv: list[str], device_used: str, resumed_from: Path | None,
           step: int) -> dict[str, Any]:
    """The JSON object for run.json: the settings, and the history with this invocation appended."""
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    this = {"argv": argv, "command": shlex.join(["pixelar", *argv]), "time": now,
            "pixelar_version": __version__, "device": device_used, "step": step,
            "resumed_from": None if resumed_from is None else str(resumed_from)}
    history = [*s.get("history", []), this]
    body = {k: v for k, v in s.items() if k not in ("model_cfg", "train_cfg", "history")}
    return {"format": FORMAT, "format_version": 1, "pixelar_version": __version__,
            "argv": history[0]["argv"], **body, "device_used": device_used, "history": history}
