"""Models that are products of autoregressive factors (Kolesnikov & Lampert 2017, eq. 5).

The auxiliary variables y_1..y_L are fixed functions of x (a grayscale view, a pyramid of
down-sampled images), so

    log p(x) >= log p(y_L) + ... + log p(x | y_1)

and every factor is an ordinary autoregressive model of its own variable given the ones it is
conditioned on. :class:`ProductOfFactors` writes the likelihood of such a model once: the network
output is a dict of per-part parameters, each part is scored by its distribution on its target
(the part's variable, computed from x), the parts add up to the bound ``log_prob`` reports, and
``part_dims`` says how many dimensions each part scores. Subclasses say what the parts are.
"""
from __future__ import annotations

from typing import Any

import torch

from ..distributions.base import Distribution
from ..errors import PixelarError
from .base import AutoregressiveModel


class ProductOfFactors(AutoregressiveModel):
    """Base class of the auxiliary-variable models; subclasses implement the four part methods."""

    can_complete = False      # given pixels of x do not fix the auxiliary variables' factors

    # ---- what the parts are (subclasses) -------------------------------------------------------
    @property
    def part_names(self) -> list[str]:
        """Every part, in the order the bound sums them."""
        raise NotImplementedError

    def part_params(self, x: torch.Tensor, parts: list[str]) -> dict[str, torch.Tensor]:
        """{part: distribution parameters (N, P, h, w)} for the named parts of images x."""
        raise NotImplementedError

    def part_targets(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """{part: the integer variable (N, c, h, w) that part models}, computed from x."""
        raise NotImplementedError

    def trained_parts(self) -> list[str]:
        """The parts the training loss covers (all, unless the config trains one part alone)."""
        return self.part_names

    def part_distribution(self, part: str) -> Distribution:
        """The distribution scoring ``part`` (the model's own by default)."""
        return self.distribution

    # ---- sequential coding (pixelar.codec) ------------------------------------------------------
    def coding_order(self) -> list[str]:
        """The parts in an order where each is modelled given only the ones before it; the last is x."""
        raise NotImplementedError

    def factor_given(self, part: str, earlier: dict[str, torch.Tensor]) -> AutoregressiveModel:
        """The ordinary autoregressive model of ``part``'s variable given the values (N, c, h, w) of the
        parts before it in ``coding_order()``: what an entropy coder codes that part with."""
        raise NotImplementedError

    # ---- the likelihood, written once ---------------------------------------------------------
    @property
    def is_bound(self) -> bool:
        return len(self.part_names) > 1

    def forward(self, x: torch.Tensor, cond: Any = None) -> dict[str, torch.Tensor]:
        """{part: params}; in training mode only the ``trained_parts`` (the loss is then theirs alone)."""
        self.check_input(x, cond)
        return self.part_params(x, self.trained_parts() if self.training else self.part_names)

    def log_prob_parts_from_params(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> dict[str, torch.Tensor]:
        targets = self.part_targets(x)
        return {name: self.part_distribution(name).log_prob(params[name], targets[name])
                for name in self.part_names if name in params}

    def log_prob_from_params(self, params: Any, x: torch.Tensor,
                             generator: torch.Generator | None = None) -> torch.Tensor:
        return sum(self.log_prob_parts_from_params(params, x).values())

    def log_prob_parts(self, x: torch.Tensor, cond: Any = None) -> dict[str, torch.Tensor]:
        """{part: log-probability in nats per image (N,)}; their sum is ``log_prob``."""
        self.check_input(x, cond)
        return self.log_prob_parts_from_params(self.part_params(x, self.part_names), x)

    def log_prob(self, x: torch.Tensor, cond: Any = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """The sum of the parts in nats per image (N,): a lower bound on log p(x) (eq. 5)."""
        return sum(self.log_prob_parts(x, cond).values())

    def log_prob_elementwise(self, x: torch.Tensor, cond: Any = None) -> torch.Tensor:
        raise PixelarError(f"{self.name}: the factors model variables of different sizes, so there is no "
                           "per-sub-pixel map of x; use log_prob_parts")
