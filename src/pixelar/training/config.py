"""Training recipe: optimizer, schedule, EMA, batch, stopping and checkpoint cadence."""
from __future__ import annotations

import dataclasses
import math
from typing import Literal

from ..errors import ConfigError


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    optimizer: Literal["adam", "adamax", "rmsprop"] = "adam"
    lr: float = 1e-3
    lr_decay: float = 1.0          # multiplied into the learning rate after every step
    # Decay to a final rate: lr at step 0, lr_final at step lr_decay_steps and after, geometric
    # in between (lr_final = 0: off). Reed et al. "initially to 1e-4 and decayed to 1e-5".
    lr_final: float = 0.0
    lr_decay_steps: int = 0
    # Step decays: the rate is multiplied by lr_gamma at each milestone step (Reed et al. video:
    # "decayed by factor 0.3 after 83K steps and after 113K steps").
    lr_milestones: tuple[int, ...] = ()
    lr_gamma: float = 1.0
    betas: tuple[float, ...] = (0.9, 0.999)
    rmsprop_alpha: float = 0.95    # RMSprop smoothing (PixelRNN §5 names RMSProp, not its decay: text silent, our choice)
    rmsprop_eps: float = 1e-8
    rmsprop_centered: bool = False  # normalize by the gradient's variance, not its raw second moment
    weight_decay: float = 0.0
    grad_clip: float = 0.0         # max global gradient norm; 0 = off
    ema: float = 0.0               # Polyak averaging decay; 0 = off (warmed up: see training/ema.py)
    batch_size: int = 16           # per process and per micro-batch
    hflip: bool = False            # random horizontal flips of the training images (data/transforms.RandomHFlip)
    accumulate: int = 1            # micro-batches whose gradients are summed into one step
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"   # network autocast; log-probs stay fp32
    # The layout of the 4-D weights, and so of every convolution's output: channels_last (NHWC) lets
    # oneDNN skip its reorders on the CPU (benchmarks/precision.py --layouts); the values are the same.
    memory_format: Literal["contiguous", "channels_last"] = "contiguous"
    eval_batch_size: int = 64
    seed: int = 0
    log_every: int = 50            # steps between metrics.jsonl lines
    eval_every: int = 0            # steps between test evaluations; 0 = only at the end
    eval_max_images: int = 0       # 0 = the whole evaluation split
    checkpoint_every: int = 500    # steps between checkpoints (one is always written at the end)
    keep_checkpoints: int = 3
    max_nonfinite_in_a_row: int = 10   # skipped non-finite steps in a row before the run stops

    def validate(self) -> None:
        """Refuse every value that cannot train as asked, with one line naming the key (train.KEY)."""
        def finite(name: str, value: float) -> None:
            if not math.isfinite(value):
                raise ConfigError(f"train.{name} must be a finite number, got {value}")
        for name in ("lr", "lr_decay", "lr_final", "lr_gamma", "rmsprop_alpha", "rmsprop_eps", "weight_decay", "grad_clip", "ema"):
            finite(name, getattr(self, name))
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ConfigError(f"train.batch_size and train.eval_batch_size must be >= 1, "
                              f"got {self.batch_size} and {self.eval_batch_size}")
        if self.lr <= 0:
            raise ConfigError(f"train.lr must be > 0, got {self.lr}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"train.ema must be in [0, 1), got {self.ema}")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ConfigError(f"train.lr_decay must be in (0, 1], got {self.lr_decay}")
        if self.lr_final < 0 or self.lr_final > self.lr:
            raise ConfigError(f"train.lr_final must be in [0, train.lr] (0 = off), got {self.lr_final}")
        if (self.lr_final > 0) != (self.lr_decay_steps > 0):
            raise ConfigError(f"train.lr_final and train.lr_decay_steps go together (got {self.lr_final} and "
                              f"{self.lr_decay_steps}): set both, e.g. train.lr_final=1e-5 train.lr_decay_steps=200000")
        if self.lr_decay_steps < 0:
            raise ConfigError(f"train.lr_decay_steps must be >= 0, got {self.lr_decay_steps}")
        if list(self.lr_milestones) != sorted(set(self.lr_milestones)) or any(m < 1 for m in self.lr_milestones):
            raise ConfigError(f"train.lr_milestones must be increasing steps >= 1, got {tuple(self.lr_milestones)}")
        if not 0.0 < self.lr_gamma <= 1.0:
            raise ConfigError(f"train.lr_gamma must be in (0, 1], got {self.lr_gamma}")
        if self.accumulate < 1:
            raise ConfigError(f"train.accumulate must be >= 1, got {self.accumulate}")
        if self.keep_checkpoints < 1:
            raise ConfigError(f"train.keep_checkpoints must be >= 1, got {self.keep_checkpoints}")
        if len(self.betas) != 2:
            raise ConfigError("train.betas takes two numbers, e.g. train.betas=0.95,0.9995")
        for b in self.betas:
            if not (math.isfinite(b) and 0.0 <= b < 1.0):
                raise ConfigError(f"train.betas must both be in [0, 1), got {tuple(self.betas)}")
        if not 0.0 < self.rmsprop_alpha < 1.0:
            raise ConfigError(f"train.rmsprop_alpha must be in (0, 1), got {self.rmsprop_alpha}")
        if self.rmsprop_eps <= 0:
            raise ConfigError(f"train.rmsprop_eps must be > 0, got {self.rmsprop_eps}")
        if self.weight_decay < 0:
            raise ConfigError(f"train.weight_decay must be >= 0, got {self.weight_decay}")
        if self.grad_clip < 0:
            raise ConfigError(f"train.grad_clip must be >= 0 (0 = off), got {self.grad_clip}")
        if not 0 <= self.seed < 2 ** 32:
            raise ConfigError(f"train.seed must be in 0..{2 ** 32 - 1}, got {self.seed}")
        if self.log_every < 1:
            raise ConfigError(f"train.log_every must be >= 1, got {self.log_every}")
        if self.checkpoint_every < 1:
            raise ConfigError(f"train.checkpoint_every must be >= 1 (one is also written at the end), "
                              f"got {self.checkpoint_every}")
        if self.eval_every < 0:
            raise ConfigError(f"train.eval_every must be >= 0 (0 = only at the end), got {self.eval_every}")
        if self.eval_max_images < 0:
            raise ConfigError(f"train.eval_max_images must be >= 0 (0 = all), got {self.eval_max_images}")
        if self.max_nonfinite_in_a_row < 1:
            raise ConfigError(f"train.max_nonfinite_in_a_row must be >= 1, got {self.max_nonfinite_in_a_row}")

    def lr_at(self, step: int) -> float:
        """The learning rate of optimizer step ``step`` (0-based): a function of the step alone, so a
        resumed run follows the same schedule. lr · lr_decay^step · (lr_final/lr)^(min(step, T)/T) ·
        lr_gamma^(milestones passed). The paper says only "decayed to"; the geometric path is our choice."""
        rate = self.lr * self.lr_decay ** step
        if self.lr_final > 0:
            rate *= (self.lr_final / self.lr) ** (min(step, self.lr_decay_steps) / self.lr_decay_steps)
        return rate * self.lr_gamma ** sum(step >= m for m in self.lr_milestones)
