"""Finite weights only: a step that makes a parameter NaN or inf is undone, and no such weights
are ever written as a checkpoint.

The loss and the gradient norm can both be finite while the update is not (``lr=inf``, or an
overflow in the optimizer), so the parameters themselves are checked after ``optimizer.step()``.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch


@torch.no_grad()
def all_finite(tensors: Iterable[torch.Tensor]) -> bool:
    """True when every floating-point tensor holds only finite values (one device sync)."""
    # amax of |t| is NaN when t holds a NaN and inf when it holds an inf
    peaks = [t.detach().abs().amax().float() for t in tensors if t.is_floating_point() and t.numel()]
    return not peaks or bool(torch.isfinite(torch.stack([p.to(peaks[0].device) for p in peaks])).all())


class UpdateGuard:
    """Keeps a copy of the parameters from before the step, to put back if the step breaks them.

    The copy (one more set of weights in memory) is reused from step to step.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter]) -> None:
        self.params = [p for p in params]
        self.backup: list[torch.Tensor] | None = None

    @torch.no_grad()
    def snapshot(self) -> None:
        if self.backup is None:
            self.backup = [p.detach().clone() for p in self.params]
        else:
            for b, p in zip(self.backup, self.params):
                b.copy_(p)

    @torch.no_grad()
    def check_or_restore(self) -> bool:
        """True if the parameters are finite; else put the snapshot back and return False."""
        if all_finite(self.params):
            return True
        assert self.backup is not None, "snapshot() before the step"
        for b, p in zip(self.backup, self.params):
            p.copy_(b)
        return False
