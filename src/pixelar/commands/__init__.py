"""The subcommands behind ``pixelar``, one module per group. Each module's ``register(sub)`` adds its
parsers with ``set_defaults(func=...)``; each command is a few library calls."""
from __future__ import annotations

import argparse

from ..convert import cli as convert
from . import (
    catalog,
    codec,
    diagnose,
    evaluate,
    generate,
    plot,
    predict,
    pretrained,
    quickstart,
    score,
    train,
    upscale_video,
)

MODULES = (catalog, train, evaluate, score, generate, predict, upscale_video, codec, diagnose, convert, quickstart,
           pretrained, plot)


def register_all(sub: argparse._SubParsersAction) -> None:
    for module in MODULES:
        module.register(sub)
