"""Reed et al. §4.4: "For all PixelCNNs in the model, we used the same architecture as in (van den Oord
et al., 2016b)" - the base and the type-B patch networks are Gated PixelCNNs, with no blind spot."""
from __future__ import annotations

import pytest
import torch

import pixelar
from pixelar.evaluation.causality import dependency_grads, find_leaks
from pixelar.models.multiscale_base import (
    FIRST_KERNEL,
    KERNEL,
    GatedBasePixelCNN,
    MaskedBasePixelCNN,
)
from pixelar.nn.upscale import UpscalerB
from tests.models.test_gated_pixelcnn import theoretical_field

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_base_has_no_blind_spot():
    """The Gated PixelCNN blind-spot test, run on the base: a model whose image is its 12x12 base, so every
    conditional is the base's; each sees exactly the Gated PixelCNN's receptive field."""
    for channels, dist in ((3, "categorical"), (1, "logistic_mixture")):
        torch.manual_seed(0)
        model = pixelar.build("multiscale_pixelcnn", "small", image_size=12, base_size=12, image_channels=channels,
                              distribution=dist, base_layers=3, base_hidden=12, base_output_features=16)
        assert isinstance(model.base, GatedBasePixelCNN)
        reach = FIRST_KERNEL // 2 + 2 * (KERNEL // 2)                # 3 + 2 = 5
        positions = [(c, i, j) for (i, j) in [(11, 6), (8, 2), (7, 11), (6, 6)] for c in range(channels)]
        for (c, i, j), grad in dependency_grads(model, positions):
            seen = grad != 0
            want = theoretical_field(c, i, j, 12, reach, channels, channel_ar=(dist == "categorical"))
            assert not (want & ~seen).any(), f"blind spot at {(c, i, j)}: {(want & ~seen).nonzero()[:5].tolist()}"
            assert not (seen & ~want).any(), f"{(c, i, j)} sees outside its field"


def test_the_masked_option_keeps_the_blind_spot():
    torch.manual_seed(0)
    model = pixelar.build("multiscale_pixelcnn", "small", image_size=12, base_size=12, image_channels=1,
                          pixelcnn="masked", base_layers=4, base_hidden=8, base_output_features=16)
    assert isinstance(model.base, MaskedBasePixelCNN)
    ((_, grad),) = list(dependency_grads(model, [(0, 11, 2)]))
    assert grad[0, 10, 3] != 0 and grad[0, 8, 11] == 0        # up-right triangle beyond the first 7x7 unseen


@pytest.mark.parametrize("gated", [True, False])
def test_patch_pixelcnn_sees_its_whole_raster_past_only_when_gated(gated):
    """Inside a 4x4 patch, a 2-layer gated patch net at (1, 1) reads (0, 3) (up-right: the masked
    net's blind spot) and never (1, 1) or later."""
    torch.manual_seed(0)
    up = UpscalerB(1, 1, 4, 8, 1, 2, 4, 1, gated=gated)
    feat = torch.randn(1, 8, 4, 4)
    target = torch.randn(1, 1, 4, 4, requires_grad=True)
    up.head(feat, target)[0, :, 1, 1].sum().backward()
    seen = target.grad[0, 0] != 0
    past = torch.zeros(4, 4, dtype=torch.bool)
    past.view(-1)[:5] = True                                  # raster positions before (1, 1)
    assert not (seen & ~past).any()
    assert bool(seen[0, 3]) == gated
    if gated:
        assert torch.equal(seen, past)


@pytest.mark.parametrize("pixelcnn", ["gated", "masked"])
def test_both_choices_pass_group_causality(pixelcnn):
    torch.manual_seed(0)
    model = pixelar.build("multiscale_pixelcnn", "small", image_size=8, base_size=2, image_channels=3,
                          distribution="categorical", num_levels=4, patch_size=2, pixelcnn=pixelcnn,
                          base_hidden=6, base_layers=2, base_output_features=8, hidden=6, num_resnet=1)
    assert find_leaks(model) == []


def test_conditioned_gated_base_reads_class_and_map_at_every_pixel():
    """Class vector (eq. 4) and spatial map (eq. 5) bias the gated base: changing either changes the
    first pixel's conditional, which sees no image pixel."""
    torch.manual_seed(0)
    model = pixelar.build("multiscale_pixelcnn", "small", image_size=8, base_size=8, image_channels=1,
                          num_classes=3, spatial_channels=1, base_layers=2, base_hidden=6,
                          base_output_features=8).eval()
    x = torch.randint(0, 256, (1, 1, 8, 8), dtype=torch.uint8)
    m = torch.rand(1, 1, 8, 8)
    with torch.no_grad():
        p = model(x, {"label": torch.tensor([0]), "spatial": m})[..., 0, 0]
        q = model(x, {"label": torch.tensor([1]), "spatial": m})[..., 0, 0]
        r = model(x, {"label": torch.tensor([0]), "spatial": m + 1})[..., 0, 0]
    assert not torch.allclose(p, q) and not torch.allclose(p, r)
