"""Pretrained checkpoints (pixelar/pretrained/): the manifest's sha256 are checked before loading, a
tampered file is refused in one line, ``pretrained:NAME`` loads anywhere a checkpoint is taken,
``pixelar pretrained`` lists them, and benchmarks/add_pretrained.py adds one in one command."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch

import pixelar
from pixelar import checkpoint as ckpt
from pixelar import pretrained
from pixelar.cli import main
from pixelar.errors import CheckpointError
from tests.conftest import tiny

ROOT = Path(__file__).resolve().parents[1]


def _add_pretrained():
    spec = importlib.util.spec_from_file_location("add_pretrained", ROOT / "benchmarks" / "add_pretrained.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shelf(tmp_path_factory):
    """A pretrained folder outside the package holding one tiny checkpoint, added by the script."""
    tmp = tmp_path_factory.mktemp("pretrained")
    torch.manual_seed(0)
    model = tiny("pixelcnn", "small")
    ckpt.save_model(model, tmp / "run" / "checkpoints" / "step_00000007", extra={"step": 7})
    root = tmp / "shelf"
    root.mkdir()
    _add_pretrained().main([str(tmp / "run"), "--name", "tiny-natural", "--dataset", "natural",
                            "--data-option", "patch_size=8", "--max-images", "16",
                            "--training-data", "none (random init)", "--train-command", "(a test)",
                            "--wall-seconds", "0", "--root", str(root)])
    return root


@pytest.fixture
def use_shelf(shelf, monkeypatch):
    monkeypatch.setattr(pretrained, "ROOT", shelf)
    return shelf


def test_the_shipped_manifest_matches_its_files():
    entries = pretrained.manifest()
    for name, e in entries.items():
        folder = pretrained.checkpoint_dir(name)            # every sha256, no stray file
        assert set(e["files"]) == {p.name for p in folder.iterdir()}
        for key in ("model", "preset", "training_data", "steps", "wall_seconds", "train_command", "figure_command"):
            assert e[key] not in (None, ""), (name, key)
        pixelar.registry.get_preset(e["model"], e["preset"])   # a preset that exists
        assert e["figure"]["value"] == e["figure"][e["figure"]["metric"]]
        assert e["figure_command"].startswith(f"pixelar eval --checkpoint pretrained:{name} ")
        assert all((folder / f).stat().st_size < 8 * 2 ** 20 for f in e["files"])


def test_the_script_reads_the_preset_of_a_table4_run(tmp_path):
    run = tmp_path / "diagonal_bilstm-mnist"
    (run / "checkpoints" / "step_00000007").mkdir(parents=True)
    (run / "table4.json").write_text(json.dumps({"model": "diagonal_bilstm/mnist", "steps": 7}))
    record = _add_pretrained().run_record(run / "checkpoints" / "step_00000007", run / "checkpoints" / "step_00000007")
    assert record == {"preset": "mnist"}
    (run / "table4.json").write_text(json.dumps({"model": "diagonal_bilstm/mnist", "overrides": {"train.ema": 0.9995}}))
    record = _add_pretrained().run_record(run, run / "checkpoints" / "step_00000007")
    assert record == {"preset": "mnist", "overrides": {"train.ema": 0.9995}}


def test_the_script_records_files_and_the_figure_its_command_prints(use_shelf, capsys):
    e = pretrained.entry("tiny-natural")
    assert set(e["files"]) == {"config.json", "model.safetensors"}
    assert e["steps"] == 7 and e["figure"]["num_images"] == 16
    assert main(e["figure_command"].split()[1:] + ["--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["bits_per_dim"] == e["figure"]["bits_per_dim"]      # the very figure, on this machine


def test_load_by_name_equals_the_checkpoint(use_shelf):
    model = pixelar.load("pretrained:tiny-natural")
    assert model.pretrained_name == "tiny-natural" and not model.training
    x = torch.randint(0, 256, (2, 3, 8, 8))
    direct = pixelar.load(use_shelf / "tiny-natural")
    assert torch.equal(model.log_prob(x), direct.log_prob(x))


def test_an_unknown_name_lists_the_known_ones(use_shelf, capsys):
    with pytest.raises(CheckpointError, match="no pretrained checkpoint 'nope'; known: tiny-natural"):
        pixelar.load("pretrained:nope")
    assert main(["eval", "--checkpoint", "pretrained:nope", "--dataset", "natural"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "known: tiny-natural" in err


@pytest.mark.parametrize("damage", ["edit", "missing", "extra"])
def test_a_tampered_checkpoint_is_refused_in_one_line(shelf, tmp_path, monkeypatch, capsys, damage):
    copy = tmp_path / "shelf"
    shutil.copytree(shelf, copy)
    monkeypatch.setattr(pretrained, "ROOT", copy)
    weights = copy / "tiny-natural" / "model.safetensors"
    if damage == "edit":
        data = bytearray(weights.read_bytes())
        data[-1] ^= 1                                   # one bit of one weight
        weights.write_bytes(bytes(data))
    elif damage == "missing":
        weights.unlink()
    else:
        (copy / "tiny-natural" / "ema.safetensors").write_bytes(weights.read_bytes())
    with pytest.raises(CheckpointError, match="tiny-natural"):
        pixelar.load("pretrained:tiny-natural")
    assert main(["sample", "--checkpoint", "pretrained:tiny-natural", "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("pixelar sample: error:") and ("reinstall" in err or "remove" in err)


def test_pixelar_pretrained_lists_and_shows(use_shelf, capsys):
    assert main(["pretrained"]) == 0
    out = capsys.readouterr().out
    assert "tiny-natural" in out and "pixelcnn/" in out and "bits/dim on natural/test" in out
    assert main(["pretrained", "tiny-natural"]) == 0
    out = capsys.readouterr().out
    assert "pixelar eval --checkpoint pretrained:tiny-natural" in out and "(a test)" in out
    assert main(["pretrained", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "tiny-natural"


def test_the_script_refuses_to_replace_silently(shelf, tmp_path):
    with pytest.raises(SystemExit, match="pass --replace"):
        _add_pretrained().main([str(shelf / "tiny-natural"), "--name", "tiny-natural", "--dataset", "natural",
                                "--training-data", "x", "--train-command", "x", "--wall-seconds", "0",
                                "--root", str(shelf)])
