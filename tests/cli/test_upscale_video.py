"""``pixelar upscale-video``: a low-resolution clip and its first high-resolution frame in, the high-resolution
clip out (each frame keeping its low-resolution pixels), bad requests refused in one line."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixelar.cli import main
from tests.conftest import fails, tiny

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def setup(tmp_path):
    tiny("video_upscaler", "small", 8).save(tmp_path / "ckpt")
    high = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "low.npz", video=high[:, ::2, ::2])
    Image.fromarray(high[0]).save(tmp_path / "first.png")
    return tmp_path, high


def test_upscale_video_keeps_the_first_frame_and_every_low_res_frame(setup, capsys):
    tmp, high = setup
    out = tmp / "hi.npz"
    args = ["upscale-video", "--checkpoint", str(tmp / "ckpt"), "--input", str(tmp / "low.npz"),
            "--first", str(tmp / "first.png"), "--out", str(out)]
    assert main(args) == 0
    assert "wrote 4 frames of 8x8" in capsys.readouterr().out
    with np.load(out) as f:
        video = f["video"]
    assert video.shape == (4, 8, 8, 3) and video.dtype == np.uint8
    assert np.array_equal(video[0], high[0]) and np.array_equal(video[:, ::2, ::2], high[:, ::2, ::2])
    before = out.read_bytes()
    fails(args, capsys, "already exists")
    assert out.read_bytes() == before


def test_upscale_video_refuses_in_one_line(setup, capsys):
    tmp, high = setup
    base = ["upscale-video", "--checkpoint", str(tmp / "ckpt"), "--input", str(tmp / "low.npz")]
    Image.fromarray(255 - high[0]).save(tmp / "other.png")
    fails(base + ["--first", str(tmp / "other.png"), "--out", str(tmp / "a.npz")], capsys, "sub-sample")
    fails(base + ["--first", str(tmp / "first.png"), "--out", str(tmp / "a.gif")], capsys, ".npz")
    np.savez(tmp / "big.npz", video=high)
    fails(["upscale-video", "--checkpoint", str(tmp / "ckpt"), "--input", str(tmp / "big.npz"), "--first",
           str(tmp / "first.png"), "--out", str(tmp / "b.npz")], capsys, "4x4")
    tiny("video_pixelcnn_ot", "small", 8, num_frames=3, num_context=2, encoder_hidden=4).save(tmp / "video")
    fails(["upscale-video", "--checkpoint", str(tmp / "video"), "--input", str(tmp / "low.npz"), "--first",
           str(tmp / "first.png"), "--out", str(tmp / "c.npz")], capsys, "not a video upscaler")
    assert not any((tmp / n).exists() for n in ("a.npz", "a.gif", "b.npz", "c.npz"))
