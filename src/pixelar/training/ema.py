"""Polyak averaging (exponential moving average) of model parameters."""
from __future__ import annotations

import torch
from torch import nn


class EMA:
    """theta_ema <- decay * theta_ema + (1 - decay) * theta after every step (buffers copied)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.state[k].mul_(self.decay).add_(v.detach(), alpha=1.0 - self.decay)
            else:
                self.state[k].copy_(v)

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        for k in self.state:
            self.state[k].copy_(state[k])
