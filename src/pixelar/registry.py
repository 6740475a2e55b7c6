"""The one list of models and presets that the CLI and the tests iterate over."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from . import config as config_lib
from . import presets as P
from .errors import ConfigError
from .models.base import AutoregressiveModel
from .models.gated_pixelcnn import GatedPixelCNN
from .models.grayscale_pixelcnn import GrayscalePixelCNN
from .models.pixelcnn import PixelCNN
from .models.pixelcnn_pp import PixelCNNPlusPlus
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
                                                 "small": P.pixelcnn_pp_small}, "cifar10"),
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
