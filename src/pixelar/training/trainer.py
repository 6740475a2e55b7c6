"""A model-agnostic trainer: optimizer, decay, clipping, EMA, metrics, checkpoints, exact resume.

Resuming restores the weights, optimizer, EMA, step, the position in the
epoch's data order and the RNG state, so N steps in one run and N/2 + N/2
with a resume in between give bit-identical weights on CPU.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .. import checkpoint as ckpt
from .. import config as config_lib
from ..data.base import batch_to, collate, set_epoch, split_batch
from ..data.transforms import RandomHFlip
from ..distributions.base import bits_per_dim
from ..errors import PixelarError
from ..evaluation.bpd import evaluate
from ..evaluation.plots import learning_curve_png
from ..parallel import DistContext, all_reduce_sum
from .config import TrainConfig
from .ema import EMA
from .guard import UpdateGuard, all_finite
from .lock import RunLock
from .resume import resume as resume_run
from .signals import EvaluationInterrupted, StopSignals


def build_optimizer(params: Any, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamax":
        return torch.optim.Adamax(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    return torch.optim.RMSprop(params, lr=cfg.lr, alpha=cfg.rmsprop_alpha, eps=cfg.rmsprop_eps,
                               centered=cfg.rmsprop_centered, weight_decay=cfg.weight_decay)


class Trainer:
    """Trains ``model`` on ``train_data`` and writes everything into ``out_dir``.

    out_dir/
      metrics.jsonl          one JSON line per log interval / evaluation
      learning_curve.png
      checkpoints/step_XXXXXXXX/{config.json, model.safetensors, ema.safetensors, training_state.pt}
    """

    def __init__(self, model: Any, cfg: TrainConfig, train_data: Any, out_dir: str | os.PathLike,
                 eval_data: Any = None, device: str = "cpu", progress: bool = True,
                 log: Callable[[str], None] = print, extra_meta: dict[str, Any] | None = None,
                 dist_ctx: DistContext | None = None, lock: RunLock | None = None) -> None:
        cfg.validate()
        self.ctx = dist_ctx or DistContext()
        self.model = model.to(device)
        self.net: torch.nn.Module = self.model   # what the forward pass goes through (DDP when distributed)
        self.cfg = cfg
        self.train_data = RandomHFlip(train_data, cfg.seed) if cfg.hflip else train_data
        self.eval_data = eval_data
        self.out = Path(out_dir)
        self.device = device
        self.progress = progress and self.ctx.is_main
        self.log = log if self.ctx.is_main else (lambda message: None)
        self.extra_meta = extra_meta or {}
        self.optimizer = build_optimizer(self.model.parameters(), cfg)
        self.ema = EMA(self.model, cfg.ema) if cfg.ema > 0 else None
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.skipped_nonfinite = 0       # steps skipped for a non-finite loss or gradient, in total
        self.nonfinite_in_a_row = 0
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
        self.batches_per_epoch = len(train_data) // self.global_batch

    # ---- data order -------------------------------------------------------------------------
    def _epoch_order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.train_data), generator=g)

    def _batch(self, order: torch.Tensor, whole: bool = False) -> dict[str, Any]:
        """This process's slice of the current global batch (``whole``: the entire global batch), as
        ``pixelar.data.collate`` makes it, on the device."""
        start = self.batch_in_epoch * self.global_batch
        if whole:
            idx = order[start:start + self.global_batch].tolist()
        else:
            b = self.cfg.batch_size * self.cfg.accumulate
            idx = order[start + self.ctx.rank * b:start + (self.ctx.rank + 1) * b].tolist()
        return batch_to(collate([self.train_data[i] for i in idx]), self.device)

    def _set_epoch(self, epoch: int) -> None:
        set_epoch(self.train_data, epoch)

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
                nll = self._nll(xc, self.model.condition(micro))          # (b,) nats, float32
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

    def _nll(self, x: torch.Tensor, cond: Any) -> torch.Tensor:
        """-log p(x) in nats per image; the network runs under autocast, the distribution in fp32."""
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.cfg.precision)
        with torch.autocast(self.device_type, dtype=dtype, enabled=dtype is not None):
            params = self.net(x, cond)
        # params may be a tensor or a tuple/dict of tensors (models with several factors)
        params = torch.utils._pytree.tree_map(lambda t: t.float() if t.is_floating_point() else t, params)
        return -self.model.log_prob_from_params(params, x)

    # ---- persistence ------------------------------------------------------------------------
    def training_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "step": self.step, "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch, "torch_rng": torch.get_rng_state(),
                "skipped_nonfinite": self.skipped_nonfinite}

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
        path = self.out / "metrics.jsonl"
        if not path.exists() or not self.ctx.is_main:
            return
        keep = [line for line in path.read_text().splitlines()
                if line.strip() and _step_of(line) is not None and _step_of(line) <= self.step]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in keep))
        tmp.replace(path)

    def _append_metrics(self, row: dict[str, Any]) -> None:
        if not self.ctx.is_main:
            return
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

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
        start = time.monotonic()
        window_nats, window_images, window_start = 0.0, 0, time.monotonic()
        last_bpd = float("nan")
        bar = tqdm(total=target, initial=self.step, desc="train", unit="step",
                   disable=not self.progress, dynamic_ncols=True)
        self._set_epoch(self.epoch)
        order = self._epoch_order(self.epoch)
        if self.step == 0 and self.model.needs_data_dependent_init:
            # Weight normalization's data-dependent init, once, on the first *global* batch (no RNG
            # used): every process computes the same statistics, as a single process would.
            batch = self._batch(order, whole=True)
            self.model.data_dependent_init(batch["image"], self.model.condition(batch))
            if not all_finite(self.model.parameters()):
                raise PixelarError("the data-dependent init gave non-finite weights (constant first batch?); "
                                   "train on varied images or change train.seed")
            if self.ema is not None:
                self.ema = EMA(self.model, self.cfg.ema)
        if self.ctx.enabled and self.net is self.model:
            ids = [torch.device(self.device).index] if str(self.device).startswith("cuda") else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.signals.install()
        try:
            while True:
                if target is not None and self.step >= target:
                    break
                if minutes is not None and time.monotonic() - start >= minutes * 60:
                    break
                if self._should_stop():
                    break
                batch = self._batch(order)
                nats = self.train_step(batch)
                if nats is not None:
                    window_nats += nats
                    window_images += batch["image"].shape[0]
                self.batch_in_epoch += 1
                if self.batch_in_epoch >= self.batches_per_epoch:
                    self.epoch, self.batch_in_epoch = self.epoch + 1, 0
                    self._set_epoch(self.epoch)
                    order = self._epoch_order(self.epoch)
                if nats is None:
                    continue
                bar.update(1)
                if self.step % self.cfg.log_every == 0:
                    last_bpd = bits_per_dim(window_nats, self.dims * window_images)
                    elapsed = time.monotonic() - window_start
                    self._append_metrics({"step": self.step, "epoch": self.epoch, "train_bpd": last_bpd,
                                          "lr": self.optimizer.param_groups[0]["lr"],
                                          "images_per_s": window_images / max(elapsed, 1e-9),
                                          "skipped_nonfinite": self.skipped_nonfinite})
                    bar.set_postfix(bpd=f"{last_bpd:.3f}")
                    window_nats, window_images, window_start = 0.0, 0, time.monotonic()
                if self.eval_data is not None and self.cfg.eval_every and self.step % self.cfg.eval_every == 0:
                    bar.set_postfix(bpd=f"{last_bpd:.3f}", test=f"{self.evaluate()['bits_per_dim']:.3f}")
                if self.step % self.cfg.checkpoint_every == 0:
                    self.save_checkpoint()
            bar.close()
            if window_images:  # the steps since the last log line
                last_bpd = bits_per_dim(window_nats, self.dims * window_images)
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
            bar.close()
            self.signals.restore()

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


def _step_of(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None
