"""Training recipe: optimizer, schedule, EMA, batch, stopping and checkpoint cadence."""
from __future__ import annotations

import dataclasses
from typing import Literal

from ..errors import ConfigError


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    optimizer: Literal["adam", "adamax", "rmsprop"] = "adam"
    lr: float = 1e-3
    lr_decay: float = 1.0          # multiplied into the learning rate after every step
    betas: tuple[float, ...] = (0.9, 0.999)
    rmsprop_alpha: float = 0.95    # RMSprop smoothing (PixelRNN's training section)
    rmsprop_eps: float = 1e-8
    weight_decay: float = 0.0
    grad_clip: float = 0.0         # max global gradient norm; 0 = off
    ema: float = 0.0               # Polyak averaging decay; 0 = off
    batch_size: int = 16           # per process and per micro-batch
    accumulate: int = 1            # micro-batches whose gradients are summed into one step
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"   # network autocast; log-probs stay fp32
    eval_batch_size: int = 64
    seed: int = 0
    log_every: int = 50            # steps between metrics.jsonl lines
    eval_every: int = 0            # steps between test evaluations; 0 = only at the end
    eval_max_images: int = 0       # 0 = the whole evaluation split
    checkpoint_every: int = 500    # steps between checkpoints (one is always written at the end)
    keep_checkpoints: int = 3
    max_nonfinite_in_a_row: int = 10   # skipped non-finite steps in a row before the run stops

    def validate(self) -> None:
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ConfigError("batch sizes must be >= 1")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema must be in [0, 1), got {self.ema}")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ConfigError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        if self.accumulate < 1:
            raise ConfigError(f"accumulate must be >= 1, got {self.accumulate}")
        if self.keep_checkpoints < 1:
            raise ConfigError("keep_checkpoints must be >= 1")
        if len(self.betas) != 2:
            raise ConfigError("betas takes two numbers, e.g. train.betas=0.95,0.9995")
