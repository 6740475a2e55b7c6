"""Per-image exact likelihoods (``pixelar score``): nats and bits/dim of every image, written as CSV or JSON.

:func:`score_images` runs the very computation of :func:`pixelar.evaluation.bpd.evaluate` (the same
batches in the same order, the same fixed-seed generator for models whose figure is a sampled bound,
the same sum of parts for models made of parts) but keeps each image's NLL, so that the exact bits/dim
over all images, sum of nats / (ln 2 x N x D), equals ``pixelar eval`` on the same images.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.base import batch_to
from ..distributions.base import bits_per_dim
from ..errors import PixelarError
from ..imageio import write_atomically
from ..nn.modes import eval_mode
from ..progress import progress as progress_bar
from .bpd import iterate_batches


@torch.no_grad()
def score_images(model: Any, dataset: Any, batch_size: int = 64, progress: bool = False,
                 device: str | torch.device = "cpu", names: list[str] | None = None,
                 desc: str = "score") -> dict[str, np.ndarray]:
    """Each image's negative log-likelihood in nats: {"nll": (N,) float64, and "part:NAME": (N,) float64
    for each part of ``model.part_dims()``}.

    Raises PixelarError naming the image (``names[i]``, else its index) when an NLL is not finite or
    is negative: no bits/dim of a discrete image can be either, so the weights or the data are wrong.
    """
    if batch_size < 1:
        raise PixelarError(f"the batch size must be at least 1, got {batch_size}")
    generator = torch.Generator(device=device).manual_seed(0) if model.is_bound else None
    part_dims = model.part_dims()
    nll, parts = [], {k: [] for k in part_dims}
    bar = progress_bar(total=len(dataset), desc=desc, unit="img", enabled=progress, leave=False)
    with eval_mode(model):
        try:
            for batch in iterate_batches(dataset, batch_size, list(range(len(dataset)))):
                batch = batch_to(batch, device)
                x, cond = batch["image"], model.condition(batch)
                if part_dims:
                    lps = model.log_prob_parts(x, cond)
                    for k, lp in lps.items():
                        parts[k].append(-lp.double().cpu())
                    nll.append(-sum(lp.double() for lp in lps.values()).cpu())
                else:
                    nll.append(-model.log_prob(x, cond, generator=generator).double().cpu())
                bar.update(x.shape[0])
        finally:
            bar.close()
    out = {"nll": torch.cat(nll).numpy() if nll else np.zeros(0)}
    out.update({f"part:{k}": torch.cat(v).numpy() for k, v in parts.items()})
    bad = np.flatnonzero(~np.isfinite(out["nll"]) | (out["nll"] < 0))
    if bad.size:
        i = int(bad[0])
        who = names[i] if names else f"image {i}"
        raise PixelarError(f"the model gives {who} an impossible NLL ({out['nll'][i]} nats; bits/dim must be "
                           f"finite and >= 0): its weights are broken or the image is not what it models")
    return out


def summary(nll: np.ndarray, dims: int) -> dict[str, Any]:
    """Exact figures over all images: bits/dim = sum of nats / (ln 2 x N x D), never a mean of means."""
    n = int(nll.size)
    if n == 0:
        raise PixelarError("no images to score")
    total = float(nll.sum())
    return {"num_images": n, "num_dims": n * dims, "bits_per_dim": bits_per_dim(total, n * dims),
            "nats_per_image": total / n}


SORT_KEYS = {"input": None, "bpd": "bits_per_dim", "nats": "nats", "name": "name",
             "llr": "llr_bits_per_dim", "typicality": "typicality_nats"}


def sort_rows(rows: list[dict[str, Any]], key: str, descending: bool = False) -> list[dict[str, Any]]:
    """Rows in input order (``key="input"``) or sorted by a column (``SORT_KEYS``); ties keep input order."""
    if key not in SORT_KEYS:
        raise PixelarError(f"--sort must be one of {', '.join(SORT_KEYS)}, got {key!r}")
    column = SORT_KEYS[key]
    if column is None:
        return list(reversed(rows)) if descending else list(rows)
    if rows and column not in rows[0]:
        need = {"llr": "--reference", "typicality": "--typicality-from"}[key]
        raise PixelarError(f"--sort {key} needs {need}; pass it or sort by bpd")
    return sorted(rows, key=lambda r: r[column], reverse=descending)


def _render(rows: list[dict[str, Any]], head: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({**head, "rows": rows}, indent=1, allow_nan=False) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["name"], lineterminator="\n")
    writer.writeheader()
    for r in rows:   # floats as repr: every digit, so the file reproduces the numbers exactly
        writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def output_format(path: str | os.PathLike) -> str:
    """"csv" or "json" from the file name; anything else is refused."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise PixelarError(f"--out {path}: the file name must end in .csv or .json")
    return suffix[1:]


def write_scores(path: str | os.PathLike, rows: list[dict[str, Any]], head: dict[str, Any],
                 force: bool = False) -> Path:
    """Write ``rows`` (CSV: one line each, under a header) or ``head`` + rows (JSON) atomically."""
    text = _render(rows, head, output_format(path))
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), force)


def map_paths(directory: str | os.PathLike, names: list[str]) -> list[Path]:
    """One PNG per image in ``directory``: ``00012_<file name, unsafe characters as _>.png``."""
    d = Path(directory)
    return [d / f"{k:05d}_{re.sub(r'[^A-Za-z0-9._-]+', '_', Path(n).name)[:80]}.png" for k, n in enumerate(names)]


def write_nll_maps(model: Any, dataset: Any, paths: list[Path], force: bool = False) -> None:
    """Each image of ``dataset`` beside its bits-per-pixel heat map (:func:`nll_map.write_nll_map`), one file each."""
    from .nll_map import write_nll_map
    for k, p in enumerate(paths):
        write_nll_map(model, [dataset[k]], p, num_images=1, force=force)


def rows_for(items: list[Any], nll: np.ndarray, dims: int, parts: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The table: one dict per image (index, name, path, item, nats, bits_per_dim, part columns)."""
    ln2d = math.log(2.0) * dims
    rows = []
    for i, it in enumerate(items):
        row = {"index": i, "name": it.name, "path": it.path, "item": it.item,
               "nats": float(nll[i]), "bits_per_dim": float(nll[i]) / ln2d}
        for k, v in parts.items():
            row[f"{k.replace(':', '_')}_nats"] = float(v[i])
        rows.append(row)
    return rows


def add_reference_columns(rows: list[dict[str, Any]], nll: np.ndarray, nll_ref: np.ndarray, dims: int) -> None:
    """Ren et al.'s likelihood ratio beside each row: ref_nats, ref_bits_per_dim (the background model's
    NLL), llr_nats = log p_model - log p_ref = ref_nats - nats, llr_bits_per_dim = llr_nats / (ln 2 x D)."""
    from .ood import likelihood_ratio
    llr = likelihood_ratio(nll, nll_ref)
    for r, ref, v in zip(rows, nll_ref, llr):
        r.update(ref_nats=float(ref), ref_bits_per_dim=bits_per_dim(float(ref), dims),
                 llr_nats=float(v), llr_bits_per_dim=bits_per_dim(float(v), dims))


def add_typicality_columns(rows: list[dict[str, Any]], nll: np.ndarray, entropy: float, m: int,
                           threshold: float) -> dict[str, Any]:
    """Nalisnick et al.'s typicality test beside each row (rows in input order): typicality_nats =
    |nats - H|; typicality_batch = k for the k-th run of ``m`` consecutive images (None past the last
    full batch); typicality_batch_nats = eps of that batch = |its mean NLL - H|; typicality_ood =
    eps > ``threshold``. Returns the per-batch figures for the summary."""
    from .ood import typicality_scores, typicality_statistic
    per_image = typicality_scores(nll, entropy)
    eps = typicality_statistic(nll, entropy, m)
    for i, (r, t) in enumerate(zip(rows, per_image)):
        k = i // m
        inside = k < eps.size
        r.update(typicality_nats=float(t), typicality_batch=k if inside else None,
                 typicality_batch_nats=float(eps[k]) if inside else None,
                 typicality_ood=bool(eps[k] > threshold) if inside else None)
    return {"num_batches": int(eps.size), "num_ood_batches": int((eps > threshold).sum()),
            "left_out_images": int(len(rows) - eps.size * m), "batch_statistic_nats": [float(e) for e in eps]}
