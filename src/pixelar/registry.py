"""The one list of models and presets that the CLI and the tests iterate over."""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

from . import config as config_lib
from . import presets as P
from .errors import ConfigError
from .models.base import AutoregressiveModel
from .models.gated_pixelcnn import GatedPixelCNN
from .models.multiscale_pixelcnn import MultiscalePixelCNN
from .models.grayscale_pixelcnn import GrayscalePixelCNN
from .models.pixelcnn import PixelCNN
from .models.multiscale_pixelrnn import MultiScalePixelRNN
from .models.pixelcnn_pp import PixelCNNPlusPlus
from .models.pixelrnn import DiagonalBiLSTMPixelRNN, RowLSTMPixelRNN
from .models.pixelsnail import PixelSNAIL
from .models.pyramid_pixelcnn import PyramidPixelCNN
from .training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    model_class: type[AutoregressiveModel]
    presets: dict[str, Callable[[], P.Preset]]
    default_preset: str


MODELS: dict[str, ModelEntry] = {
    "pixelcnn": ModelEntry(PixelCNN, {"cifar10": P.pixelcnn_cifar10, "mnist": P.pixelcnn_mnist,
                                      "small": P.pixelcnn_small}, "cifar10"),
    "gated_pixelcnn": ModelEntry(GatedPixelCNN, {"cifar10": P.gated_pixelcnn_cifar10,
                                                 "cifar10_class": P.gated_pixelcnn_cifar10_class,
                                                 "mnist": P.gated_pixelcnn_mnist,
                                                 "small": P.gated_pixelcnn_small}, "cifar10"),
    "pixelcnn_pp": ModelEntry(PixelCNNPlusPlus, {"cifar10": P.pixelcnn_pp_cifar10,
                                                 "cifar10_class": P.pixelcnn_pp_cifar10_class,
                                                 "small": P.pixelcnn_pp_small,
                                                 **{f"table2_{w}x{h}_{v}": functools.partial(
                                                     P.pixelcnn_pp_table2, w, h, v)
                                                    for w, h in ((11, 5), (15, 8))
                                                    for v in P.TABLE2_VARIANTS}}, "cifar10"),
    "row_lstm": ModelEntry(RowLSTMPixelRNN, {"mnist": P.row_lstm_mnist, "cifar10": P.row_lstm_cifar10,
                                             "imagenet32": P.row_lstm_imagenet32,
                                             "imagenet64": P.row_lstm_imagenet64}, "cifar10"),
    "diagonal_bilstm": ModelEntry(DiagonalBiLSTMPixelRNN, {"mnist": P.diagonal_bilstm_mnist,
                                                           "mnist_1layer": P.diagonal_bilstm_mnist_1layer,
                                                           "cifar10": P.diagonal_bilstm_cifar10}, "cifar10"),
    "multiscale_pixelrnn": ModelEntry(MultiScalePixelRNN, {"mnist": P.multiscale_pixelrnn_mnist,
                                                           "imagenet64": P.multiscale_pixelrnn_imagenet64},
                                      "imagenet64"),
    "pixelsnail": ModelEntry(PixelSNAIL, {"cifar10": P.pixelsnail_cifar10, "imagenet32": P.pixelsnail_imagenet32,
                                          "small": P.pixelsnail_small}, "cifar10"),
    "multiscale_pixelcnn": ModelEntry(MultiscalePixelCNN, {"small": P.multiscale_pixelcnn_small,
                                                           "class_small": P.multiscale_pixelcnn_class_small,
                                                           "spatial_small": P.multiscale_pixelcnn_spatial_small,
                                                           "text_small": P.multiscale_pixelcnn_text_small,
                                                           "imagenet_class": P.multiscale_pixelcnn_imagenet_class},
                                      "small"),
    "grayscale_pixelcnn": ModelEntry(GrayscalePixelCNN, {"cifar10": P.grayscale_pixelcnn_cifar10,
                                                         "celeba32": P.grayscale_pixelcnn_celeba32,
                                                         "celeba128": P.grayscale_pixelcnn_celeba128,
                                                         "small": P.grayscale_pixelcnn_small}, "cifar10"),
    "pyramid_pixelcnn": ModelEntry(PyramidPixelCNN, {"cifar10": P.pyramid_pixelcnn_cifar10,
                                                     "celeba32": P.pyramid_pixelcnn_celeba32,
                                                     "celeba128": P.pyramid_pixelcnn_celeba128,
                                                     "small": P.pyramid_pixelcnn_small}, "cifar10"),
}


def entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'; available: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def get_preset(name: str, preset: str | None = None) -> P.Preset:
    e = entry(name)
    preset = preset or e.default_preset
    if preset not in e.presets:
        raise ConfigError(f"unknown preset '{preset}' for model '{name}'; "
                          f"available: {', '.join(e.presets)}")
    return e.presets[preset]()


def split_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``{"model.hidden": 64, "train.lr": 1e-3, "hidden": 32}`` into model and train overrides.

    Unprefixed keys go to the model config (where every ``pixelar.build`` override goes).
    """
    model, train = {}, {}
    for key, value in overrides.items():
        if key.startswith("train."):
            train[key[len("train."):]] = value
        elif key.startswith("model."):
            model[key[len("model."):]] = value
        elif "." in key:
            raise ConfigError(f"unknown config section in '{key}': use model.KEY or train.KEY")
        else:
            model[key] = value
    return model, train


def resolve(name: str, preset: str | None = None,
            overrides: dict[str, Any] | None = None) -> tuple[Any, TrainConfig]:
    """(model config, train config) for ``name``/``preset`` with strict overrides applied."""
    p = get_preset(name, preset)
    model_over, train_over = split_overrides(overrides or {})
    model_cfg = config_lib.replace(p.model, model_over, prefix="model.")
    train_cfg = config_lib.replace(p.train, train_over, prefix="train.")
    return model_cfg, train_cfg


def build(name: str, preset: str | None = None, **overrides: Any) -> AutoregressiveModel:
    """Build model ``name`` from ``preset`` (default: the model's default) with config overrides.

    >>> build("pixelcnn", preset="cifar10", hidden=64)   # unknown keys raise ConfigError
    """
    model_cfg, _ = resolve(name, preset, overrides)
    return entry(name).model_class(model_cfg)


def build_from_config(name: str, model_config: dict[str, Any]) -> AutoregressiveModel:
    e = entry(name)
    cfg = config_lib.from_dict(e.model_class.config_class, model_config)
    return e.model_class(cfg)
