"""Out-of-distribution scores from exact likelihoods: likelihood ratio, typicality, AUROC.

Every function takes per-image negative log-likelihoods in **nats** (float64 arrays of shape
(N,), as :func:`pixelar.evaluation.score.score_images` returns them) and never runs a model;
the command or benchmark scores the images and passes the numbers in.

* **Likelihood ratio** (Ren et al. 2019, "Likelihood Ratios for Out-of-Distribution
  Detection"): LLR(x) = log p_model(x) - log p_ref(x), with p_ref a *background* model that
  captures the population-level statistics (Ren et al. train it on inputs perturbed by
  :func:`perturb`). High LLR = in-distribution; the OOD score is -LLR.
* **Typicality** (Nalisnick et al. 2019, "Detecting Out-of-Distribution Inputs to Deep
  Generative Models Using Typicality"): the entropy of the data, H, is estimated by the mean NLL
  over in-distribution images; a batch of M images is atypical when
  eps = | mean_m NLL(x_m) - H | exceeds a threshold eps_alpha^M, the (1 - alpha) quantile of
  eps over bootstrap batches of M in-distribution images. M = 1 gives the per-image score
  |NLL(x) - H|.
* **AUROC** of a score where higher means "more OOD", in plain numpy (rank statistic, ties 1/2).

The papers' text is not in ../shared/papers; what is computed here is written out in
docs/score.md, and choices the summaries we worked from leave open are marked "text silent".
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..data.transforms import seeded_generator
from ..errors import PixelarError


def _nats(a: Any, what: str) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    if x.size and not np.isfinite(x).all():
        raise PixelarError(f"{what} holds non-finite values; score the images again")
    return x


def likelihood_ratio(nll_model: Any, nll_ref: Any) -> np.ndarray:
    """Ren et al.'s LLR per image in nats: log p_model(x) - log p_ref(x) = NLL_ref - NLL_model, (N,).

    Positive = the model explains x better than the background model (in-distribution)."""
    a, b = _nats(nll_model, "the model's NLL"), _nats(nll_ref, "the reference model's NLL")
    if a.shape != b.shape:
        raise PixelarError(f"the model scored {a.size} images and the reference {b.size}; score the same images")
    return b - a


def entropy_estimate(nll: Any) -> float:
    """H in nats per image: the mean NLL over in-distribution images (Nalisnick et al.'s H-hat)."""
    x = _nats(nll, "the in-distribution NLL")
    if x.size == 0:
        raise PixelarError("the typicality test needs at least one in-distribution image to estimate H")
    return float(x.sum() / x.size)


def typicality_scores(nll: Any, entropy: float) -> np.ndarray:
    """Per-image |NLL(x) - H| in nats, (N,): the typicality statistic with M = 1."""
    return np.abs(_nats(nll, "the NLL") - entropy)


def typicality_statistic(nll: Any, entropy: float, m: int) -> np.ndarray:
    """eps for consecutive batches of ``m`` images: |mean of each batch's NLL - H| in nats, (N // m,).

    Images past the last full batch are left out (text silent on a ragged last batch: a shorter
    batch would be tested against the threshold of another M)."""
    if m < 1:
        raise PixelarError(f"the typicality batch size M must be at least 1, got {m}")
    x = _nats(nll, "the NLL")
    k = x.size // m
    return np.abs(x[: k * m].reshape(k, m).mean(axis=1) - entropy)


def bootstrap_threshold(nll_in: Any, entropy: float, m: int, alpha: float = 0.01,
                        num_bootstrap: int = 1000, seed: int = 0) -> float:
    """eps_alpha^M: the (1 - alpha) quantile of eps over ``num_bootstrap`` batches of ``m`` images drawn
    with replacement from the in-distribution NLLs ``nll_in`` (nats). A batch whose eps exceeds it
    is declared OOD, at a false-alarm rate of about alpha on in-distribution batches."""
    x = _nats(nll_in, "the in-distribution NLL")
    if x.size == 0 or m < 1 or num_bootstrap < 1 or not 0.0 < alpha < 1.0:
        raise PixelarError(f"bootstrap needs images, M >= 1, a positive count and 0 < alpha < 1 "
                           f"(got {x.size} images, M={m}, {num_bootstrap} draws, alpha={alpha})")
    rng = np.random.default_rng(seed)
    draws = x[rng.integers(0, x.size, size=(num_bootstrap, m))]        # (B, M) nats
    eps = np.abs(draws.mean(axis=1) - entropy)
    return float(np.quantile(eps, 1.0 - alpha))


def auroc(scores_in: Any, scores_out: Any) -> float:
    """Area under the ROC curve of a score where higher = more OOD: the probability that a random
    OOD image scores above a random in-distribution one, ties counting 1/2 (Mann-Whitney U / n m).

    0.5 = chance; below 0.5 the score ranks the OOD images as *more* in-distribution."""
    a = np.asarray(scores_in, dtype=np.float64).reshape(-1)
    b = np.asarray(scores_out, dtype=np.float64).reshape(-1)
    if a.size == 0 or b.size == 0:
        raise PixelarError("AUROC needs at least one in-distribution and one OOD score")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise PixelarError("AUROC of non-finite scores is undefined")
    both = np.concatenate([a, b])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(both.size, dtype=np.float64)
    ranks[order] = np.arange(1, both.size + 1, dtype=np.float64)
    # Tied values share the mean of their ranks, which counts each in/OOD tie as 1/2.
    values, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    if values.size < both.size:
        sums = np.bincount(inverse, weights=ranks)
        ranks = (sums / counts)[inverse]
    u = ranks[a.size:].sum() - b.size * (b.size + 1) / 2.0     # pairs (in, OOD) with OOD above
    return float(u / (a.size * b.size))


def perturb(x: torch.Tensor, rate: float, num_levels: int, generator: torch.Generator) -> torch.Tensor:
    """Ren et al.'s input perturbation for training a background model: each pixel is chosen with
    probability ``rate`` and its value replaced by one drawn uniformly from 0..K-1.

    x: (C, H, W) or (N, C, H, W) integer levels; returns a new tensor of the same dtype. For colour
    images a chosen pixel gets an independent uniform value per channel (text silent: the paper's
    image experiments are on grayscale Fashion-MNIST)."""
    if not 0.0 <= rate <= 1.0:
        raise PixelarError(f"the perturbation rate must be in 0..1, got {rate}")
    chosen = torch.rand(x.shape[:-3] + x.shape[-2:], generator=generator) < rate     # (..., H, W)
    noise = torch.randint(0, num_levels, x.shape, generator=generator, dtype=torch.int64)
    return torch.where(chosen.unsqueeze(-3), noise, x.long()).to(x.dtype)


class PerturbedDataset(torch.utils.data.Dataset):
    """``base`` with every image perturbed by :func:`perturb`; item i of epoch e is the same on every run
    (its generator is seeded by (seed, epoch, i)), so training on it stays resumable."""

    def __init__(self, base: Any, rate: float, seed: int = 0) -> None:
        self.base, self.rate, self.seed, self.epoch = base, rate, seed, 0
        self.info = base.info

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        x, label = self.base[i]
        g = seeded_generator(self.seed, self.epoch, i)
        return perturb(x, self.rate, self.info.num_levels, g), label


def nats_to_bits_per_dim(nats: Any, dims: int) -> np.ndarray:
    """nats per image -> bits per dimension (any sign: a likelihood ratio converts the same way)."""
    return np.asarray(nats, dtype=np.float64) / (math.log(2.0) * dims)
