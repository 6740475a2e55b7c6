"""Logging, progress output and the input pipeline: timestamps and cumulative elapsed time in
metrics.jsonl, plain progress lines off a TTY, TensorBoard event files, DataLoader workers that give
the batches of the in-process path."""
from __future__ import annotations

import io
import itertools
import json
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

import pixelar
from pixelar import checkpoint as ckpt
from pixelar import progress as progress_lib
from pixelar.data.generic import load_folder
from pixelar.errors import DataError, PixelarError
from pixelar.evaluation.bpd import evaluate
from pixelar.training.config import TrainConfig
from pixelar.training.loader import BatchPlan, batches
from pixelar.training.trainer import Trainer
from tests.conftest import random_dataset


def _model():
    torch.manual_seed(0)
    return pixelar.build("gated_pixelcnn", "small", image_size=6, hidden=8, output_features=8, num_layers=2)


def _cfg(**over):
    return TrainConfig(**{"optimizer": "adam", "lr": 2e-3, "ema": 0.9, "batch_size": 4, "log_every": 2,
                          "checkpoint_every": 4, "seed": 3, **over})


def _rows(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


# ---- metrics.jsonl: time and elapsed_s ------------------------------------------------------------------

def test_rows_carry_time_and_elapsed_that_continues_across_a_resume(tmp_path):
    data, out = random_dataset(12, size=6), tmp_path / "run"
    before = time.time()
    Trainer(_model(), _cfg(), data, out, eval_data=random_dataset(4, size=6, seed=1), progress=False).run(steps=4)
    rows = _rows(out)
    assert [r["step"] for r in rows] == [2, 4, 4]       # train lines and the final evaluation
    assert all(before <= r["time"] <= time.time() for r in rows)
    assert all(r["elapsed_s"] > 0 for r in rows)
    assert [r["elapsed_s"] for r in rows] == sorted(r["elapsed_s"] for r in rows)
    # the checkpoint keeps the count; pretend the first part of the run took 1000 s
    directory = ckpt.checkpoint_dirs(out)[0]
    state = ckpt.load_training_state(directory)
    assert 0 < state["elapsed_s"] <= rows[-1]["elapsed_s"]
    state["elapsed_s"] = 1000.0
    torch.save(state, directory / ckpt.STATE)
    resumed = Trainer(_model(), _cfg(), data, out, progress=False)
    resumed.resume()
    start = time.monotonic()
    resumed.run(steps=8)
    wall = time.monotonic() - start
    new = [r for r in _rows(out) if r["step"] > 4]
    assert [r["step"] for r in new] == [6, 8]
    assert all(1000.0 < r["elapsed_s"] <= 1000.0 + wall + 1.0 for r in new)
    assert ckpt.load_training_state(ckpt.checkpoint_dirs(out)[0])["elapsed_s"] > 1000.0


def test_a_checkpoint_without_elapsed_resumes_from_zero_and_a_bad_one_is_skipped(tmp_path, capsys):
    data, out = random_dataset(8, size=6), tmp_path / "run"
    Trainer(_model(), _cfg(checkpoint_every=2, keep_checkpoints=2), data, out, progress=False).run(steps=4)
    older, newest = ckpt.checkpoint_dirs(out)[1], ckpt.checkpoint_dirs(out)[0]
    state = ckpt.load_training_state(older)
    del state["elapsed_s"]                 # as written before the field existed
    torch.save(state, older / ckpt.STATE)
    bad = ckpt.load_training_state(newest)
    bad["elapsed_s"] = float("nan")
    torch.save(bad, newest / ckpt.STATE)
    t = Trainer(_model(), _cfg(checkpoint_every=2, keep_checkpoints=2), data, out, log=print, progress=False)
    assert t.resume() == older and t.elapsed_before == 0.0
    assert "'elapsed_s' is not a non-negative number" in capsys.readouterr().out


# ---- progress output -------------------------------------------------------------------------------------

def test_off_a_tty_the_trainer_writes_a_plain_line_every_n_steps(tmp_path, capsys):
    t = Trainer(_model(), _cfg(log_every=2), random_dataset(8, size=6), tmp_path / "run", progress=True,
                log_every_seconds=1e6)
    t.run(steps=6)
    err = capsys.readouterr().err           # pytest's stderr is no TTY, as a log file is not
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("train ")]
    assert [line.split(" | ")[0] for line in lines] == ["train 2/6 step (33%)", "train 4/6 step (67%)",
                                                        "train 6/6 step (100%)"]
    for line, row in zip(lines, [r for r in _rows(tmp_path / "run") if "train_bpd" in r]):
        fields = dict(part.split(" ", 1) for part in line.split(" | ")[1:])
        assert set(fields) == {"epoch", "train_bpd", "images_per_s", "lr", "elapsed"}
        assert abs(float(fields["train_bpd"]) - row["train_bpd"]) < 1e-3 and int(fields["epoch"]) == row["epoch"]


class _Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now


def test_lines_also_come_every_s_seconds_and_short_loops_stay_silent(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress_lib, "time", clock)
    out = io.StringIO()
    bar = progress_lib.progress(total=100, desc="eval", unit="img", every_seconds=30, stream=out, leave=False)
    for _ in range(10):
        clock.now += 10.0                   # 10 s a step: a line every third step
        bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines == ["eval 3/100 img (3%) | elapsed 30s", "eval 6/100 img (6%) | elapsed 1m00s",
                     "eval 9/100 img (9%) | elapsed 1m30s", "eval 10/100 img (10%) | elapsed 1m40s"]
    quiet = io.StringIO()                   # a loop shorter than every_seconds writes nothing
    assert list(progress_lib.progress(range(5), desc="sampling", stream=quiet, leave=False)) == [0, 1, 2, 3, 4]
    assert quiet.getvalue() == ""


def test_a_tty_gets_a_tqdm_bar_and_disabled_writes_nothing():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    tty = Tty()
    bar = progress_lib.progress(range(3), desc="sampling", stream=tty)
    from tqdm.auto import tqdm
    assert isinstance(bar, tqdm) and list(bar) == [0, 1, 2]
    assert "\r" in tty.getvalue()
    off = io.StringIO()
    assert list(progress_lib.progress(range(3), enabled=False, stream=off)) == [0, 1, 2]
    assert off.getvalue() == ""


def test_evaluate_and_sampling_use_the_helper_off_a_tty(capsys):
    model = _model()
    evaluate(model, random_dataset(6, size=6), batch_size=2, progress=True)
    model.sample(1, generator=torch.Generator().manual_seed(0), progress=True)
    assert "\r" not in capsys.readouterr().err


# ---- TensorBoard ---------------------------------------------------------------------------------------

def test_tensorboard_event_files_hold_the_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out = tmp_path / "run"
    Trainer(_model(), _cfg(), random_dataset(8, size=6), out, eval_data=random_dataset(4, size=6, seed=1),
            progress=False, tensorboard=True).run(steps=4)
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/bpd", "test/bpd", "train/lr", "train/images_per_s"} <= tags
    assert [e.step for e in events.Scalars("train/bpd")] == [2, 4]
    rows = [r for r in _rows(out) if "train_bpd" in r]
    assert [round(e.value, 4) for e in events.Scalars("train/bpd")] == [round(r["train_bpd"], 4) for r in rows]


def test_tensorboard_missing_is_one_line_naming_the_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)     # import now raises ImportError
    with pytest.raises(PixelarError, match=r"pip install tensorboard") as e:
        Trainer(_model(), _cfg(), random_dataset(8, size=6), tmp_path, progress=False, tensorboard=True)
    assert "\n" not in str(e.value) and "pixelar[tensorboard]" in str(e.value)


# ---- the input pipeline -----------------------------------------------------------------------------------

def _folder(root, n=10, bad=False):
    rng = np.random.default_rng(0)
    root.mkdir()
    for i in range(n):                       # 8x8 pictures cut at random 6x6 crops (set_epoch matters)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / f"{i:02d}.png")
    if bad:
        (root / "99.png").write_bytes(b"not a png")
    return root


def test_workers_give_the_batches_and_weights_of_the_in_process_path(tmp_path):
    data = load_folder(_folder(tmp_path / "pics"), image_size=6, crop="random", seed=1)
    plan = BatchPlan(len(data), seed=3, global_batch=4, per_rank=4)      # 2 batches an epoch
    take = lambda workers: list(itertools.islice(batches(data, plan, 0, 1, "cpu", workers), 4))
    for a, b in zip(take(0), take(2)):       # from a mid-epoch position (a resume), across epochs
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["label"], b["label"])
    # a run with --workers 2, resumed half way, ends with the weights of one run with --workers 0
    one = Trainer(_model(), _cfg(ema=0), data, tmp_path / "one", progress=False)
    one.run(steps=6)
    Trainer(_model(), _cfg(ema=0), data, tmp_path / "two", progress=False, workers=2).run(steps=3)
    two = Trainer(_model(), _cfg(ema=0), data, tmp_path / "two", progress=False, workers=2)
    two.resume()
    two.run(steps=6)
    for (k, a), b in zip(one.model.state_dict().items(), two.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_a_bad_image_in_a_worker_is_the_same_one_line_error(tmp_path):
    data = load_folder(_folder(tmp_path / "pics", n=3, bad=True), image_size=6)
    plan = BatchPlan(len(data), seed=0, global_batch=4, per_rank=4)
    with pytest.raises(DataError) as e:
        next(batches(data, plan, 0, 0, "cpu", workers=2))
    assert "99.png" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(PixelarError, match="--workers must be >= 0"):
        Trainer(_model(), _cfg(), random_dataset(8, size=6), tmp_path / "run", workers=-1)
