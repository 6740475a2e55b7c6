"""OOD scores: AUROC against hand cases, the likelihood ratio, the typicality statistic, perturbations."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from pixelar.errors import PixelarError
from pixelar.evaluation import ood


def auroc_by_pairs(a, b):
    """The definition: the fraction of (in, OOD) pairs with the OOD score above, ties 1/2."""
    return np.mean([1.0 if y > x else 0.5 if y == x else 0.0 for x, y in itertools.product(a, b)])


def test_auroc_hand_cases():
    assert ood.auroc([1, 2, 3], [4, 5]) == 1.0
    assert ood.auroc([4, 5], [1, 2, 3]) == 0.0
    assert ood.auroc([1, 1], [1, 1, 1]) == 0.5
    # in = {0.1, 0.4, 0.35, 0.8}, OOD = {0.3, 0.9, 0.4}: pairs with OOD above: 0.3 > 0.1 (1);
    # 0.9 above all four (4); 0.4 > 0.1, 0.35 and ties 0.4 (2.5): 7.5 of 12.
    assert ood.auroc([0.1, 0.4, 0.35, 0.8], [0.3, 0.9, 0.4]) == pytest.approx(7.5 / 12)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 20, 57), rng.integers(5, 25, 43)     # many ties
    assert ood.auroc(a, b) == pytest.approx(auroc_by_pairs(a, b), abs=1e-12)
    with pytest.raises(PixelarError):
        ood.auroc([], [1.0])
    with pytest.raises(PixelarError):
        ood.auroc([float("nan")], [1.0])


def test_likelihood_ratio_and_units():
    llr = ood.likelihood_ratio([10.0, 20.0], [12.0, 15.0])      # NLLs in nats
    assert llr.tolist() == [2.0, -5.0]                           # log p_model - log p_ref
    assert ood.nats_to_bits_per_dim([np.log(2) * 6], 3)[0] == pytest.approx(2.0)
    with pytest.raises(PixelarError):
        ood.likelihood_ratio([1.0], [1.0, 2.0])


def test_typicality_statistic_by_hand():
    nll = np.array([10.0, 12.0, 20.0, 22.0, 11.0])
    h = ood.entropy_estimate([10.0, 11.0, 12.0])
    assert h == 11.0
    assert ood.typicality_scores(nll, h).tolist() == [1.0, 1.0, 9.0, 11.0, 0.0]
    assert ood.typicality_statistic(nll, h, 2).tolist() == [0.0, 10.0]       # last image left out
    assert ood.typicality_statistic(nll, h, 1).tolist() == [1.0, 1.0, 9.0, 11.0, 0.0]
    with pytest.raises(PixelarError):
        ood.typicality_statistic(nll, h, 0)


def test_bootstrap_threshold():
    rng = np.random.default_rng(1)
    nll_in = rng.normal(100.0, 5.0, 2000)
    h = ood.entropy_estimate(nll_in)
    t1 = ood.bootstrap_threshold(nll_in, h, 1, alpha=0.05, num_bootstrap=4000)
    t25 = ood.bootstrap_threshold(nll_in, h, 25, alpha=0.05, num_bootstrap=4000)
    # |N(0, s^2 / M)| has its 95% quantile at 1.96 s / sqrt(M): 9.8 and 1.96 here.
    assert 8.8 < t1 < 10.8 and 1.6 < t25 < 2.35
    assert t1 == ood.bootstrap_threshold(nll_in, h, 1, alpha=0.05, num_bootstrap=4000)   # seeded
    # about alpha of the in-distribution batches are flagged
    flagged = (ood.typicality_statistic(rng.normal(100.0, 5.0, 25 * 400), h, 25) > t25).mean()
    assert flagged < 0.12


def test_perturb():
    g = torch.Generator().manual_seed(0)
    x = torch.full((4, 3, 16, 16), 7, dtype=torch.uint8)
    assert torch.equal(ood.perturb(x, 0.0, 256, g), x)
    y = ood.perturb(x, 0.25, 256, g)
    assert y.dtype == torch.uint8 and y.shape == x.shape
    changed = (y != x).any(1).float().mean().item()           # a pixel: all channels chosen together
    assert 0.18 < changed < 0.32
    assert ((y != x).any(1) == (y != x).all(1)).float().mean() > 0.95     # chosen channels nearly all change
    class Base:
        info = type("Info", (), {"num_levels": 256})()

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i], -1

    d = ood.PerturbedDataset(Base(), 0.5, seed=3)
    assert torch.equal(d[1][0], d[1][0]) and not torch.equal(d[1][0], d[2][0])
    first = d[1][0]
    d.set_epoch(1)
    assert not torch.equal(d[1][0], first)
