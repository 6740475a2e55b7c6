"""Named paper recipes: one module per model family, each preset a builder that reads as the paper's setup.

A builder returns a :class:`Preset` (the model class, its config written with keyword arguments, the
training recipe, and the data set it is meant for) and is declared with :func:`preset`::

    @preset(default=True)
    def pixelcnn_cifar10() -> Preset:
        return Preset(model_class=PixelCNN, model=PixelCNNConfig(hidden=128, ...),
                      train=TrainConfig(optimizer="rmsprop", ...), dataset="cifar10",
                      description="PixelRNN §3.5 CIFAR-10 PixelCNN ...")

The preset's name is the builder's name without the model's name (``pixelcnn_cifar10`` -> ``cifar10``)
unless ``name=`` says otherwise. ``pixelar.registry`` builds the list of models from every preset in
this package's modules (found by :func:`discover`): adding a model is its module in ``models/`` plus
a module here.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from ..models.base import AutoregressiveModel
from ..training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class Preset:
    model_class: type[AutoregressiveModel]
    model: Any                        # the model's config dataclass
    train: TrainConfig
    description: str
    dataset: str | None = None        # the data set it is meant for (`pixelar datasets`), None = any


@dataclasses.dataclass(frozen=True)
class Declared:
    """A preset builder as declared: its name (None = derived from the builder's name) and default flag."""
    builder: Callable[[], Preset]
    name: str | None
    default: bool

    def resolve_name(self, model_name: str) -> str:
        if self.name is not None:
            return self.name
        fn = self.builder.__name__
        if not fn.startswith(model_name + "_"):
            raise ConfigError(f"preset builder {fn}() builds a '{model_name}' model: name it "
                              f"{model_name}_<preset> or pass @preset(name=...)")
        return fn[len(model_name) + 1:]


DECLARED: list[Declared] = []


def preset(fn: Callable[[], Preset] | None = None, *, name: str | None = None, default: bool = False) -> Any:
    """Declare a preset builder (usable as ``@preset`` or ``@preset(name=..., default=True)``)."""
    def register(f: Callable[[], Preset]) -> Callable[[], Preset]:
        DECLARED.append(Declared(f, name, default))
        return f
    return register(fn) if fn is not None else register


def declare(builder: Callable[[], Preset], name: str, default: bool = False) -> None:
    """Declare a generated builder (e.g. a ``functools.partial``) under an explicit name."""
    DECLARED.append(Declared(builder, name, default))


# The order ``pixelar models`` lists the built-in families in (the papers' lineage); any other module
# in this package is found too and listed after them, alphabetically.
LISTING_ORDER = ("pixelcnn", "pixelcnn_pp", "pixelrnn", "pixelsnail", "multiscale_pixelcnn", "auxiliary")


def discover() -> list[Declared]:
    """Import every preset module of this package (each declares its presets) and return them all."""
    names = [m.name for m in pkgutil.iter_modules(__path__)]
    for name in sorted(names, key=lambda n: (LISTING_ORDER.index(n) if n in LISTING_ORDER else len(LISTING_ORDER), n)):
        importlib.import_module(f"{__name__}.{name}")
    return list(DECLARED)
