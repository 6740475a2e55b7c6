"""pixelar: autoregressive image density models with exact bits/dim.

>>> import pixelar
>>> model = pixelar.build("gated_pixelcnn", preset="small")
>>> bpd = model.bits_per_dim(x)            # x: uint8 (N, 3, 32, 32)
>>> model.save("run/")                      # config.json + model.safetensors
>>> model = pixelar.load("run/")
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import CheckpointError, ConfigError, DataError, PixelarError  # noqa: E402
from .registry import MODELS, build  # noqa: E402
from .training.checkpoint import load  # noqa: E402

__all__ = ["build", "load", "MODELS", "PixelarError", "ConfigError", "DataError", "CheckpointError",
           "__version__"]
