"""Character-level text encoder: char-CNN + GRU with average pooling over time (Reed et al. 2017 §4.2).

A caption is a sequence of character codes (int64, 0 = padding). Characters are
embedded, passed through a few 1-D convolutions (the char-CNN), then a GRU; the
GRU outputs are averaged over the non-padding time steps to give one vector per
caption. Every factor of the multiscale model reads that vector as a bias.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PAD = 0


def encode_text(captions: list[str], vocab: int = 128, length: int | None = None) -> torch.Tensor:
    """Strings -> (N, L) int64 character codes in 1..vocab-1 (0 = padding), L = longest caption or ``length``.

    Characters are their Unicode code points folded into 1..vocab-1; longer captions are cut to ``length``.
    """
    if vocab < 2:
        raise ValueError(f"vocab must be >= 2, got {vocab}")
    length = length or max([len(c) for c in captions] + [1])
    out = torch.zeros(len(captions), length, dtype=torch.long)
    for n, caption in enumerate(captions):
        codes = [1 + (ord(ch) - 1) % (vocab - 1) for ch in caption[:length]]
        out[n, :len(codes)] = torch.tensor(codes, dtype=torch.long)
    return out


class CharCNNGRU(nn.Module):
    """(N, L) int64 character codes -> (N, out_dim) caption vectors.

    embedding (vocab -> dim) -> ``num_conv`` × [Conv1d(kernel 3, 'same') + ReLU] -> GRU(dim)
    -> mean of the GRU outputs over the non-padding steps -> Linear(dim -> out_dim).
    An all-padding caption gives the vector of an empty caption (the mean over zero steps is 0).
    """

    def __init__(self, vocab: int, dim: int, out_dim: int, num_conv: int = 2) -> None:
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Embedding(vocab, dim, padding_idx=PAD)
        self.convs = nn.ModuleList(nn.Conv1d(dim, dim, 3, padding=1) for _ in range(num_conv))
        self.gru = nn.GRU(dim, dim, batch_first=True)
        self.proj = nn.Linear(dim, out_dim)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        if text.dim() != 2 or text.is_floating_point():
            raise ValueError(f"text must be (N, L) int64 character codes, got {tuple(text.shape)} {text.dtype}")
        if text.numel() and (int(text.min()) < 0 or int(text.max()) >= self.vocab):
            raise ValueError(f"character codes must be in 0..{self.vocab - 1}; use pixelar.nn.text.encode_text")
        keep = (text != PAD).float()                               # (N, L)
        h = self.embed(text).transpose(1, 2)                       # (N, dim, L)
        for conv in self.convs:
            h = F.relu(conv(h)) * keep[:, None, :]                 # padding stays zero
        h, _ = self.gru(h.transpose(1, 2))                         # (N, L, dim)
        # average pooling over time, counting only real characters
        pooled = (h * keep[:, :, None]).sum(1) / keep.sum(1, keepdim=True).clamp_min(1.0)
        return self.proj(pooled)                                   # (N, out_dim)
