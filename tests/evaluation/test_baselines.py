import numpy as np
import pytest

from pixelar.data import load_dataset
from pixelar.evaluation import baselines
from pixelar.evaluation.baselines import codec_bits_per_dim, codec_result


@pytest.fixture(scope="module")
def patches():
    ds = load_dataset("natural", "test")
    return ds.images[::75]          # 9 natural (N, 32, 32, 3) patches


@pytest.mark.parametrize("codec", ["png", "webp"])
def test_natural_patches(patches, codec):
    result = codec_result(patches, codec)
    assert result.total_dims == patches.size
    assert result.bits_per_dim == pytest.approx(8 * result.total_bytes / patches.size)
    assert 0.5 < result.bits_per_dim < 8.5


@pytest.mark.parametrize("codec", ["png", "webp"])
def test_constant_and_noise(codec):
    constant = np.full((2, 32, 32, 3), 117, np.uint8)
    assert codec_bits_per_dim(constant, codec) < 0.5
    noise = np.random.default_rng(0).integers(0, 256, size=(1, 32, 32, 3), dtype=np.uint8)
    assert codec_bits_per_dim(noise, codec) > 7.5
    gray = np.random.default_rng(1).integers(0, 4, size=(2, 16, 16), dtype=np.uint8)
    assert 0 < codec_bits_per_dim(gray, codec) < 8


def test_lossless_is_verified(monkeypatch, patches):
    monkeypatch.setattr(baselines, "decode", lambda data, channels: np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(RuntimeError, match="did not round-trip"):
        codec_bits_per_dim(patches[:1], "png")


def test_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        codec_bits_per_dim(np.zeros((1, 4, 4, 3), np.float32), "png")
    with pytest.raises(ValueError, match="unknown codec"):
        codec_bits_per_dim(np.zeros((1, 4, 4, 3), np.uint8), "jpeg")
