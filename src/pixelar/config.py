"""Frozen config dataclasses with strict overrides.

Every model has a frozen dataclass config; it is saved as ``config.json`` in
each checkpoint. Overrides are strict: an unknown key or a value that cannot be
converted to the field's type raises :class:`ConfigError`, so a typo can never
silently train the wrong model.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError


def field_names(cls_or_obj: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(cls_or_obj)]


def _convert(value: Any, annotation: Any, key: str) -> Any:
    """Convert ``value`` (possibly a string from ``--set key=value``) to ``annotation``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: cannot use {value!r}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{key} must be one of {', '.join(map(repr, args))}, got {value!r}")
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        elem = args[0] if args else Any
        return tuple(_convert(v, elem, key) for v in value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be an integer, got {value!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return int(f)
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{key} must be a number, got {value!r}") from None
        if not math.isfinite(f):
            raise ConfigError(f"{key} must be a finite number, got {value!r}")
        return f
    if annotation is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return str(value)
    return value


def replace(config: Any, overrides: Mapping[str, Any], *, prefix: str = "") -> Any:
    """Return a copy of ``config`` with ``overrides`` applied; unknown keys raise ConfigError."""
    hints = typing.get_type_hints(type(config))
    names = field_names(config)
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            close = [n for n in names if n.startswith(key[:3])]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(
                f"unknown config key '{prefix}{key}' for {type(config).__name__}{hint}; "
                f"valid keys: {', '.join(names)}")
        changes[key] = _convert(value, hints[key], prefix + key)
    new = dataclasses.replace(config, **changes)
    validate = getattr(new, "validate", None)
    if validate is not None:
        validate()
    return new


def to_dict(config: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()}


def from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """Build ``cls`` from a dict (e.g. a checkpoint's config.json), strictly: every field must be
    given (a missing one is never filled in from the defaults, only a field the class lists in
    ``FIELDS_ADDED`` from the value it gives there), none may be unknown, and each must convert to its
    field's type and pass ``validate()``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"a {cls.__name__} must be a JSON object, got {type(data).__name__}")
    data = with_added_fields(cls, data)
    missing = [n for n in field_names(cls) if n not in data]
    if missing:
        raise ConfigError(f"{cls.__name__} lacks {', '.join(missing)}")
    return replace(cls(), data)


def with_added_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with every field of ``cls.FIELDS_ADDED`` it lacks filled in: fields added after configs
    were already written, with the value that keeps those configs' model; the one exception to
    "every field must be given"."""
    added = {k: v for k, v in getattr(cls, "FIELDS_ADDED", {}).items() if k not in data}
    return {**data, **added}


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """Parse ``["a.b=1", "c=x"]`` from ``--set`` into a dict of strings."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got '{item}'")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out
