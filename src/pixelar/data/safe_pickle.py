"""A pickle reader that can rebuild numpy arrays and nothing else.

The CIFAR "python version" batches are pickles. Unpickling calls whatever
function the file names, so a plain ``pickle.load`` on a downloaded file can run
arbitrary code. ``RestrictedUnpickler`` resolves only the handful of names a
numpy array needs; anything else (``os.system``, ``builtins.open``, ...) raises
DataError before it is called.
"""
from __future__ import annotations

import codecs
import io
import os
import pickle
from typing import Any, BinaryIO

import numpy as np

from pixelar.errors import DataError

# numpy's array-rebuilding function, taken from numpy itself rather than imported
# by module name (it moved from numpy.core to numpy._core in numpy 2).
_reconstruct = np.zeros(0).__reduce__()[0]
_LATIN1 = ("latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1")


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as Python 3 writes ``bytes`` into protocol-2 pickles, latin-1 only."""
    if not isinstance(text, str) or encoding.lower() not in _LATIN1:
        raise pickle.UnpicklingError(f"unexpected _codecs.encode({type(text).__name__}, {encoding!r})")
    return codecs.encode(text, "latin1", errors)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler limited to plain containers, numbers, strings and numpy arrays.

    Python-2 pickles are read with ``encoding="latin1"`` (what numpy needs for
    the raw bytes of an array); their ``str`` keys arrive as ``str`` and
    Python-3 ``bytes`` keys as ``bytes``, so callers accept both.
    """

    def __init__(self, file: BinaryIO, source: str, what: str) -> None:
        super().__init__(file, encoding="latin1")
        self.source = source
        self.what = what

    def find_class(self, module: str, name: str) -> Any:
        obj = _ALLOWED.get((module, name))
        if obj is None:
            raise DataError(f"refusing to load {self.source}: it is not {self.what} "
                            f"(it asks to call {module}.{name}); replace it with the official file")
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise DataError(f"refusing to load {self.source}: it is not {self.what} (persistent ids)")


def safe_load(path: str | os.PathLike, what: str) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler`.

    ``what`` names the expected content for messages ("a CIFAR batch").
    Any failure to parse (truncated, corrupt, forbidden) raises DataError.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}") from e
    return safe_loads(data, str(path), what)


def safe_loads(data: bytes, source: str, what: str) -> Any:
    """Unpickle bytes with :class:`RestrictedUnpickler`; ``source`` names them in errors."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), source, what).load()
    except DataError:
        raise
    except Exception as e:   # a parser boundary: every malformed input is a data problem
        raise DataError(f"{source} is truncated or corrupt, it is not {what} "
                        f"({type(e).__name__}: {e}); replace it with the official file") from e
