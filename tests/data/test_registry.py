import pytest

from pixelar.data import DatasetInfo, list_datasets, load_dataset
from pixelar.errors import ConfigError, DataError

FILE_BASED = ["cifar10", "cifar100", "mnist", "binarized_mnist", "imagenet32_npz", "imagenet64_npz",
              "imagenet32_png", "imagenet64_png", "celeba32", "celeba64", "celeba128"]


def test_names():
    assert list_datasets() == FILE_BASED + ["natural", "moving_digits", "moving_mnist", "robot_pushing", "npz:PATH", "folder:PATH"]


def test_unknown_name_or_split_lists_valid_ones():
    with pytest.raises(DataError, match="unknown data set 'cifar'.*cifar10.*natural"):
        load_dataset("cifar")
    with pytest.raises(DataError, match="no split 'valid'; choose one of train, test"):
        load_dataset("cifar10", "valid")
    with pytest.raises(ConfigError, match="no option patchsize"):
        load_dataset("natural", patchsize=16)


@pytest.mark.parametrize("name", FILE_BASED)
def test_missing_files_say_where_to_put_them(name, tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset(name, "train", root=tmp_path, download=False)
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path) in msg and "put the" in msg


def test_every_dataset_has_info():
    ds = load_dataset("natural", "test")
    assert isinstance(ds.info, DatasetInfo) and ds.info.num_levels == 256
