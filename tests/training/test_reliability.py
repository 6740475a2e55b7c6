"""Issue 14's reliability defects in the trainer and the checkpoint format, one test per reproducer
of the audit (/work/shared/audits/reliability-defects.md)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

import pixelar
from pixelar import checkpoint as ckpt
from pixelar import registry
from pixelar.errors import CheckpointError, ConfigError, PixelarError
from pixelar.training.config import TrainConfig
from pixelar.training.ema import warmed_up_decay
from pixelar.training.lock import RunLock
from pixelar.training.trainer import Trainer
from tests.conftest import random_dataset


def _model():
    torch.manual_seed(0)
    return pixelar.build("gated_pixelcnn", "small", image_size=6, hidden=12, output_features=16, num_layers=2)


def _trainer(out, eval_data=None, **over):
    cfg = dict(batch_size=4, log_every=1, checkpoint_every=100, max_nonfinite_in_a_row=3)
    cfg.update(over)
    return Trainer(_model(), TrainConfig(**cfg), random_dataset(16, size=6), out, eval_data=eval_data,
                   progress=False)


class _SignalsWhenRead:
    """A data set that sends this process SIGTERM when its first image is read (the final eval)."""

    def __init__(self, data):
        self.data, self.sent = data, False
        self.info = data.info

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        if not self.sent:
            self.sent = True
            os.kill(os.getpid(), signal.SIGTERM)
        return self.data[i]


def test_d1_sigterm_during_final_eval_keeps_the_run(tmp_path):
    t = _trainer(tmp_path, eval_data=_SignalsWhenRead(random_dataset(8, size=6, seed=1)))
    result = t.run(steps=5)                 # checkpoint_every=100: only the final checkpoint
    assert result["stopped_by"] == "SIGTERM" and result["step"] == 5
    assert [p.name for p in ckpt.checkpoint_dirs(tmp_path)] == ["step_00000005"]
    assert "test_bits_per_dim" not in result
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))
    resumed = _trainer(tmp_path)
    resumed.resume()
    assert resumed.step == 5


def test_d1_final_checkpoint_is_written_before_the_final_evaluation(tmp_path):
    seen = {}

    class Probe(_SignalsWhenRead):
        def __getitem__(self, i):
            seen.setdefault("dirs", [p.name for p in ckpt.checkpoint_dirs(tmp_path)])
            return self.data[i]
    result = _trainer(tmp_path, eval_data=Probe(random_dataset(8, size=6, seed=1))).run(steps=3)
    assert seen["dirs"] == ["step_00000003"] and "test_bits_per_dim" in result


def test_d4_non_finite_update_is_undone_and_never_named_good(tmp_path):
    t = _trainer(tmp_path, checkpoint_every=1)
    t.run(steps=2)
    good = ckpt.checkpoint_dirs(tmp_path)[0]
    object.__setattr__(t.cfg, "lr", float("inf"))   # past validate(): finite loss and gradients, inf update
    with pytest.raises(PixelarError, match=f"non-finite updates in a row.*{good.name}"):
        t.run(steps=10)
    assert all(torch.isfinite(p).all() for p in t.model.parameters())
    assert ckpt.checkpoint_dirs(tmp_path)[0] == good          # nothing newer was written
    assert all(torch.isfinite(v).all() for v in ckpt.load_weights(good / ckpt.WEIGHTS).values())


def test_d4_non_finite_weights_are_never_written(tmp_path):
    t = _trainer(tmp_path)
    with torch.no_grad():
        next(t.model.parameters()).fill_(float("nan"))
    with pytest.raises(PixelarError, match="not finite, so no checkpoint was written"):
        t.save_checkpoint()
    assert not ckpt.checkpoint_dirs(tmp_path)


@pytest.mark.parametrize("key, value", [
    ("lr", float("inf")), ("lr", float("nan")), ("grad_clip", -1.0), ("checkpoint_every", 0), ("log_every", 0),
    ("eval_every", -1), ("keep_checkpoints", 0), ("weight_decay", -0.1), ("betas", (0.9, 1.0)),
    ("betas", (-0.1, 0.9)), ("rmsprop_alpha", 1.5), ("rmsprop_eps", 0.0), ("seed", -1), ("seed", 2 ** 40),
    ("accumulate", 0), ("batch_size", 0), ("eval_batch_size", 0), ("ema", float("nan")),
    ("eval_max_images", -1), ("max_nonfinite_in_a_row", 0)])
def test_d6_train_config_validate_refuses(key, value):
    with pytest.raises(ConfigError, match=f"train.{key}") as e:
        TrainConfig(**{key: value}).validate()
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kw", [dict(minutes=float("nan")), dict(minutes=float("inf")), dict(minutes=-1.0),
                                dict(steps=0), dict(steps=-5), dict(epochs=0)])
def test_d6_run_length_must_be_positive_and_finite(tmp_path, kw):
    with pytest.raises(PixelarError, match="must be"):
        _trainer(tmp_path).run(**kw)
    assert not ckpt.checkpoint_dirs(tmp_path)


def test_ema_warm_up_formula_and_exact_resume(tmp_path):
    assert warmed_up_decay(0.9995, 0) == pytest.approx(0.1)
    assert warmed_up_decay(0.9995, 80) == pytest.approx(0.9)
    assert warmed_up_decay(0.9995, 10 ** 6) == 0.9995
    full = _trainer(tmp_path / "full", eval_data=random_dataset(4, size=6, seed=1), ema=0.999, checkpoint_every=3)
    full.run(steps=6)
    half = _trainer(tmp_path / "half", ema=0.999, checkpoint_every=3)
    half.run(steps=3)
    second = _trainer(tmp_path / "half", ema=0.999, checkpoint_every=3)
    second.resume()
    second.run(steps=6)
    for k in full.ema.state:
        assert torch.equal(full.ema.state[k], second.ema.state[k]), k
    # after 6 warmed-up updates the average is far from the initialization (decay 0.999 would not be)
    init = _model().state_dict()
    moved = sum(float((full.ema.state[k] - init[k]).abs().sum()) for k in init if init[k].is_floating_point())
    raw = sum(float((full.model.state_dict()[k] - init[k]).abs().sum()) for k in init if init[k].is_floating_point())
    assert moved > 0.3 * raw
    rows = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert [r["weights"] for r in rows if "test_bpd" in r] == ["ema"]


def test_d5_second_run_on_the_same_out_is_refused_with_the_holders_pid(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(PixelarError, match=f"in use by another training run \\(PID {os.getpid()}\\)"):
            _trainer(tmp_path).run(steps=1)
        child = subprocess.run([sys.executable, "-c", "import sys; from pixelar.training.lock import RunLock\n"
                                f"RunLock({str(tmp_path)!r}).acquire()"], capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert child.returncode != 0 and f"PID {os.getpid()}" in child.stderr
    assert not ckpt.checkpoint_dirs(tmp_path)
    _trainer(tmp_path).run(steps=1)          # released on exit, also after the exception above
    with RunLock(tmp_path):
        pass


def test_d7_failed_checkpoint_write_removes_its_temp_dir(tmp_path, monkeypatch):
    t = _trainer(tmp_path)
    t.run(steps=1)

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(ckpt, "save_file", disk_full)
    t.step = 2
    with pytest.raises(CheckpointError, match="No space left on device.*earlier checkpoints are intact") as e:
        t.save_checkpoint()
    assert "\n" not in str(e.value)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_00000001"]


def test_d7_stale_temp_dirs_of_dead_processes_are_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    root = tmp_path / "checkpoints"
    for name in (f".step_00000004.tmp-{dead}", f".step_00000002.old-{dead}", f".step_00000004.tmp-{os.getpid() + 0}"):
        (root / name).mkdir(parents=True)
        (root / name / "model.safetensors").write_bytes(b"x" * 100)
    (root / f".step_00000004.tmp-{os.getpid()}").rename(root / ".step_00000009.tmp-1")   # PID 1: alive
    _trainer(tmp_path).run(steps=1)
    assert sorted(p.name for p in root.iterdir()) == [".step_00000009.tmp-1", "step_00000001"]


def test_d11_checkpoint_dir_without_config_does_not_wedge_resume(tmp_path):
    _trainer(tmp_path, checkpoint_every=2).run(steps=4)
    (tmp_path / "checkpoints" / "step_00000004" / ckpt.CONFIG).unlink()
    t = _trainer(tmp_path, checkpoint_every=2)
    assert t.resume().name == "step_00000002"
    t.run(steps=6)
    assert [p.name for p in ckpt.checkpoint_dirs(tmp_path)] == ["step_00000006", "step_00000004", "step_00000002"]
    assert (tmp_path / "checkpoints" / "step_00000004" / ckpt.CONFIG).exists()


def test_d17_checkpoint_dirs_sort_by_the_integer_step(tmp_path):
    for step in (99_999_999, 100_000_000, 100_000_001, 7):
        (tmp_path / "checkpoints" / f"step_{step:08d}").mkdir(parents=True)
    assert [p.name for p in ckpt.checkpoint_dirs(tmp_path)] == [
        "step_100000001", "step_100000000", "step_99999999", "step_00000007"]


def test_resume_skips_a_structurally_wrong_training_state_without_applying_it(tmp_path):
    _trainer(tmp_path, checkpoint_every=2).run(steps=4)
    newest = tmp_path / "checkpoints" / "step_00000004"
    torch.save({"optimizer": {"state": {}, "param_groups": []}, "step": "4", "epoch": 0, "batch_in_epoch": 0,
                "torch_rng": torch.get_rng_state()}, newest / ckpt.STATE)
    t = _trainer(tmp_path, checkpoint_every=2)
    logged = []
    t.log = logged.append
    assert t.resume().name == "step_00000002" and t.step == 2
    assert "not a pixelar training state" in logged[0]
    torch.save({**torch.load(tmp_path / "checkpoints/step_00000002" / ckpt.STATE, weights_only=True),
                "optimizer": {"state": {}, "param_groups": [{"params": [0]}]}}, newest / ckpt.STATE)
    fresh = _trainer(tmp_path, checkpoint_every=2)
    before = {k: v.clone() for k, v in fresh.model.state_dict().items()}
    fresh.log = logged.append
    assert fresh.resume().name == "step_00000002"
    assert "does not fit" in logged[-1]
    assert not all(torch.equal(before[k], v) for k, v in fresh.model.state_dict().items())  # step 2's weights


def _edit_config(directory, fn):
    path = directory / ckpt.CONFIG
    meta = json.loads(path.read_text())
    fn(meta)
    path.write_text(json.dumps(meta))


def test_d3_huge_config_is_refused_before_allocating(tmp_path):
    _trainer(tmp_path).run(steps=1)
    d = ckpt.checkpoint_dirs(tmp_path)[0]
    _edit_config(d, lambda m: m["config"].update(hidden=10 ** 7))
    with pytest.raises(CheckpointError, match="more than the 2e\\+09|shape"):
        registry.load(tmp_path)
    _edit_config(d, lambda m: m["config"].update(hidden=24))     # plausible size, wrong shapes
    with pytest.raises(CheckpointError, match="has shape .* the config implies"):
        registry.load(tmp_path)
    for bad in (1e400, float("inf"), "x", [1]):
        _edit_config(d, lambda m, bad=bad: m["config"].update(hidden=bad))
        with pytest.raises(CheckpointError):
            registry.load(tmp_path)
    _edit_config(d, lambda m: m.update(config=[1, 2]))
    with pytest.raises(CheckpointError, match="JSON object"):
        registry.load(tmp_path)


def test_d10_integer_weights_and_missing_config_keys_are_refused(tmp_path):
    from safetensors.torch import save_file
    _trainer(tmp_path).run(steps=1)
    d = ckpt.checkpoint_dirs(tmp_path)[0]
    weights = ckpt.load_weights(d / ckpt.WEIGHTS)
    save_file({k: (v * 100).to(torch.int32) if v.is_floating_point() else v for k, v in weights.items()},
              str(d / ckpt.WEIGHTS))
    with pytest.raises(CheckpointError, match="stored as I32, the model holds F32"):
        registry.load(tmp_path, weights="raw")
    save_file(weights, str(d / ckpt.WEIGHTS))
    assert registry.load(tmp_path).loaded_weights == "raw"
    _edit_config(d, lambda m: m["config"].pop("image_size"))
    with pytest.raises(CheckpointError, match="lacks image_size"):
        registry.load(tmp_path)


def test_load_names_the_weights_it_used(tmp_path):
    _trainer(tmp_path, ema=0.9).run(steps=2)
    assert registry.load(tmp_path).loaded_weights == "ema"
    assert registry.load(tmp_path, weights="raw").loaded_weights == "raw"
    assert registry.load(tmp_path).checkpoint_dir == ckpt.checkpoint_dirs(tmp_path)[0]
