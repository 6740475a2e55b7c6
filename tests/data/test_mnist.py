import gzip
import hashlib

import numpy as np
import pytest

from pixelar.data import load_dataset, mnist
from pixelar.errors import DataError


def _write_mnist(folder, formats, rng, gz: bool, n_train=5, n_test=3):
    truth = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        truth[split] = images, labels
        for stem, array in zip(mnist.MNIST_FILES[split], (images, labels)):
            data = formats.idx_bytes(array)
            if gz:
                (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / stem).write_bytes(data)
    return truth


def _trust_local_md5s(folder, monkeypatch):
    for stem in mnist.MNIST_MD5:
        md5 = hashlib.md5((folder / f"{stem}.gz").read_bytes()).hexdigest()
        monkeypatch.setitem(mnist.MNIST_MD5, stem, md5)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx_round_trip(tmp_path, formats, monkeypatch, gz):
    truth = _write_mnist(tmp_path, formats, np.random.default_rng(0), gz)
    if gz:
        _trust_local_md5s(tmp_path, monkeypatch)
    for split in ("train", "test"):
        ds = load_dataset("mnist", split, root=tmp_path, download=False)
        images, labels = truth[split]
        assert len(ds) == len(images) and ds.info.num_channels == 1 and ds.info.image_size == 28
        for i in range(len(ds)):
            x, y = ds[i]
            assert tuple(x.shape) == (1, 28, 28) and np.array_equal(x[0].numpy(), images[i])
            assert y == labels[i]


def test_mnist_downloads_from_mirror(http_root, dead_url, tmp_path, formats, monkeypatch):
    served, base = http_root
    truth = _write_mnist(served, formats, np.random.default_rng(1), gz=True)
    _trust_local_md5s(served, monkeypatch)
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", [dead_url, base])
    root = tmp_path / "data"
    ds = load_dataset("mnist", "test", root=root)
    assert np.array_equal(ds[2][0][0].numpy(), truth["test"][0][2])
    assert (root / "t10k-images-idx3-ubyte.gz").is_file()


def test_mnist_unreachable_mirror_says_where(dead_url, tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", [dead_url])
    with pytest.raises(DataError, match=f"put the file at {tmp_path / 'train-images-idx3-ubyte.gz'}"):
        load_dataset("mnist", "train", root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_idx_checks(tmp_path, formats):
    images = np.zeros((2, 28, 28), np.uint8)
    data = formats.idx_bytes(images)
    with pytest.raises(DataError, match="truncated"):
        mnist.parse_idx(data[:-1], "f", 3)
    with pytest.raises(DataError, match="magic"):
        mnist.parse_idx(b"\x00\x00\x08\x01" + data[4:], "f", 3)
    with pytest.raises(DataError, match="magic"):
        mnist.parse_idx(b"\x00\x00\x0d\x03" + data[4:], "f", 3)   # float data
    with pytest.raises(DataError, match="truncated"):
        mnist.parse_idx(data[:6], "f", 3)
    assert mnist.parse_idx(data, "f", 3).shape == (2, 28, 28)
    bad = tmp_path / "x.gz"
    bad.write_bytes(gzip.compress(data)[:-10])
    with pytest.raises(DataError, match="truncated or corrupt"):
        mnist.read_idx(bad, 3)


def test_mnist_count_mismatch(tmp_path, formats):
    _write_mnist(tmp_path, formats, np.random.default_rng(2), gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(formats.idx_bytes(np.zeros(2, np.uint8)))
    with pytest.raises(DataError, match="3 images but"):
        load_dataset("mnist", "test", root=tmp_path, download=False)


def test_binarized_mnist_amat(tmp_path, formats):
    rng = np.random.default_rng(3)
    truth = {}
    for split in ("train", "valid", "test"):
        truth[split] = rng.integers(0, 2, size=(4, 784), dtype=np.uint8)
        (tmp_path / f"binarized_mnist_{split}.amat").write_bytes(formats.amat_bytes(truth[split]))
    for split in ("train", "valid", "test"):
        ds = load_dataset("binarized_mnist", split, root=tmp_path, download=False)
        assert ds.info.num_levels == 2 and ds.info.image_size == 28 and len(ds) == 4
        assert np.array_equal(ds[3][0].numpy().reshape(784), truth[split][3]) and ds[3][1] == -1


def test_amat_irregular_spacing_and_errors(formats):
    rows = np.random.default_rng(4).integers(0, 2, size=(2, 784), dtype=np.uint8)
    text = formats.amat_bytes(rows)
    loose = text.replace(b" ", b"\t", 5).replace(b"\n", b"  \r\n")
    assert np.array_equal(mnist.parse_amat(loose, "f").reshape(2, 784), rows)
    with pytest.raises(DataError, match="line 2"):
        mnist.parse_amat(text[:-20], "f")                     # truncated last line
    with pytest.raises(DataError, match="line 1"):
        mnist.parse_amat(b"2" + text[1:], "f")
    with pytest.raises(DataError, match="no images"):
        mnist.parse_amat(b"\n\n", "f")


def test_binarized_mnist_download(http_root, tmp_path, formats, monkeypatch):
    served, base = http_root
    rows = np.ones((2, 784), np.uint8)
    (served / "binarized_mnist_valid.amat").write_bytes(formats.amat_bytes(rows))
    monkeypatch.setattr(mnist, "BINARIZED_MNIST_MIRRORS", [base])
    ds = load_dataset("binarized_mnist", "valid", root=tmp_path)
    assert int(ds[1][0].sum()) == 784
