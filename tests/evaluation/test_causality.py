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
    assert sizes[:2] == [1, 2]                    # the probe: 1 copy, then 2 (the difference is per copy)
    assert max(sizes) == 40                       # 16,384 pixels' worth: all 40 copies at once
    sizes.clear()
    monkeypatch.setattr(causality, "CHUNK_BYTES", 1)
    tight = dict(causality.dependency_grads(model, positions))
    assert sizes == [1] + [1] * 40                # the probe (1 copy: over the bound, so no 2-copy one), then one per chunk
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


def test_the_oracle_leaves_the_parameters_trainable():
    """Parameters are frozen only while the oracle runs (d/d input needs no weight graph)."""
    model = _model()
    next(model.parameters()).requires_grad_(False)   # frozen by its user: stays frozen
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    frozen: list[bool] = []
    forward = model.network

    def network(x, cond=None):
        frozen.append(not any(p.requires_grad for p in model.parameters()))
        return forward(x, cond)

    model.network = network
    for _ in causality.dependency_grads(model, [(0, 2, 2), (1, 3, 3)]):
        pass
    assert frozen and all(frozen)
    assert {n: p.requires_grad for n, p in model.named_parameters()} == before
