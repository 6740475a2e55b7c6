"""Converters from other projects' checkpoints into pixelar checkpoints.

>>> from pixelar.convert import convert_pcl_file
>>> model = convert_pcl_file("pcnn_lr.0.00040_nr-resnet5_nr-filters160_889.pth", "run/pcl")
>>> model.bits_per_dim(x)                  # x: uint8 (N, 3, 32, 32)

Checkpoints are read with ``torch.load(weights_only=True)``: never an arbitrary pickle.
"""
from __future__ import annotations

from .pcl import convert_pcl, convert_pcl_file, import_port, output_permutation, read_pcl_state_dict

__all__ = ["convert_pcl", "convert_pcl_file", "import_port", "output_permutation", "read_pcl_state_dict"]
