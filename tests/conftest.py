"""Shared fixtures: tiny models and data sets built in memory (no network, no ../shared)."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import pixelar
from pixelar.data.base import ArrayDataset, DatasetInfo

# Under pytest-xdist every worker gets one intra-op thread: with two workers on two
# cores, OpenMP threads spinning against each other make small convolutions ~100x slower.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture
def one_thread():
    """One intra-op thread for the test: samplers and tiny networks run many small ops, which two
    OpenMP threads on a busy 2-core machine make ~40x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def all_presets() -> list[tuple[str, str]]:
    return [(name, preset) for name, e in pixelar.MODELS.items() for preset in e.presets]


# Full-width presets too costly for the default suite on 2 CPU cores; they run under
# `make test-slow`, and their layer code is checked at reduced width in the default suite
# (tests/models/test_pixelrnn.py, test_pixelsnail.py). SLOW_PRESETS: every oracle (46 M-92 M
# parameters, attention at full resolution); SLOW_CAUSALITY: also the 8x8 causality check of the
# CIFAR-10 recurrent presets (192 image copies through 12 layers with 2h = 256 features).
SLOW_PRESETS = {("row_lstm", "imagenet32"), ("row_lstm", "imagenet64"), ("multiscale_pixelrnn", "imagenet64"),
                ("pixelsnail", "cifar10"), ("pixelsnail", "imagenet32"), ("pixelsnail", "imagenet64"),
                ("pixelsnail", "receptive_field"), ("pixelcnn_pp", "cifar10_no_shortcuts")}
SLOW_CAUSALITY = SLOW_PRESETS | {("row_lstm", "cifar10"), ("diagonal_bilstm", "cifar10"),
                                 # the §4.2 presets differ only in their map's channels: cub runs always
                                 ("multiscale_pixelcnn", "mpii"), ("multiscale_pixelcnn", "coco"),
                                 # PixelSNAIL's Fig. 6 model (14 s): gated_pixelcnn/cifar10's layers, wider
                                 ("gated_pixelcnn", "receptive_field")}
# the video presets: 18 frames of 8x8 per clip (50-90 s each; video_pixelcnn_otn robot, 15 gated layers with a
# 1024-feature RGB softmax head: about 22 min on a loaded 2-core machine); tests/models/test_video.py checks
# their layers' causality at tiny widths and short clips in the default suite
SLOW_CAUSALITY |= {(m, p) for m in ("video_pixelcnn_ot", "video_pixelcnn_otlogn", "video_pixelcnn_ot_baseline",
                                     "video_pixelcnn_otn")
                   for p in ("small", "robot", "moving_mnist_small")}


def with_slow_marks(presets: list[tuple[str, str]], slow: set[tuple[str, str]] = SLOW_PRESETS) -> list:
    return [pytest.param(m, p, id=f"{m}-{p}", marks=[pytest.mark.slow] if (m, p) in slow else [])
            for m, p in presets]


def reduced(name: str, preset: str, image_size: int = 8, **over) -> pixelar.models.base.AutoregressiveModel:
    """The preset at a reduced image size (same depth and widths: the architecture under test)."""
    torch.manual_seed(0)
    return pixelar.build(name, preset, image_size=image_size, **over)


# Tiny widths for every config field that sets one (a field a model lacks is skipped): the preset's
# depth, heads and wiring, small enough for exhaustive oracles on 2 CPU cores.
TINY_WIDTHS = {"hidden": 6, "num_layers": 4, "output_features": 12, "num_filters": 4, "num_resnet": 1,
               "num_blocks": 2, "key_channels": 4, "value_channels": 8, "base_hidden": 8, "base_layers": 2,
               "base_output_features": 16, "num_pixelcnn": 2, "embedding_filters": 8, "embedding_resnet": 1}


def tiny(name: str, preset: str, size: int = 8, **over) -> pixelar.models.base.AutoregressiveModel:
    """The one tiny-model helper: the preset at ``size`` with TINY_WIDTHS (never wider than the preset),
    after its data-dependent init when it has one, in eval mode."""
    import dataclasses
    cfg = pixelar.registry.get_preset(name, preset).model
    fields = {f.name for f in dataclasses.fields(cfg)}
    widths = {k: min(v, getattr(cfg, k)) for k, v in TINY_WIDTHS.items() if k in fields}
    model = reduced(name, preset, image_size=size, **{**widths, **over})
    if model.needs_data_dependent_init:
        g = torch.Generator().manual_seed(1)
        x = torch.randint(0, model.config.num_levels, (8, *model.image_shape), generator=g)
        model.data_dependent_init(x, model.random_condition(8, generator=g))
    return model.eval()


def random_dataset(n: int, channels: int = 3, size: int = 8, levels: int = 256, classes: int = 0,
                   seed: int = 0, name: str = "toy") -> ArrayDataset:
    rng = np.random.default_rng(seed)
    # Smooth-ish images so a model can learn something.
    base = rng.integers(0, levels, size=(n, 1, 1, channels))
    noise = rng.integers(-levels // 8, levels // 8 + 1, size=(n, size, size, channels))
    images = np.clip(base + noise, 0, levels - 1).astype(np.uint8)
    labels = rng.integers(0, classes, size=n) if classes else None
    return ArrayDataset(images, labels, DatasetInfo(name, channels, size, levels, classes))


@pytest.fixture
def toy_data():
    return random_dataset


def fails(argv, capsys, *match: str) -> str:
    """``pixelar argv`` keeps the error promise: exit 2, one line, no traceback, naming every ``match``."""
    from pixelar.cli import main
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for m in match:
        assert m in err, err
    return err
