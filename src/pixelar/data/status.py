"""Where each data set's files are, or would be, and whether they are there (``pixelar datasets``).

Presence is checked by file names only, the way each loader looks for its files; nothing is
opened, verified or downloaded here (the loaders verify checksums and contents when they load).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from pixelar.data.download import cache_dir

DOWNLOAD = "downloaded on first use (checksummed)"
MANUAL = "put the files there yourself (no automatic download)"
PACKAGES = "photos shipped with scikit-image, scikit-learn and matplotlib (pip install 'pixelar[demo]')"
BUILT_IN = "generated when read (seeded; digits from an MNIST npz if given, else built-in glyphs)"


@dataclasses.dataclass(frozen=True)
class DatasetStatus:
    name: str
    description: str
    location: str       # the folder that holds (or would hold) the files
    state: str          # "present", "partial (k of n files)", "absent", or "-" for npz:PATH / folder:PATH
    source: str         # how the files get there

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


Check = Callable[[Path], bool]     # one required file (or one of its alternatives) under the folder


def _file(*alternatives: str) -> Check:
    return lambda root: any((root / a).is_file() for a in alternatives)


def _here_or_one_down(filename: str) -> Check:
    """ImageNet's rule: ``root/filename`` or ``root/<folder>/filename`` (as the release zips unpack)."""
    def check(root: Path) -> bool:
        if (root / filename).is_file():
            return True
        return root.is_dir() and any((d / filename).is_file() for d in root.iterdir() if d.is_dir())
    return check


def _requirements(name: str) -> tuple[str, list[Check], str]:
    """(folder under the cache, the files it needs, how they get there) for a registered data set."""
    if name in ("cifar10", "cifar100"):
        from pixelar.data.cifar import SPECS
        spec = SPECS[name]
        extracted = [f"{spec.folder}/{f}" for files in spec.splits.values() for f in files]
        # the archive, or every batch already extracted from it
        return name, [lambda root: (root / spec.archive).is_file() or all((root / f).is_file() for f in extracted)], \
            DOWNLOAD
    if name == "mnist":
        from pixelar.data.mnist import MNIST_FILES
        return name, [_file(f"{stem}.gz", stem) for stems in MNIST_FILES.values() for stem in stems], DOWNLOAD
    if name == "binarized_mnist":
        from pixelar.data.mnist import BINARIZED_SPLITS
        return name, [_file(f"binarized_mnist_{s}.amat") for s in BINARIZED_SPLITS], DOWNLOAD
    if name.startswith("imagenet"):
        size = int(name[len("imagenet"):].split("_")[0])
        if name.endswith("_npz"):
            from pixelar.data.imagenet import _NPZ_FILES
            files = [f for names in _NPZ_FILES.values() for f in names]
        else:
            files = [f"train_{size}x{size}.tar", f"valid_{size}x{size}.tar"]
        return name, [_here_or_one_down(f) for f in files], MANUAL
    if name.startswith("celeba"):   # celeba32/64/128 share one folder of the original images
        return "celeba", [_file("list_eval_partition.txt"),
                          lambda root: (root / "img_align_celeba").is_dir() or
                          (root / "img_align_celeba.zip").is_file()], MANUAL
    if name == "moving_mnist":
        from pixelar.data.video import MOVING_MNIST_FILE
        return name, [_file(MOVING_MNIST_FILE)], DOWNLOAD
    if name == "robot_pushing":
        from pixelar.data.video import ROBOT_SPLITS
        return name, [lambda root, d=d: (root / d).is_dir() and any((root / d).glob("*.tfrecord*"))
                      for d in ROBOT_SPLITS.values()], MANUAL
    raise KeyError(name)


def _natural_state() -> tuple[str, str]:
    from pixelar.data.natural import TEST_SOURCES, TRAIN_SOURCES, source_path
    from pixelar.errors import DataError
    found = []
    for source in (*TRAIN_SOURCES, *TEST_SOURCES):
        with contextlib.suppress(DataError):
            found.append(str(source_path(source).parent))
    n = len(TRAIN_SOURCES) + len(TEST_SOURCES)
    where = ", ".join(sorted(set(found))) or "the installed scikit-image, scikit-learn and matplotlib"
    return where, _state(len(found), n)


def _state(found: int, needed: int) -> str:
    if found == needed:
        return "present"
    return f"partial ({found} of {needed} files)" if found else "absent"


def dataset_status(name: str, description: str, root: str | os.PathLike | None = None) -> DatasetStatus:
    """The status of registered data set ``name``, its files looked for in ``root`` (default: its
    folder under :func:`cache_dir`, where its loader looks)."""
    if name == "natural":
        where, state = _natural_state()
        return DatasetStatus(name, description, where, state, PACKAGES)
    if name == "moving_digits":
        return DatasetStatus(name, description, "-", "present", BUILT_IN)
    if name in ("npz:PATH", "folder:PATH"):
        return DatasetStatus(name, description, "PATH", "-", "your own file or folder, named in the data set name")
    folder, checks, source = _requirements(name)
    path = Path(root) if root is not None else cache_dir() / folder
    return DatasetStatus(name, description, str(path), _state(sum(c(path) for c in checks), len(checks)), source)
