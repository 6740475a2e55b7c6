import numpy as np
import pytest
from PIL import Image, ImageFile

from pixelar.data import load_dataset
from pixelar.errors import ConfigError, DataError


def test_npz_split_keys_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(5, 8, 8, 3), dtype=np.uint8)
    test = rng.integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8)
    path = tmp_path / "d.npz"
    np.savez(path, train_images=train, train_labels=np.arange(5), test_images=test)
    ds = load_dataset(f"npz:{path}", "train")
    assert len(ds) == 5 and ds.info.image_size == 8 and ds.info.num_classes == 5
    assert np.array_equal(ds[3][0].numpy().transpose(1, 2, 0), train[3]) and ds[3][1] == 3
    te = load_dataset(f"npz:{path}", "test")
    assert len(te) == 2 and te[0][1] == -1
    with pytest.raises(DataError, match="no 'valid' images"):
        load_dataset(f"npz:{path}", "valid")
    np.savez(path, x_train=train, y_train=np.arange(5), x_test=test)
    assert load_dataset(f"npz:{path}", "train")[4][1] == 4


def test_npz_single_array_grayscale_and_overrides(tmp_path):
    images = np.random.default_rng(1).integers(0, 2, size=(3, 6, 6), dtype=np.uint8)
    path = tmp_path / "g.npz"
    np.savez_compressed(path, images=images, other=images, labels=np.arange(3))
    ds = load_dataset(f"npz:{path}", "train", num_levels=2)
    assert ds.info.num_channels == 1 and ds.info.num_levels == 2 and ds[2][1] == 2
    assert np.array_equal(ds[2][0][0].numpy(), images[2])
    test = load_dataset(f"npz:{path}", "test", num_levels=2, images_key="images")
    assert len(test) == 3 and test[1][1] == 1            # labels paired with the named images key
    assert load_dataset(f"npz:{path}", "test", images_key="other")[0][1] == -1
    assert load_dataset(f"npz:{path}", "test", images_key="other", labels_key="labels")[0][1] == 0


def test_item5_images_only_npz_is_never_served_as_test(tmp_path):
    """The shared CIFAR prefix files hold only 'images': the train prefix was served as "test"."""
    path = tmp_path / "cifar10_train_prefix.npz"
    np.savez(path, images=np.zeros((4, 8, 8, 3), np.uint8), labels=np.arange(4))
    assert len(load_dataset(f"npz:{path}", "train")) == 4
    for split in ("test", "valid"):
        with pytest.raises(DataError) as e:
            load_dataset(f"npz:{path}", split)
        msg = str(e.value)
        assert "\n" not in msg and f"has only 'images' (no {split}_images" in msg
        assert f"npz:{path}?images_key=images" in msg and f"'{split}_images'" in msg
    assert len(load_dataset(f"npz:{path}?images_key=images", "test")) == 4   # asked for explicitly


def test_npz_refuses_bad_content(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DataError, match="pickled objects"):
        load_dataset(f"npz:{path}")
    np.savez(path, images=np.zeros((2, 4, 4, 3), np.int64))
    with pytest.raises(DataError, match="must be uint8"):
        load_dataset(f"npz:{path}")
    np.savez(path, images=np.zeros((2, 4, 5, 3), np.uint8))
    with pytest.raises(DataError, match="must be uint8"):
        load_dataset(f"npz:{path}")
    np.savez(path, images=np.full((2, 4, 4, 3), 9, np.uint8))
    with pytest.raises(DataError, match=r"num_levels=4; pass the right one \(npz:.*\?num_levels=256\)"):
        load_dataset(f"npz:{path}", num_levels=4)
    np.savez(path, images=np.zeros((2, 4, 4, 3), np.uint8))
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset(f"npz:{path}")
    with pytest.raises(DataError, match="put it at"):
        load_dataset(f"npz:{tmp_path / 'missing.npz'}")


def test_item8_float_images_are_refused_not_cast(tmp_path):
    path = tmp_path / "float.npz"
    rng = np.random.default_rng(4)
    for dtype in (np.float32, np.float64, np.float16):
        np.savez(path, train_images=rng.random((3, 4, 4, 3)).astype(dtype))
        with pytest.raises(DataError) as e:
            load_dataset(f"npz:{path}")
        msg = str(e.value)
        assert "\n" not in msg and "not integer pixel levels" in msg and "astype(numpy.uint8)" in msg
    from pixelar.data import ArrayDataset, DatasetInfo
    with pytest.raises(DataError, match="float32 .*not integer pixel levels"):
        ArrayDataset(np.zeros((2, 4, 4, 3), np.float32), None, DatasetInfo("x", 3, 4, 256))
    with pytest.raises(DataError, match="values up to 9, but num_levels=4"):
        ArrayDataset(np.full((2, 4, 4, 3), 9, np.uint8), None, DatasetInfo("x", 3, 4, 4))


def test_d19_text_or_npy_file_given_as_npz_says_what_it_is(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("these are my notes, not arrays\n")
    with pytest.raises(DataError) as e:
        load_dataset(f"npz:{text}")
    assert "is not an .npz file" in str(e.value) and "pickled" not in str(e.value)
    npy = tmp_path / "array.npz"
    with open(npy, "wb") as f:
        np.save(f, np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(DataError, match=r"is a \.npy file \(one array\), not an \.npz"):
        load_dataset(f"npz:{npy}")


def _lying_npz(path, shape, compressed, zip_size=None):
    """An npz whose member header declares ``shape`` but holds 48 bytes (D8 n04/n05); with
    ``zip_size`` the zip's central directory lies too, declaring that uncompressed size."""
    import io
    import zipfile
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.zeros((1, 4, 4, 3), np.uint8))
    header = {"descr": "|u1", "fortran_order": False, "shape": shape}
    lying = io.BytesIO()
    np.lib.format.write_array_header_1_0(lying, header)
    data = lying.getvalue() + buf.getvalue()[-48:]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as zf:
        zf.writestr("train_images.npy", data)
    if zip_size is not None:
        raw = bytearray(path.read_bytes())
        central = raw.index(b"PK\x01\x02")
        raw[central + 24: central + 28] = zip_size.to_bytes(4, "little")     # uncompressed size
        path.write_bytes(bytes(raw))


@pytest.mark.parametrize("compressed", [False, True])
def test_d8_npz_with_a_lying_huge_header_is_refused_before_allocating(tmp_path, compressed, monkeypatch):
    path = tmp_path / "lying.npz"
    _lying_npz(path, (1_000_000, 256, 256, 3), compressed)        # 183 GiB declared in < 1 KB
    assert path.stat().st_size < 1000
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: pytest.fail("allocated"))
    with pytest.raises(DataError) as e:
        load_dataset(f"npz:{path}")
    msg = str(e.value)
    assert "\n" not in msg and "corrupt or hostile" in msg and "196,608,000,000 bytes" in msg
    _lying_npz(path, (80_000, 128, 128, 3), compressed, zip_size=4_000_000_000)   # the zip agrees
    with pytest.raises(DataError, match="corrupt or hostile: its zip entry declares 4,000,000,000 bytes"):
        load_dataset(f"npz:{path}")


def test_npz_sizes_checked_yet_real_files_load(tmp_path):
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, (50, 8, 8, 3), dtype=np.uint8)
    for save in (np.savez, np.savez_compressed):
        save(tmp_path / "ok.npz", train_images=images, train_labels=np.arange(50),
             test_images=np.zeros((1, 8, 8, 3), np.uint8))
        ds = load_dataset(f"npz:{tmp_path / 'ok.npz'}")
        assert np.array_equal(ds.images, images) and ds[49][1] == 49
    np.savez_compressed(tmp_path / "zeros.npz", train_images=np.zeros((2000, 32, 32, 3), np.uint8))  # ratio ~1000:1
    assert len(load_dataset(f"npz:{tmp_path / 'zeros.npz'}")) == 2000


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    arrays = {"a.png": rng.integers(0, 256, (20, 24, 3), dtype=np.uint8),
              "sub/b.PNG": rng.integers(0, 256, (16, 30, 3), dtype=np.uint8)}
    for name, array in arrays.items():
        Image.fromarray(array).save(folder / name, format="PNG")
    (folder / "readme.txt").write_text("not an image")
    return folder, arrays


def test_folder_center_crop_exact(image_folder):
    folder, arrays = image_folder
    ds = load_dataset(f"folder:{folder}", image_size=16)
    assert len(ds) == 2 and ds.info.num_channels == 3
    a = ds[0][0].numpy().transpose(1, 2, 0)
    assert np.array_equal(a, arrays["a.png"][2:18, 4:20])
    b = ds[1][0].numpy().transpose(1, 2, 0)
    assert np.array_equal(b, arrays["sub/b.PNG"][0:16, 7:23])
    gray = load_dataset(f"folder:{folder}", image_size=16, channels=1)
    assert tuple(gray[0][0].shape) == (1, 16, 16)


def _find_window(big, small):
    s = small.shape[0]
    return [(t, l) for t in range(big.shape[0] - s + 1) for l in range(big.shape[1] - s + 1)
            if np.array_equal(big[t:t + s, l:l + s], small)]


def test_folder_random_crops_reproducible(image_folder):
    folder, arrays = image_folder
    make = lambda seed=0: load_dataset(f"folder:{folder}", image_size=8, crop="random", seed=seed)
    a, b = make(), make()
    crops = [a[i][0] for i in range(2)]
    assert all(np.array_equal(crops[i], b[i][0]) for i in range(2))
    assert np.array_equal(a[1][0], a[1][0])                      # random access, same item
    assert len(_find_window(arrays["a.png"], crops[0].numpy().transpose(1, 2, 0))) == 1
    a.set_epoch(1)
    other = [make(seed=1)[0][0], a[0][0]]
    assert any(not np.array_equal(crops[0], o) for o in other)


def test_folder_errors_and_splits(image_folder, tmp_path):
    folder, _ = image_folder
    with pytest.raises(DataError, match=r"b\.PNG is 30x16, smaller than image_size=20"):
        ds = load_dataset(f"folder:{folder}", image_size=20)
        [ds[i] for i in range(len(ds))]
    assert tuple(load_dataset(f"folder:{folder}", image_size=20, resize=20)[1][0].shape) == (3, 20, 20)
    with pytest.raises(DataError, match="put your PNG/JPEG images in"):
        load_dataset(f"folder:{tmp_path / 'nothing'}")
    with pytest.raises(ConfigError, match="no option imagesize"):
        load_dataset(f"folder:{folder}", imagesize=20)
    (folder / "train").mkdir()
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(folder / "train" / "c.jpg")
    assert len(load_dataset(f"folder:{folder}", image_size=8)) == 1
    with pytest.raises(DataError, match="no 'test/'"):
        load_dataset(f"folder:{folder}", "test", image_size=8)


def test_d2_folder_sixteen_bit_pngs_are_scaled_not_clipped(tmp_path):
    v = np.random.default_rng(3).integers(0, 65536, (4, 12, 12)).astype(np.uint16)
    for i, image in enumerate(v):
        Image.fromarray(image).save(tmp_path / f"{i}.png")          # mode I;16
    for channels in (1, 3):
        ds = load_dataset(f"folder:{tmp_path}", image_size=12, channels=channels)
        for i in range(4):
            x = ds[i][0].numpy()
            assert x.shape == (channels, 12, 12)
            assert all(np.array_equal(c, (v[i] >> 8).astype(np.uint8)) for c in x)   # not all 255


def test_d12_folder_decompression_bomb_is_refused_from_its_header(tmp_path, monkeypatch):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    for side in (12000, 65535):
        ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
        (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                                            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
        ds = load_dataset(f"folder:{tmp_path}", image_size=8)
        with monkeypatch.context() as m:
            for cls in (Image.Image, ImageFile.ImageFile):
                m.setattr(cls, "load", lambda self: pytest.fail("pixels were decoded"))
            with pytest.raises(DataError, match="bomb.png is too large to decode") as e:
                ds[0]
        assert "\n" not in str(e.value)
