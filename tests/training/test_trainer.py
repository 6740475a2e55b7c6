"""Trainer: exact resume, checkpoints, metrics, exact evaluation."""
from __future__ import annotations

import json
import math

import pytest
import torch

import pixelar
from pixelar import checkpoint as ckpt
from pixelar.errors import CheckpointError
from pixelar.evaluation.bpd import evaluate
from pixelar.training.config import TrainConfig
from pixelar.training.trainer import Trainer
from tests.conftest import random_dataset


def _model(**over):
    torch.manual_seed(0)
    return pixelar.build("gated_pixelcnn", "small", image_size=6, hidden=12, output_features=16,
                         num_layers=2, **over)


def _cfg(**over):
    base = dict(optimizer="adamax", lr=2e-3, lr_decay=0.99, ema=0.9, batch_size=4, log_every=2,
                checkpoint_every=3, keep_checkpoints=2, seed=5, grad_clip=1.0)
    base.update(over)
    return TrainConfig(**base)


def test_resume_gives_bit_identical_weights(tmp_path):
    data = random_dataset(10, size=6)          # 2 batches per epoch: resume crosses epochs
    full = Trainer(_model(), _cfg(), data, tmp_path / "full", progress=False)
    full.run(steps=8)

    first = Trainer(_model(), _cfg(), data, tmp_path / "split", progress=False)
    first.run(steps=4)
    second = Trainer(_model(), _cfg(), data, tmp_path / "split", progress=False)
    second.resume()
    assert second.step == 4
    second.run(steps=8)

    for (k, a), (_, b) in zip(full.model.state_dict().items(), second.model.state_dict().items()):
        assert torch.equal(a, b), k
    for k in full.ema.state:
        assert torch.equal(full.ema.state[k], second.ema.state[k]), k
    # metrics of the resumed run line up with the uninterrupted one
    rows = lambda d: [r for r in map(json.loads, (d / "metrics.jsonl").read_text().splitlines())]
    assert [r["train_bpd"] for r in rows(tmp_path / "full")] == [r["train_bpd"] for r in rows(tmp_path / "split")]


def test_checkpoints_keep_the_last_k_and_load_with_ema(tmp_path):
    data = random_dataset(8, size=6)
    t = Trainer(_model(), _cfg(), data, tmp_path, progress=False)
    t.run(steps=7)
    names = [p.name for p in ckpt.checkpoint_dirs(tmp_path)]
    assert names == ["step_00000007", "step_00000006"]
    assert (tmp_path / "learning_curve.png").stat().st_size > 0
    loaded = pixelar.load(tmp_path)                     # newest checkpoint, EMA weights
    ema_model = t.eval_model()
    x = torch.stack([data[i][0] for i in range(4)])
    assert torch.equal(loaded.log_prob(x), ema_model.log_prob(x))
    raw = pixelar.load(tmp_path, weights="raw")
    assert torch.equal(raw.log_prob(x), t.model.log_prob(x))


def test_resume_skips_a_truncated_checkpoint(tmp_path, capsys):
    data = random_dataset(8, size=6)
    Trainer(_model(), _cfg(), data, tmp_path, progress=False).run(steps=6)
    newest = ckpt.checkpoint_dirs(tmp_path)[0]
    w = newest / ckpt.WEIGHTS
    w.write_bytes(w.read_bytes()[:100])
    messages = []
    t = Trainer(_model(), _cfg(), data, tmp_path, progress=False, log=messages.append)
    used = t.resume()
    assert used.name == "step_00000003" and t.step == 3
    assert "skipping checkpoint step_00000006" in messages[0] and "truncated" in messages[0]


def test_resume_refuses_another_model(tmp_path):
    data = random_dataset(8, size=6)
    Trainer(_model(), _cfg(), data, tmp_path, progress=False).run(steps=3)
    other = pixelar.build("pixelcnn", "small", image_size=6)
    with pytest.raises(CheckpointError, match="different model"):
        Trainer(other, _cfg(), data, tmp_path, progress=False).resume()
    with pytest.raises(CheckpointError, match="holds a 'gated_pixelcnn' model"):
        pixelar.load(tmp_path, expect_model="pixelcnn")


def test_evaluation_is_exact_sum_over_images(tmp_path):
    data = random_dataset(7, size=6)
    model = _model().eval()
    r = evaluate(model, data, batch_size=3)        # last batch has 1 image: no mean of means
    x = torch.stack([data[i][0] for i in range(7)])
    nats = -model.log_prob(x).detach().double().sum()
    assert r["num_images"] == 7 and r["num_dims"] == 7 * 3 * 36
    assert math.isclose(r["bits_per_dim"], float(nats) / (math.log(2) * 7 * 3 * 36), rel_tol=1e-6)


def test_training_lowers_the_loss(tmp_path):
    data = random_dataset(32, size=6)
    t = Trainer(_model(), _cfg(ema=0.0, lr_decay=1.0, lr=3e-3, log_every=1, checkpoint_every=100),
                data, tmp_path, progress=False)
    t.run(steps=30)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    first = sum(r["train_bpd"] for r in rows[:5]) / 5
    last = sum(r["train_bpd"] for r in rows[-5:]) / 5
    assert last < first - 0.3


def test_gradient_accumulation_equals_the_large_batch(tmp_path):
    data = random_dataset(16, size=6)
    big = Trainer(_model(), _cfg(batch_size=8, ema=0.0), data, tmp_path / "big", progress=False)
    big.run(steps=3)
    acc = Trainer(_model(), _cfg(batch_size=4, accumulate=2, ema=0.0), data, tmp_path / "acc", progress=False)
    acc.run(steps=3)
    for (k, a), (_, b) in zip(big.model.state_dict().items(), acc.model.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6, rtol=0), k


def test_channels_last_trains_like_contiguous_and_resumes_either_way(tmp_path):
    """train.memory_format=channels_last: the same losses and weights as the contiguous run, to
    float32 rounding; its checkpoints are plain (contiguous) files that resume in either layout."""
    data = random_dataset(10, size=6)
    plain = Trainer(_model(), _cfg(), data, tmp_path / "plain", progress=False)
    plain.run(steps=6)
    nhwc = Trainer(_model(), _cfg(memory_format="channels_last"), data, tmp_path / "nhwc", progress=False)
    kernels = [p for p in nhwc.model.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] * p.shape[3] > 1]
    assert kernels and not any(p.is_contiguous() for p in kernels)
    nhwc.run(steps=4)           # a log window ends here (log_every=2), so the rows line up
    back = Trainer(_model(), _cfg(), data, tmp_path / "nhwc", progress=False)   # resumed contiguous
    back.resume()
    back.run(steps=6)
    for (k, a), (_, b) in zip(plain.model.state_dict().items(), back.model.state_dict().items()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=k)
    rows = lambda d: [r["train_bpd"] for r in map(json.loads, (d / "metrics.jsonl").read_text().splitlines())]
    assert rows(tmp_path / "nhwc") == pytest.approx(rows(tmp_path / "plain"), rel=1e-5)


def test_bf16_autocast_trains_with_fp32_log_probs(tmp_path):
    data = random_dataset(16, size=6)
    t = Trainer(_model(), _cfg(precision="bf16", ema=0.0), data, tmp_path, progress=False)
    x = torch.stack([data[i][0] for i in range(4)])
    nll = t._nll(x, torch.zeros(4, dtype=torch.long))
    assert nll.dtype == torch.float32
    fp32 = -t.model.log_prob(x)
    assert torch.allclose(nll, fp32, rtol=0.05)          # bf16 network, same likelihood to ~1%
    t.run(steps=3)
    assert t.skipped_nonfinite == 0 and all(torch.isfinite(p).all() for p in t.model.parameters())
    with pytest.raises(pixelar.PixelarError, match="fp16 needs a GPU"):
        Trainer(_model(), _cfg(precision="fp16"), data, tmp_path / "x", progress=False)
