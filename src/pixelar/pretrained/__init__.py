"""Pretrained checkpoints shipped inside the package, loaded by name: ``pixelar.load("pretrained:NAME")``.

Each checkpoint is a folder ``pretrained/<NAME>/`` holding an ordinary pixelar checkpoint
(``config.json``, ``model.safetensors``, ``ema.safetensors``) and one entry of ``manifest.json``:

    {"format": "pixelar-pretrained", "entries": {NAME: {
        "model": "pixelcnn", "preset": "small", "overrides": {...},   # how it was built
        "files": {"config.json": SHA256, ...},                        # every file of the folder
        "training_data": "...", "steps": N, "wall_seconds": S, "machine": "...",
        "figure": {"dataset": "natural", "split": "test", "metric": "bits_per_dim", "value": V,
                   "bits_per_dim": B, "nats_per_image": Q, "num_images": M, "weights": "ema"},
        "train_command": "...", "figure_command": "pixelar eval --checkpoint pretrained:NAME ...",
        "description": "..."}}}

Every file's sha256 is checked against the manifest before a byte of it is loaded, so a damaged
or edited checkpoint is refused with one line instead of giving different figures. Entries are
added with ``benchmarks/add_pretrained.py`` (docs/pretrained.md).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import CheckpointError

ROOT = Path(__file__).parent          # read at call time, so tests can point it at a copy
MANIFEST = "manifest.json"
FORMAT = "pixelar-pretrained"
PREFIX = "pretrained:"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest(root: Path | None = None) -> dict[str, dict[str, Any]]:
    """The entries of ``manifest.json``, by name (empty when there is no manifest)."""
    path = (root or ROOT) / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path} is unreadable or corrupt ({e}); reinstall pixelar") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), dict):
        raise CheckpointError(f"{path} is not a pixelar pretrained manifest; reinstall pixelar")
    return data["entries"]


def names(root: Path | None = None) -> list[str]:
    return sorted(manifest(root))


def entry(name: str, root: Path | None = None) -> dict[str, Any]:
    """The manifest entry of ``name``; CheckpointError (one line, listing the known names) if unknown."""
    entries = manifest(root)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "(none shipped)"
        raise CheckpointError(f"no pretrained checkpoint '{name}'; known: {known} (see `pixelar pretrained`)")
    return entries[name]


def checkpoint_dir(name: str, root: Path | None = None) -> Path:
    """The verified checkpoint folder of pretrained ``name``.

    Every file the manifest lists must exist with its sha256, and the folder must hold no other
    file; otherwise CheckpointError names the first file that differs.
    """
    root = root or ROOT
    e = entry(name, root)
    folder = root / name
    files = e.get("files") or {}
    if not files:
        raise CheckpointError(f"pretrained '{name}' lists no files in {root / MANIFEST}; reinstall pixelar")
    for file, expected in sorted(files.items()):
        path = folder / file
        if not path.is_file():
            raise CheckpointError(f"pretrained '{name}': {path} is missing; reinstall pixelar")
        actual = file_sha256(path)
        if actual != expected:
            raise CheckpointError(f"pretrained '{name}': {path} has sha256 {actual[:16]}..., the manifest says "
                                  f"{expected[:16]}...; the file is damaged or was edited: reinstall pixelar")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in files)
    if extra:
        raise CheckpointError(f"pretrained '{name}': {folder / extra[0]} is not in the manifest; remove it "
                              "or reinstall pixelar")
    return folder


__all__ = ["FORMAT", "MANIFEST", "PREFIX", "ROOT", "checkpoint_dir", "entry", "file_sha256", "manifest", "names"]
