"""A pickle reader that can rebuild numpy arrays and nothing else.

The CIFAR "python version" batches are pickles. Unpickling calls whatever
function the file names, so a plain ``pickle.load`` on a downloaded file can run
arbitrary code. ``RestrictedUnpickler`` resolves only the handful of names a
numpy array needs; anything else (``os.system``, ``builtins.open``, ...) raises
DataError before it is called.

Arrays are rebuilt only the way numpy itself pickles them: an empty ``(0,)``
array (``_reconstruct(ndarray, (0,), dtype)``) whose shape and bytes then come
from its pickled state (BUILD), where numpy checks that the bytes fill the
shape. So every element of every array read here was stored in the file: a
pickle cannot conjure a large uninitialised array out of a few bytes (D18),
neither by asking ``_reconstruct`` for a big shape nor by calling ``ndarray``.
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


class _NdarrayName:
    """What ``numpy.ndarray`` resolves to: the class token ``_reconstruct`` takes, not a callable
    (``ndarray(shape, dtype)`` would allocate an uninitialised array of any shape)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise pickle.UnpicklingError("it calls numpy.ndarray(...) directly, which numpy never pickles")


_NDARRAY = _NdarrayName()


def _empty_array(cls: Any, shape: Any, dtype: Any) -> np.ndarray:
    """``_reconstruct`` limited to what numpy pickles: an empty array that BUILD then fills."""
    if cls is not _NDARRAY or not isinstance(dtype, (bytes, str)) or tuple(shape) != (0,):
        raise pickle.UnpicklingError(f"it asks for an array of shape {shape!r} without its data; "
                                     f"numpy pickles only empty (0,) arrays filled from their state")
    return _reconstruct(np.ndarray, (0,), dtype)
_LATIN1 = ("latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1")


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as Python 3 writes ``bytes`` into protocol-2 pickles, latin-1 only."""
    if not isinstance(text, str) or encoding.lower() not in _LATIN1:
        raise pickle.UnpicklingError(f"unexpected _codecs.encode({type(text).__name__}, {encoding!r})")
    return codecs.encode(text, "latin1", errors)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _empty_array,
    ("numpy._core.multiarray", "_reconstruct"): _empty_array,
    ("numpy", "ndarray"): _NDARRAY,
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
