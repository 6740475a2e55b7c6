"""The error promise, walked over the audit's D8 list (and D5, D6, D9, D14, D15): every input gives
exit status 2, exactly one line on stderr, no traceback, and leaves every file that existed untouched."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from pixelar import checkpoint as ckpt
from pixelar.cli import main
from pixelar.training.lock import RunLock

TINY = ["--model", "gated_pixelcnn", "--preset", "small", "--set", "model.image_size=8", "--set", "model.hidden=8",
        "--set", "model.output_features=12", "--set", "model.num_layers=2", "--set", "train.batch_size=4",
        "--quiet"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny trained run, its data, and files an error must never touch."""
    root = tmp_path_factory.mktemp("promise")
    rng = np.random.default_rng(0)
    np.savez(root / "toy.npz", train_images=rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8),
             test_images=rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8))
    np.savez(root / "empty.npz", train_images=rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8),
             test_images=np.zeros((0, 8, 8, 3), dtype=np.uint8))
    assert main(["train", *TINY, "--dataset", f"npz:{root / 'toy.npz'}", "--out", str(root / "run"),
                 "--steps", "2", "--eval-split", "none"]) == 0
    (root / "a_file").write_text("not a directory\n")
    (root / "existing.png").write_bytes(b"precious")
    (root / "mydir").mkdir()
    (root / "mydir" / "metrics.jsonl").write_text('{"step": 999, "mine": true}\n')
    (root / "mydir" / "learning_curve.png").write_bytes(b"my own plot")
    (root / "cpfile" / "checkpoints").parent.mkdir()
    (root / "cpfile" / "checkpoints").write_text("a file where the checkpoints go\n")
    (root / "outdir").mkdir()
    step = ckpt.checkpoint_dirs(root / "run")[0]
    for name, edit in [("no_size", lambda m: m["config"].pop("image_size")),
                       ("huge", lambda m: m["config"].update(hidden=10 ** 7)),
                       ("inf_size", lambda m: m["config"].update(image_size=1e400)),
                       ("cfg_list", lambda m: m.update(config=[1])),
                       ("model_list", lambda m: m.update(model=["gated_pixelcnn"]))]:
        d = root / name / "checkpoints" / step.name
        shutil.copytree(step, d)
        meta = json.loads((d / ckpt.CONFIG).read_text())
        edit(meta)
        (d / ckpt.CONFIG).write_text(json.dumps(meta))
    d = root / "int_weights" / "checkpoints" / step.name
    shutil.copytree(step, d)
    from safetensors.torch import save_file
    w = ckpt.load_weights(d / ckpt.WEIGHTS)
    save_file({k: v.to(torch.int32) if v.is_floating_point() else v for k, v in w.items()}, str(d / ckpt.WEIGHTS))
    d = root / "bad_state" / "checkpoints" / step.name
    shutil.copytree(step, d)
    for i, state in enumerate([[1, 2, 3], {"step": 1}]):
        dd = d.parent / f"step_{i:08d}"
        if i:
            shutil.copytree(step, dd)
        torch.save(state, (dd if i else d) / ckpt.STATE)
    return root


def _cases():
    R, N = "{root}/run", "npz:{root}/toy.npz"
    train = ["train", *TINY, "--dataset", N, "--eval-split", "none"]
    sample = ["sample", "--checkpoint", R, "--out", "{root}/s.png"]
    ev = ["eval", "--checkpoint", R, "--dataset", N]
    return {
        # D8: bad numbers for sampling (s03-s05, s12, F30, rf3)
        "temperature 0": (sample + ["--temperature", "0"], "temperature"),
        "temperature -1": (sample + ["--temperature", "-1"], "temperature"),
        "temperature nan": (sample + ["--temperature", "nan"], "temperature"),
        "log-scale-shift nan": (sample + ["--log-scale-shift", "nan"], "log-scale-shift"),
        "-n 1e9": (sample + ["-n", "1000000000"], "-n must be at most"),
        "-n 0": (sample + ["-n", "0"], "-n must be at least 1"),
        "scale 0": (sample + ["--scale", "0"], "--scale"),
        # output paths (s08, s09)
        "out is a directory": (["sample", "--checkpoint", R, "--out", "{root}/outdir", "--force"], "is a directory"),
        "out under a file": (["sample", "--checkpoint", R, "--out", "{root}/a_file/x.png"], "is a file"),
        "out exists": (["sample", "--checkpoint", R, "--out", "{root}/existing.png"], "already exists"),
        # devices (s13 s14 F27 F28)
        "device bogus": (sample + ["--device", "bogus"], "--device"),
        "device cuda": (sample + ["--device", "cuda:99"], "--device"),
        # eval (c28 c29 c34)
        "eval batch 0": (ev + ["--batch-size", "0"], "--batch-size"),
        "eval empty split": (["eval", "--checkpoint", R, "--dataset", "npz:{root}/empty.npz"], "no images"),
        "nll-map-images 0": (ev + ["--nll-map", "{root}/m.png", "--nll-map-images", "0"], "--nll-map-images"),
        "weights ema without ema": (ev + ["--weights", "ema"], "no EMA weights"),
        "data-option malformed": (ev + ["--data-option", "num_levels"], "KEY=VALUE"),
        "data-option twice": (["eval", "--checkpoint", R, "--dataset", N + "?num_levels=256", "--data-option",
                               "num_levels=256"], "both"),
        "data-root is a file": (ev + ["--data-root", "{root}/a_file"], "not a directory"),
        # bad --set train values (c10 c11 c13-c23 k01 k02, D4, D6)
        "checkpoint_every 0": (train + ["--set", "train.checkpoint_every=0", "--out", "{root}/z", "--steps", "2"],
                               "checkpoint_every"),
        "log_every 0": (train + ["--set", "train.log_every=0", "--out", "{root}/z", "--steps", "2"], "log_every"),
        "grad_clip -1": (train + ["--set", "train.grad_clip=-1", "--out", "{root}/z", "--steps", "2"], "grad_clip"),
        "lr inf": (train + ["--set", "train.lr=inf", "--out", "{root}/z", "--steps", "2"], "train.lr"),
        "lr nan": (train + ["--set", "train.lr=nan", "--out", "{root}/z", "--steps", "2"], "train.lr"),
        "seed -1": (train + ["--set", "train.seed=-1", "--out", "{root}/z", "--steps", "2"], "train.seed"),
        "betas 2": (train + ["--set", "train.betas=2,0.9", "--out", "{root}/z", "--steps", "2"], "train.betas"),
        "weight_decay -1": (train + ["--set", "train.weight_decay=-1", "--out", "{root}/z", "--steps", "2"],
                            "weight_decay"),
        "hidden abc": (train + ["--set", "model.hidden=abc", "--out", "{root}/z", "--steps", "2"], "integer"),
        "hidden 1e400": (train + ["--set", "model.hidden=1e400", "--out", "{root}/z", "--steps", "2"], "integer"),
        # run length (k09 k11, D6)
        "steps 0": (train + ["--out", "{root}/z", "--steps", "0"], "--steps"),
        "steps -5": (train + ["--out", "{root}/z", "--steps", "-5"], "--steps"),
        "epochs 0": (train + ["--out", "{root}/z", "--epochs", "0"], "--epochs"),
        "minutes nan": (train + ["--out", "{root}/z", "--minutes", "nan"], "--minutes"),
        "minutes inf": (train + ["--out", "{root}/z", "--minutes", "inf"], "--minutes"),
        "minutes -1": (train + ["--out", "{root}/z", "--minutes", "-1"], "--minutes"),
        # run directories (o02 o03 o04, D9, D5)
        "train out is a file": (train + ["--out", "{root}/a_file", "--steps", "1"], "is a file"),
        "checkpoints is a file": (train + ["--out", "{root}/cpfile", "--steps", "1"], "is a file"),
        "out holds foreign files": (train + ["--out", "{root}/mydir", "--steps", "1"], "--force"),
        "out holds a run": (train + ["--out", R, "--steps", "1"], "--resume"),
        "resume nothing": (train + ["--out", "{root}/z", "--steps", "1", "--resume"], "no checkpoint"),
        "out is locked": (train + ["--out", "{root}/locked", "--steps", "1"], "in use by another training run"),
        # hostile or broken checkpoints (cf6 cf7 cf9 cf10, D3, D10, st5-st10)
        "config without image_size": (["sample", "--checkpoint", "{root}/no_size", "--out", "{root}/s.png"],
                                      "lacks image_size"),
        "config hidden 1e7": (["sample", "--checkpoint", "{root}/huge", "--out", "{root}/s.png"], "huge"),
        "config image_size 1e400": (["sample", "--checkpoint", "{root}/inf_size", "--out", "{root}/s.png"],
                                    "inf_size"),
        "config not a dict": (["sample", "--checkpoint", "{root}/cfg_list", "--out", "{root}/s.png"], "JSON object"),
        "model a list": (["sample", "--checkpoint", "{root}/model_list", "--out", "{root}/s.png"], "model"),
        "int32 weights": (["eval", "--checkpoint", "{root}/int_weights", "--dataset", N], "stored as I32"),
        "training states wrong": (train + ["--out", "{root}/bad_state", "--steps", "3", "--resume"],
                                  "none of the checkpoints"),
        # D14
        "receptive-field init-images 0": (["receptive-field", "--model", "pixelcnn_pp", "--preset", "small",
                                           "--set", "model.num_filters=8", "--set", "model.num_resnet=1",
                                           "--image-size", "8", "--pixel", "3", "3", "--init-images", "0",
                                           "--out", "{root}/rf.png"], "--init-images"),
        "receptive-field scale 0": (["receptive-field", "--model", "pixelcnn", "--preset", "small", "--image-size",
                                     "8", "--pixel", "3", "3", "--scale", "0", "--out", "{root}/rf.png"], "--scale"),
    }


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.mark.parametrize("name", list(_cases()))
def test_d8_every_bad_input_gives_one_line_and_exit_2(name, world, capsys):
    argv, match = _cases()[name]
    argv = [a.format(root=world) for a in argv]
    before = _snapshot(world)
    capsys.readouterr()
    if name == "out is locked":
        with RunLock(world / "locked"):
            code = main(argv)
    else:
        code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert match in err, err
    after = _snapshot(world)
    assert {k: v for k, v in after.items() if k in before} == before, "a pre-existing file was changed"
    assert not (world / "z").exists() and not (world / "s.png").exists()
    assert not list(Path.cwd().glob(".*.tmp"))


def test_d8_broken_pipe_is_quiet(tmp_path, capsys, monkeypatch):
    class ClosedPipe(io.TextIOWrapper):
        def write(self, s):
            raise BrokenPipeError(32, "Broken pipe")
    target = open(tmp_path / "stdout", "wb")
    monkeypatch.setattr("sys.stdout", ClosedPipe(target))
    assert main(["datasets"]) == 0
    monkeypatch.undo()
    assert capsys.readouterr().err == ""


def test_d8_os_errors_are_one_line(tmp_path, capsys, monkeypatch):
    def disk_full(*a, **k):
        raise OSError(28, "No space left on device", str(tmp_path / "x"))
    import pixelar.commands.catalog as catalog
    monkeypatch.setattr(catalog, "cmd_datasets", disk_full, raising=False)
    from pixelar import cli
    parser = cli._parser()
    args = parser.parse_args(["datasets"])
    monkeypatch.setattr(cli, "_parser", lambda: type("P", (), {"parse_args": lambda self, a: args})())
    args.func = disk_full
    assert cli.main(["datasets"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "No space left on device" in err
