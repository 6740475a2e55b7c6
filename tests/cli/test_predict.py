"""``pixelar predict``: the given frames kept, an npz and a PNG strip written, bad requests refused in one line."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from pixelar.cli import main
from pixelar.data.video import MovingDigits
from pixelar.imageio import read_gif, save_gif
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
    _fails(base + ["--out", str(tmp / "c.mp4")], capsys, "must end in .npz")
    np.savez(tmp / "noactions.npz", video=frames[:, 0])
    _fails(["predict", "--checkpoint", str(tmp / "ckpt"), "--input", str(tmp / "noactions.npz"), "--frames", "1",
            "--out", str(tmp / "d.npz")], capsys, "has none")
    image_model = tiny("pixelcnn", "small", 8)
    image_model.save(tmp / "image")
    _fails(["predict", "--checkpoint", str(tmp / "image"), "--input", str(tmp / "clip.npz"), "--frames", "1",
            "--out", str(tmp / "e.npz")], capsys, "needs a video model")
    assert not any((tmp / n).exists() for n in ("a.npz", "b.npz", "d.npz", "e.npz"))


def test_a_gif_clip_in_and_an_animated_gif_out(setup, capsys):
    """A GIF clip gives the frames (gray: one channel, exact 8-bit values), --actions-from the vectors;
    the GIF written shows given | predicted per frame and keeps the given frames exactly."""
    tmp, frames = setup
    save_gif(torch.from_numpy(frames[:, :1]), tmp / "clip.gif", 256)          # (T, 1, 8, 8)
    assert np.array_equal(read_gif(tmp / "clip.gif"), frames[:, :1])
    out = tmp / "pred.gif"
    base = ["predict", "--checkpoint", str(tmp / "ckpt"), "--input", str(tmp / "clip.gif"), "--frames", "2"]
    _fails(base + ["--out", str(out)], capsys, "--actions-from")
    assert main(base + ["--actions-from", str(tmp / "clip.npz"), "--out", str(out), "--scale", "1"]) == 0
    gif = read_gif(out)                                                        # (4, 1, 8, 8 + 2 + 8)
    assert gif.shape == (4, 1, 8, 18)
    assert np.array_equal(gif[:, :, :, :8], frames[:4, :1])                    # the given clip, left
    assert np.array_equal(gif[:2, :, :, 10:], frames[:2, :1])                  # the context kept, right
    with np.load(tmp / "clip.npz") as f:                                       # the same as from the npz
        assert main(["predict", "--checkpoint", str(tmp / "ckpt"), "--input", str(tmp / "clip.npz"),
                     "--frames", "2", "--out", str(tmp / "same.npz")]) == 0
        assert f["video"].shape[0] == 5
    with np.load(tmp / "same.npz") as f:
        assert np.array_equal(f["video"][..., 0], gif[:, 0, :, 10:])


def test_a_broken_gif_or_actions_file_is_one_line(setup, capsys):
    tmp, _ = setup
    (tmp / "bad.gif").write_bytes(b"GIF89a not really")
    base = ["predict", "--checkpoint", str(tmp / "ckpt"), "--frames", "1"]
    _fails(base + ["--input", str(tmp / "bad.gif"), "--out", str(tmp / "a.gif")], capsys, "bad.gif")
    np.savez(tmp / "nothing.npz", other=np.zeros(3))
    _fails(base + ["--input", str(tmp / "clip.npz"), "--actions-from", str(tmp / "nothing.npz"),
                   "--out", str(tmp / "b.gif")], capsys, "neither 'actions' nor 'state'")


def test_eval_of_a_video_model_reports_nats_per_sub_pixel(setup, capsys):
    """Table 2's unit, nats per sub-pixel of the predicted frames = bits/dim x ln 2, in text and JSON."""
    tmp, _ = setup
    args = ["eval", "--checkpoint", str(tmp / "ckpt"), "--dataset", "moving_digits", "--split", "test_seen",
            "--data-option", "image_size=8", "--data-option", "num_frames=5", "--data-option", "num_sequences=2"]
    assert main(args + ["--json"]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["nats_per_dim"] == pytest.approx(r["bits_per_dim"] * math.log(2), rel=1e-12)
    assert r["nats_per_image"] == pytest.approx(r["nats_per_dim"] * 3 * 8 * 8, rel=1e-9)   # 3 predicted frames
    assert main(args) == 0
    assert f"{r['nats_per_dim']:.4f} nats per sub-pixel" in capsys.readouterr().out
