"""The command line end to end, and its errors: one line, non-zero exit, no traceback, nothing overwritten."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pixelar.cli import main
from tests.conftest import fails

TINY = ["--set", "model.image_size=8", "--set", "model.hidden=8", "--set", "model.output_features=12",
        "--set", "model.num_layers=2", "--set", "train.batch_size=4", "--set", "train.checkpoint_every=2"]


@pytest.fixture
def npz_data(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "toy.npz"
    np.savez(path, train_images=rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8),
             test_images=rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8))
    return f"npz:{path}"


@pytest.fixture
def run_dir(tmp_path, npz_data):
    out = tmp_path / "run"
    assert main(["train", "--model", "gated_pixelcnn", "--preset", "small", *TINY, "--dataset", npz_data,
                 "--out", str(out), "--steps", "3", "--quiet"]) == 0
    return out


def test_train_eval_sample_complete(run_dir, npz_data, tmp_path, capsys):
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(run_dir), "--dataset", npz_data, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["num_images"] == 5 and r["num_dims"] == 5 * 192 and 0 < r["bits_per_dim"] < 12
    assert (run_dir / "metrics.jsonl").exists() and (run_dir / "learning_curve.png").exists()

    grid = tmp_path / "grid.png"
    assert main(["sample", "--checkpoint", str(run_dir), "-n", "2", "--seed", "1", "--out", str(grid),
                 "--scale", "1"]) == 0
    assert Image.open(grid).size == (2 * 10 + 2, 10 + 2)

    img = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(img)
    out = tmp_path / "done.png"
    assert main(["complete", "--checkpoint", str(run_dir), "--input", str(img), "--known", "top-half",
                 "-n", "2", "--out", str(out), "--scale", "1"]) == 0
    tiles = np.asarray(Image.open(out))
    original = np.asarray(Image.open(img))
    for k in (1, 2):   # completions: the known top half is the input's, exactly
        tile = tiles[2:10, 2 + k * 10: 10 + k * 10]
        assert np.array_equal(tile[:4], original[:4])


def test_resume_continues_and_train_refuses_to_clobber(run_dir, npz_data, capsys):
    fails(["train", "--model", "gated_pixelcnn", "--preset", "small", *TINY, "--dataset", npz_data,
           "--out", str(run_dir), "--steps", "5", "--quiet"], capsys, "already holds a training run")
    assert main(["train", "--model", "gated_pixelcnn", "--preset", "small", *TINY, "--dataset", npz_data,
                 "--out", str(run_dir), "--steps", "5", "--quiet", "--resume"]) == 0
    assert "resuming from" in capsys.readouterr().out
    fails(["train", "--model", "pixelcnn", "--preset", "small", *TINY, "--dataset", npz_data,
           "--out", str(run_dir), "--steps", "7", "--quiet", "--resume"], capsys, "different model")


@pytest.mark.parametrize("argv,match", [
    (["train", "--model", "pixelcnnn", "--dataset", "natural", "--out", "x", "--steps", "1"], "unknown model"),
    (["train", "--model", "pixelcnn", "--preset", "huge", "--dataset", "natural", "--out", "x", "--steps", "1"],
     "unknown preset"),
    (["train", "--model", "pixelcnn", "--set", "model.hiden=4", "--dataset", "natural", "--out", "x",
      "--steps", "1"], "unknown config key 'model.hiden'"),
    (["train", "--model", "pixelcnn", "--set", "train.lr=fast", "--dataset", "natural", "--out", "x",
      "--steps", "1"], "train.lr must be a number"),
    (["check-causality", "--model", "gated_pixelcnn", "--set", "colour=1"], "unknown config key"),
    (["eval", "--checkpoint", "/nonexistent/run", "--dataset", "natural"], "does not exist"),
])
def test_bad_arguments(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fails(argv, capsys, match)
    assert not (tmp_path / "x").exists()


def test_bad_images(run_dir, tmp_path, capsys):
    out = tmp_path / "o.png"
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(small)
    fails(["complete", "--checkpoint", str(run_dir), "--input", str(small), "--known", "top-half",
           "--out", str(out)], capsys, "is 8x6 pixels; the model expects 8x8")
    gray = tmp_path / "gray.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(gray)
    fails(["complete", "--checkpoint", str(run_dir), "--input", str(gray), "--known", "top-half",
           "--out", str(out)], capsys, "has 1 channel(s); the model expects 3")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png at all")
    fails(["complete", "--checkpoint", str(run_dir), "--input", str(junk), "--known", "top-half",
           "--out", str(out)], capsys, "cannot read image")
    assert not out.exists()


def test_existing_output_is_never_overwritten(run_dir, tmp_path, capsys):
    out = tmp_path / "precious.png"
    out.write_bytes(b"precious")
    fails(["sample", "--checkpoint", str(run_dir), "-n", "1", "--out", str(out)], capsys, "already exists")
    assert out.read_bytes() == b"precious"


def test_corrupt_checkpoint_and_data(run_dir, npz_data, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(open(npz_data[4:], "rb").read()[:200])
    fails(["eval", "--checkpoint", str(run_dir), "--dataset", f"npz:{bad}"], capsys, "bad.npz")
    ck = sorted((run_dir / "checkpoints").iterdir())[-1]
    (ck / "ema.safetensors").write_bytes(b"\x00" * 10)   # eval reads the EMA weights
    fails(["eval", "--checkpoint", str(ck), "--dataset", npz_data], capsys, "corrupt or truncated")


def test_data_that_does_not_fit_the_model(run_dir, tmp_path, capsys):
    path = tmp_path / "gray.npz"
    np.savez(path, test_images=np.zeros((2, 8, 8, 1), np.uint8), train_images=np.zeros((2, 8, 8, 1), np.uint8))
    fails(["eval", "--checkpoint", str(run_dir), "--dataset", f"npz:{path}"], capsys, "expects 8x8x3")


def test_check_causality_command(capsys):
    assert main(["check-causality", "--model", "gated_pixelcnn", "--preset", "small",
                 "--image-size", "5"]) == 0
    assert "exactly causal: checked all 75 sub-pixels" in capsys.readouterr().out


def test_check_causality_names_the_leak(capsys, monkeypatch):
    import pixelar.registry as reg
    from pixelar.models.pixelcnn import PixelCNN
    from pixelar.nn.masked import MaskedConv2d

    class Leaky(PixelCNN):
        def __init__(self, config):
            super().__init__(config)
            c = self.input_conv
            self.input_conv = MaskedConv2d(c.in_channels, c.out_channels, c.kernel_size, "B", c.num_groups)

    monkeypatch.setitem(reg.MODELS, "leaky", reg.ModelEntry(Leaky, reg.MODELS["pixelcnn"].presets, "small"))
    assert main(["check-causality", "--model", "leaky", "--image-size", "4"]) == 1
    out = capsys.readouterr().out
    assert "LEAK" in out and "(row 0, col 0, channel 0) depends on (row 0, col 0, channel 0)" in out


def test_models_lists_every_preset_with_parameter_counts(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    import pixelar
    for name, e in pixelar.MODELS.items():
        for preset in e.presets:
            assert any(line.split()[:2] == [name, preset] for line in out.splitlines())


def test_checksum_mismatch_is_reported_and_the_file_kept(tmp_path, capsys):
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"definitely not the CIFAR-10 archive")
    fails(["train", "--model", "pixelcnn", "--dataset", "cifar10", "--data-root", str(tmp_path),
           "--out", str(tmp_path / "r"), "--steps", "1"], capsys, "md5")
    assert archive.read_bytes() == b"definitely not the CIFAR-10 archive"
    assert not (tmp_path / "r").exists()


def test_cli_resume_is_bit_identical(npz_data, tmp_path):
    args = ["train", "--model", "pixelcnn", "--preset", "small", *TINY, "--set", "train.checkpoint_every=100",
            "--dataset", npz_data, "--eval-split", "none", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "one"), "--steps", "6"]) == 0
    assert main([*args, "--out", str(tmp_path / "two"), "--steps", "3"]) == 0
    assert main([*args, "--out", str(tmp_path / "two"), "--steps", "6", "--resume"]) == 0
    one = (tmp_path / "one/checkpoints/step_00000006/model.safetensors").read_bytes()
    two = (tmp_path / "two/checkpoints/step_00000006/model.safetensors").read_bytes()
    assert one == two


def test_mixture_sampling_controls_and_nll_map(run_dir, npz_data, tmp_path, capsys):
    for extra in (["--map"], ["--log-scale-shift", "1.5"], ["--temperature", "0.8"]):
        out = tmp_path / f"s{len(extra)}{extra[0]}.png"
        assert main(["sample", "--checkpoint", str(run_dir), "-n", "1", "--out", str(out), *extra]) == 0
        assert out.exists()
    nll = tmp_path / "nll.png"
    assert main(["eval", "--checkpoint", str(run_dir), "--dataset", npz_data, "--nll-map", str(nll),
                 "--nll-map-images", "2"]) == 0
    assert Image.open(nll).size[0] > 60


def test_mixture_options_are_refused_for_softmax_models(npz_data, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--model", "pixelcnn", "--preset", "small", *TINY, "--set", "model.distribution=categorical",
                 "--dataset", npz_data, "--out", str(out), "--steps", "1", "--quiet", "--eval-split", "none"]) == 0
    fails(["sample", "--checkpoint", str(out), "-n", "1", "--map", "--out", str(tmp_path / "x.png")], capsys,
          "need a logistic-mixture model")


def test_class_conditional_pixelcnn_pp_from_the_command_line(tmp_path, capsys):
    """`train --set model.num_classes=10` on labelled data, then `sample --class 3` and `eval`."""
    rng = np.random.default_rng(0)
    path = tmp_path / "labelled.npz"
    np.savez(path, train_images=rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8),
             train_labels=np.arange(12) % 10, test_images=rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8),
             test_labels=np.arange(4))
    out = tmp_path / "run"
    assert main(["train", "--model", "pixelcnn_pp", "--preset", "small", "--set", "model.image_size=8",
                 "--set", "model.num_filters=8", "--set", "model.num_resnet=1", "--set", "model.num_classes=10",
                 "--set", "train.batch_size=4", "--dataset", f"npz:{path}", "--out", str(out), "--steps", "2",
                 "--quiet"]) == 0
    grid = tmp_path / "threes.png"
    assert main(["sample", "--checkpoint", str(out), "--class", "3", "-n", "2", "--seed", "0",
                 "--out", str(grid), "--scale", "1"]) == 0
    assert grid.exists()
    capsys.readouterr()
    fails(["sample", "--checkpoint", str(out), "-n", "1", "--out", str(tmp_path / "x.png")], capsys,
          "class-conditional: pass --class 0..9")
    assert main(["eval", "--checkpoint", str(out), "--dataset", f"npz:{path}"]) == 0
