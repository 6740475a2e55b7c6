"""Gated PixelCNN: no blind spot, and the causality oracle catches broken masks."""
from __future__ import annotations

import torch

import pixelar
from pixelar.evaluation.causality import dependency_grads, find_leaks
from pixelar.nn.masked import MaskedConv2d


def theoretical_field(c: int, i: int, j: int, size: int, reach: int, channels: int,
                      channel_ar: bool) -> torch.Tensor:
    """What the paper promises: every pixel of the reach + 1 rows above (the vertical stack's
    features at row i-1 cover rows i-1-reach .. i-1) over the full width ±reach, the reach
    pixels to the left, and earlier channels of the pixel itself."""
    f = torch.zeros(channels, size, size, dtype=torch.bool)
    f[:, max(0, i - 1 - reach):i, max(0, j - reach):j + reach + 1] = True
    f[:, i, max(0, j - reach):j] = True
    if channel_ar:
        f[:c, i, j] = True
    return f


def test_no_blind_spot_every_pixel_of_the_receptive_field_is_seen():
    size = 16
    for channels, dist in ((3, "categorical"), (1, "logistic_mixture")):
        torch.manual_seed(0)
        model = pixelar.build("gated_pixelcnn", "small", image_size=size, image_channels=channels,
                              distribution=dist, num_layers=4, hidden=24, output_features=32)
        reach = model.config.receptive_reach()   # 3 + 3·1 = 6: a blind spot would miss a triangle up-right
        positions = [(c, i, j) for (i, j) in [(15, 8), (10, 3), (8, 15), (7, 7)] for c in range(channels)]
        for (c, i, j), grad in dependency_grads(model, positions):
            seen = grad != 0
            want = theoretical_field(c, i, j, size, reach, channels, channel_ar=(dist == "categorical"))
            missing = (want & ~seen).nonzero().tolist()
            extra = (seen & ~want).nonzero().tolist()
            assert not missing, f"blind spot at {(c, i, j)}: never sees {missing[:5]}"
            assert not extra, f"{(c, i, j)} sees outside its receptive field: {extra[:5]}"


def test_the_same_check_finds_the_masked_pixelcnn_blind_spot():
    """Sanity of the oracle: the plain masked PixelCNN (3x3 stacks) has the classic blind spot."""
    torch.manual_seed(0)
    model = pixelar.build("pixelcnn", "small", image_size=12, num_layers=5, hidden=12, output_features=16,
                          image_channels=1, first_kernel=3)
    (_pos, grad), = list(dependency_grads(model, [(0, 11, 5)]))
    # row 10, to the right: reachable by a 5-layer stack of 3x3 kernels only through the blind spot
    assert grad[0, 10, 6] != 0            # the pixel up-right is seen
    assert grad[0, 9, 9] == 0             # but the upper-right triangle is not


def test_broken_mask_is_reported_with_the_first_leaking_subpixel():
    torch.manual_seed(0)
    model = pixelar.build("gated_pixelcnn", "small", image_size=5, distribution="categorical",
                          hidden=12, output_features=16, num_layers=2)
    first = model.layers[0].h_conv
    broken = MaskedConv2d(first.in_channels, first.out_channels, first.kernel_size, "B",
                          first.num_groups, out_chunks=2)   # mask B in the first layer: sees itself
    broken.load_state_dict(first.state_dict())
    model.layers[0].h_conv = broken
    leaks = find_leaks(model)
    assert leaks and leaks[0].output == (0, 0, 0) and leaks[0].input == (0, 0, 0)
    assert "row 0, col 0, channel 0" in str(leaks[0])
