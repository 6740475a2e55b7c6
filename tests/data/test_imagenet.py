import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from pixelar.data import load_dataset
from pixelar.data.imagenet import _npz_member
from pixelar.errors import DataError


def _write_npz_release(root, size, rng, compressed=False, per_batch=2):
    """Chrabaszcz et al. layout: train batches in one folder, val_data.npz in another."""
    save = np.savez_compressed if compressed else np.savez
    train_dir, val_dir = root / f"Imagenet{size}_train_npz", root / f"Imagenet{size}_val"
    train_dir.mkdir(parents=True)
    val_dir.mkdir()
    truth = {"train": ([], []), "test": ([], [])}
    paths = [train_dir / f"train_data_batch_{i}.npz" for i in range(1, 11)] + [val_dir / "val_data.npz"]
    for path in paths:
        data = rng.integers(0, 256, size=(per_batch, 3 * size * size), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(1, 1001, size=per_batch)]   # 1-based
        save(path, data=data, labels=labels, mean=np.zeros(3 * size * size))
        split = "test" if path.name == "val_data.npz" else "train"
        truth[split][0].append(data)
        truth[split][1].extend(labels)
    return {s: (np.concatenate(d), np.array(l)) for s, (d, l) in truth.items()}


@pytest.mark.parametrize("compressed", [False, True])
def test_imagenet_npz_round_trip(tmp_path, compressed):
    truth = _write_npz_release(tmp_path, 32, np.random.default_rng(0), compressed)
    for split, n in (("train", 20), ("test", 2)):
        ds = load_dataset("imagenet32_npz", split, root=tmp_path)
        data, labels = truth[split]
        assert len(ds) == n and ds.info.name == "imagenet32_npz" and ds.info.num_classes == 1000
        for i in range(n):
            x, y = ds[i]
            # Rows hold the R, G, B planes, each row-major: a plain reshape to CHW.
            assert np.array_equal(x.numpy(), data[i].reshape(3, 32, 32)) and y == labels[i] - 1


def test_stored_npz_is_memory_mapped(tmp_path):
    np.savez(tmp_path / "a.npz", data=np.arange(12, dtype=np.uint8).reshape(2, 6))
    array = _npz_member(tmp_path / "a.npz", "data")
    assert isinstance(array, np.memmap) and array.tolist() == np.arange(12).reshape(2, 6).tolist()


def test_imagenet_npz_errors(tmp_path):
    with pytest.raises(DataError, match=f"put the file at {tmp_path / 'val_data.npz'}"):
        load_dataset("imagenet64_npz", "test", root=tmp_path)
    _write_npz_release(tmp_path, 32, np.random.default_rng(1))
    with pytest.raises(DataError, match="64x64 release"):
        load_dataset("imagenet64_npz", "test", root=tmp_path)     # 32x32 data where 64 is asked
    val = tmp_path / "Imagenet32_val" / "val_data.npz"
    np.savez(val, data=np.zeros((2, 3072), np.uint8), labels=[0, 5])
    with pytest.raises(DataError, match="1..1000"):
        load_dataset("imagenet32_npz", "test", root=tmp_path)
    val.write_bytes(val.read_bytes()[:100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset("imagenet32_npz", "test", root=tmp_path)
    with pytest.raises(DataError, match="no split 'valid'"):
        load_dataset("imagenet32_npz", "valid", root=tmp_path)


def _png(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _write_png_tar(path, folder, images, formats):
    with tarfile.open(path, "w") as tar:
        d = tarfile.TarInfo(folder)
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        # Written out of order: the data set sorts by name.
        for i in reversed(range(len(images))):
            formats.add_bytes(tar, f"{folder}/{i:05d}.png", _png(images[i]))
        link = tarfile.TarInfo(f"{folder}/zz_link.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
        formats.add_bytes(tar, f"{folder}/notes.txt", b"not an image")


def test_imagenet_png_tar_round_trip(tmp_path, formats):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    _write_png_tar(tmp_path / "train_32x32.tar", "train_32x32", images, formats)
    _write_png_tar(tmp_path / "valid_32x32.tar", "valid_32x32", images[:2], formats)
    ds = load_dataset("imagenet32_png", "train", root=tmp_path)
    assert len(ds) == 5 and ds.info.name == "imagenet32_png" and ds.info.num_classes == 0
    for i in range(5):
        x, y = ds[i]
        assert np.array_equal(x.numpy().transpose(1, 2, 0), images[i]) and y == -1
    assert len(load_dataset("imagenet32_png", "test", root=tmp_path)) == 2
    with pytest.raises(DataError, match="expected 64x64"):
        tar = tmp_path / "64"
        tar.mkdir()
        (tar / "valid_64x64.tar").write_bytes((tmp_path / "valid_32x32.tar").read_bytes())
        load_dataset("imagenet64_png", "test", root=tar)[0]


def test_imagenet_png_missing_or_truncated(tmp_path, formats):
    with pytest.raises(DataError, match=f"put the file at {tmp_path / 'valid_64x64.tar'}"):
        load_dataset("imagenet64_png", "test", root=tmp_path)
    images = np.random.default_rng(3).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "valid_32x32.tar"
    _write_png_tar(path, "valid_32x32", images, formats)
    path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(DataError):
        ds = load_dataset("imagenet32_png", "test", root=tmp_path)
        [ds[i] for i in range(len(ds))]
