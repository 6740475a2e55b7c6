"""Lossless compression with any unconditional or class-conditional pixelar model (docs/codec.md).

``encode(model, x) -> bytes`` and ``decode(model, data) -> images`` range-code every sub-pixel with the
model's quantized conditional pmf (constriction, an optional dependency: ``pip install 'pixelar[codec]'``);
``compress_files`` / ``decompress_file`` read and write images, folders and npz files.
"""
from .api import BATCH, decode, encode, fingerprint, labels_of, stats
from .files import compress_files, decompress_file, read_inputs

__all__ = ["BATCH", "compress_files", "decode", "decompress_file", "encode", "fingerprint", "labels_of",
           "read_inputs", "stats"]
