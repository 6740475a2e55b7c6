"""torchrun with 2 processes (gloo, CPU) matches one process with the same global batch and order."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

TRAIN = ["train", "--model", "pixelcnn_pp", "--preset", "small", "--set", "model.image_size=8",
         "--set", "model.num_filters=8", "--set", "model.num_resnet=1", "--set", "train.ema=0",
         "--set", "train.checkpoint_every=1000", "--set", "train.log_every=1", "--quiet"]


def _torchrun() -> list[str]:
    exe = Path(sys.executable).with_name("torchrun")
    if not exe.exists():
        pytest.skip("torchrun is not installed next to this Python")
    return [str(exe), "--standalone", "--nproc_per_node=2"]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_two_processes_equal_one_with_the_global_batch(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "toy.npz"
    np.savez(data, train_images=rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8),
             test_images=rng.integers(0, 256, (9, 8, 8, 3), dtype=np.uint8))
    common = [*TRAIN, "--dataset", f"npz:{data}", "--steps", "4"]
    single = _run([sys.executable, "-m", "pixelar.cli", *common, "--set", "train.batch_size=8",
                   "--out", str(tmp_path / "one")])
    assert single.returncode == 0, single.stderr
    multi = _run([*_torchrun(), "-m", "pixelar.cli", *common, "--set", "train.batch_size=4",
                  "--out", str(tmp_path / "two")])
    assert multi.returncode == 0, multi.stderr[-3000:]
    a = load_file(str(tmp_path / "one/checkpoints/step_00000004/model.safetensors"))
    b = load_file(str(tmp_path / "two/checkpoints/step_00000004/model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6, rtol=0), k
    # distributed evaluation (sums of nats all-reduced) gives the single-process bits/dim
    rows = lambda d: [json.loads(line) for line in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
    bpd_one = [r["test_bpd"] for r in rows("one") if "test_bpd" in r][-1]
    bpd_two = [r["test_bpd"] for r in rows("two") if "test_bpd" in r][-1]
    assert abs(bpd_one - bpd_two) < 1e-5
    assert [r["test_images"] for r in rows("two") if "test_images" in r][-1] == 9
    # the logged train bits/dim and images/s are those of both processes' images (all-reduced sums)
    train_one = [r for r in rows("one") if "train_bpd" in r]
    train_two = [r for r in rows("two") if "train_bpd" in r]
    assert [r["step"] for r in train_one] == [r["step"] for r in train_two] == [1, 2, 3, 4]
    for a_row, b_row in zip(train_one, train_two):
        assert abs(a_row["train_bpd"] - b_row["train_bpd"]) < 1e-4
        assert b_row["images_per_s"] > 0 and b_row["elapsed_s"] > 0


def test_sigterm_stops_every_process_at_the_same_step(tmp_path):
    import signal
    import time
    rng = np.random.default_rng(0)
    data = tmp_path / "toy.npz"
    np.savez(data, train_images=rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8))
    out = tmp_path / "run"
    cmd = [*_torchrun(), "-m", "pixelar.cli", *TRAIN, "--dataset", f"npz:{data}", "--eval-split", "none",
           "--set", "train.batch_size=2", "--steps", "100000", "--out", str(out)]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not metrics.exists() or len(metrics.read_text().splitlines()) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)        # torchrun forwards it to both workers
    stdout, stderr = proc.communicate(timeout=120)
    assert "stopped by SIGTERM" in stdout, stderr[-2000:]
    from pixelar import checkpoint as ckpt
    assert len(ckpt.checkpoint_dirs(out)) == 1
