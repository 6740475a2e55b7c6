"""Value sources: what the coding loop does with each sub-pixel's conditional pmf.

The coding loop (:mod:`pixelar.codec.loop`) computes, for every sub-pixel in the model's order,
the log-probabilities (N, K) float64 of all K levels and hands them to a *value source*, which
returns the sub-pixel's value for each of the N tiles:

* :class:`EncodeSource` returns the true value and range-codes it with the pmf;
* :class:`DecodeSource` range-decodes the value from each tile's stream.

Both turn log-probs into probabilities the same way (float64, max-subtracted, normalized) and
hand them to constriction's ``Categorical(perfect=False)``, which quantizes them to integer masses
(24-bit precision) with every level's mass >= 1 ("leaky"): a level the model thinks impossible can
still be coded, at up to 24 bits. Identical float64 inputs give identical masses on both sides.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import PixelarError


def constriction() -> Any:
    """The optional entropy-coding library, imported lazily."""
    try:
        import constriction as c
    except ImportError:
        raise PixelarError("compression needs the optional package constriction: "
                           "pip install 'pixelar[codec]'") from None
    return c


def probabilities(logp: torch.Tensor) -> np.ndarray:
    """(N, K) log-probs (any float dtype, possibly unnormalized) -> (N, K) float64 probabilities.

    exp(logp - max) in float64 keeps every level finite (-inf gives exactly 0, which the leaky
    quantizer lifts to mass 1); the sum is >= 1 because the max term is exactly 1.
    """
    lp = logp.detach().to(torch.float64)
    lp = torch.nan_to_num(lp, nan=-1e300, neginf=-1e300, posinf=0.0)   # a NaN never reaches the coder
    p = torch.exp(lp - lp.max(dim=1, keepdim=True).values)
    return (p / p.sum(dim=1, keepdim=True)).cpu().numpy()


class EncodeSource:
    """Codes the true values of ``target`` (N, C, H, W) int64, one range coder per tile."""

    def __init__(self, target: torch.Tensor) -> None:
        c = constriction()
        self.target = target
        self.family = c.stream.model.Categorical(perfect=False)
        self.coders = [c.stream.queue.RangeEncoder() for _ in range(target.shape[0])]

    def __call__(self, logp: torch.Tensor, c: int, i: int, j: int, todo: torch.Tensor) -> torch.Tensor:
        """logp (N, K), todo (N,) bool: the tiles that code this sub-pixel. Returns (N,) int64."""
        values = self.target[:, c, i, j]
        p = probabilities(logp)
        v = values.cpu().numpy().astype(np.int32)
        for t in np.flatnonzero(todo.cpu().numpy()):
            self.coders[t].encode(v[t:t + 1], self.family, p[t:t + 1])
        return values

    def streams(self) -> list[bytes]:
        """Each tile's compressed bytes (a whole number of little-endian 32-bit words)."""
        return [coder.get_compressed().astype("<u4").tobytes() for coder in self.coders]


class DecodeSource:
    """Decodes values from one range-coded stream per tile."""

    def __init__(self, streams: list[bytes]) -> None:
        c = constriction()
        self.family = c.stream.model.Categorical(perfect=False)
        self.coders = [c.stream.queue.RangeDecoder(np.frombuffer(s, dtype="<u4").astype(np.uint32))
                       for s in streams]

    def __call__(self, logp: torch.Tensor, c: int, i: int, j: int, todo: torch.Tensor) -> torch.Tensor:
        p = probabilities(logp)
        out = np.zeros(p.shape[0], dtype=np.int64)
        for t in np.flatnonzero(todo.cpu().numpy()):
            try:
                out[t] = self.coders[t].decode(self.family, p[t:t + 1])[0]
            except Exception as e:  # constriction raises its own exception types on bad data
                raise PixelarError(f"the compressed data is corrupt ({e}); re-create the file") from None
        return torch.from_numpy(out).to(logp.device)
