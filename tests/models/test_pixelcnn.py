"""The masked PixelCNN's layer-to-output connections (PixelRNN §4: "Residual and layer-to-output
connections are used across the layers of all three networks"); the registry oracles
(tests/models/test_common.py, tests/sampling/test_cached.py) run on its presets, which have them."""
from __future__ import annotations

import itertools

import pytest
import torch

import pixelar
from pixelar.evaluation.causality import find_leaks
from pixelar.nn.masked import MaskedConv2d


def _count(**over) -> int:
    with torch.device("meta"):
        return pixelar.build("pixelcnn", "cifar10", **over).num_parameters()


def test_layer_to_output_connections_add_one_masked_1x1_per_residual_block():
    cfg = pixelar.registry.get_preset("pixelcnn", "cifar10").model
    assert cfg.skip is True and (cfg.num_layers, cfg.hidden) == (15, 128)
    h2 = 2 * cfg.hidden
    assert _count() - _count(skip=False) == (cfg.num_layers - 1) * (h2 * h2 + h2)   # 2h -> 2h, with bias
    assert _count() == 4_998_400                                                  # `pixelar models`


def test_the_output_reads_every_block_through_its_skip():
    torch.manual_seed(0)
    model = pixelar.build("pixelcnn", "cifar10", image_size=4, hidden=6, num_layers=4, output_features=8).eval()
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    with torch.no_grad():
        base = model.log_prob(x)
        for skip in model.skips:                     # one per residual block
            w = skip.weight.detach().clone()
            skip.weight.data.zero_()
            assert not torch.allclose(model.log_prob(x), base)
            skip.weight.data.copy_(w)


def test_both_wirings_are_exactly_causal_normalized_and_sample_the_same_cached():
    for skip in (True, False):
        torch.manual_seed(0)
        model = pixelar.build("pixelcnn", "cifar10", image_size=2, num_levels=2, hidden=6, num_layers=3,
                              output_features=8, skip=skip).eval()
        assert find_leaks(model) == [] and model.has_cached_sampler()
        x = torch.tensor(list(itertools.product(range(2), repeat=12)), dtype=torch.uint8).view(-1, 3, 2, 2)
        with torch.no_grad():
            assert abs(float(torch.logsumexp(model.log_prob(x).double(), 0).exp()) - 1.0) < 1e-5
        a = model.sample(3, method="naive", generator=torch.Generator().manual_seed(1))
        b = model.sample(3, method="cached", generator=torch.Generator().manual_seed(1))
        assert torch.equal(a, b)


def test_meta_masked_conv_skips_the_mask_but_not_its_checks():
    """On the meta device (`pixelar models`, checkpoint sizing) the mask has no values to compute,
    but a configuration the CPU build refuses is refused there too."""
    with torch.device("meta"):
        assert MaskedConv2d(6, 9, 3, "A", num_groups=3).mask.shape == (9, 6, 3, 3)
        with pytest.raises(ValueError, match="channels per chunk"):
            MaskedConv2d(2, 6, 3, "A", num_groups=3)
        with pytest.raises(ValueError, match="mask_type"):
            MaskedConv2d(6, 6, 3, "C", num_groups=3)


@pytest.mark.parametrize("kernel", [(3, 3), (7, 7), (5, 3), (1, 3), 1])
@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("groups", [1, 3])
def test_the_cut_kernel_equals_the_full_masked_kernel(kernel, mask_type, groups):
    """MaskedConv2d multiplies only the kernel rows at and above the centre (the rows below are
    masked to zero): output and both gradients equal the full k×k masked convolution (float64)."""
    torch.manual_seed(0)
    conv = MaskedConv2d(6, 9, kernel, mask_type, num_groups=groups).double()
    x = torch.randn(2, 6, 7, 10, dtype=torch.float64, requires_grad=True)
    full = torch.nn.functional.conv2d(x, conv.weight * conv.mask, conv.bias, padding=conv.padding)
    cut = conv(x)
    assert cut.shape == full.shape == (2, 9, 7, 10)
    g = torch.randn_like(full)
    for a, b in zip(torch.autograd.grad(cut, (x, conv.weight, conv.bias), g),
                    torch.autograd.grad(full, (x, conv.weight, conv.bias), g)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    torch.testing.assert_close(cut, full, rtol=0, atol=1e-12)
