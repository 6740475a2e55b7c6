"""PixelSNAIL: exact causality and full context in both orderings, attention mask, init, sampling."""
from __future__ import annotations

import pytest
import torch

import pixelar
from pixelar.evaluation.causality import dependency_grads, find_leaks
from pixelar.models.pixelsnail import zigzag_positions
from pixelar.nn.attention import CausalAttention, earlier_mask, rank_map
from pixelar.nn.weightnorm import WeightNormConv2d
from tests.conftest import random_dataset

TINY = dict(num_filters=8, num_blocks=2, num_resnet=1, key_channels=4, value_channels=8, num_mixtures=2)


def tiny(size: int = 8, **over) -> pixelar.models.base.AutoregressiveModel:
    torch.manual_seed(0)
    return pixelar.build("pixelsnail", "small", image_size=size, **{**TINY, **over})


def test_zigzag_order_is_raster_over_blocks_and_raster_inside_a_block():
    assert zigzag_positions(4, 2) == [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (0, 3), (1, 2), (1, 3),
                                      (2, 0), (2, 1), (3, 0), (3, 1), (2, 2), (2, 3), (3, 2), (3, 3)]
    assert zigzag_positions(3, 1) == [(i, j) for i in range(3) for j in range(3)]
    assert zigzag_positions(6, 3)[:10] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1),
                                           (2, 2), (0, 3)]
    model = tiny(ordering="zigzag")
    assert model.positions() == zigzag_positions(8, 2) and model.ordering == "zigzag"
    assert tiny().positions() == [(i, j) for i in range(8) for j in range(8)]


@pytest.mark.parametrize("ordering,block", [("raster", 2), ("zigzag", 2), ("zigzag", 4)])
def test_exactly_causal_in_its_own_ordering(ordering, block):
    assert find_leaks(tiny(ordering=ordering, zigzag_block=block)) == []


def test_the_ordering_matters_raster_and_zigzag_models_leak_in_each_others_order():
    """The oracle is not vacuous: judged in the other ordering, each model has a leak."""
    raster, zigzag = tiny(), tiny(ordering="zigzag")
    raster.positions = zigzag.positions          # judge the raster model in zigzag order ...
    leaks = find_leaks(raster)
    assert leaks, "a raster model must see pixels that come later in zigzag order"
    zigzag2 = tiny(ordering="zigzag")
    zigzag2.positions = raster.__class__.positions.__get__(tiny())   # ... and the zigzag model in raster order
    assert find_leaks(zigzag2)


@pytest.mark.parametrize("ordering", ["raster", "zigzag"])
def test_full_context_every_earlier_pixel_gets_a_nonzero_gradient(ordering):
    """At random init, log p(x_i | x_<i) depends on *every* earlier pixel in the ordering, including
    the last pixel of the previous row (which a popular PyTorch port never sees)."""
    model = tiny(ordering=ordering)
    _c, h, w = model.image_shape
    checked = 0
    for (ch, i, j), grad in dependency_grads(model, [(0, i, j) for i, j in model.positions()]):
        allowed = model.allowed_inputs(ch, i, j)
        seen = grad.sum(0) > 0                                       # (H, W): any channel
        assert torch.equal(seen, allowed.any(0)), f"pixel ({i}, {j}) misses {(allowed.any(0) & ~seen).nonzero()}"
        checked += 1
    assert checked == h * w
    if ordering == "raster":   # spelled out: pixel (3, 0) sees (2, 7), the last pixel of the previous row
        (_, grad), = dependency_grads(model, [(0, 3, 0)])
        assert grad[:, 2, 7].sum() > 0


def test_attention_masks_exactly_and_the_first_position_gets_zero():
    rank = rank_map(zigzag_positions(4, 2), 4, 4)
    mask = earlier_mask(rank)
    assert mask.sum() == 16 * 15 // 2 and not mask.diagonal().any()
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 3, 4, 4, generator=g)
    v = torch.randn(2, 5, 4, 4, generator=g, requires_grad=True)
    out = CausalAttention()(q, k, v, mask)
    assert torch.equal(out[:, :, 0, 0], torch.zeros(2, 5))       # (0, 0) is first: nothing to attend to
    # position (1, 0) is 3rd in zigzag order: it sees (0, 0) and (0, 1) only
    (grad,) = torch.autograd.grad(out[:, :, 1, 0].sum(), v)
    assert set(map(tuple, grad[0].abs().sum(0).nonzero().tolist())) == {(0, 0), (0, 1)}
    # the same result as a slow per-position softmax
    flat_q, flat_k, flat_v = q.flatten(2), k.flatten(2), v.detach().flatten(2)
    for p in range(1, 16):
        keys = mask[p].nonzero()[:, 0]
        a = torch.softmax((flat_q[:, :, p:p + 1] * flat_k[:, :, keys]).sum(1) / 3 ** 0.5, dim=-1)   # (N, n)
        ref = (flat_v[:, :, keys] * a[:, None]).sum(-1)
        assert torch.allclose(out.detach().flatten(2)[:, :, p], ref, atol=1e-6)


def test_data_dependent_init_and_one_training_step():
    model = tiny(dropout=0.5)
    x = torch.stack([random_dataset(8, size=8)[i][0] for i in range(8)])
    model.data_dependent_init(x)
    assert not model.needs_data_dependent_init
    assert sum(isinstance(m, WeightNormConv2d) for m in model.modules()) > 10
    model.train()
    loss = -model.log_prob(x).mean()
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())


def test_activation_checkpointing_gives_the_same_gradients():
    grads = []
    for flag in (False, True):
        model = tiny(4, dropout=0.5, checkpoint_activations=flag).train()
        x = torch.stack([random_dataset(2, size=4)[i][0] for i in range(2)])
        torch.manual_seed(1)
        (-model.log_prob(x).sum()).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)


def test_zigzag_completion_cached_equals_naive_and_keeps_known_pixels():
    model = tiny(4, ordering="zigzag", num_classes=3)
    cond = torch.tensor([0, 2])
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    known = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    known[:, :, :, :2] = True                       # left half known: not a prefix of the zigzag order
    known = known.expand_as(x)
    a, b = (model.complete(x, known, cond=cond, generator=torch.Generator().manual_seed(1), method=m)
            for m in ("naive", "cached"))
    assert torch.equal(a, b) and torch.equal(a[:, :, :, :2], x[:, :, :, :2])


def test_config_errors_say_what_to_do():
    with pytest.raises(pixelar.ConfigError, match="multiple of zigzag_block"):
        pixelar.build("pixelsnail", "small", image_size=9, ordering="zigzag")
    with pytest.raises(pixelar.ConfigError, match="must be one of"):
        pixelar.build("pixelsnail", "small", ordering="hilbert")
    with pytest.raises(pixelar.ConfigError, match="must be one of"):
        pixelar.build("pixelsnail", "small", distribution="categorical")


@pytest.mark.slow
def test_paper_preset_at_4x4_causal_in_both_orderings_and_trains_one_step():
    """The paper-size architecture (12 blocks, 256 filters): minutes on 2 shared cores, like its 8x8
    common oracles; imagenet32 differs only in the number of logistics and dropout."""
    for ordering in ("raster", "zigzag"):
        torch.manual_seed(0)
        model = pixelar.build("pixelsnail", "cifar10", image_size=4, ordering=ordering)
        assert find_leaks(model) == []
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    loss = -model.log_prob(x).mean()
    loss.backward()
    torch.optim.Adam(model.parameters(), lr=1e-3).step()
    assert torch.isfinite(loss) and all(torch.isfinite(p).all() for p in model.parameters())

    assert pixelar.build("pixelsnail", "cifar10").num_parameters() == 91_375_400


@pytest.mark.parametrize("ordering", ["raster", "zigzag"])
def test_cached_sampler_gives_the_naive_samples(ordering):
    model = tiny(ordering=ordering, num_classes=2)
    cond = torch.tensor([0, 1])
    naive, cached = (model.sample(2, cond=cond, generator=torch.Generator().manual_seed(5), method=m)
                     for m in ("naive", "cached"))
    assert torch.equal(naive, cached)


def test_paper_presets_imagenet64_and_the_receptive_field_model():
    """ImageNet 64x64 (the 3.52 bits/dim model): the ImageNet 32x32 model at 64x64. The §3.1
    receptive-field model: "7 blocks (4 shift-based convolutions and 3 attention blocks)"."""
    get = pixelar.registry.get_preset
    i32, i64, rf = (get("pixelsnail", p) for p in ("imagenet32", "imagenet64", "receptive_field"))
    assert i64.model.image_size == 64 and i64.dataset == "imagenet64_npz"
    assert (i64.model.num_blocks, i64.model.num_filters, i64.model.num_mixtures, i64.model.dropout) == (12, 256, 32, 0)
    assert i64.train.ema == 0.9997 and i32.train.lr == 1e-3 == i64.train.lr     # public code's ImageNet lr
    assert (rf.model.image_size, rf.model.num_blocks, rf.model.final_attention) == (32, 4, False)
    model = tiny(6, num_blocks=4, final_attention=False)
    assert (len(model.resnets), len(model.attention)) == (4, 3)
    assert find_leaks(model) == []


@pytest.mark.parametrize("ordering", ["raster", "zigzag"])
def test_cached_sampler_without_the_final_attention_block(ordering):
    model = tiny(4, num_blocks=2, final_attention=False, ordering=ordering).eval()
    a = model.sample(2, method="naive", generator=torch.Generator().manual_seed(1))
    b = model.sample(2, method="cached", generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_text_residual_block_four_gated_convolutions_each_with_a_residual_connection():
    """residual="gated_conv": "4 convolutions per block", "each with residual connections", the
    tanh·σ gate of the cited Gated PixelCNN; causal, and the cached sampler follows it."""
    from pixelar.nn.gated_resnet import GatedConv
    model = tiny(6, residual="gated_conv", num_resnet=4, dropout=0.5)
    block = model.resnets[0]
    assert len(block) == 4 and all(isinstance(layer, GatedConv) for layer in block)
    assert [layer.dropout.p for layer in block] == [0.5, 0.0, 0.0, 0.0]   # after the block's first conv
    h = torch.randn(2, 8, 6, 6)
    c = block[1].conv(h)
    a, b = c.chunk(2, 1)
    assert torch.allclose(block[1](h), h + block[1].proj(torch.tanh(a) * torch.sigmoid(b)), atol=1e-6)
    assert find_leaks(model) == []
    small = tiny(4, residual="gated_conv", num_resnet=2).eval()
    a = small.sample(2, method="naive", generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, small.sample(2, method="cached", generator=torch.Generator().manual_seed(2)))
    with pytest.raises(pixelar.ConfigError, match="residual must be"):
        tiny(4, residual="gated")
