"""``pixelar predict``: the given frames kept, an npz and a PNG strip written, bad requests refused in one line."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixelar.cli import main
from pixelar.data.video import MovingDigits
from tests.conftest import tiny

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def setup(tmp_path):
    model = tiny("video_pixelcnn_ot", "small", 8, num_frames=5, num_context=2, encoder_hidden=4)
    model.save(tmp_path / "ckpt")
    frames, actions, state = MovingDigits("test_seen", image_size=8, num_frames=5, num_sequences=1).clip(0)
    clip = tmp_path / "clip.npz"
    np.savez(clip, video=frames[:, 0], actions=actions, state=state)
    return tmp_path, frames


def _fails(args, capsys, text):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pixelar predict: error:") and text in err and "\n" not in err


def test_predict_writes_the_clip_and_a_strip_keeping_the_context(setup, capsys):
    tmp, frames = setup
    out = tmp / "pred.npz"
    args = ["predict", "--checkpoint", str(tmp / "ckpt"), "--input", str(tmp / "clip.npz"), "--context", "2",
            "--frames", "2", "--out", str(out), "--scale", "2"]
    assert main(args) == 0
    assert "wrote 2 predicted frames" in capsys.readouterr().out
    with np.load(out) as f:
        video = f["video"]
    assert video.shape == (4, 8, 8, 1) and video.dtype == np.uint8
    assert np.array_equal(video[:2, ..., 0], frames[:2, 0])
    with Image.open(tmp / "pred.png") as img:
        assert img.size == (2 * (4 * 10 + 2), 2 * (2 * 10 + 2))      # two rows of 4 frames, 2-pixel padding
    before = out.read_bytes()
    _fails(args, capsys, "already exists")
    assert out.read_bytes() == before


def test_predict_refuses_what_the_model_cannot_do(setup, capsys):
    tmp, frames = setup
    base = ["predict", "--checkpoint", str(tmp / "ckpt"), "--input", str(tmp / "clip.npz")]
    _fails(base + ["--context", "3", "--out", str(tmp / "a.npz")], capsys, "pass --context 2")
    _fails(base + ["--frames", "4", "--out", str(tmp / "b.npz")], capsys, "at most 3 frames")
    _fails(base + ["--out", str(tmp / "c.gif")], capsys, "must end in .npz")
    np.savez(tmp / "noactions.npz", video=frames[:, 0])
    _fails(["predict", "--checkpoint", str(tmp / "ckpt"), "--input", str(tmp / "noactions.npz"), "--frames", "1",
            "--out", str(tmp / "d.npz")], capsys, "has none")
    image_model = tiny("pixelcnn", "small", 8)
    image_model.save(tmp / "image")
    _fails(["predict", "--checkpoint", str(tmp / "image"), "--input", str(tmp / "clip.npz"), "--frames", "1",
            "--out", str(tmp / "e.npz")], capsys, "needs a video model")
    assert not any((tmp / n).exists() for n in ("a.npz", "b.npz", "d.npz", "e.npz"))
