"""Checkpoint directories: ``config.json`` + ``model.safetensors`` (+ ``ema.safetensors``,
``training_state.pt``). No pickle is ever needed to restore a model; training
state is read with ``torch.load(weights_only=True)``.

A run directory keeps its checkpoints in ``checkpoints/step_XXXXXXXX/``; each is
written to a temporary directory, fsynced and renamed into place, so a crash
never leaves a half-written checkpoint under a real name.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import config as config_lib
from .errors import CheckpointError
from .version import __version__

FORMAT = "pixelar-checkpoint"
CONFIG, WEIGHTS, EMA_WEIGHTS, STATE = "config.json", "model.safetensors", "ema.safetensors", "training_state.pt"
_STALE = re.compile(r"\.step_\d+\.(?:tmp|old)-(\d+)")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def write_checkpoint_files(directory: Path, model: Any, *, ema_state: dict[str, torch.Tensor] | None = None,
                           training_state: dict[str, Any] | None = None,
                           extra: dict[str, Any] | None = None) -> None:
    """Write the checkpoint files into an existing (temporary) ``directory``."""
    meta = {"format": FORMAT, "pixelar_version": __version__, "model": model.name,
            "config": config_lib.to_dict(model.config), **(extra or {})}
    _write_bytes(directory / CONFIG, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
    save_file(_state_dict(model), str(directory / WEIGHTS))
    if ema_state is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in ema_state.items()}, str(directory / EMA_WEIGHTS))
    if training_state is not None:
        torch.save(training_state, directory / STATE)
    for name in os.listdir(directory):
        with open(directory / name, "rb") as f:
            os.fsync(f.fileno())


def save_model(model: Any, directory: str | os.PathLike, **kwargs: Any) -> Path:
    """Atomically write a checkpoint of ``model`` at ``directory``.

    ``directory`` may hold an older checkpoint, or a ``step_*`` directory of a run's
    ``checkpoints/`` without its config.json (what a crash or a hand edit leaves; ``--resume``
    skips those): it is replaced. Any other non-empty directory is refused. A failed write
    (disk full, permissions) removes its temporary directory and raises CheckpointError.
    """
    final = Path(directory)
    replaceable = final.parent.name == "checkpoints" and final.name.startswith("step_")
    try:
        if final.exists() and (not final.is_dir() or any(final.iterdir())):
            if not final.is_dir() or not ((final / CONFIG).exists() or replaceable):
                raise CheckpointError(f"{final} exists and is not a pixelar checkpoint; choose an empty directory")
        final.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise CheckpointError(f"cannot write {final}: {final.parent} is not a directory; move that file "
                              "away or choose another --out") from None
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        write_checkpoint_files(tmp, model, **kwargs)
        if final.exists():  # replacing an older checkpoint of ours: move it aside first, then swap
            old = final.parent / f".{final.name}.old-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
        _fsync_dir(final.parent)
    except (OSError, SafetensorError, RuntimeError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        why = getattr(e, "strerror", None) or (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"could not write the checkpoint {final} ({why}); the earlier checkpoints are "
                              "intact: free disk space or fix permissions, then --resume") from None
    return final


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # alive, someone else's
        return True
    return True


def sweep_stale(run_dir: Path) -> list[Path]:
    """Remove ``checkpoints/.step_*.tmp-PID`` and ``.old-PID`` directories left by writes that
    crashed, when process PID is no longer alive; return what was removed."""
    root = Path(run_dir) / "checkpoints"
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for p in root.iterdir():
        m = _STALE.fullmatch(p.name)
        if m and p.is_dir() and not p.is_symlink() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def read_meta(directory: Path) -> dict[str, Any]:
    path = directory / CONFIG
    if not path.exists():
        raise CheckpointError(f"{directory} is not a pixelar checkpoint (no {CONFIG}); "
                              "pass a run directory or one of its checkpoints/step_* directories")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path} is unreadable or corrupt ({e}); use another checkpoint") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "model" not in meta or "config" not in meta:
        raise CheckpointError(f"{path} is not a pixelar checkpoint config")
    return meta


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """Checkpoints of a run directory, newest first."""
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    found = [(int(p.name[5:]), p) for p in root.iterdir()
             if p.name.startswith("step_") and p.name[5:].isdigit() and p.is_dir()]
    return [p for _, p in sorted(found, key=lambda t: t[0], reverse=True)]   # by the integer step


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint directory itself, or the newest checkpoint of a run directory."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"checkpoint '{p}' does not exist")
    if (p / CONFIG).exists():
        return p
    found = checkpoint_dirs(p)
    if not found:
        raise CheckpointError(f"no checkpoint in '{p}' (expected {CONFIG} or checkpoints/step_*/)")
    return found[0]


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is corrupt or truncated ({e}); use another checkpoint") from None


def weights_file(directory: Path, weights: str = "auto") -> tuple[Path, str]:
    """(file, "ema" | "raw"): which weights ``weights`` ("auto" = EMA when there are any, "ema", "raw") picks."""
    if weights not in ("auto", "ema", "raw"):
        raise CheckpointError(f"weights must be 'auto', 'ema' or 'raw', got {weights!r}")
    has_ema = (directory / EMA_WEIGHTS).exists()
    if weights == "ema" and not has_ema:
        raise CheckpointError(f"{directory} has no EMA weights (it was trained with train.ema=0); "
                              "use --weights raw or auto")
    use_ema = has_ema and weights in ("auto", "ema")
    return directory / (EMA_WEIGHTS if use_ema else WEIGHTS), "ema" if use_ema else "raw"


def read_header(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """{name: (shape, safetensors dtype such as "F32")} from a safetensors file's header alone."""
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="pt") as f:
            out = {}
            for k in f.keys():  # noqa: SIM118 (safe_open is not iterable)
                sl = f.get_slice(k)
                out[k] = (tuple(sl.get_shape()), sl.get_dtype())
            return out
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path} is corrupt or truncated ({str(e).strip()[:200]}); "
                              "use another checkpoint") from None


def load_training_state(directory: Path) -> dict[str, Any]:
    try:
        return torch.load(directory / STATE, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{directory} has no {STATE}: it cannot be resumed") from None
    except Exception as e:  # torch raises several types for truncated or hostile files
        raise CheckpointError(f"{directory / STATE} is corrupt or not a pixelar training state "
                              f"({type(e).__name__}); use another checkpoint") from None
