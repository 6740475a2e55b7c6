"""Lossless compression (docs/codec.md): bit-exact round trips for every family, across processes and
thread counts; the size is the model's NLL plus a small fixed overhead; corrupt files fail cleanly."""
from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import pixelar
from pixelar.errors import PixelarError
from tests.conftest import tiny

pytest.importorskip("constriction", reason="pip install 'pixelar[codec]'")
from pixelar.codec import decode, encode, stats
from pixelar.codec.container import FIXED_OVERHEAD

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[2]


def family_preset(name: str) -> str:
    presets = pixelar.MODELS[name].presets
    return "small" if "small" in presets else "mnist"     # the PixelRNNs: the binary MNIST recipe


def cases() -> list[tuple[str, str, int]]:
    """(model, preset, size): every registered image family at its smallest size, and RGB Row LSTM (video
    models, ``can_predict``, score clips given past frames, and the video upscaler a frame given the previous
    one: not images the codec compresses, it stores no such condition)."""
    return [(name, family_preset(name), 8 if name == "pyramid_pixelcnn" else 4) for name, e in pixelar.MODELS.items()
            if not e.model_class.can_predict and name != "video_upscaler"] \
        + [("row_lstm", "cifar10", 4)]


def random_images(model, n: int, h: int | None = None, w: int | None = None, seed: int = 0) -> torch.Tensor:
    C, H, W = model.image_shape
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.config.num_levels, (n, C, h or H, w or W), generator=g).to(torch.uint8)


def real_images(model, n: int) -> torch.Tensor:
    """n real photo crops at the model's shape: the built-in natural test patches (photos shipped with
    scikit-image / scikit-learn / matplotlib), cut to the model's size, averaged to gray for one
    channel and mapped to its levels as pixelar reads 8-bit images; random images where the photos
    are not installed (pip install 'pixelar[demo]')."""
    from pixelar.data import load_dataset
    from pixelar.errors import DataError
    from pixelar.imageio import _levels_from_uint8
    C, H, W = model.image_shape
    try:
        data = load_dataset("natural", "test")
    except (DataError, ImportError):
        return random_images(model, n, seed=11)
    crops = torch.stack([data[i * 37 % len(data)][0][:, :H, :W] for i in range(n)])      # (n, 3, H, W)
    if C == 1:
        crops = crops.double().mean(dim=1, keepdim=True).round().to(torch.uint8)
    return torch.from_numpy(_levels_from_uint8(crops.numpy(), model.config.num_levels))


def images_to_code(model) -> torch.Tensor:
    """Two random images and two real photo crops."""
    return torch.cat([random_images(model, 2, seed=3), real_images(model, 2)])


ENCODE_ALL = """
import sys, torch
from pathlib import Path
from tests.conftest import tiny
from tests.codec.test_codec import cases, images_to_code
from pixelar.codec import encode
out = Path(sys.argv[1])
for name, preset, size in cases():
    torch.set_num_threads(1)      # the same weights as the decoding side (data-dependent init)
    m = tiny(name, preset, size)
    torch.set_num_threads(2)      # encode must pin one thread itself
    (out / f"{name}-{preset}.pxz").write_bytes(encode(m, images_to_code(m)))
"""


def test_every_family_round_trips_across_processes_and_thread_counts(tmp_path):
    """Random images and real photo crops, encoded in a subprocess under OMP_NUM_THREADS=2, decoded here
    with one thread: identical images."""
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    subprocess.run([sys.executable, "-c", ENCODE_ALL, str(tmp_path)], check=True, env=env, cwd=ROOT, timeout=1200)
    for name, preset, size in cases():
        m = tiny(name, preset, size)
        y = decode(m, (tmp_path / f"{name}-{preset}.pxz").read_bytes())
        assert torch.equal(torch.stack(y), images_to_code(m)), name


def test_size_is_the_nll_plus_a_fixed_overhead():
    m = tiny("pixelcnn_pp", "small")
    x = random_images(m, 3, seed=1)
    data = encode(m, x)
    nll_bytes = -m.log_prob(x.long()).sum().item() / math.log(2) / 8
    s = stats(data)
    # per file FIXED_OVERHEAD (40 B), per image 8 B of shape, per tile a varint (<= 3 B) and the
    # range coder's final 32-bit word (<= 4 B)
    assert s["payload"] <= 1.005 * nll_bytes + 4 * s["tiles"]
    assert s["overhead"] <= FIXED_OVERHEAD + 8 * 3 + 3 * s["tiles"]
    assert len(data) <= 1.005 * nll_bytes + 64 + 8 * 3 + 7 * s["tiles"]


@pytest.mark.parametrize("name, size", [("pixelcnn_pp", 8), ("pixelsnail", 8), ("grayscale_pixelcnn", 4),
                                        ("pyramid_pixelcnn", 8)])
def test_images_of_any_size_are_cut_into_tiles(name, size):
    """Edge tiles zero-padded (pixelsnail: zigzag order; the auxiliary models: padded ŷ and pyramid levels)."""
    over = {"ordering": "zigzag"} if name == "pixelsnail" else {}
    m = tiny(name, "small", size, **over)
    images = [random_images(m, 1, 11, 13, seed=5)[0], random_images(m, 1, 3, 8, seed=6)[0]]
    data = encode(m, images)
    assert stats(data)["tiles"] == math.ceil(11 / size) * math.ceil(13 / size) + math.ceil(8 / size)
    assert all(torch.equal(a, b) for a, b in zip(decode(m, data), images))


def test_padding_costs_nothing():
    """An edge tile costs the NLL of its real pixels (in the zero-padded tile) and nothing more."""
    m = tiny("pixelcnn", "small")
    x = random_images(m, 1, 5, 6, seed=2)
    padded = torch.zeros(1, 3, 8, 8, dtype=torch.long)
    padded[:, :, :5, :6] = x
    nll_bytes = -m.log_prob_elementwise(padded)[:, :, :5, :6].sum().item() / math.log(2) / 8
    assert stats(encode(m, x))["payload"] <= 1.005 * nll_bytes + 4


@pytest.fixture(scope="module")
def small_file():
    m = tiny("pixelcnn", "small")
    x = random_images(m, 1, seed=4)
    return m, x, encode(torch.nn.Module.eval(m), x)


def test_another_model_is_refused(small_file):
    _, _, data = small_file
    other = tiny("pixelcnn", "small")
    with torch.no_grad():
        next(other.parameters()).add_(1e-3)
    with pytest.raises(PixelarError, match="different model"):
        decode(other, data)


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_corrupted_and_truncated_files_fail_quickly_with_one_line(small_file):
    m, x, data = small_file
    rng = np.random.default_rng(0)
    cases = [data[:k] for k in rng.integers(0, len(data), 100)]
    for _ in range(200):
        b = bytearray(data)
        for pos in rng.integers(0, len(b), rng.integers(1, 4)):
            b[pos] ^= 1 << int(rng.integers(0, 8))
        cases.append(bytes(b))
    body = data[:-4]
    huge = bytearray(body)
    huge[32:40] = struct.pack("<II", 60000, 60000)                  # valid CRC, absurd image size
    many = bytearray(body)
    many[28:32] = struct.pack("<I", 1 << 30)                       # valid CRC, absurd image count
    cases += [_with_crc(bytes(huge)), _with_crc(bytes(many)), b"", b"PXZ", b"PNG" + data[3:]]
    start = time.perf_counter()
    for case in cases:
        with pytest.raises(PixelarError) as e:
            decode(m, case)
        assert "\n" not in str(e.value)
    assert time.perf_counter() - start < 10
    payload = bytearray(body)
    payload[-3] ^= 0x10                                            # valid CRC, a flipped coded bit
    try:
        (y,) = decode(m, _with_crc(bytes(payload)))
    except PixelarError as e:
        assert "checksum" in str(e) or "corrupt" in str(e)
    else:
        assert torch.equal(y, x[0])                                # a bit the decoder never read


def test_bad_input_is_refused(small_file):
    m, x, _ = small_file
    with pytest.raises(PixelarError, match="integer"):
        encode(m, x.float())
    with pytest.raises(PixelarError, match="must be an integer"):
        encode(m, x[:, :1])


def test_cli_compress_and_decompress(tmp_path):
    from pixelar.cli import main
    m = tiny("gated_pixelcnn", "small")
    ckpt = tmp_path / "ckpt"
    m.save(str(ckpt))
    img = random_images(m, 1, 9, 10, seed=7)[0]
    Image.fromarray(img.permute(1, 2, 0).numpy()).save(tmp_path / "in.png")
    pxz, png = tmp_path / "out.pxz", tmp_path / "back.png"
    assert main(["compress", "--checkpoint", str(ckpt), "--input", str(tmp_path / "in.png"), "--out", str(pxz)]) == 0
    assert main(["compress", "--checkpoint", str(ckpt), "--input", str(tmp_path / "in.png"), "--out", str(pxz)]) == 2
    assert main(["decompress", "--checkpoint", str(ckpt), "--input", str(pxz), "--out", str(png)]) == 0
    assert np.array_equal(np.asarray(Image.open(png)), img.permute(1, 2, 0).numpy())
    assert main(["decompress", "--checkpoint", str(ckpt), "--input", str(pxz), "--out", str(png)]) == 2
    np.savez(tmp_path / "x.npz", images=np.stack([img.permute(1, 2, 0).numpy()] * 2))
    assert main(["compress", "--checkpoint", str(ckpt), "--input", str(tmp_path / "x.npz"),
                 "--out", str(pxz), "--force"]) == 0
    assert main(["decompress", "--checkpoint", str(ckpt), "--input", str(pxz), "--out", str(tmp_path / "dir")]) == 0
    assert len(list((tmp_path / "dir").glob("*.png"))) == 2


@pytest.mark.parametrize("name, preset", [("gated_pixelcnn", "cifar10_class"), ("pixelcnn_pp", "cifar10_class"),
                                          ("multiscale_pixelcnn", "class_small")])
def test_class_conditional_models_code_with_the_stored_labels(name, preset):
    """Each image is coded given its class; the labels travel in the file (2 bytes per image)."""
    from pixelar.codec import labels_of
    m = tiny(name, preset, 8 if name == "multiscale_pixelcnn" else 4)
    x = random_images(m, 3, seed=8)
    labels = [2, 0, 7]
    data = encode(m, x, labels=labels)
    assert labels_of(data) == labels
    assert torch.equal(torch.stack(decode(m, data)), x)
    nll_bytes = -m.log_prob(x.long(), torch.tensor(labels)).sum().item() / math.log(2) / 8
    assert stats(data)["payload"] <= 1.005 * nll_bytes + 4 * 3      # coded with p(x | its own class)
    with pytest.raises(PixelarError, match="class-conditional"):
        encode(m, x)
    with pytest.raises(PixelarError, match="one per image"):
        encode(m, x, labels=[1])
    with pytest.raises(PixelarError, match="outside"):
        encode(m, x, labels=[1, 2, 99])


def test_labels_are_refused_by_an_unconditional_model_and_other_conditions_are_refused():
    m = tiny("pixelcnn", "small")
    with pytest.raises(PixelarError, match="not class-conditional"):
        encode(m, random_images(m, 1), labels=[0])
    text = tiny("multiscale_pixelcnn", "text_small", 8)
    with pytest.raises(PixelarError, match="spatial maps or captions"):
        encode(text, random_images(text, 1))


def test_version_1_files_still_decode():
    """Version 1 (no flags byte, no labels) is read as before."""
    from pixelar.codec.container import unpack
    m = tiny("pixelcnn", "small")
    x = random_images(m, 1, seed=9)
    v2 = encode(m, x)[:-4]
    v1 = bytearray(v2[:27] + v2[28:])          # drop the flags byte (offset 27)
    v1[3] = 1
    v1 = _with_crc(bytes(v1))
    assert unpack(v1).labels is None
    assert torch.equal(decode(m, v1)[0], x[0])


def test_cli_class_conditional_round_trip(tmp_path):
    from pixelar.cli import main
    m = tiny("gated_pixelcnn", "cifar10_class")
    ckpt = tmp_path / "ckpt"
    m.save(str(ckpt))
    imgs = random_images(m, 2, 6, 7, seed=10).permute(0, 2, 3, 1).numpy()
    np.savez(tmp_path / "x.npz", images=imgs, labels=np.array([3, 5]))
    pxz = tmp_path / "out.pxz"
    args = ["--checkpoint", str(ckpt)]
    assert main(["compress", *args, "--input", str(tmp_path / "x.npz"), "--out", str(pxz)]) == 0
    assert main(["decompress", *args, "--input", str(pxz), "--out", str(tmp_path / "dir")]) == 0
    assert (tmp_path / "dir" / "labels.txt").read_text().split() == ["3", "5"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "dir" / "000001.png")), imgs[1])
    Image.fromarray(imgs[0]).save(tmp_path / "in.png")
    assert main(["compress", *args, "--input", str(tmp_path / "in.png"), "--out", str(pxz), "--force"]) == 2
    assert main(["compress", *args, "--input", str(tmp_path / "in.png"), "--out", str(pxz), "--force",
                 "--class", "4"]) == 0
