import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from pixelar.data import load_dataset
from pixelar.errors import DataError

PARTITION = {"000001.jpg": 0, "000002.jpg": 0, "000003.jpg": 1, "000004.jpg": 2, "000005.jpg": 0}


def _faces(rng):
    # Saved losslessly (PNG bytes under .jpg names: Pillow reads by content) so pixels are exact.
    return {n: rng.integers(0, 256, size=(218, 178, 3), dtype=np.uint8) for n in PARTITION}


def _png(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _expected(array, size):
    # Centre 140x140 of a 178x218 image: left (178-140)//2 = 19, top (218-140)//2 = 39.
    crop = Image.fromarray(array).crop((19, 39, 159, 179))
    return np.asarray(crop.resize((size, size), Image.Resampling.LANCZOS))


@pytest.fixture
def celeba_root(tmp_path):
    faces = _faces(np.random.default_rng(0))
    (tmp_path / "list_eval_partition.txt").write_text(
        "".join(f"{n} {p}\n" for n, p in reversed(PARTITION.items())))
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    for name, array in faces.items():
        (folder / name).write_bytes(_png(array))
    return tmp_path, faces


@pytest.mark.parametrize("size", [32, 64])
def test_celeba_folder_crop_and_resize(celeba_root, size):
    root, faces = celeba_root
    ds = load_dataset(f"celeba{size}", "train", root=root)
    assert len(ds) == 3 and ds.info.image_size == size and ds.info.name == f"celeba{size}"
    for i, name in enumerate(["000001.jpg", "000002.jpg", "000005.jpg"]):   # sorted by name
        x, y = ds[i]
        assert tuple(x.shape) == (3, size, size) and y == -1
        assert np.array_equal(x.numpy().transpose(1, 2, 0), _expected(faces[name], size))
    assert len(load_dataset(f"celeba{size}", "valid", root=root)) == 1
    assert len(load_dataset(f"celeba{size}", "test", root=root)) == 1


def test_celeba_zip_matches_folder(celeba_root):
    root, faces = celeba_root
    zroot = root / "z"
    zroot.mkdir()
    (zroot / "list_eval_partition.txt").write_bytes((root / "list_eval_partition.txt").read_bytes())
    with zipfile.ZipFile(zroot / "img_align_celeba.zip", "w") as zf:
        for name, array in faces.items():
            zf.writestr(f"img_align_celeba/{name}", _png(array))
    a, b = load_dataset("celeba32", "train", root=root), load_dataset("celeba32", "train", root=zroot)
    assert all(np.array_equal(a[i][0], b[i][0]) for i in range(len(a)))


def test_celeba_errors(celeba_root, tmp_path):
    root, _ = celeba_root
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="put the file at .*list_eval_partition.txt"):
        load_dataset("celeba64", "train", root=empty)
    (empty / "list_eval_partition.txt").write_text("000001.jpg 0\n")
    with pytest.raises(DataError, match="put the img_align_celeba folder at"):
        load_dataset("celeba64", "train", root=empty)
    (root / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(DataError, match="1 images of the train split are missing"):
        load_dataset("celeba64", "train", root=root)
    (root / "list_eval_partition.txt").write_text("000001.jpg 7\n")
    with pytest.raises(DataError, match="line 1"):
        load_dataset("celeba64", "train", root=root)
    (root / "list_eval_partition.txt").write_text("000001.jpg 0\n")
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(root / "img_align_celeba" / "000001.jpg", "PNG")
    with pytest.raises(DataError, match="000001.jpg is 100x100"):
        load_dataset("celeba64", "train", root=root)[0]


def test_celeba_margins_crop_each_side_and_resize(celeba_root):
    """K&L §4.2: "a fixed crop (left margin, right margin, top margin, bottom margin)"."""
    root, faces = celeba_root
    ds = load_dataset("celeba32?margins=1,9,20,70", "train", root=root)     # 178-10 x 218-90 = 168x128
    assert ds.info.name == "celeba32_margins1-9-20-70"
    want = np.asarray(Image.fromarray(faces["000001.jpg"]).crop((1, 20, 169, 148))
                      .resize((32, 32), Image.Resampling.LANCZOS))
    assert np.array_equal(ds[0][0].numpy().transpose(1, 2, 0), want)
    exact = load_dataset("celeba64?margins=57,57,77,77", "train", root=root)  # a 64x64 window: no resize
    assert np.array_equal(exact[0][0].numpy().transpose(1, 2, 0), faces["000001.jpg"][77:141, 57:121])
    for bad in ("1,2,3", "100,100,0,0", "a,b,c,d", "-1,0,0,0"):
        with pytest.raises(DataError, match="LEFT,RIGHT,TOP,BOTTOM"):
            load_dataset(f"celeba32?margins={bad}", "train", root=root)


def test_celeba_random_partition_splits_every_image_into_train_and_test(celeba_root):
    """K&L §4.2: "a random [·] subset of all images as training set and the remaining images as a test set"."""
    root, _ = celeba_root
    train = load_dataset("celeba32?partition=random&train_fraction=0.6&split_seed=1", "train", root=root)
    test = load_dataset("celeba32?partition=random&train_fraction=0.6&split_seed=1", "test", root=root)
    assert len(train) == 3 and len(test) == 2 and not set(train.names) & set(test.names)
    assert sorted(train.names + test.names) == sorted(PARTITION)
    again = load_dataset("celeba32?partition=random&train_fraction=0.6&split_seed=1", "train", root=root)
    assert again.names == train.names and train.info.name == "celeba32_random0.6-1"
    with pytest.raises(DataError, match="no split 'valid' with partition=random"):
        load_dataset("celeba32?partition=random", "valid", root=root)
    with pytest.raises(DataError, match="partition must be"):
        load_dataset("celeba32?partition=mine", "train", root=root)
