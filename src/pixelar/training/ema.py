"""Polyak averaging (exponential moving average) of model parameters, with a warm-up of the decay."""
from __future__ import annotations

import torch
from torch import nn


def warmed_up_decay(decay: float, updates: int) -> float:
    """The decay used for update number ``updates`` (0 for the first): min(decay, (1 + t) / (10 + t)).

    Early in training the raw weights move fast and the initial weights are worthless, so a fixed
    decay of 0.9995 would keep the average near the initialization for thousands of steps. The
    warm-up (the schedule timm's ModelEmaV2 and ema-pytorch use) starts at 0.1 and reaches 0.9 at
    t = 80, 0.999 at t = 8,991: the average forgets the initialization quickly, then settles at
    ``decay``. It depends only on the step count, so a resumed run applies the same decays.
    """
    return min(decay, (1.0 + updates) / (10.0 + updates))


class EMA:
    """theta_ema <- d_t * theta_ema + (1 - d_t) * theta after every step, d_t = warmed_up_decay(decay, t);
    buffers are copied."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, updates: int) -> None:
        """Fold ``model``'s weights in; ``updates`` = the number of optimizer steps taken before this one."""
        d = warmed_up_decay(self.decay, updates)
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.state[k].mul_(d).add_(v.detach(), alpha=1.0 - d)
            else:
                self.state[k].copy_(v)

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        for k in self.state:
            self.state[k].copy_(state[k])
