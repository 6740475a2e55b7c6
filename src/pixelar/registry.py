"""The one list of models and presets that the CLI and the tests iterate over, built from the presets.

Every preset (``pixelar/presets/``) names its model class; a model is registered by its class's
``name`` with all of its presets. ``build`` makes a model from a preset, ``load`` rebuilds a saved
one. A model defined outside pixelar joins with :func:`register_model` and is then built, saved,
loaded and trained like a built-in one.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any, Literal, TypeVar, overload

import torch

from . import checkpoint as ckpt
from . import config as config_lib
from . import presets as presets_lib
from . import pretrained as pretrained_lib
from .errors import CheckpointError, ConfigError
from .models.base import AutoregressiveModel
from .presets import Preset
from .training.config import TrainConfig

# A model class: build(PixelCNNPlusPlus, ...) and load(..., expect_model=PixelCNNPlusPlus) are typed as
# returning that class, so that an IDE completes its own methods and attributes too.
M = TypeVar("M", bound=AutoregressiveModel)
Weights = Literal["auto", "ema", "raw"]


@dataclasses.dataclass
class ModelEntry:
    model_class: type[AutoregressiveModel]
    presets: dict[str, Callable[[], Preset]]
    default_preset: str


MODELS: dict[str, ModelEntry] = {}


def register_model(model_class: type[AutoregressiveModel],
                   presets: dict[str, Preset | Callable[[], Preset]] | None = None,
                   default: str | None = None) -> ModelEntry:
    """Register ``model_class`` under its ``name`` with named presets (Presets or builders).

    With no presets, the model gets one, ``default``, made of its config class's defaults.
    """
    name = model_class.name
    if not name:
        raise ConfigError(f"{model_class.__name__} has no name: set the class attribute `name`")
    builders: dict[str, Callable[[], Preset]] = {}
    for key, p in (presets or {"default": Preset(model_class, model_class.config_class(), TrainConfig(),
                                                  f"{name} with its config's defaults")}).items():
        builders[key] = p if callable(p) else (lambda p=p: p)
    entry = MODELS.get(name)
    if entry is not None and entry.model_class is not model_class:
        raise ConfigError(f"a different model is already registered as '{name}' ({entry.model_class.__name__})")
    if entry is None:
        entry = MODELS[name] = ModelEntry(model_class, {}, default or next(iter(builders)))
    entry.presets.update(builders)
    if default is not None:
        entry.default_preset = default
    return entry


def _register_builtin() -> None:
    """Group every declared preset by the model class it builds."""
    for d in presets_lib.discover():
        p = d.builder()
        entry = register_model(p.model_class, {d.resolve_name(p.model_class.name): d.builder})
        if d.default:
            entry.default_preset = d.resolve_name(p.model_class.name)


_register_builtin()


def entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'; available: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def get_preset(name: str, preset: str | None = None) -> Preset:
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


def _model_name(model: str | type[AutoregressiveModel]) -> str:
    """A registered model's name, from its name or its class (which must be the one registered)."""
    if isinstance(model, str):
        return model
    e = entry(model.name)
    if e.model_class is not model:
        raise ConfigError(f"{model.__name__} is not registered (its name '{model.name}' is "
                          f"{e.model_class.__name__}'s); register it with pixelar.register_model")
    return model.name


@overload
def build(name: type[M], preset: str | None = None, **overrides: Any) -> M: ...
@overload
def build(name: str, preset: str | None = None, **overrides: Any) -> AutoregressiveModel: ...


def build(name: str | type[AutoregressiveModel], preset: str | None = None,
          **overrides: Any) -> AutoregressiveModel:
    """Build model ``name`` (a registered name, or the model class) from ``preset`` (default: the
    model's default) with config overrides.

    >>> build("pixelcnn", preset="cifar10", hidden=64)   # unknown keys raise ConfigError
    >>> build(PixelCNNPlusPlus, preset="small")          # typed as PixelCNNPlusPlus
    """
    name = _model_name(name)
    model_cfg, _ = resolve(name, preset, overrides)
    return entry(name).model_class(model_cfg)


MAX_STATE_ELEMENTS = 2_000_000_000   # parameters + buffers a checkpoint's config may ask for


def build_from_config(name: str, model_config: dict[str, Any], device: str | torch.device | None = None
                      ) -> AutoregressiveModel:
    """The model ``name`` with the config dict of a checkpoint (strict: every key, nothing unknown).

    ``device="meta"`` builds it without allocating any memory (shapes and dtypes only).
    """
    e = entry(name)
    cfg = config_lib.from_dict(e.model_class.config_class, model_config)
    if device is None:
        return e.model_class(cfg)
    with torch.device(device):
        return e.model_class(cfg)


_FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
           torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
           torch.bool: "BOOL"}


def check_weights_fit(model: torch.nn.Module, header: dict[str, tuple[tuple[int, ...], str]], where: str) -> None:
    """The tensors a safetensors header lists must be the model's state: same names, shapes, kinds
    (a float weight stored as integers would be silently truncated). Raises CheckpointError."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    if missing or extra:
        what = f"lacks {missing[0]}" if missing else f"has an unknown tensor {extra[0]}"
        raise CheckpointError(f"{where} {what} ({len(missing)} missing, {len(extra)} unknown): "
                              "it was not written for this model's config")
    for k, v in expected.items():
        shape, dtype = header[k]
        if tuple(v.shape) != shape:
            raise CheckpointError(f"{where}: {k} has shape {list(shape)}, the config implies {list(v.shape)}")
        want = _DTYPES.get(v.dtype, str(v.dtype))
        if (v.is_floating_point() and dtype not in _FLOAT_DTYPES) or (not v.is_floating_point() and dtype != want):
            raise CheckpointError(f"{where}: {k} is stored as {dtype}, the model holds {want}")


@overload
def load(path: str | os.PathLike, *, weights: Weights = "auto", expect_model: type[M],
         map_location: str | torch.device = "cpu") -> M: ...
@overload
def load(path: str | os.PathLike, *, weights: Weights = "auto", expect_model: str | None = None,
         map_location: str | torch.device = "cpu") -> AutoregressiveModel: ...


def load(path: str | os.PathLike, *, weights: Weights = "auto",
         expect_model: str | type[AutoregressiveModel] | None = None,
         map_location: str | torch.device = "cpu") -> AutoregressiveModel:
    """Rebuild the model saved at ``path`` (checkpoint or run directory, or ``"pretrained:NAME"`` for a
    checkpoint shipped with pixelar: ``pixelar pretrained`` lists them), in eval mode.

    weights: "auto" (EMA weights when the checkpoint has them), "ema" or "raw"; the model's
    ``loaded_weights`` says which were used, ``checkpoint_dir`` where they came from.
    expect_model: a model name or class; raise CheckpointError if the checkpoint holds another
    model (given a class, the result is typed as that class).
    Nothing is allocated before the safetensors header (read alone) matches the shapes the config
    implies, and a config asking for more than MAX_STATE_ELEMENTS numbers is refused.
    """
    pretrained_name = None
    if isinstance(path, str) and path.startswith(pretrained_lib.PREFIX):
        # A checkpoint shipped in the package (pixelar/pretrained/): every file's sha256 is checked
        # against its manifest before anything is read.
        pretrained_name = path[len(pretrained_lib.PREFIX):]
        path = pretrained_lib.checkpoint_dir(pretrained_name)
    directory = ckpt.resolve_checkpoint(path)
    if expect_model is not None:
        expect_model = _model_name(expect_model)
    meta = ckpt.read_meta(directory)
    if not isinstance(meta["model"], str):
        raise CheckpointError(f"{directory / ckpt.CONFIG}: 'model' must be a model name")
    if expect_model is not None and meta["model"] != expect_model:
        raise CheckpointError(f"{directory} holds a '{meta['model']}' model, not '{expect_model}'")
    if meta["model"] not in MODELS:
        raise CheckpointError(f"{directory} holds a '{meta['model']}' model, which this pixelar does not know")
    file, used = ckpt.weights_file(directory, weights)
    try:
        shape_only = build_from_config(meta["model"], meta["config"], device="meta")
    except ConfigError as e:
        raise CheckpointError(f"{directory}: config does not fit this version of pixelar ({e})") from None
    except Exception as e:   # a constructor refusing absurd sizes in its own way
        raise CheckpointError(f"{directory}: config describes no buildable model "
                              f"({type(e).__name__}: {str(e).strip()[:120]})") from None
    size = sum(t.numel() for t in shape_only.state_dict().values())
    if size > MAX_STATE_ELEMENTS:
        raise CheckpointError(f"{directory}: its config asks for {size:.3g} parameters and buffers, more than "
                              f"the {MAX_STATE_ELEMENTS:.0e} pixelar loads; the config is corrupt or hostile")
    check_weights_fit(shape_only, ckpt.read_header(file), str(file))
    del shape_only
    model = build_from_config(meta["model"], meta["config"])
    state = ckpt.load_weights(file)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{directory}: weights do not match a '{meta['model']}' model ({first})") from None
    model.checkpoint_meta = meta
    model.checkpoint_dir = directory
    model.loaded_weights = used
    model.pretrained_name = pretrained_name
    return model.to(map_location).eval()
