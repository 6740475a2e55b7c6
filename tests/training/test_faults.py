"""Faults: non-finite steps, SIGTERM, hostile checkpoint files."""
from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import pixelar
from pixelar import checkpoint as ckpt
from pixelar.errors import CheckpointError, PixelarError
from pixelar.training.config import TrainConfig
from pixelar.training.trainer import Trainer
from tests.conftest import random_dataset


def _trainer(tmp_path, **over):
    torch.manual_seed(0)
    model = pixelar.build("gated_pixelcnn", "small", image_size=6, hidden=12, output_features=16, num_layers=2)
    cfg = dict(batch_size=4, log_every=1, checkpoint_every=3, max_nonfinite_in_a_row=3)
    cfg.update(over)
    return Trainer(model, TrainConfig(**cfg), random_dataset(16, size=6), tmp_path, progress=False)


def test_a_nan_loss_is_skipped_counted_and_weights_stay_finite(tmp_path):
    t = _trainer(tmp_path)
    real = t.model.log_prob_from_params
    calls = {"n": 0}

    def flaky(params, x, generator=None):
        calls["n"] += 1
        out = real(params, x)
        return out * float("nan") if calls["n"] == 3 else out      # the third batch is poisoned

    t.model.log_prob_from_params = flaky
    t.run(steps=5)
    assert t.step == 5 and t.skipped_nonfinite == 1
    assert all(torch.isfinite(p).all() for p in t.model.parameters())
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["skipped_nonfinite"] == 1


def test_too_many_nonfinite_steps_stop_the_run_and_keep_the_last_checkpoint(tmp_path):
    t = _trainer(tmp_path)
    t.run(steps=3)                                   # writes checkpoints/step_00000003
    good = (ckpt.checkpoint_dirs(tmp_path)[0] / ckpt.WEIGHTS).read_bytes()
    t.model.log_prob_from_params = lambda params, x, generator=None: params.sum() * float("inf") + \
        torch.zeros(x.shape[0])
    with pytest.raises(PixelarError, match="3 non-finite losses or gradients in a row.*step_00000003"):
        t.run(steps=10)
    assert [p.name for p in ckpt.checkpoint_dirs(tmp_path)] == ["step_00000003"]
    assert (ckpt.checkpoint_dirs(tmp_path)[0] / ckpt.WEIGHTS).read_bytes() == good


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_malicious_training_state_is_refused_without_running_it(tmp_path):
    t = _trainer(tmp_path)
    t.run(steps=3)
    target = tmp_path / "pwned"
    state = ckpt.checkpoint_dirs(tmp_path)[0] / ckpt.STATE
    state.write_bytes(pickle.dumps({"step": _Evil(str(target))}))
    with pytest.raises(CheckpointError, match="corrupt or not a pixelar training state"):
        ckpt.load_training_state(state.parent)
    messages = []
    t2 = _trainer(tmp_path)
    t2.log = messages.append
    with pytest.raises(CheckpointError, match="none of the checkpoints"):
        t2.resume()
    assert not target.exists()
    assert "skipping checkpoint step_00000003" in messages[0]


def test_sigterm_writes_a_checkpoint_and_exits_cleanly(tmp_path):
    data = tmp_path / "toy.npz"
    rng = np.random.default_rng(0)
    np.savez(data, train_images=rng.integers(0, 256, (64, 8, 8, 3), dtype=np.uint8))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "pixelar.cli", "train", "--model", "pixelcnn", "--preset", "small",
           "--set", "model.image_size=8", "--set", "train.batch_size=4", "--set", "train.log_every=1",
           "--set", "train.checkpoint_every=100000", "--dataset", f"npz:{data}", "--eval-split", "none",
           "--out", str(out), "--steps", "100000", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not (out / "metrics.jsonl").exists() or len((out / "metrics.jsonl").read_text().splitlines()) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "stopped by SIGTERM" in stdout and "--resume" in stdout
    (newest,) = ckpt.checkpoint_dirs(out)
    step = int(newest.name.split("_")[1])
    assert step >= 3 and pixelar.load(out).config.image_size == 8


def test_sigkill_at_a_random_step_then_resume_is_bit_identical(tmp_path):
    data = tmp_path / "toy.npz"
    rng = np.random.default_rng(1)
    np.savez(data, train_images=rng.integers(0, 256, (24, 8, 8, 3), dtype=np.uint8))
    base = [sys.executable, "-m", "pixelar.cli", "train", "--model", "pixelcnn", "--preset", "small",
            "--set", "model.image_size=8", "--set", "model.hidden=8", "--set", "model.output_features=16",
            "--set", "train.batch_size=4", "--set", "train.log_every=1", "--set", "train.checkpoint_every=1",
            "--set", "train.keep_checkpoints=2", "--dataset", f"npz:{data}", "--eval-split", "none",
            "--steps", "14", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([*base, "--out", str(tmp_path / "clean")], check=True, env=env, capture_output=True)

    kill_after = int(rng.integers(2, 10))                  # a random step
    proc = subprocess.Popen([*base, "--out", str(tmp_path / "killed")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = tmp_path / "killed" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not metrics.exists() or len(metrics.read_text().splitlines()) < kill_after:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.kill()                                            # SIGKILL: no handler runs
    proc.wait()
    subprocess.run([*base, "--out", str(tmp_path / "killed"), "--resume"], check=True, env=env,
                   capture_output=True)
    final = "checkpoints/step_00000014/model.safetensors"
    assert (tmp_path / "clean" / final).read_bytes() == (tmp_path / "killed" / final).read_bytes()
