"""The quick start: a fixed step budget gives the same figure twice, its log is readable line by line,
it writes its figures, and (with a pretrained checkpoint) scores, completes and compresses with it.

The test set is cut to 16 patches and the model to a few features, so that each run takes seconds.
"""
from __future__ import annotations

import json

import pytest

import pixelar.data
from pixelar import pretrained
from pixelar.cli import main
from pixelar.quickstart import PRETRAINED, _checkpoints, run_quickstart

TINY = {"hidden": 8, "num_layers": 2, "output_features": 16, "num_mixtures": 2}
FAST = {"overrides": TINY, "log_every": 2, "evals": 2, "num_samples": 0, "num_completions": 0, "num_compress": 0}
FIGURES = {**FAST, "num_samples": 1, "num_completions": 1, "num_compress": 2}


@pytest.fixture
def few_test_patches(monkeypatch):
    """The first 16 held-out patches only (the same photos, the same order)."""
    load = pixelar.data.load_dataset

    def first16(name, split, *args, **kwargs):
        data = load(name, split, *args, **kwargs)
        if split == "test":
            data.images = data.images[:16]
        return data
    monkeypatch.setattr(pixelar.data, "load_dataset", first16)


def test_the_schedule_logs_every_n_steps_and_scores_at_spread_points():
    lines, tests = _checkpoints(10, 4, 2)
    assert lines == [4, 5, 8, 10] and tests == {5, 10}
    assert _checkpoints(3, 100, 1) == ([3], {3})


def test_a_step_budget_gives_the_same_figure_twice_and_a_line_by_line_log(tmp_path, few_test_patches, capsys):
    first = run_quickstart(tmp_path / "qs", steps=4, use_pretrained=False, **FAST)
    log = capsys.readouterr().out
    assert "\r" not in log                        # not a terminal: lines, no progress bars
    assert [ln.split()[1] for ln in log.splitlines() if ln.startswith("step ")] == ["2/4", "4/4"]
    assert "PNG (optimized)" in log and "WebP lossless" in log
    out = tmp_path / "qs"
    for name in ("learning_curve.png", "metrics.jsonl", "quickstart.json"):
        assert (out / name).exists(), name
    summary = json.loads((out / "quickstart.json").read_text())
    assert summary["train_steps"] == 4 and summary["test_patches"] == 16
    assert 0 < summary["png_bits_per_dim"] < 8 and 0 < summary["webp_lossless_bits_per_dim"] < 8
    again = run_quickstart(tmp_path / "qs", steps=4, use_pretrained=False, **FAST)
    assert again["out"].endswith("qs-2")          # an earlier run is never overwritten
    assert again["test_bits_per_dim"] == first["test_bits_per_dim"]   # bit-identical: steps, not minutes


@pytest.mark.slow
def test_it_writes_its_figures_and_part_two_compresses_with_the_pretrained_model(tmp_path, few_test_patches,
                                                                                  capsys):
    summary = run_quickstart(tmp_path / "qs", steps=1, **FIGURES)
    out = tmp_path / "qs"
    for name in ("samples.png", "completions.png", "nll_map.png"):
        assert (out / name).exists(), name
    if PRETRAINED not in pretrained.names():
        pytest.skip("the quick-start checkpoint is not shipped")
    log = capsys.readouterr().out
    assert f"pretrained:{PRETRAINED}" in log and "bytes" in log
    assert summary["compressed_patches"] == 2 and summary["pxz_bytes"] > 0
    assert summary["pretrained_test_bits_per_dim"] < summary["test_bits_per_dim"]
    for name in ("pretrained_samples.png", "pretrained_completions.png", "pretrained_nll_map.png",
                 "test_patches.pxz"):
        assert (out / name).exists(), name


@pytest.mark.skipif(PRETRAINED not in pretrained.names(), reason="the quick-start checkpoint is not shipped")
def test_part_two_scores_the_patches_with_the_pretrained_model(tmp_path, few_test_patches, capsys):
    summary = run_quickstart(tmp_path / "qs", steps=1, **FAST)
    log = capsys.readouterr().out
    assert f"part 2: the same model trained longer, pretrained:{PRETRAINED}" in log
    assert summary["pretrained_test_bits_per_dim"] < summary["test_bits_per_dim"]


def test_the_command_refuses_a_zero_budget(tmp_path, capsys):
    assert main(["quickstart", "--out", str(tmp_path / "q"), "--steps", "0"]) == 2
    assert "--steps must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()
