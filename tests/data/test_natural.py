import json

import numpy as np
import pytest

from pixelar.data import load_dataset, natural
from pixelar.data.download import file_digest
from pixelar.errors import DataError


def test_manifest_covers_and_matches_every_source():
    manifest = json.loads(natural.MANIFEST.read_text())["sha256"]
    sources = natural.TRAIN_SOURCES + natural.TEST_SOURCES
    assert sorted(manifest) == sorted(sources)
    for source in sources:
        assert file_digest(natural.source_path(source), "sha256") == manifest[source]


def test_manifest_mismatch_is_a_data_error(tmp_path, monkeypatch):
    doc = json.loads(natural.MANIFEST.read_text())
    doc["sha256"]["skimage:data/chelsea.png"] = "0" * 64
    fake = tmp_path / "manifest.json"
    fake.write_text(json.dumps(doc))
    monkeypatch.setattr(natural, "MANIFEST", fake)
    natural._manifest.cache_clear()
    natural.source_photo.cache_clear()
    try:
        with pytest.raises(DataError, match="chelsea.png is not the photo pixelar expects"):
            load_dataset("natural", "test")
    finally:
        natural._manifest.cache_clear()
        natural.source_photo.cache_clear()


def test_missing_package_says_how_to_install():
    with pytest.raises(DataError, match=r"pip install 'pixelar\[demo\]'"):
        natural.source_path("no_such_package_pixelar:data/x.png")


def test_split_by_source_photo():
    train, test = set(natural.TRAIN_SOURCES), set(natural.TEST_SOURCES)
    assert not train & test
    digest = lambda s: file_digest(natural.source_path(s), "sha256")
    assert not {digest(s) for s in train} & {digest(s) for s in test}


def test_test_patches_are_the_fixed_grid():
    ds = load_dataset("natural", "test")
    assert ds.info.name == "natural" and ds.info.image_size == 32 and ds.info.num_channels == 3
    photos = [natural.source_photo(s) for s in natural.TEST_SOURCES]
    counts = [(h // 32) * (w // 32) for h, w, _ in (p.shape for p in photos)]
    assert len(ds) == sum(counts) == 602
    # Patch (photo 0, row 1, column 2) and the first patch of the second photo.
    cols = photos[0].shape[1] // 32
    x, y = ds[cols + 2]
    assert y == -1 and np.array_equal(x.numpy().transpose(1, 2, 0), photos[0][32:64, 64:96])
    assert np.array_equal(ds[counts[0]][0].numpy().transpose(1, 2, 0), photos[1][:32, :32])
    again = load_dataset("natural", "test")
    assert np.array_equal(ds.images, again.images)


def test_train_crops_reproducible_and_from_train_photos():
    a, b = load_dataset("natural", "train"), load_dataset("natural", "train")
    assert len(a) == 4096
    for i in (0, 17, 4095):
        assert np.array_equal(a[i][0], b[i][0])
        k, top, left = a.crop_position(i)
        photo = natural.source_photo(natural.TRAIN_SOURCES[k])
        assert np.array_equal(a[i][0].numpy().transpose(1, 2, 0), photo[top:top + 32, left:left + 32])
    used = {a.crop_position(i)[0] for i in range(300)}
    assert used == set(range(len(natural.TRAIN_SOURCES)))      # every train photo gets picked
    c = load_dataset("natural", "train", seed=1)
    assert not np.array_equal(a[0][0], c[0][0])
    first = a[0][0]
    a.set_epoch(1)
    assert not np.array_equal(first, a[0][0])
    with pytest.raises(IndexError):
        a[4096]


def test_options():
    gray = load_dataset("natural", "test", channels=1, patch_size=16)
    assert gray.info.num_channels == 1 and gray.info.image_size == 16 and gray.info.name != "natural"
    assert tuple(gray[0][0].shape) == (1, 16, 16)
    assert len(load_dataset("natural", "train", epoch_length=10)) == 10


def test_permute_channels_reorders_the_planes_of_the_same_crops_reproducibly():
    plain = load_dataset("natural", "train", epoch_length=64)
    perm = load_dataset("natural", "train", epoch_length=64, permute_channels=True)
    again = load_dataset("natural?permute_channels=true", "train", epoch_length=64)
    orders = set()
    for i in range(64):
        x, p = plain[i][0], perm[i][0]
        assert np.array_equal(p.numpy(), again[i][0].numpy())
        # the same crop, its R, G, B planes in some order (planes matched by content)
        order = tuple(next(c for c in range(3) if np.array_equal(p[k].numpy(), x[c].numpy())) for k in range(3))
        assert sorted(order) == [0, 1, 2]
        orders.add(order)
    assert len(orders) > 3                                  # several orders are drawn
    test = load_dataset("natural", "test", permute_channels=True)
    assert np.array_equal(test[0][0].numpy(), load_dataset("natural", "test")[0][0].numpy())
