"""train --force (D9), --weights, --data-option, eval --json naming its checkpoint, receptive-field on
non-finite weights (D14)."""
from __future__ import annotations

import json

import torch

from pixelar.cli import main

TINY = ["--model", "pixelcnn", "--preset", "small", "--set", "model.image_size=8", "--set", "model.hidden=8",
        "--set", "model.output_features=12", "--set", "model.num_layers=2", "--set", "train.batch_size=4",
        "--set", "train.ema=0.9", "--quiet", "--eval-split", "none"]


def test_d9_train_into_a_foreign_directory_needs_force(tmp_path, data, capsys):
    mine = tmp_path / "mydir"
    mine.mkdir()
    (mine / "metrics.jsonl").write_text('{"step": 999, "mine": true}\n')
    (mine / "learning_curve.png").write_bytes(b"my plot")
    assert main(["train", *TINY, "--dataset", data, "--out", str(mine), "--steps", "2"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (mine / "learning_curve.png").read_bytes() == b"my plot"
    assert main(["train", *TINY, "--dataset", data, "--out", str(mine), "--steps", "2", "--force",
                 "--set", "train.log_every=1"]) == 0
    rows = [json.loads(line) for line in (mine / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]                      # a fresh run: no foreign rows


def test_eval_json_names_checkpoint_step_and_weights(tmp_path, data, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--dataset", data, "--out", str(out), "--steps", "3",
                 "--data-option", "num_levels=256"]) == 0
    capsys.readouterr()
    results = {}
    for weights in ("auto", "ema", "raw"):
        assert main(["eval", "--checkpoint", str(out), "--dataset", data, "--json", "--weights", weights,
                     "--data-option", "num_levels=256"]) == 0
        results[weights] = json.loads(capsys.readouterr().out)
    r = results["auto"]
    assert r["checkpoint"] == str(out / "checkpoints" / "step_00000003") and r["step"] == 3
    assert r["weights"] == "ema" and results["raw"]["weights"] == "raw"
    assert r["bits_per_dim"] == results["ema"]["bits_per_dim"] != results["raw"]["bits_per_dim"]
    assert r["data_options"] == {"num_levels": "256"}
    for cmd in (["sample", "-n", "1"], ):
        assert main([*cmd, "--checkpoint", str(out), "--weights", "raw", "--out", str(tmp_path / "s.png")]) == 0


def test_data_option_given_both_ways_is_refused(tmp_path, data, capsys):
    assert main(["train", *TINY, "--dataset", data + "?num_levels=256", "--data-option", "num_levels=256",
                 "--out", str(tmp_path / "r"), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "both" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_d14_receptive_field_refuses_non_finite_weights_after_init(tmp_path, capsys, monkeypatch):
    from pixelar.models.base import AutoregressiveModel

    def broken_init(self, x, cond=None):
        with torch.no_grad():
            next(self.parameters()).fill_(float("nan"))
    monkeypatch.setattr(AutoregressiveModel, "data_dependent_init", broken_init)
    monkeypatch.setattr(AutoregressiveModel, "needs_data_dependent_init", True)
    assert main(["receptive-field", "--model", "pixelcnn", "--preset", "small", "--image-size", "8",
                 "--pixel", "3", "3", "--out", str(tmp_path / "rf.png")]) == 2
    err = capsys.readouterr().err
    assert "not finite after its data-dependent init" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "rf.png").exists()
