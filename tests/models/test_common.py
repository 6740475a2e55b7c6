"""The oracles of DESIGN.md for every registered model and preset (at a reduced image size)."""
from __future__ import annotations

import copy
import dataclasses
import itertools
import math

import pytest
import torch

import pixelar
from pixelar.evaluation.causality import find_leaks
from tests.conftest import SLOW_CAUSALITY, all_presets, reduced, with_slow_marks

SIZE = 8   # reduced image size: every model's down-sampling divides it


def _distinct_at_reduced_size(presets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop presets whose model config at SIZE equals an earlier preset's of the same model
    (e.g. the CelebA 32/128 presets of a CIFAR-10 architecture): the same network, tested once."""
    seen, out = set(), []
    for name, preset in presets:
        cfg = dataclasses.replace(pixelar.registry.get_preset(name, preset).model, image_size=SIZE)
        if (name, cfg) not in seen:
            seen.add((name, cfg))
            out.append((name, preset))
    return out


DISTINCT = _distinct_at_reduced_size(all_presets())
PRESETS = with_slow_marks(DISTINCT)


@pytest.mark.parametrize("name,preset", with_slow_marks(DISTINCT, SLOW_CAUSALITY))
def test_exact_causality(name, preset):
    model = reduced(name, preset, image_size=SIZE)
    assert find_leaks(model) == []


@pytest.mark.parametrize("name,preset", PRESETS)
def test_uniform_model_gives_log2_k_bits_per_dim(name, preset):
    model = reduced(name, preset, image_size=SIZE)
    if model.config.distribution.endswith("logistic_mixture"):   # no exactly uniform mixture: softmax head
        try:
            model = reduced(name, preset, image_size=SIZE, distribution="categorical")
        except pixelar.ConfigError:   # models that condition on whole pixels: the §3.4.1 softmax
            model = reduced(name, preset, image_size=SIZE, distribution="categorical_linear")
    for p in model.output_layer().parameters():
        torch.nn.init.zeros_(p)
    k = model.config.num_levels
    x = torch.randint(0, k, (3, *model.image_shape), dtype=torch.uint8)   # a video model's: a filmstrip of frames
    cond = torch.zeros(3, dtype=torch.long) if model.config.num_classes else None
    bpd = model.bits_per_dim(x, cond)
    # models with auxiliary variables bound log p(x) by a sum of factors; they state its uniform value
    # (checked against hand-computed figures in their own test files)
    expected = model.uniform_bits_per_dim() if hasattr(model, "uniform_bits_per_dim") else math.log2(k)
    assert torch.allclose(bpd, torch.full_like(bpd, expected), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name,preset", PRESETS)
def test_save_load_gives_identical_log_probs(name, preset, tmp_path):
    model = reduced(name, preset, image_size=SIZE).eval()
    x = torch.randint(0, model.config.num_levels, (2, *model.image_shape), dtype=torch.uint8)
    cond = torch.tensor([0, 1]) if model.config.num_classes else None
    model.save(tmp_path / "ckpt")
    loaded = pixelar.load(tmp_path / "ckpt")
    assert type(loaded) is type(model) and loaded.config == model.config
    assert torch.equal(model.log_prob(x, cond), loaded.log_prob(x, cond))


@pytest.mark.parametrize("name,preset", PRESETS)
def test_one_training_step_at_reduced_size(name, preset):
    model = reduced(name, preset, image_size=SIZE)
    x = torch.randint(0, model.config.num_levels, (2, *model.image_shape), dtype=torch.uint8)
    cond = torch.tensor([1, 2]) if model.config.num_classes else None
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = -model.log_prob(x, cond).mean()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def _all_images(c: int, s: int, k: int) -> torch.Tensor:
    vals = torch.tensor(list(itertools.product(range(k), repeat=c * s * s)), dtype=torch.uint8)
    return vals.view(-1, c, s, s)


@pytest.mark.parametrize("name,preset,c,s,k", [
    ("pixelcnn", "cifar10", 3, 1, 4),        # R -> G -> B inside a pixel, softmax
    ("pixelcnn", "mnist", 1, 2, 2),          # Bernoulli
    ("gated_pixelcnn", "small", 3, 1, 4),    # logistic mixture
    ("pixelcnn", "small", 1, 2, 3),          # logistic mixture, one channel
    ("gated_pixelcnn", "cifar10_class", 1, 2, 3),
    ("pixelcnn_pp", "cifar10_class", 1, 4, 2),   # 2^16 images: the down/up-sampling path too
    ("gated_pixelcnn", "small", 3, 1, 5),        # categorical_linear head, below
])
def test_joint_model_sums_to_one_over_all_images(name, preset, c, s, k):
    widths = ({"num_filters": 8, "num_resnet": 1} if name == "pixelcnn_pp"
              else {"hidden": 12, "num_layers": 3, "output_features": 16})
    if (name, c, k) == ("gated_pixelcnn", 3, 5):
        widths["distribution"] = "categorical_linear"
    model = reduced(name, preset, image_size=s, image_channels=c, num_levels=k, **widths).eval()
    x = _all_images(c, s, k)
    cond = torch.full((x.shape[0],), 3) if model.config.num_classes else None
    with torch.no_grad():
        total = torch.logsumexp(model.log_prob(x, cond).double(), 0).exp()
    assert abs(float(total) - 1.0) < 1e-5


@pytest.mark.parametrize("name,preset,c,s,k", [("pixelcnn", "cifar10", 3, 1, 3), ("gated_pixelcnn", "small", 1, 2, 2),
                                               ("gated_pixelcnn", "small", 3, 1, 2)])
def test_naive_sampler_draws_from_the_model(name, preset, c, s, k):
    """Empirical frequencies of 6000 samples match exp(log p) over the whole (tiny) image space."""
    model = reduced(name, preset, image_size=s, image_channels=c, num_levels=k, hidden=12, num_layers=3,
                    output_features=16)
    x = _all_images(c, s, k)
    probs = model.log_prob(x).double().exp()
    g = torch.Generator().manual_seed(0)
    n = 6000
    samples = model.sample(n, generator=g)
    codes = (samples.view(n, -1).long() * (k ** torch.arange(c * s * s - 1, -1, -1))).sum(1)
    freq = torch.bincount(codes, minlength=len(x)).double() / n
    # 5 standard errors per cell
    assert torch.all((freq - probs).abs() <= 5 * (probs * (1 - probs) / n).sqrt() + 1e-3)


@pytest.mark.parametrize("name,preset", [("pixelcnn", "cifar10"), ("gated_pixelcnn", "small"),
                                         ("gated_pixelcnn", "cifar10_class"), ("pixelcnn", "mnist")])
def test_sampling_is_reproducible_and_completion_keeps_known_pixels(name, preset):
    model = reduced(name, preset, image_size=4, hidden=12, num_layers=3, output_features=16)
    cond = torch.tensor([1, 7]) if model.config.num_classes else None
    a = model.sample(2, cond=cond, generator=torch.Generator().manual_seed(3))
    b = model.sample(2, cond=cond, generator=torch.Generator().manual_seed(3))
    assert a.dtype == torch.uint8 and a.shape == (2, *model.image_shape) and torch.equal(a, b)
    assert int(a.max()) < model.config.num_levels
    x = torch.randint(0, model.config.num_levels, a.shape, dtype=torch.uint8)
    known = torch.rand(a.shape[0], 1, 4, 4, generator=torch.Generator().manual_seed(1)) < 0.5
    known = known.expand_as(x)
    out = model.complete(x, known, cond=cond, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[known], x[known])


def test_build_rejects_unknown_names_and_keys():
    with pytest.raises(pixelar.ConfigError, match="unknown model"):
        pixelar.build("pixelcnnn")
    with pytest.raises(pixelar.ConfigError, match="unknown preset"):
        pixelar.build("pixelcnn", preset="cifar100")
    with pytest.raises(pixelar.ConfigError, match="unknown config key 'model.hiden'"):
        pixelar.build("pixelcnn", hiden=3)
    with pytest.raises(pixelar.ConfigError, match="must be an integer"):
        pixelar.build("pixelcnn", hidden="many")
    with pytest.raises(pixelar.ConfigError, match="must be one of"):
        pixelar.build("pixelcnn", distribution="gaussian")


@pytest.mark.parametrize("name,preset", PRESETS)
def test_training_loss_is_the_exact_nll_unless_declared(name, preset):
    """The trainer minimizes ``training_nll(training_output(...))``: bit for bit -log_prob for every model
    (the multiscale PixelCNN's crops start above 32x32, so at this size it is exact too)."""
    model = reduced(name, preset, image_size=SIZE).eval()
    x = torch.randint(0, model.config.num_levels, (2, *model.image_shape), dtype=torch.uint8)
    cond = torch.tensor([1, 2]) if model.config.num_classes else None
    with torch.no_grad():
        torch.manual_seed(1)             # a sampled bound (dequantization) draws from the global RNG
        loss = model.training_nll(model.training_output(x, cond, torch.Generator().manual_seed(0)), x)
        torch.manual_seed(1)
        assert torch.equal(loss, -model.log_prob(x, cond))


@pytest.mark.parametrize("name,preset", PRESETS)
def test_channels_last_gives_the_same_log_probs_and_gradients(name, preset):
    """train.memory_format=channels_last changes only the strides of the 4-D weights (and so of the
    activations): the same sums in another order, equal to float32 rounding; a layer that read
    storage assuming row-major strides (as_strided) would be off by the size of the values."""
    torch.manual_seed(0)
    model = reduced(name, preset, image_size=SIZE).eval()
    nhwc = copy.deepcopy(model).to(memory_format=torch.channels_last)
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in nhwc.parameters() if p.dim() == 4)
    x = torch.randint(0, model.config.num_levels, (2, *model.image_shape), dtype=torch.uint8)
    cond = torch.tensor([0, 1]) if model.config.num_classes else None
    grads = []
    for m in (model, nhwc):
        lp = m.log_prob(x, cond)
        lp.sum().backward()
        grads.append((lp.detach(), [p.grad for p in m.parameters()]))
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=1e-5, atol=1e-4)   # nats per image
    for a, b in zip(grads[0][1], grads[1][1]):
        if a is None:
            assert b is None
        else:
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4 * (1 + float(a.abs().max())))
