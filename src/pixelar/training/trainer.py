"""A model-agnostic trainer: optimizer, decay, clipping, EMA, metrics, checkpoints, exact resume.

Resuming restores the weights, optimizer, EMA, step, the position in the
epoch's data order and the RNG state, so N steps in one run and N/2 + N/2
with a resume in between give bit-identical weights on CPU.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from .. import checkpoint as ckpt
from .. import config as config_lib
from ..data.base import batch_to, collate, set_epoch, split_batch
from ..data.transforms import RandomHFlip, seeded_generator
from ..distributions.base import bits_per_dim
from ..errors import PixelarError
from ..evaluation.bpd import evaluate
from ..evaluation.plots import learning_curve_png
from ..parallel import DistContext, all_reduce_sum
from ..progress import EVERY_SECONDS
from ..progress import progress as progress_bar
from .config import TrainConfig
from .ema import EMA
from .guard import UpdateGuard, all_finite
from .loader import BatchPlan, batches, epoch_order
from .lock import RunLock
from .metrics import MetricsLog, TrainWindow
from .resume import resume as resume_run
from .signals import EvaluationInterrupted, StopSignals


def build_optimizer(params: Any, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamax":
        return torch.optim.Adamax(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    return torch.optim.RMSprop(params, lr=cfg.lr, alpha=cfg.rmsprop_alpha, eps=cfg.rmsprop_eps,
                               centered=cfg.rmsprop_centered, weight_decay=cfg.weight_decay)


class TrainingForward(torch.nn.Module):
    """The trainer's forward pass as a module, so that DDP wraps it: ``model.training_output``
    (by default the network's parameters, ``model(x, cond)``)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, cond: Any, generator: torch.Generator) -> Any:
        return self.model.training_output(x, cond, generator)


# a key of the training-loss generator's seed, apart from the data order's and the flips'
_LOSS_KEY = 0x7C0F


class Trainer:
    """Trains ``model`` on ``train_data`` and writes everything into ``out_dir``.

    out_dir/
      metrics.jsonl          one JSON line per log interval / evaluation (training/metrics.py)
      learning_curve.png
      tensorboard/           TensorBoard event files, with ``tensorboard=True``
      checkpoints/step_XXXXXXXX/{config.json, model.safetensors, ema.safetensors, training_state.pt}

    ``progress``: a tqdm bar on a terminal, else a plain line every ``train.log_every`` steps or
    ``log_every_seconds`` seconds (pixelar/progress.py). ``workers``: DataLoader processes that
    decode the training images (0: in this process); the batches are the same either way.
    """

    def __init__(self, model: Any, cfg: TrainConfig, train_data: Any, out_dir: str | os.PathLike,
                 eval_data: Any = None, device: str = "cpu", progress: bool = True,
                 log: Callable[[str], None] = print, extra_meta: dict[str, Any] | None = None,
                 dist_ctx: DistContext | None = None, lock: RunLock | None = None, workers: int = 0,
                 tensorboard: bool = False, log_every_seconds: float = EVERY_SECONDS) -> None:
        cfg.validate()
        if workers < 0:
            raise PixelarError(f"--workers must be >= 0 (0 = decode in the training process), got {workers}")
        if not (math.isfinite(log_every_seconds) and log_every_seconds > 0):
            raise PixelarError(f"--log-every-seconds must be a positive number, got {log_every_seconds}")
        self.ctx = dist_ctx or DistContext()
        self.model = model.to(device)
        if cfg.memory_format == "channels_last":   # only strides change: the same network, the same sums
            self.model.to(memory_format=torch.channels_last)
        # what the forward pass goes through: model.training_output (wrapped in DDP when distributed)
        self.net: torch.nn.Module = TrainingForward(self.model)
        self.cfg = cfg
        self.train_data = RandomHFlip(train_data, cfg.seed) if cfg.hflip else train_data
        self.eval_data = eval_data
        self.out = Path(out_dir)
        self.device = device
        self.progress = progress and self.ctx.is_main
        self.log_every_seconds = log_every_seconds
        self.workers = workers
        self.log = log if self.ctx.is_main else (lambda message: None)
        self.metrics = MetricsLog(self.out, enabled=self.ctx.is_main, tensorboard=tensorboard)
        self.extra_meta = extra_meta or {}
        self.optimizer = build_optimizer(self.model.parameters(), cfg)
        self.ema = EMA(self.model, cfg.ema) if cfg.ema > 0 else None
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.skipped_nonfinite = 0       # steps skipped for a non-finite loss or gradient, in total
        self.nonfinite_in_a_row = 0
        self.elapsed_before = 0.0        # training wall seconds of the run before this process (resumes)
        self._started: float | None = None
        self.signals = StopSignals()
        self.guard = UpdateGuard(self.model.parameters())
        # rank 0 holds out/.lock from resume()/run() to the end of run() (cmd_train takes it earlier)
        self.lock = lock if lock is not None else RunLock(self.out)
        self._own_lock = lock is None
        self.dims = math.prod(model.image_shape)
        self.device_type = torch.device(device).type
        if cfg.precision == "fp16" and self.device_type != "cuda":
            raise PixelarError("train.precision=fp16 needs a GPU (--device cuda); use bf16 on the CPU")
        # fp16 gradients underflow without loss scaling; bf16 has fp32's exponent range and needs none.
        self.scaler = torch.amp.GradScaler("cuda", init_scale=2.0 ** 12) if cfg.precision == "fp16" else None
        self.global_batch = cfg.batch_size * self.ctx.world_size * cfg.accumulate
        if len(train_data) < self.global_batch:
            raise PixelarError(f"the training set has {len(train_data)} images, fewer than one batch "
                               f"({self.global_batch}); lower train.batch_size")
        self.plan = BatchPlan(len(train_data), cfg.seed, self.global_batch, cfg.batch_size * cfg.accumulate,
                              self.ctx.rank)
        self.batches_per_epoch = self.plan.batches_per_epoch

    def elapsed(self) -> float:
        """Training wall seconds since the run began, summed over its resumes (``elapsed_s``)."""
        return self.elapsed_before + (time.monotonic() - self._started if self._started is not None else 0.0)

    def _whole_batch(self) -> dict[str, Any]:
        """The entire current global batch (every process's slice), on the device."""
        set_epoch(self.train_data, self.epoch)
        idx = self.plan.indices(epoch_order(len(self.train_data), self.cfg.seed, self.epoch),
                                self.batch_in_epoch, whole=True)
        return batch_to(collate([self.train_data[i] for i in idx]), self.device)

    # ---- one step ---------------------------------------------------------------------------
    def train_step(self, batch: dict[str, Any]) -> float | None:
        """One optimizer step on a batch (``pixelar.data.collate``); returns the batch's summed nats,
        or None if the step was skipped because the loss or a gradient was not finite (the weights
        are then left untouched)."""
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        chunks = self.cfg.accumulate
        x = batch["image"]
        total, finite = 0.0, True
        for k, micro in enumerate(split_batch(batch, chunks)):
            # Through self.net so that DDP averages the gradients over processes in backward;
            # DDP synchronizes only on the last micro-batch.
            sync = k == chunks - 1 or not isinstance(self.net, DistributedDataParallel)
            with (contextlib.nullcontext() if sync else self.net.no_sync()):
                xc = micro["image"]
                nll = self._nll(xc, self.model.condition(micro), micro=k)   # (b,) nats, float32
                # bits/dim of the whole step: scale-free learning rates, micro-batches summed
                loss = bits_per_dim(nll.sum(), self.dims * x.shape[0])
                (self.scaler.scale(loss) if self.scaler else loss).backward()
            finite = finite and bool(torch.isfinite(loss))
            total += float(nll.detach().double().sum())
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        # The global gradient norm is NaN/inf if any gradient is; max_norm=inf measures without clipping.
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip or math.inf)
        if not (finite and torch.isfinite(norm)):
            if self.scaler is not None:
                self.scaler.update()          # lower the loss scale for the next step
            return self._skip_nonfinite("losses or gradients")
        for group in self.optimizer.param_groups:
            group["lr"] = self.cfg.lr_at(self.step)
        self.guard.snapshot()
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if not self.guard.check_or_restore():     # finite loss and gradients, non-finite update
            return self._skip_nonfinite("updates")
        if self.ema is not None:
            self.ema.update(self.model, self.step)
        self.nonfinite_in_a_row = 0
        self.step += 1
        return total

    def _skip_nonfinite(self, what: str) -> None:
        """Count a skipped step; stop the run after ``max_nonfinite_in_a_row`` of them."""
        self.optimizer.zero_grad(set_to_none=True)
        self.skipped_nonfinite += 1
        self.nonfinite_in_a_row += 1
        if self.nonfinite_in_a_row >= self.cfg.max_nonfinite_in_a_row:
            last = ckpt.checkpoint_dirs(self.out)
            raise PixelarError(
                f"training stopped: {self.nonfinite_in_a_row} non-finite {what} in a row after step "
                f"{self.step}; the last good checkpoint is {last[0] if last else '(none yet)'}; "
                "lower train.lr or set train.grad_clip")
        return None

    def _nll(self, x: torch.Tensor, cond: Any, micro: int = 0) -> torch.Tensor:
        """The training loss in nats per image (``model.training_nll``: -log p(x) unless the model
        declares a cheaper estimate); the network runs under autocast, the distribution in fp32.

        The loss's randomness (random crops) comes from a generator seeded by (seed, step,
        micro-batch, rank): the same on every run and after a resume, with no global RNG state."""
        generator = seeded_generator(self.cfg.seed, self.step, micro, self.ctx.rank, _LOSS_KEY)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.cfg.precision)
        with torch.autocast(self.device_type, dtype=dtype, enabled=dtype is not None):
            out = self.net(x, cond, generator)
        # a tensor or a tuple/list/dict of tensors (models with several factors or terms)
        out = torch.utils._pytree.tree_map(
            lambda t: t.float() if torch.is_tensor(t) and t.is_floating_point() else t, out)
        return self.model.training_nll(out, x)

    # ---- persistence ------------------------------------------------------------------------
    def training_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "step": self.step, "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch, "torch_rng": torch.get_rng_state(),
                "skipped_nonfinite": self.skipped_nonfinite, "elapsed_s": self.elapsed()}

    def save_checkpoint(self) -> Path:
        final = self.out / "checkpoints" / f"step_{self.step:08d}"
        if not self.ctx.is_main:       # every process holds the same state; rank 0 writes it
            return final
        if not all_finite(self.model.state_dict().values()) or (
                self.ema is not None and not all_finite(self.ema.state.values())):
            raise PixelarError(f"training stopped at step {self.step}: the weights are not finite, so no "
                               "checkpoint was written; lower train.lr or set train.grad_clip")
        ckpt.save_model(self.model, final, ema_state=self.ema.state if self.ema else None,
                        training_state=self.training_state(),
                        extra={"train": config_lib.to_dict(self.cfg), "step": self.step, **self.extra_meta})
        for old in ckpt.checkpoint_dirs(self.out)[self.cfg.keep_checkpoints:]:
            shutil.rmtree(old)
        learning_curve_png(self.out / "metrics.jsonl", self.out / "learning_curve.png")
        return final

    def resume(self) -> Path:
        """Continue from the newest checkpoint that loads (``training/resume.py``); say which were skipped."""
        if not self.ctx.is_main or self.lock.held:
            return resume_run(self)
        self.lock.acquire()
        try:
            return resume_run(self)
        finally:
            if self._own_lock:       # run() takes it again; cmd_train holds its own throughout
                self.lock.release()

    def _trim_metrics(self) -> None:
        """Drop metric lines written after the resumed step (by a run that crashed later)."""
        self.metrics.trim(self.step)

    def _append_metrics(self, row: dict[str, Any]) -> None:
        self.metrics.append({"step": row["step"], "time": time.time(), "elapsed_s": self.elapsed(), **row})

    def _log_train(self, window: TrainWindow) -> tuple[float, float]:
        """A train line in metrics.jsonl: bits/dim and images/s of the steps since the last one, summed
        over every process (all-reduced, then divided); returns (bits/dim, images/s)."""
        nats, images, images_per_s = window.report(self.ctx, str(self.device))
        bpd = bits_per_dim(nats, self.dims * images)
        self._append_metrics({"step": self.step, "epoch": self.epoch, "train_bpd": bpd,
                              "lr": self.optimizer.param_groups[0]["lr"], "images_per_s": images_per_s,
                              "skipped_nonfinite": self.skipped_nonfinite})
        return bpd, images_per_s

    # ---- evaluation ---------------------------------------------------------------------------
    def eval_model(self) -> Any:
        """The model used for evaluation and sampling: the EMA weights when there are any."""
        if self.ema is None:
            return self.model
        m = copy.deepcopy(self.model)
        m.load_state_dict(self.ema.state)
        return m

    def evaluate(self) -> dict[str, float]:
        result = evaluate(self.eval_model(), self.eval_data, batch_size=self.cfg.eval_batch_size,
                          max_images=self.cfg.eval_max_images, device=self.device, dist_ctx=self.ctx)
        self._append_metrics({"step": self.step, "weights": "ema" if self.ema is not None else "raw",
                              "test_bpd": result["bits_per_dim"],
                              "test_nats_per_image": result["nats_per_image"],
                              "test_images": result["num_images"]})
        return {**result, "weights": "ema" if self.ema is not None else "raw"}

    # ---- the loop -----------------------------------------------------------------------------
    def run(self, steps: int | None = None, epochs: int | None = None,
            minutes: float | None = None) -> dict[str, Any]:
        """Train until ``steps`` total steps / ``epochs`` total epochs / ``minutes`` of wall time.

        The final checkpoint is written before the final evaluation; SIGTERM/SIGINT at any point
        (that evaluation included) ends the run with a checkpoint of the last step.
        """
        if steps is None and epochs is None and minutes is None:
            raise PixelarError("say how long to train: --steps N, --epochs N or --minutes M")
        for name, value in (("--steps", steps), ("--epochs", epochs)):
            if value is not None and value < 1:
                raise PixelarError(f"{name} must be at least 1, got {value}")
        if minutes is not None and not (math.isfinite(minutes) and minutes > 0):
            raise PixelarError(f"--minutes must be a positive number, got {minutes}")
        target = steps if steps is not None else (epochs * self.batches_per_epoch if epochs is not None else None)
        if self.ctx.is_main:
            self.lock.acquire()
        try:
            return self._run(target, minutes)
        finally:
            if self._own_lock:
                self.lock.release()

    def _run(self, target: int | None, minutes: float | None) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        if self.ctx.is_main:
            ckpt.sweep_stale(self.out)    # temp dirs of writes that crashed in dead processes
            self._trim_metrics()          # a fresh run starts its metrics anew
        start = self._started = time.monotonic()
        last_bpd = float("nan")
        bar = progress_bar(total=target, initial=self.step, desc="train", unit="step", enabled=self.progress,
                           every_n=self.cfg.log_every, every_seconds=self.log_every_seconds,
                           elapsed_offset=self.elapsed_before)
        stream = batches(self.train_data, self.plan, self.epoch, self.batch_in_epoch, self.device, self.workers)
        try:
            self.metrics.open(self.step)
            if self.step == 0 and self.model.needs_data_dependent_init:
                self._data_dependent_init()
            if self.ctx.enabled and not isinstance(self.net, DistributedDataParallel):
                ids = [torch.device(self.device).index] if str(self.device).startswith("cuda") else None
                self.net = DistributedDataParallel(self.net, device_ids=ids)
            self.signals.install()
            window, shown = TrainWindow(), {}       # shown: the figures in the progress bar / lines
            while True:
                if target is not None and self.step >= target:
                    break
                if minutes is not None and time.monotonic() - start >= minutes * 60:
                    break
                if self._should_stop():
                    break
                batch = next(stream)
                nats = self.train_step(batch)
                if nats is not None:
                    window.add(nats, batch["image"].shape[0])
                self.batch_in_epoch += 1
                if self.batch_in_epoch >= self.batches_per_epoch:
                    self.epoch, self.batch_in_epoch = self.epoch + 1, 0
                if nats is None:
                    continue
                if self.step % self.cfg.log_every == 0:
                    last_bpd, images_per_s = self._log_train(window)
                    window = TrainWindow()
                    shown.update(epoch=self.epoch, train_bpd=f"{last_bpd:.4f}", images_per_s=f"{images_per_s:.1f}",
                                 lr=f"{self.optimizer.param_groups[0]['lr']:.3g}")
                    bar.set_postfix(**shown)
                if self.eval_data is not None and self.cfg.eval_every and self.step % self.cfg.eval_every == 0:
                    shown["test_bpd"] = f"{self.evaluate()['bits_per_dim']:.4f}"
                    bar.set_postfix(**shown)
                bar.update(1)          # after the postfix: a log line shows this step's figures
                if self.step % self.cfg.checkpoint_every == 0:
                    self.save_checkpoint()
            stream.close()
            bar.close()
            if window.steps:  # the steps since the last log line (the same on every process)
                nats, images, _ = window.report(self.ctx, str(self.device))
                last_bpd = bits_per_dim(nats, self.dims * images)
            result: dict[str, Any] = {"step": self.step, "epoch": self.epoch, "train_bpd": last_bpd,
                                      "seconds": time.monotonic() - start,
                                      "skipped_nonfinite": self.skipped_nonfinite}
            # The final checkpoint first: nothing trained is lost, whatever happens in the evaluation.
            newest = ckpt.checkpoint_dirs(self.out)
            saved = newest and newest[0].name == f"step_{self.step:08d}"
            result["checkpoint"] = str(newest[0] if saved else self.save_checkpoint())
            if self.signals.signum is None and self.eval_data is not None:
                try:
                    # A signal now abandons the evaluation (one process only: under torchrun the
                    # others would wait in its all-reduce); the checkpoint is already written.
                    self.signals.interruptible = not self.ctx.enabled
                    evaluated = self.evaluate()
                    self.signals.interruptible = False
                    result.update({"test_" + k: v for k, v in evaluated.items()})
                    if self.ctx.is_main:
                        learning_curve_png(self.out / "metrics.jsonl", self.out / "learning_curve.png")
                except EvaluationInterrupted:
                    pass
            if self.signals.signum is not None:   # SIGTERM/SIGINT: checkpointed, no (full) evaluation
                result["stopped_by"] = signal_name(self.signals.signum)
            return result
        finally:
            self.signals.interruptible = False
            stream.close()
            bar.close()
            self.metrics.close()
            self.signals.restore()
            self.elapsed_before, self._started = self.elapsed(), None

    def _data_dependent_init(self) -> None:
        """Weight normalization's data-dependent init, once, on the first *global* batch (no RNG
        used): every process computes the same statistics, as a single process would."""
        batch = self._whole_batch()
        self.model.data_dependent_init(batch["image"], self.model.condition(batch))
        if not all_finite(self.model.parameters()):
            raise PixelarError("the data-dependent init gave non-finite weights (constant first batch?); "
                               "train on varied images or change train.seed")
        if self.ema is not None:
            self.ema = EMA(self.model, self.cfg.ema)

    # ---- signals ----------------------------------------------------------------------------
    def _should_stop(self) -> bool:
        """A signal seen by any process stops every process at the same step (else the others
        would wait forever in the next gradient all-reduce)."""
        if not self.ctx.enabled:
            return self.signals.signum is not None
        seen = all_reduce_sum([float(self.signals.signum or 0)], self.ctx, str(self.device))[0]
        if seen and self.signals.signum is None:
            self.signals.signum = int(signal.SIGTERM)
        return bool(seen)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name

