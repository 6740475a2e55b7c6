"""Video data: the seeded moving-digits generator (splits, actions, state) and the Moving MNIST loader
(download against a local server, checksum, splits)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from pixelar.data import load_dataset
from pixelar.data import video as vd
from pixelar.data.base import collate
from pixelar.errors import DataError


def test_items_follow_the_video_convention_and_collate():
    ds = load_dataset("moving_digits", "train", image_size=8, num_frames=5, num_context=2, num_sequences=3)
    x, item = ds[0]
    assert x.dtype == torch.uint8 and x.shape == (1, 3 * 8, 8)
    assert item["context"].shape == (1, 2 * 8, 8) and item["label"] == -1
    assert item["actions"].shape == (5, 5) and item["state"].shape == (5, 5)
    frames, _, _ = ds.clip(0)
    assert frames.shape == (5, 1, 8, 8)
    assert torch.equal(x[0, 8:16], torch.from_numpy(frames[3, 0])) and torch.equal(item["context"][0, :8],
                                                                                  torch.from_numpy(frames[0, 0]))
    batch = collate([ds[i] for i in range(3)])
    assert batch["image"].shape == (3, 1, 24, 8) and batch["actions"].shape == (3, 5, 5)
    assert ds.info.image_size == 8 and ds.info.num_channels == 1 and len(ds) == 3


def test_clips_are_reproducible_and_splits_differ():
    a = load_dataset("moving_digits", "train", image_size=16, num_sequences=2, seed=3)
    b = load_dataset("moving_digits", "train", image_size=16, num_sequences=2, seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a.clip(1), b.clip(1)))
    valid = load_dataset("moving_digits", "valid", image_size=16, num_sequences=2, seed=3)
    assert not np.array_equal(a.clip(0)[0], valid.clip(0)[0])
    assert not np.array_equal(a.clip(0)[0], a.clip(1)[0])


def test_actions_are_the_displacements_between_states():
    ds = load_dataset("moving_digits", "test_seen", image_size=64, num_sequences=4)
    for i in range(4):
        frames, actions, state = ds.clip(i)
        d = round(28 * 64 / 64)
        pos = state[:, :4] * (64 - d)                           # pixels
        assert np.allclose(pos[1:] - pos[:-1], actions[:-1, :4] * 3.0, atol=1e-3)
        assert np.all((state[:, :4] >= 0) & (state[:, :4] <= 1)) and np.all(actions[-1] == 0)
        assert np.allclose(state[:, 4], np.arange(20) / 19)
        assert set(np.unique(actions[:, 4])) <= {0.0, 1.0}
        assert frames.max() == 255


def _digit_file(tmp_path):
    """An MNIST-like npz whose class-k digits are filled with the value 10 + k (to read classes back)."""
    images = np.repeat((10 + np.arange(10, dtype=np.uint8))[:, None, None], 28 * 28, 1).reshape(10, 28, 28)
    images = np.concatenate([images, images])
    path = tmp_path / "digits.npz"
    np.savez(path, images=images[..., None], labels=np.concatenate([np.arange(10), np.arange(10)]))
    return str(path)


def test_test_novel_holds_out_digit_classes(tmp_path):
    path = _digit_file(tmp_path)
    seen = set()
    for split in ("train", "valid", "test_seen"):
        ds = load_dataset("moving_digits", split, image_size=64, num_sequences=6, digits=path)
        seen |= {int(v) for i in range(6) for v in np.unique(ds.clip(i)[0])}
    novel = load_dataset("moving_digits", "test_novel", image_size=64, num_sequences=6, digits=path)
    held = {int(v) for i in range(6) for v in np.unique(novel.clip(i)[0])}
    assert seen - {0} <= set(range(10, 18)) and held - {0} <= {18, 19}


def test_glyphs_and_option_errors():
    g = vd.glyphs(10)
    assert g.shape == (10, 10, 10) and g.dtype == np.uint8
    assert len({im.tobytes() for im in g}) == 10
    with pytest.raises(DataError, match="no split"):
        load_dataset("moving_digits", "test")
    with pytest.raises(DataError, match="num_context"):
        load_dataset("moving_digits", "train", num_frames=3, num_context=3)


def _moving_mnist_file(path, clips=12):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, size=(20, clips, 64, 64), dtype=np.uint8)
    np.save(path, arr)
    return arr


def test_moving_mnist_downloads_checks_and_splits(http_root, tmp_path, monkeypatch):
    served, base = http_root
    arr = _moving_mnist_file(served / vd.MOVING_MNIST_FILE)
    md5 = hashlib.md5((served / vd.MOVING_MNIST_FILE).read_bytes()).hexdigest()
    monkeypatch.setattr(vd, "MOVING_MNIST_MIRRORS", [base])
    monkeypatch.setattr(vd, "MOVING_MNIST_MD5", md5)
    root = tmp_path / "cache"
    ds = load_dataset("moving_mnist", "train", root=root)
    assert len(ds) == 12 and (root / vd.MOVING_MNIST_FILE).exists()
    frames, actions, state = ds.clip(5)
    assert np.array_equal(frames[:, 0], arr[:, 5]) and actions.shape == (20, 0) and state.shape == (20, 0)
    x, item = ds[5]
    assert x.shape == (1, 18 * 64, 64) and item["context"].shape == (1, 128, 64)
    assert len(load_dataset("moving_mnist", "test", root=root)) == 0      # a 12-clip file has no test clips


def test_moving_mnist_refuses_a_wrong_file(http_root, tmp_path, monkeypatch):
    served, base = http_root
    _moving_mnist_file(served / vd.MOVING_MNIST_FILE, clips=2)
    monkeypatch.setattr(vd, "MOVING_MNIST_MIRRORS", [base])
    with pytest.raises(DataError, match="md5|checksum"):
        load_dataset("moving_mnist", "train", root=tmp_path / "cache")
    assert not (tmp_path / "cache" / vd.MOVING_MNIST_FILE).exists()
    with pytest.raises(DataError, match="no split"):
        load_dataset("moving_mnist", "test_seen", root=tmp_path / "cache")


def _robot_record(t_steps: int, seed: int) -> bytes:
    import io

    from PIL import Image

    from pixelar.data.tfrecord import encode_example
    rng = np.random.default_rng(seed)
    feats = {}
    for t in range(t_steps):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(buf, format="PNG")
        feats[f"move/{t}/image/encoded"] = [buf.getvalue()]
        feats[f"move/{t}/commanded_pose/vec_pitch_yaw"] = np.full(5, t + seed, np.float32)
        feats[f"move/{t}/endeffector/vec_pitch_yaw"] = np.arange(5, dtype=np.float32) * t
    return encode_example(feats)


def test_tfrecord_framing_and_examples_round_trip(tmp_path):
    from pixelar.data import tfrecord as tr
    assert tr.crc32c(b"123456789") == 0xE3069283                       # the CRC-32C check value
    ex = {"a": [b"xy", b""], "b": np.array([1.5, -2.0], np.float32)}
    path = tmp_path / "f.tfrecord"
    tr.write_records(path, [tr.encode_example(ex), b"raw"])
    recs = list(tr.read_records(path))
    got = tr.parse_example(recs[0])
    assert got["a"] == [b"xy", b""] and np.array_equal(got["b"], ex["b"]) and recs[1] == b"raw"
    assert [tr.read_record_at(path, o, n) for o, n in tr.index_records(path)] == recs
    data = bytearray(path.read_bytes())
    data[20] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="CRC|corrupt"):
        list(tr.read_records(path))


def test_robot_pushing_reads_the_release_layout(tmp_path):
    from pixelar.data.tfrecord import write_records
    folder = tmp_path / "push_testnovel"
    folder.mkdir()
    write_records(folder / "push_testnovel.tfrecord-00000-of-00001", [_robot_record(20, 0), _robot_record(20, 1)])
    ds = load_dataset("robot_pushing", "test_novel", root=tmp_path, image_size=8)
    assert len(ds) == 2 and ds.info.num_channels == 3
    frames, actions, state = ds.clip(1)
    assert frames.shape == (20, 3, 8, 8) and np.allclose(actions[:, 0], np.arange(20) + 1)
    assert np.allclose(state[3], np.arange(5) * 3)
    x, item = ds[0]
    assert x.shape == (3, 18 * 8, 8) and item["actions"].shape == (20, 5)
    with pytest.raises(DataError, match="cannot be downloaded"):
        load_dataset("robot_pushing", "train", root=tmp_path)
