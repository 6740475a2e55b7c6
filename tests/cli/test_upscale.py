"""`pixelar upscale`: super-resolution keeps every given low-resolution pixel; errors are one line."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import pixelar
from pixelar.cli import main
from tests.conftest import fails

pytestmark = pytest.mark.usefixtures("one_thread")   # many tiny ops: see conftest.one_thread


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    model = pixelar.build("multiscale_pixelcnn", "small", image_size=16, base_hidden=8, hidden=8, num_resnet=1,
                          base_layers=2, base_output_features=16)
    model.save(tmp_path / "ckpt")
    return tmp_path / "ckpt"


@pytest.mark.parametrize("side", [4, 8])
def test_upscale_keeps_every_low_resolution_pixel(ckpt, tmp_path, side):
    low = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
    Image.fromarray(low).save(tmp_path / "low.png")
    out = tmp_path / "high.png"
    assert main(["upscale", "--checkpoint", str(ckpt), "--input", str(tmp_path / "low.png"), "--out", str(out),
                 "--seed", "3"]) == 0
    high = np.asarray(Image.open(out))
    r = 16 // side
    assert high.shape == (16, 16, 3) and np.array_equal(high[::r, ::r], low)
    first = high.copy()
    assert main(["upscale", "--checkpoint", str(ckpt), "--input", str(tmp_path / "low.png"), "--out", str(out),
                 "--seed", "3", "--force"]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), first)           # same seed, same image


def test_upscale_errors(ckpt, tmp_path, capsys):
    Image.fromarray(np.zeros((6, 6, 3), np.uint8)).save(tmp_path / "six.png")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "four.png")
    (tmp_path / "taken.png").write_bytes(b"keep")
    base = ["upscale", "--checkpoint", str(ckpt), "--out"]
    fails(base + [str(tmp_path / "o.png"), "--input", str(tmp_path / "six.png")], capsys, "cannot upscale 6x6")
    fails(base + [str(tmp_path / "o.png"), "--input", str(tmp_path / "nope.png")], capsys, "does not exist")
    fails(base + [str(tmp_path / "taken.png"), "--input", str(tmp_path / "four.png")], capsys, "--force")
    assert (tmp_path / "taken.png").read_bytes() == b"keep"
    other = pixelar.build("pixelcnn", "small", image_size=8, hidden=8, num_layers=2, output_features=8)
    other.save(tmp_path / "pc")
    fails(["upscale", "--checkpoint", str(tmp_path / "pc"), "--out", str(tmp_path / "o.png"), "--input",
           str(tmp_path / "four.png")], capsys, "cannot upscale")


def test_upscale_a_pyramid_model_consistently_averages_back_to_the_input(tmp_path):
    """pyramid_pixelcnn --consistent: the sampled 8x8 image's 2x2-block means are exactly the 4x4 input
    (without it, the paper's ordinary sampling of p(y_0 | y_1), which need not average back)."""
    from pixelar.models.auxiliary import downsample
    torch.manual_seed(0)
    pixelar.build("pyramid_pixelcnn", "small", image_size=8, base_size=2, num_filters=8, num_resnet=1,
                  embedding_filters=8, embedding_resnet=1).save(tmp_path / "pyr")
    low = np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    Image.fromarray(low).save(tmp_path / "low.png")
    argv = ["upscale", "--checkpoint", str(tmp_path / "pyr"), "--input", str(tmp_path / "low.png"),
            "--out", str(tmp_path / "high.png")]
    assert main(argv) == 0
    plain = torch.from_numpy(np.asarray(Image.open(tmp_path / "high.png")).copy()).permute(2, 0, 1)[None]
    assert plain.shape == (1, 3, 8, 8)
    assert main(argv + ["--consistent", "--force"]) == 0
    high = torch.from_numpy(np.asarray(Image.open(tmp_path / "high.png")).copy()).permute(2, 0, 1)[None]
    assert high.shape == (1, 3, 8, 8)
    assert torch.equal(downsample(high)[0].permute(1, 2, 0), torch.from_numpy(low).long())
