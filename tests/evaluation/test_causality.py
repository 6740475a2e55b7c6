"""The causality oracle's batching: chunks bounded by the memory the backward keeps."""
from __future__ import annotations

import torch

import pixelar
from pixelar.evaluation import causality


def _model():
    torch.manual_seed(0)
    return pixelar.build("pixelcnn", "small", image_size=6)


def test_default_chunk_is_bounded_by_the_bytes_saved_for_backward(monkeypatch):
    model = _model()
    sizes: list[int] = []
    forward = model.network

    def network(x, cond=None):
        sizes.append(x.shape[0])
        return forward(x, cond)

    monkeypatch.setattr(model, "network", network)
    positions = [(c, i, j) for i in range(6) for j in range(6) for c in range(3)][:40]
    loose = dict(causality.dependency_grads(model, positions))
    assert max(sizes) == 40                       # 16,384 pixels' worth: all 40 copies at once
    sizes.clear()
    monkeypatch.setattr(causality, "CHUNK_BYTES", 1)
    tight = dict(causality.dependency_grads(model, positions))
    assert sizes == [2, 1] + [1] * 40             # the probe (2 copies, then 1), then one copy per chunk
    assert loose.keys() == tight.keys()
    for pos in positions:                         # batch elements never interact
        assert torch.equal(loose[pos] != 0, tight[pos] != 0)


def test_saved_bytes_per_copy_grows_with_the_image():
    small, large = _model(), pixelar.build("pixelcnn", "small", image_size=12)
    def per_copy(m):
        C, H, W = m.image_shape
        return causality._saved_bytes_per_copy(m, m.scale_input(torch.zeros(1, C, H, W, dtype=torch.long)), None)
    a, b = per_copy(small), per_copy(large)
    assert 3.5 * a < b < 4.5 * a                  # activations scale with H*W (4x the pixels)
