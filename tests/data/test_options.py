"""Data set options in the name (item 14, D19): ``npz:PATH?num_levels=2``, ``folder:PATH?image_size=64``."""
import numpy as np
import pytest
from PIL import Image

from pixelar.data import load_dataset, parse_dataset_spec
from pixelar.errors import ConfigError, DataError


def test_parse_dataset_spec_splits_name_and_string_options():
    assert parse_dataset_spec("cifar10") == ("cifar10", {})
    assert parse_dataset_spec("npz:d.npz?num_levels=2&images_key=x") == ("npz:d.npz", {"num_levels": "2",
                                                                                      "images_key": "x"})
    assert parse_dataset_spec("folder:~/my%20pics?crop=random") == ("folder:~/my%20pics", {"crop": "random"})
    assert parse_dataset_spec("npz:d.npz?images_key=a%26b") == ("npz:d.npz", {"images_key": "a&b"})
    for bad in ("npz:d.npz?num_levels", "npz:d.npz?num_levels=2&&x=1", "npz:d.npz?"):
        with pytest.raises(ConfigError, match="not KEY=VALUE pairs") as e:
            parse_dataset_spec(bad)
        assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="num_levels is given twice"):
        parse_dataset_spec("npz:d.npz?num_levels=2&num_levels=4")


def test_an_existing_path_with_a_question_mark_is_taken_whole(tmp_path):
    path = tmp_path / "what?.npz"
    np.savez(path, train_images=np.zeros((2, 4, 4, 1), np.uint8))
    assert parse_dataset_spec(f"npz:{path}") == (f"npz:{path}", {})
    assert len(load_dataset(f"npz:{path}")) == 2


@pytest.fixture
def binarized(tmp_path):
    """Shaped like ../shared/data/binarized_mnist.npz: three splits of 0/1 images."""
    rng = np.random.default_rng(0)
    path = tmp_path / "binarized_mnist.npz"
    np.savez_compressed(path, **{f"{s}_images": rng.integers(0, 2, (n, 28, 28, 1), dtype=np.uint8)
                                 for s, n in (("train", 5), ("valid", 3), ("test", 2))})
    return path


def test_item14_npz_options_in_the_name_are_typed_by_the_loader(binarized):
    for split, n in (("train", 5), ("valid", 3), ("test", 2)):
        ds = load_dataset(f"npz:{binarized}?num_levels=2", split)
        assert len(ds) == n and ds.info.num_levels == 2 and ds.info.image_size == 28
    other = load_dataset(f"npz:{binarized}?images_key=valid_images&num_levels=2", "test")
    assert len(other) == 3
    # what a --data-option KEY=VALUE flag merges in: strings, typed the same way
    name, options = parse_dataset_spec(f"npz:{binarized}")
    assert load_dataset(name, "test", **{**options, "num_levels": "2"}).info.num_levels == 2


def test_item14_option_errors_are_one_line_and_list_the_valid_options(binarized):
    with pytest.raises(ConfigError) as e:
        load_dataset(f"npz:{binarized}?levels=2")
    msg = str(e.value)
    assert "has no option levels" in msg and "images_key, labels_key, num_levels" in msg and "\n" not in msg
    with pytest.raises(ConfigError, match="option num_levels='two' is not a valid int"):
        load_dataset(f"npz:{binarized}?num_levels=two")
    with pytest.raises(ConfigError, match="given both in .* and as an argument"):
        load_dataset(f"npz:{binarized}?num_levels=2", num_levels=2)
    with pytest.raises(ConfigError, match="cifar10 has no option image_size; its options are: none"):
        load_dataset("cifar10?image_size=32")
    eights = binarized.parent / "eights.npz"
    np.savez(eights, train_images=np.full((1, 4, 4, 1), 8, np.uint8))
    with pytest.raises(DataError, match=r"num_levels=2; pass the right one \(npz:.*eights.npz\?num_levels=256\)"):
        load_dataset(f"npz:{eights}?num_levels=2")


@pytest.fixture
def small_pictures(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_item14_folder_takes_any_size_from_the_name(small_pictures):
    folder = small_pictures
    ds = load_dataset(f"folder:{folder}?image_size=16&crop=random&seed=3&channels=1")
    assert ds.info.image_size == 16 and ds.info.num_channels == 1 and tuple(ds[0][0].shape) == (1, 16, 16)
    assert ds.seed == 3 and ds.crop == "random"
    big = load_dataset(f"folder:{folder}?image_size=64&resize=true")
    assert big.resize == 64 and tuple(big[1][0].shape) == (3, 64, 64)
    assert load_dataset(f"folder:{folder}?image_size=64&resize=1").resize == 64      # 1 = "to image_size"
    assert load_dataset(f"folder:{folder}?image_size=8&resize=40").resize == 40
    assert load_dataset(f"folder:{folder}?resize=none").resize is None
    with pytest.raises(DataError, match="resize=20 would make every image smaller than image_size=64"):
        load_dataset(f"folder:{folder}?image_size=64&resize=20")


def test_d19_folder_size_error_suggests_an_option_that_works(small_pictures):
    """f08: the message suggested resize=32, which no command line could give."""
    folder = small_pictures
    ds = load_dataset(f"folder:{folder}?image_size=32")
    with pytest.raises(DataError) as e:
        ds[0]
    msg = str(e.value)
    assert "smaller than image_size=32" in msg and "?resize=true" in msg and "\n" not in msg
    assert tuple(load_dataset(f"folder:{folder}?image_size=32&resize=true")[0][0].shape) == (3, 32, 32)


def test_registered_data_sets_take_options_in_the_name():
    ds = load_dataset("natural?patch_size=16&channels=1", "test")
    assert ds.info.image_size == 16 and ds.info.num_channels == 1
