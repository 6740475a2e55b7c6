"""Module-mode helpers shared by every layer above."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.utils.checkpoint
from torch import nn


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Run the block with ``module`` in eval mode (no dropout noise), then restore its previous mode."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def maybe_checkpoint(layer: nn.Module, *args: Any, enabled: bool) -> Any:
    """``layer(*args)``, with gradient checkpointing (recompute the activations in backward instead of
    keeping them) when ``enabled`` and the layer trains with gradients. preserve_rng_state (the
    default) replays the same dropout masks in the recomputation, so the gradients are unchanged."""
    if enabled and layer.training and torch.is_grad_enabled():
        return torch.utils.checkpoint.checkpoint(layer, *args, use_reentrant=False)
    return layer(*args)
