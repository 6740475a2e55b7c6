"""pixelar: autoregressive image density models with exact bits/dim.

>>> import pixelar
>>> model = pixelar.build("gated_pixelcnn", preset="small")
>>> bpd = model.bits_per_dim(x)            # x: uint8 (N, 3, 32, 32)
>>> model.save("run/")                      # config.json + model.safetensors
>>> model = pixelar.load("run/")           # an AutoregressiveModel (typed: an IDE completes its methods)
>>> pp = pixelar.load("run/", expect_model=pixelar.models.pixelcnn_pp.PixelCNNPlusPlus)   # typed as that class
"""
from __future__ import annotations

from .errors import CheckpointError, ConfigError, DataError, PixelarError
from .models.base import AutoregressiveModel
from .presets import Preset
from .registry import MODELS, build, load, register_model
from .version import __version__

__all__ = ["MODELS", "AutoregressiveModel", "CheckpointError", "ConfigError", "DataError", "PixelarError", "Preset",
           "__version__", "build", "load", "register_model"]
