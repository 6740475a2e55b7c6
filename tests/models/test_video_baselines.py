"""What is particular to Table 2's reference rows (the shared video oracles run on them through
tests/models/test_video.py's MODELS): the O(TN) model's cached frame sampler draws exactly what the
naive loop draws, its cost is one cached step per sub-pixel, and the Gated PixelCNN's spatial
condition is computed incrementally as the whole network computes it."""
from __future__ import annotations

import pytest
import torch

from pixelar.models.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig
from pixelar.models.gated_pixelcnn_cached import GatedPixelCNNState
from pixelar.sampling.naive import steps
from tests.conftest import tiny

pytestmark = pytest.mark.usefixtures("one_thread")


def small(name: str, size: int = 4, frames: int = 4, **over):
    return tiny(name, "small", size, num_frames=frames, num_context=2, encoder_hidden=4, **over)


@pytest.mark.parametrize("channels,dist", [(1, "categorical"), (3, "categorical"), (3, "logistic_mixture")])
def test_otn_cached_frame_sampler_equals_the_naive_loop(channels, dist):
    """Same generator, same clips: the per-frame cached loop consumes random numbers as the naive
    loop over the whole filmstrip does (one draw per sub-pixel, in the same order)."""
    m = small("video_pixelcnn_otn", image_channels=channels, distribution=dist)
    cond = m.random_condition(2, torch.Generator().manual_seed(5))
    a = m.sample(2, cond=cond, generator=torch.Generator().manual_seed(0))
    b = m.sample(2, cond=cond, generator=torch.Generator().manual_seed(0), method="naive")
    assert torch.equal(a, b)
    known = torch.zeros_like(a, dtype=torch.bool)
    known[:, :, 1::3] = True                                  # some whole rows of both frames are given
    x = torch.randint(0, 256, a.shape, generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    c1 = m.complete(x, known, cond=cond, generator=torch.Generator().manual_seed(2))
    c2 = m.complete(x, known, cond=cond, generator=torch.Generator().manual_seed(2), method="naive")
    assert torch.equal(c1, c2) and torch.equal(c1[known], x[known])


@pytest.mark.parametrize("size", [4, 8])
def test_otn_takes_one_cached_step_per_sub_pixel(size, monkeypatch):
    """O(TN): S² (x C with an RGB softmax) frame-model steps per frame, against the baseline's one."""
    calls = [0]
    honest = GatedPixelCNNState.params

    def counted(self, *args):
        calls[0] += 1
        return honest(self, *args)

    monkeypatch.setattr(GatedPixelCNNState, "params", counted)
    for channels in (1, 3):
        calls[0] = 0
        m = small("video_pixelcnn_otn", size=size, image_channels=channels)        # 2 predicted frames
        m.sample(1, cond=m.random_condition(1, torch.Generator().manual_seed(0)),
                 generator=torch.Generator().manual_seed(0))
        assert calls[0] == 2 * size * size * channels


@pytest.mark.parametrize("channels,dist,classes", [(1, "categorical", 0), (3, "categorical", 4),
                                                   (3, "logistic_mixture", 0)])
def test_gated_pixelcnn_spatial_condition_cached_equals_network(channels, dist, classes):
    """Every cached step's parameters equal the whole network's on the same canvas and the same map."""
    torch.manual_seed(0)
    cfg = GatedPixelCNNConfig(image_size=8, image_channels=channels, distribution=dist, num_classes=classes,
                              hidden=8, num_layers=3, output_features=16)
    model = GatedPixelCNN(cfg, spatial_channels=5).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (2, channels, 8, 8), generator=g)
    spatial = torch.randn(2, 5, 8, 8, generator=g)
    cond = torch.tensor([1, 3]) if classes else None
    with torch.no_grad():
        full = model.network(model.scale_input(x), cond, spatial=spatial)
        other = model.network(model.scale_input(x), cond, spatial=spatial.flip(-1))
        assert not torch.allclose(full, other)                          # the map is read
        state = model.incremental(2, cond, spatial=spatial)
        canvas = torch.zeros_like(x)
        worst = 0.0
        for i, j, ch in steps(model):
            p = state.params(canvas, i, j, ch)
            sl = model.distribution.param_channels(ch) if ch is not None else slice(None)
            worst = max(worst, float((p[:, sl, 0, 0] - full[:, sl, i, j]).abs().max()))
            if ch is None:
                canvas[:, :, i, j] = x[:, :, i, j]
            else:
                canvas[:, ch, i, j] = x[:, ch, i, j]
    assert worst <= 1e-5 * max(1.0, float(full.abs().max()))


def test_gated_pixelcnn_refuses_a_missing_or_unexpected_map():
    cfg = GatedPixelCNNConfig(image_size=4, hidden=8, num_layers=2, output_features=16)
    with_map, without = GatedPixelCNN(cfg, spatial_channels=2), GatedPixelCNN(cfg)
    x = torch.zeros(1, *with_map.image_shape)
    with pytest.raises(ValueError, match="spatial=\\(N, 2"):
        with_map.network(x, None)
    with pytest.raises(ValueError, match="no spatial conditioning"):
        without.network(x, None, spatial=torch.zeros(1, 2, *x.shape[2:]))
