"""What is particular to the parallel multiscale PixelCNN (Reed et al. 2017).

The registry-wide oracles (tests/models/test_common.py) run its presets too; here: group-level
causality (tight, and a broken allowed set is caught), exact normalization over every image of
tiny pyramids, the group sampler drawing from the model, O(log N) network evaluations,
completion / super-resolution keeping known pixels, per-scale nats, random crops.
"""
from __future__ import annotations

import itertools
import math

import pytest
import torch

import pixelar
from pixelar.evaluation.causality import dependency_grads, find_leaks
from pixelar.models.multiscale_cond import random_crop
from pixelar.models.multiscale_pixelcnn import MultiscalePixelCNN
from pixelar.sampling.multiscale import network_evaluations

pytestmark = pytest.mark.usefixtures("one_thread")   # many tiny ops: see conftest.one_thread


TINY = dict(base_hidden=8, base_layers=2, base_output_features=16, hidden=8, num_resnet=1, num_pixelcnn=2)


def tiny(**over) -> MultiscalePixelCNN:
    torch.manual_seed(0)
    kw = {**TINY, "distribution": "categorical", **over}
    return pixelar.build("multiscale_pixelcnn", "small", **kw)


def all_images(c: int, s: int, k: int) -> torch.Tensor:
    vals = torch.tensor(list(itertools.product(range(k), repeat=c * s * s)), dtype=torch.uint8)
    return vals.view(-1, c, s, s)


@pytest.mark.parametrize("upscaler,channels,dist", [("A", 3, "categorical"), ("B", 3, "categorical"),
                                                    ("A", 3, "logistic_mixture"), ("B", 1, "logistic_mixture")])
def test_group_causality(upscaler, channels, dist):
    """Each group depends only on earlier groups, lower scales and (type B) earlier pixels of its patch
    (8x8 from a 1x1 base: three scales; type B with 2x2 patches at the top)."""
    model = tiny(image_size=8, base_size=1, upscaler=upscaler, image_channels=channels, num_levels=4,
                 distribution=dist, patch_size=2)
    assert find_leaks(model) == []


def test_causality_oracle_is_tight_and_catches_a_wrong_allowed_set():
    """Type B really uses earlier pixels of its patch (so the allowed set is not loose), and claiming
    type-A independence for a type-B model is reported as a leak."""
    model = tiny(image_size=4, base_size=1, upscaler="B", image_channels=1, num_levels=4, patch_size=2)
    # pixel (3, 3): scale 4x4, group 4, patch position (1, 1); it may read group-4 pixel (1, 1)
    ((_, grad),) = list(dependency_grads(model, [(0, 3, 3)]))
    assert model.allowed_inputs(0, 3, 3)[0, 1, 1] and grad[0, 1, 1] != 0
    model.upscalers[-1][-1].patchwise = False     # pretend type A: group pixels independent
    assert find_leaks(model) != []


@pytest.mark.parametrize("upscaler,c,s,base,k", [("A", 1, 4, 2, 2), ("B", 1, 4, 2, 2), ("A", 3, 2, 1, 2),
                                                 ("B", 1, 4, 1, 2)])
def test_joint_sums_to_one_over_all_images(upscaler, c, s, base, k):
    model = tiny(image_size=s, base_size=base, upscaler=upscaler, image_channels=c, num_levels=k,
                 patch_size=2).eval()
    x = all_images(c, s, k)
    with torch.no_grad():
        total = torch.logsumexp(model.log_prob(x).double(), 0).exp()
    assert abs(float(total) - 1.0) < 1e-5


@pytest.mark.parametrize("upscaler,c,k,dist", [("A", 1, 3, "categorical"), ("B", 1, 3, "categorical"),
                                               ("A", 3, 2, "categorical"), ("B", 3, 2, "logistic_mixture")])
def test_group_sampler_draws_from_the_model(upscaler, c, k, dist):
    """Empirical frequencies of samples match exp(log p) over every 2x2 image (5 standard errors)."""
    model = tiny(image_size=2, base_size=1, upscaler=upscaler, image_channels=c, num_levels=k, distribution=dist)
    x = all_images(c, 2, k)
    probs = model.log_prob(x).double().exp().detach()
    n = 20000
    samples = model.sample(n, generator=torch.Generator().manual_seed(0))
    codes = (samples.view(n, -1).long() * (k ** torch.arange(c * 4 - 1, -1, -1))).sum(1)
    freq = torch.bincount(codes, minlength=len(x)).double() / n
    assert torch.all((freq - probs).abs() <= 5 * (probs * (1 - probs) / n).sqrt() + 1e-3)


@pytest.mark.parametrize("upscaler", ["A", "B"])
def test_group_sampler_reads_the_same_params_as_the_network(upscaler, monkeypatch):
    """With every draw replaced by the mode, the group sampler and the naive sampler (one pixel at a
    time in model.positions() order) give the same image, and that image is a fixed point of
    mode(model(x)): every group was drawn from the parameters the full forward pass computes."""
    model = tiny(image_size=8, base_size=2, upscaler=upscaler, image_channels=1, num_levels=8,
                 patch_size=2).eval()
    dist = model.distribution

    def mode_sample(params, generator=None, temperature=1.0, channel=None):
        m = dist.mode(params)
        return m if channel is None else m[:, channel:channel + 1]
    monkeypatch.setattr(dist, "sample", mode_sample)
    a = model.sample(2, method="groups")
    b = model.sample(2, method="naive")
    assert torch.equal(a, b)
    assert torch.equal(dist.mode(model(a)), a.long())


def _count_evaluations(model: MultiscalePixelCNN) -> int:
    """Forward calls of the base PixelCNN and of every upscaler's ResNet and output layer."""
    count = [0]
    mods = [model.base] + [m for level in model.upscalers for up in level for m in (up.resnet, up.out)]
    hooks = [m.register_forward_hook(lambda *_: count.__setitem__(0, count[0] + 1)) for m in mods]
    try:
        model.sample(1, generator=torch.Generator().manual_seed(0))
    finally:
        for h in hooks:
            h.remove()
    return count[0]


@pytest.mark.parametrize("upscaler", ["A", "B"])
def test_network_evaluations_grow_as_log_n(upscaler):
    """Sampling an S×S image: base evaluations + a constant per doubling -> equal increments per
    doubling of the side (O(log N)), versus S² for a raster PixelCNN."""
    counts = {}
    for s in (8, 16, 32, 64):
        model = tiny(image_size=s, base_size=4, upscaler=upscaler, image_channels=1, hidden=4, base_hidden=4)
        counts[s] = _count_evaluations(model)
        assert counts[s] == network_evaluations(model)
    steps = [counts[16] - counts[8], counts[32] - counts[16], counts[64] - counts[32]]
    assert steps[0] == steps[1] == steps[2] > 0
    assert counts[64] < 64 * 64 / 10
    print(f"network evaluations per sample, type {upscaler}: {counts}")


def test_log_prob_parts_are_the_scales_and_sum_to_the_exact_log_prob():
    model = tiny(image_size=16, base_size=4, image_channels=3, distribution="logistic_mixture")
    x = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    parts = model.log_prob_parts(x)
    assert list(parts) == ["4x4", "8x8", "16x16"]
    assert torch.allclose(sum(parts.values()), model.log_prob(x), rtol=1e-5)
    masks = model.scale_masks()
    assert sum(int(m.sum()) for m in masks.values()) == 16 * 16 and int(masks["4x4"].sum()) == 16


def test_upscale_and_completion_keep_known_pixels():
    model = tiny(image_size=16, base_size=4, image_channels=3, num_levels=256).eval()
    low = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    high = model.upscale(low, generator=torch.Generator().manual_seed(0))
    assert high.shape == (2, 3, 16, 16) and torch.equal(high[..., ::4, ::4], low)
    again = model.upscale(low, generator=torch.Generator().manual_seed(0))
    assert torch.equal(high, again)
    mid = torch.randint(0, 256, (1, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(model.upscale(mid)[..., ::2, ::2], mid)
    with pytest.raises(pixelar.PixelarError, match="cannot upscale"):
        model.upscale(torch.zeros(1, 3, 6, 6, dtype=torch.uint8))
    x = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    known = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(1)) < 0.5
    out = model.complete(x, known.expand_as(x), generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[known.expand_as(x)], x[known.expand_as(x)])


def test_random_crop_cuts_image_and_spatial_map_alike():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(32 * 32).view(1, 1, 32, 32)
    fine = x.float()                                  # map at the image's resolution
    coarse = torch.arange(16 * 16).view(1, 1, 16, 16).float()
    for _ in range(20):
        crop, m = random_crop(x, 8, g, spatial=fine, align=4)
        top, left = divmod(int(crop[0, 0, 0, 0]), 32)
        assert top % 4 == 0 and left % 4 == 0 and torch.equal(m, crop.float())
        crop, m = random_crop(x, 8, g, spatial=coarse, align=4)
        top, left = divmod(int(crop[0, 0, 0, 0]), 32)
        assert m.shape[-1] == 4 and int(m[0, 0, 0, 0]) == (top // 2) * 16 + left // 2
    with pytest.raises(ValueError, match="multiple of align"):
        random_crop(x, 6, g, align=4)


def test_upscalers_train_on_random_crops_with_the_condition_cropped_alike():
    """The fully convolutional upscalers of a 16x16 model learn from 8x8 crops of a spatially
    conditioned task (image = the map): the full-image upscaler nats fall."""
    torch.manual_seed(0)
    model = tiny(image_size=16, base_size=4, image_channels=1, num_levels=4, spatial_channels=1,
                 upscaler="A")
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 4, (64, 1, 16, 16), generator=g, dtype=torch.uint8)
    maps = images.float() / 3.0

    def full_upscaler_nats() -> float:
        with torch.no_grad():
            return float(-model.upscaler_log_prob(images, {"spatial": maps}).mean())
    before = full_upscaler_nats()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        crop, m = random_crop(images, 8, g, spatial=maps, align=4)
        loss = -model.upscaler_log_prob(crop, {"spatial": m}).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    uniform = (16 * 16 - 4 * 4) * math.log(4)    # every pixel above the 4x4 base
    after = full_upscaler_nats()
    assert after < 0.5 * before and after < 0.6 * uniform


def test_evaluate_reports_exact_bits_per_dim_and_each_scale():
    from pixelar.evaluation.bpd import evaluate
    from tests.conftest import random_dataset
    model = tiny(image_size=16, base_size=4, image_channels=3, distribution="logistic_mixture")
    data = random_dataset(5, channels=3, size=16)
    r = evaluate(model, data, batch_size=2)
    x = torch.stack([data[i][0] for i in range(5)])
    with torch.no_grad():
        exact = float(-model.log_prob(x).double().sum()) / (math.log(2) * 5 * 3 * 16 * 16)
    assert r["bits_per_dim"] == pytest.approx(exact, rel=1e-6)
    scales = r["parts"]
    assert list(scales) == ["4x4", "8x8", "16x16"]
    assert sum(v["nats_per_image"] for v in scales.values()) == pytest.approx(r["nats_per_image"], rel=1e-9)
    dims = {"4x4": 16, "8x8": 48, "16x16": 192}
    for k, v in scales.items():
        assert v["bits_per_dim"] == pytest.approx(v["nats_per_image"] / (math.log(2) * 3 * dims[k]))
