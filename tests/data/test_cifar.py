import builtins
import dataclasses
import functools
import hashlib
import operator
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

from pixelar.data import cifar, load_dataset
from pixelar.data.safe_pickle import safe_loads
from pixelar.errors import DataError

N = 4   # images per batch


def _nhwc(data):
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


@pytest.fixture
def cifar10_root(tmp_path, formats, monkeypatch):
    """root with a tiny official-format cifar-10-python.tar.gz; returns (root, {file: (data, labels)})."""
    rng = np.random.default_rng(0)
    batches, truth = {}, {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch, data, labels = formats.cifar_batch(rng, N, "labels", 10)
        batches[name], truth[name] = batch, (data, labels)
    batches["batches.meta"] = {b"label_names": [b"airplane"] * 10}
    archive = tmp_path / cifar.CIFAR10.archive
    formats.write_cifar_archive(archive, "cifar-10-batches-py", batches)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    rows = dict.fromkeys(cifar.CIFAR10.rows, N)           # the official count is 10,000
    monkeypatch.setitem(cifar.SPECS, "cifar10", dataclasses.replace(cifar.CIFAR10, md5=md5, rows=rows))
    return tmp_path, truth


def test_cifar10_from_archive_round_trips(cifar10_root):
    root, truth = cifar10_root
    train = load_dataset("cifar10", "train", root=root, download=False)
    assert len(train) == 5 * N and train.info.num_classes == 10 and train.info.image_size == 32
    expected = np.concatenate([_nhwc(truth[f"data_batch_{i}"][0]) for i in range(1, 6)])
    labels = functools.reduce(operator.iadd, (truth[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    for i in range(len(train)):
        x, y = train[i]
        assert x.dtype.is_floating_point is False and tuple(x.shape) == (3, 32, 32)
        assert np.array_equal(x.numpy(), expected[i].transpose(2, 0, 1)) and y == labels[i]
    # The R plane is the first 1024 values of the row, row-major.
    assert np.array_equal(train[0][0][0].numpy().ravel(), truth["data_batch_1"][0][0, :1024])
    test = load_dataset("cifar10", "test", root=root, download=False)
    assert len(test) == N and test[1][1] == truth["test_batch"][1][1]
    # Only the batches were extracted, and a second load works from the folder alone.
    extracted = sorted(p.name for p in (root / "cifar-10-batches-py").iterdir())
    assert extracted == sorted([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"])
    (root / cifar.CIFAR10.archive).unlink()
    assert len(load_dataset("cifar10", "test", root=root, download=False)) == N


def test_cifar100_fine_labels(tmp_path, formats, monkeypatch):
    rng = np.random.default_rng(1)
    train, train_data, train_labels = formats.cifar_batch(rng, 6, "fine_labels", 100)
    test, _, test_labels = formats.cifar_batch(rng, 3, "fine_labels", 100)
    archive = tmp_path / cifar.CIFAR100.archive
    formats.write_cifar_archive(archive, "cifar-100-python", {"train": train, "test": test, "meta": {}})
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(cifar.SPECS, "cifar100",
                        dataclasses.replace(cifar.CIFAR100, md5=md5, rows={"train": 6, "test": 3}))
    ds = load_dataset("cifar100", "train", root=tmp_path)
    assert ds.info.num_classes == 100 and [ds[i][1] for i in range(6)] == train_labels
    assert np.array_equal(ds[5][0].numpy(), train_data[5].reshape(3, 32, 32))
    assert [y for _, y in load_dataset("cifar100", "test", root=tmp_path)] == test_labels


def _py2_str(b: bytes) -> bytes:
    return b"T" + struct.pack("<I", len(b)) + b   # BINSTRING: a Python-2 str


def _py2_cifar_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """A batch pickled the way Python 2's cPickle (protocol 2) wrote the official files."""
    n = data.shape[0]
    dtype = (b"cnumpy\ndtype\n" + _py2_str(b"u1") + b"K\x00K\x01\x87R"
             + b"(K\x03" + _py2_str(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
    array = (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + b"K\x00\x85"
             + _py2_str(b"b") + b"\x87R"
             + b"(K\x01" + b"J" + struct.pack("<i", n) + b"M\x00\x0c\x86" + dtype + b"\x89"
             + _py2_str(data.tobytes()) + b"tb")
    label_list = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return (b"\x80\x02}(" + _py2_str(b"data") + array + _py2_str(b"labels") + label_list
            + _py2_str(b"batch_label") + _py2_str(b"training batch 1 of 5") + b"u.")


def test_python2_pickle_with_str_keys(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.integers(0, 256, size=(3, 3072), dtype=np.uint8)
    path = tmp_path / "data_batch_1"
    path.write_bytes(_py2_cifar_pickle(data, [3, 1, 4]))
    images, labels = cifar.read_batch(path, "labels", 10, rows=3)
    assert np.array_equal(images, _nhwc(data)) and labels.tolist() == [3, 1, 4]


class _RunsCommand:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


class _OpensFile:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return builtins.open, (str(self.target), "w")


@pytest.mark.parametrize("evil", [_RunsCommand, _OpensFile])
def test_malicious_pickle_executes_nothing(cifar10_root, evil):
    root, _ = cifar10_root
    load_dataset("cifar10", "test", root=root)   # extract the good batches first
    target = root / "pwned"
    batch = {b"data": evil(target), b"labels": [0]}
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DataError, match="refusing to load .* it is not a CIFAR batch"):
        load_dataset("cifar10", "test", root=root)
    with pytest.raises(DataError, match="refusing"):
        safe_loads(pickle.dumps(evil(target)), "x", "a CIFAR batch")
    assert not target.exists()


def test_truncated_or_wrong_batches(cifar10_root):
    root, _ = cifar10_root
    load_dataset("cifar10", "test", root=root)
    path = root / "cifar-10-batches-py" / "test_batch"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset("cifar10", "test", root=root)
    path.write_bytes(pickle.dumps({b"data": np.zeros((N, 100), np.uint8), b"labels": [0] * N}, protocol=2))
    with pytest.raises(DataError, match=rf"uint8 \({N}, 3072\) as in the official file"):
        load_dataset("cifar10", "test", root=root)
    path.write_bytes(pickle.dumps({b"data": np.zeros((N + 1, 3072), np.uint8), b"labels": [0] * (N + 1)},
                                  protocol=2))
    with pytest.raises(DataError, match=rf"uint8 \({N}, 3072\)"):
        load_dataset("cifar10", "test", root=root)
    path.write_bytes(pickle.dumps({b"data": np.zeros((N, 3072), np.uint8), b"labels": [0, 10, 0, 0]}, protocol=2))
    with pytest.raises(DataError, match="0..9"):
        load_dataset("cifar10", "test", root=root)


def test_corrupt_archive(cifar10_root, monkeypatch):
    root, _ = cifar10_root
    archive = root / cifar.CIFAR10.archive
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(DataError, match="md5"):          # fails its checksum first
        load_dataset("cifar10", "train", root=root, download=False)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(cifar.SPECS, "cifar10", dataclasses.replace(cifar.CIFAR10, md5=md5))
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset("cifar10", "train", root=root, download=False)


def test_archive_member_that_is_a_link_is_refused(tmp_path, monkeypatch):
    archive = tmp_path / cifar.CIFAR10.archive
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(cifar.SPECS, "cifar10", dataclasses.replace(cifar.CIFAR10, md5=md5))
    with pytest.raises(DataError, match="not a regular file"):
        load_dataset("cifar10", "train", root=tmp_path)
    assert not (tmp_path / "cifar-10-batches-py" / "data_batch_1").exists()


def test_missing_archive_says_where(tmp_path):
    with pytest.raises(DataError, match=f"put the file at {tmp_path / 'cifar-10-python.tar.gz'}"):
        load_dataset("cifar10", "train", root=tmp_path, download=False)


class _Uninitialised:
    """Pickles as ``_reconstruct(ndarray, shape, u1)`` with no state: an array nobody wrote (D18)."""

    def __init__(self, shape):
        self.shape = shape

    def __reduce__(self):
        return np.zeros(0).__reduce__()[0], (np.ndarray, self.shape, np.dtype(np.uint8))


class _CallsNdarray:
    def __reduce__(self):
        return np.ndarray, ((150_000, 3072), np.dtype(np.uint8))


@pytest.mark.parametrize("data", [_Uninitialised((150_000, 3072)), _Uninitialised((N, 3072)), _CallsNdarray()],
                         ids=["huge", "official-count", "ndarray-call"])
def test_d18_uninitialised_arrays_are_refused(cifar10_root, data):
    """The audit's 300 KB "test_batch" gave 150,000 images of whatever memory held (+441 MiB)."""
    root, _ = cifar10_root
    load_dataset("cifar10", "test", root=root)
    path = root / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(pickle.dumps({b"data": data, b"labels": [0] * 150_000}, protocol=2))
    assert path.stat().st_size < 400_000
    with pytest.raises(DataError, match="test_batch is truncated or corrupt, it is not a CIFAR batch") as e:
        load_dataset("cifar10", "test", root=root)
    assert "without its data" in str(e.value) or "numpy.ndarray(...) directly" in str(e.value)
    assert "\n" not in str(e.value)


def test_d18_official_row_count_is_required():
    assert all(n == 10_000 for n in cifar.CIFAR10.rows.values()) and len(cifar.CIFAR10.rows) == 6
    assert cifar.CIFAR100.rows == {"train": 50_000, "test": 10_000}
    # a real array round-trips through the restricted unpickler, bytes and all
    data = np.random.default_rng(5).integers(0, 256, (3, 3072), dtype=np.uint8)
    assert np.array_equal(safe_loads(pickle.dumps(data, protocol=2), "x", "a CIFAR batch"), data)
    assert np.array_equal(safe_loads(pickle.dumps(data, protocol=4), "x", "a CIFAR batch"), data)
