"""A run remembers its command (run.json, --resume alone, refused resumes naming the key), and the
catalog commands: config, models --json, datasets, --version, --device auto; typed load/build."""
from __future__ import annotations

import json
import shutil
import typing

import pytest
import torch

import pixelar
import pixelar.config
import pixelar.data
from pixelar import registry
from pixelar.cli import main
from pixelar.commands.common import check_device
from tests.conftest import fails

TINY = ["--model", "pixelcnn", "--preset", "small", "--set", "model.image_size=8", "--set", "model.hidden=8",
        "--set", "model.output_features=12", "--set", "model.num_layers=2", "--set", "train.batch_size=4",
        "--set", "train.checkpoint_every=3", "--eval-split", "none", "--quiet"]


def weights(run, step):
    return (run / "checkpoints" / f"step_{step:08d}" / "model.safetensors").read_bytes()


def test_resume_alone_continues_bit_identically(tmp_path, data, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["train", *TINY, "--dataset", data, "--out", str(one), "--steps", "6"]) == 0
    assert main(["train", *TINY, "--dataset", data, "--out", str(two), "--steps", "3", "--device", "auto"]) == 0
    assert main(["train", "--out", str(two), "--resume", "--steps", "6"]) == 0      # the length may change
    assert weights(two, 6) == weights(one, 6)
    shutil.rmtree(two / "checkpoints" / "step_00000006")       # killed after step 3's checkpoint
    capsys.readouterr()
    assert main(["train", "--out", str(two), "--resume"]) == 0                      # nothing but --resume
    assert "resuming from" in capsys.readouterr().out
    assert weights(two, 6) == weights(one, 6)

    record = json.loads((two / "run.json").read_text())
    assert record["format"] == "pixelar-run" and record["pixelar_version"] == pixelar.__version__
    assert record["argv"][:3] == ["train", "--model", "pixelcnn"]          # how the run started
    assert record["model"] == "pixelcnn" and record["preset"] == "small" and record["dataset"] == data
    assert record["overrides"]["model.hidden"] == "8" and record["model_config"]["hidden"] == 8
    assert record["train_config"]["batch_size"] == 4 and record["eval_split"] == "none"
    assert record["length"] == {"steps": 6}
    assert record["device"] == "auto" and record["device_used"] == check_device("auto")
    history = record["history"]
    assert [h["step"] for h in history] == [0, 3, 3]
    assert history[0]["resumed_from"] is None and history[2]["resumed_from"].endswith("step_00000003")
    assert history[2]["argv"] == ["train", "--out", str(two), "--resume"]


def test_refused_resume_names_the_key_and_touches_nothing(tmp_path, data, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--dataset", data, "--out", str(run), "--steps", "3"]) == 0
    before = (run / "run.json").read_bytes()
    where = str(run / "run.json")
    resume = ["train", "--out", str(run), "--resume"]
    fails([*resume, "--set", "train.lr=0.5"], capsys, f"resume refused: train.lr is 0.002 in {where} but 0.5 here",
          "drop the flag or use a new --out")
    fails([*resume, "--set", "model.hidden=16"], capsys, "model.hidden is 8", "16 here")
    fails([*resume, "--model", "gated_pixelcnn"], capsys, "model is pixelcnn", "different model")
    fails([*resume, "--preset", "cifar10"], capsys, "preset is small")
    fails([*resume, "--dataset", "natural"], capsys, f"dataset is {data}")
    fails([*resume, "--data-option", "num_levels=2"], capsys, "data option num_levels is none")
    fails([*resume, "--eval-split", "test"], capsys, "eval_split is none")
    assert (run / "run.json").read_bytes() == before
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000003"]
    # The same values again, the length, --device and the logging/checkpoint keys may be given.
    assert main([*resume, *TINY, "--dataset", data, "--steps", "3", "--device", "cpu",
                 "--set", "train.log_every=1", "--set", "train.keep_checkpoints=2"]) == 0
    record = json.loads((run / "run.json").read_text())
    assert record["train_config"]["log_every"] == 1 and len(record["history"]) == 2


def test_flags_a_run_needs_and_runs_without_a_record(tmp_path, data, capsys):
    fails(["train", "--out", str(tmp_path / "new")], capsys,
          "a new run needs --model, --dataset, --steps, --epochs or --minutes")
    assert not (tmp_path / "new").exists()
    run = tmp_path / "old"
    assert main(["train", *TINY, "--dataset", data, "--out", str(run), "--steps", "2"]) == 0
    (run / "run.json").unlink()                        # a run from before pixelar wrote run.json
    fails(["train", "--out", str(run), "--resume"], capsys, "run.json is missing", "--model, --dataset")
    assert main(["train", *TINY, "--dataset", data, "--out", str(run), "--steps", "3", "--resume"]) == 0
    assert json.loads((run / "run.json").read_text())["history"][0]["resumed_from"].endswith("step_00000002")
    record = json.loads((run / "run.json").read_text())
    for edit, match in [(lambda r: r.update(length={"steps": "many"}), "'length'"),
                        (lambda r: r.pop("model"), "'model' is missing"),
                        (lambda r: r.update(format="other"), "not a pixelar run record")]:
        bad = json.loads(json.dumps(record))
        edit(bad)
        (run / "run.json").write_text(json.dumps(bad))
        fails(["train", "--out", str(run), "--resume"], capsys, match, "move it away")
        assert json.loads((run / "run.json").read_text()) == bad
    (run / "run.json").write_text("{not json")
    fails(["train", "--out", str(run), "--resume"], capsys, "run.json cannot be read", "move it away")
    assert (run / "run.json").read_text() == "{not json"


def test_a_run_that_stopped_before_its_first_checkpoint_can_start_again(tmp_path, data, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"format": "pixelar-run", "model": "gated_pixelcnn"}))
    assert main(["train", *TINY, "--dataset", data, "--out", str(run), "--steps", "1"]) == 0
    assert json.loads((run / "run.json").read_text())["model"] == "pixelcnn"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "run.json").write_text('{"my": "notes"}')         # not pixelar's: needs --force, as any file
    fails(["train", *TINY, "--dataset", data, "--out", str(mine), "--steps", "1"], capsys, "--force")
    assert (mine / "run.json").read_text() == '{"my": "notes"}'


def test_config_prints_every_field_and_reads_back(capsys):
    assert main(["config", "--model", "pixelcnn_pp", "--preset", "small", "--set", "train.lr=3e-4", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    model_cfg, train_cfg = registry.resolve("pixelcnn_pp", "small", {"train.lr": "3e-4"})
    assert got["model_config"] == pixelar.config.to_dict(model_cfg)
    assert got["train_config"] == pixelar.config.to_dict(train_cfg) and got["train_config"]["lr"] == 3e-4
    assert got["preset"] == "small" and got["description"]
    assert main(["config", "--model", "pixelcnn_pp"]) == 0        # the default preset, KEY=VALUE lines
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    default = registry.entry("pixelcnn_pp").default_preset
    again = registry.resolve("pixelcnn_pp", default, dict(line.split("=", 1) for line in lines))
    assert again == registry.resolve("pixelcnn_pp", default)      # every line is a valid --set
    assert len(lines) == len(pixelar.config.field_names(model_cfg)) + len(pixelar.config.field_names(train_cfg))
    fails(["config", "--model", "pixelcnn", "--set", "train.lrr=1"], capsys, "unknown config key 'train.lrr'")


def test_models_json(capsys, monkeypatch):
    # two models keep the test fast; the full catalog is the same loop (tests/cli/test_cli.py lists it)
    monkeypatch.setattr(registry, "MODELS", {k: registry.MODELS[k] for k in ("pixelcnn", "gated_pixelcnn")})
    assert main(["models", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    assert [m["name"] for m in models] == ["pixelcnn", "gated_pixelcnn"]
    for m in models:
        e = registry.MODELS[m["name"]]
        assert [p["name"] for p in m["presets"]] == list(e.presets)
        assert [p["name"] for p in m["presets"] if p["default"]] == [e.default_preset] == [m["default_preset"]]
        small = next(p for p in m["presets"] if p["name"] == "small")
        assert small["parameters"] == pixelar.build(m["name"], "small").num_parameters()
        assert all(p["description"] for p in m["presets"])


def test_datasets_say_where_and_whether(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PIXELAR_DATA", str(tmp_path))
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-python.tar.gz").write_bytes(b"x")
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(b"x")
    (tmp_path / "imagenet32_npz" / "Imagenet32_val_npz").mkdir(parents=True)   # as the release zip unpacks
    (tmp_path / "imagenet32_npz" / "Imagenet32_val_npz" / "val_data.npz").write_bytes(b"x")
    assert main(["datasets", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in got["datasets"]}
    assert got["cache"] == str(tmp_path)
    assert set(rows) == set(pixelar.data.list_datasets())
    assert rows["cifar10"]["state"] == "present" and rows["cifar10"]["location"] == str(tmp_path / "cifar10")
    assert rows["mnist"]["state"] == "partial (1 of 4 files)" and "downloaded" in rows["mnist"]["source"]
    assert rows["imagenet32_npz"]["state"] == "partial (1 of 11 files)"
    assert rows["cifar100"]["state"] == "absent" and rows["celeba64"]["location"] == str(tmp_path / "celeba")
    assert "yourself" in rows["celeba64"]["source"] and rows["npz:PATH"]["state"] == "-"
    assert all(r["description"] for r in rows.values())
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert f"present: {tmp_path / 'cifar10'}" in out and "CIFAR-10: 50,000 train" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"pixelar {pixelar.__version__}"


def test_device_auto():
    assert check_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert check_device("cpu") == "cpu"


def test_load_and_build_are_typed(tmp_path):
    from pixelar.models.base import AutoregressiveModel
    from pixelar.models.pixelcnn import PixelCNN
    for fn in (pixelar.load, pixelar.build):
        assert typing.get_type_hints(fn)["return"] is AutoregressiveModel
        overloads = typing.get_overloads(fn)
        assert len(overloads) == 2
        hints = [typing.get_type_hints(o) for o in overloads]     # every annotation resolves
        assert hints[0]["return"] is registry.M and hints[1]["return"] is AutoregressiveModel
    assert pixelar.AutoregressiveModel is AutoregressiveModel
    model = pixelar.build(PixelCNN, "small", image_size=4, hidden=4, output_features=4, num_layers=1)
    assert type(model) is PixelCNN
    model.save(tmp_path / "m")
    assert type(pixelar.load(tmp_path / "m", expect_model=PixelCNN)) is PixelCNN

    class Unregistered(PixelCNN):
        pass
    with pytest.raises(pixelar.ConfigError, match="not registered"):
        pixelar.build(Unregistered, "small")
