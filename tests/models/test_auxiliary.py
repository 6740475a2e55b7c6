"""Grayscale and Pyramid PixelCNN: the fixed views, the bound and its parts, causality given ŷ,
consistent/MAP/reduced-variance sampling, colorize and upscale."""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import pixelar
from pixelar.cli import main
from pixelar.evaluation.bpd import evaluate
from pixelar.evaluation.causality import find_leaks
from pixelar.models.auxiliary import Factor, downsample, factor_config, gray_bin, grayscale_levels, grayscale_view
from tests.conftest import random_dataset, reduced

TINY_GRAY = dict(image_size=4, num_filters=8, num_resnet=1, embedding_filters=8, embedding_resnet=1)
TINY_PYR = dict(image_size=8, base_size=2, num_filters=8, num_resnet=1, embedding_filters=8, embedding_resnet=1)


def _x(n, size, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


# ---- the fixed views -----------------------------------------------------------------------------

def test_grayscale_view_is_pil_luma_quantized_to_4_bits():
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(rgb).convert("L"))
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    assert np.array_equal(grayscale_levels(x)[0, 0].numpy(), pil)
    assert torch.equal(grayscale_view(x), torch.from_numpy(pil // 16).long()[None, None])
    corners = torch.tensor([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]).view(5, 3, 1, 1)
    assert grayscale_levels(corners).flatten().tolist() == [0, 255, 76, 150, 29]
    t = torch.arange(16)
    lo, hi = gray_bin(t, 256, 16)
    assert lo.tolist() == (16 * t).tolist() and hi.tolist() == (16 * t + 15).tolist()


def test_downsample_is_the_rounded_mean_of_2x2_blocks():
    x = torch.tensor([[0, 1, 255, 255], [1, 1, 254, 255], [3, 3, 7, 7], [3, 2, 7, 8]]).view(1, 1, 4, 4)
    # (0+1+1+1+2)//4 = 1, (255+255+254+255+2)//4 = 255, (3+3+3+2+2)//4 = 3, (7+7+7+8+2)//4 = 7
    assert downsample(x).flatten().tolist() == [1, 255, 3, 7]


# ---- the bound ---------------------------------------------------------------------------------------

def test_uniform_outputs_give_the_analytic_bound():
    gray = reduced("grayscale_pixelcnn", "small", distribution="categorical_linear", **TINY_GRAY)
    pyr = reduced("pyramid_pixelcnn", "small", distribution="categorical_linear", **TINY_PYR)
    # p(ŷ): log2 16 bits per pixel over 3 dims per pixel; p(x|ŷ): log2 256 per dim
    # pyramid 8 <- 4 <- 2: 8 bits/dim at every level, weighted by its share of the dims
    for model, expected in ((gray, 8 + 4 / 3), (pyr, 8 * (1 + 1 / 4 + 1 / 16))):
        for p in model.output_layer().parameters():
            torch.nn.init.zeros_(p)
        assert model.uniform_bits_per_dim() == pytest.approx(expected, abs=1e-12)
        x = _x(3, model.config.image_size)
        assert torch.allclose(model.bits_per_dim(x), torch.full((3,), expected), atol=1e-5, rtol=0)
        assert model.is_bound
    parts = gray.bits_per_dim_parts(_x(2, 4))
    assert torch.allclose(parts["prior"], torch.full((2,), 4 / 3, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(parts["conditional"], torch.full((2,), 8.0, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("name,over", [("grayscale_pixelcnn", TINY_GRAY), ("pyramid_pixelcnn", TINY_PYR)])
def test_total_is_the_sum_of_the_parts(name, over):
    model = reduced(name, "small", **over)
    x = _x(4, model.config.image_size)
    model.data_dependent_init(x)
    model.eval()
    parts = model.bits_per_dim_parts(x)
    names = [k for k in parts if k != "total"]
    assert len(names) == (2 if name.startswith("gray") else 3)
    assert torch.equal(parts["total"], sum(parts[k] for k in names))
    assert torch.allclose(parts["total"].float(), model.bits_per_dim(x), atol=1e-5, rtol=0)
    data = random_dataset(5, size=model.config.image_size)
    r = evaluate(model, data, batch_size=2)
    shares = {k: v["share_bits_per_dim"] for k, v in r["parts"].items()}
    assert r["bound"] and set(shares) == set(names)
    assert sum(shares.values()) == pytest.approx(r["bits_per_dim"], abs=1e-9)


def test_pyramid_conditional_factor_is_normalized_given_the_lower_level():
    """1 channel, 2 levels, 2x2 -> 1x1: p(x | y) sums to 1 over all 16 images for each y, and the
    bound's 'probabilities' p(y(x)) p(x | y(x)) sum to at most 1."""
    model = reduced("pyramid_pixelcnn", "small", image_size=2, base_size=1, image_channels=1, num_levels=2,
                    num_filters=8, num_resnet=1, embedding_filters=8, embedding_resnet=1).eval()
    xs = torch.tensor(list(itertools.product(range(2), repeat=4))).view(16, 1, 2, 2)
    with torch.no_grad():
        for y in range(2):
            factor = model.level_factor(0, torch.full((1, 1, 1, 1), y))
            total = torch.logsumexp(factor.log_prob(xs).double(), 0).exp()
            assert abs(float(total) - 1.0) < 1e-5
        assert float(torch.logsumexp(model.log_prob(xs).double(), 0).exp()) <= 1.0 + 1e-6


# ---- causality: p(x | ŷ) causal in x with ŷ given --------------------------------------------------

@pytest.mark.parametrize("preset", ["small", "cifar10"])
def test_pyramid_presets_with_three_levels_are_causal_and_round_trip(preset, tmp_path):
    """The common suite runs these presets at 8x8 = base size (one level); here 8 <- 4 <- 2
    (celeba32/celeba128 are the cifar10 architecture)."""
    over = {"base_size": 2} if preset == "small" else {"base_size": 2, "num_filters": 16, "embedding_filters": 16}
    model = reduced("pyramid_pixelcnn", preset, **over)
    assert find_leaks(model) == []
    model.eval().save(tmp_path / "ckpt")
    x = _x(2, 8)
    assert torch.equal(pixelar.load(tmp_path / "ckpt").log_prob(x), model.log_prob(x))


def test_a_leaking_factor_is_found_and_named(monkeypatch):
    model = reduced("grayscale_pixelcnn", "small", **TINY_GRAY)
    cfg = factor_config(3, 4, 256, "logistic_mixture", 5)
    p = model.distribution.num_params
    leaky = Factor(cfg, model.conditional, lambda xf, ctx: xf.sum(1, keepdim=True).expand(-1, p, -1, -1), None,
                   "p(x|ŷ)")
    monkeypatch.setattr(model, "conditional_factor", lambda aux: leaky)
    (leak,) = find_leaks(model)
    assert leak.factor == "p(x|ŷ)" and "in factor p(x|ŷ)" in str(leak)


# ---- training the parts separately -----------------------------------------------------------------

def test_train_part_prior_trains_only_the_prior_and_eval_still_reports_both():
    model = reduced("grayscale_pixelcnn", "small", train_part="prior", **TINY_GRAY).train()
    x = _x(2, 4)
    params = model(x)
    assert set(params) == {"prior"}
    (-model.log_prob_from_params(params, x).sum()).backward()
    assert all(p.grad is None for p in model.conditional.parameters())
    assert all(p.grad is None for p in model.embedding.parameters())
    assert any(p.grad is not None for p in model.prior.parameters())
    model.eval()
    assert set(model(x)) == {"prior", "conditional"}
    with pytest.raises(pixelar.ConfigError, match="train_part"):
        pixelar.build("grayscale_pixelcnn", "small", train_part="embedding")
    with pytest.raises(pixelar.ConfigError, match="train_level"):
        pixelar.build("pyramid_pixelcnn", "small", train_level=5)
    pyr = reduced("pyramid_pixelcnn", "small", train_level=1, **TINY_PYR).train()
    assert set(pyr(_x(1, 8))) == {"4x4|2x2"}


def test_pyramid_size_must_be_base_times_a_power_of_two():
    with pytest.raises(pixelar.ConfigError, match="base_size"):
        pixelar.build("pyramid_pixelcnn", "small", image_size=24)


# ---- sampling ---------------------------------------------------------------------------------------

def test_consistent_colorize_keeps_the_grayscale_view_under_every_sampling_option():
    model = reduced("grayscale_pixelcnn", "small", **TINY_GRAY)
    model.data_dependent_init(_x(4, 4))
    aux = grayscale_view(_x(2, 4, seed=3))
    runs = {}
    for key, opts in {"plain": {}, "plain again": {}, "map": {"map_sampling": True, "log_scale_shift": 2.0},
                      "map, other seed": {"map_sampling": True, "log_scale_shift": 2.0, "seed": 1},
                      "cold": {"temperature": 0.5}}.items():
        g = torch.Generator().manual_seed(opts.pop("seed", 0))
        runs[key] = out = model.colorize(aux, generator=g, consistent=True, **opts)
        assert out.dtype == torch.uint8 and out.shape == (2, 3, 4, 4)
        assert torch.equal(grayscale_view(out), aux), key
    assert torch.equal(runs["plain"], runs["plain again"])          # same seed, same images
    assert not torch.equal(runs["map"], runs["map, other seed"])    # MAP draws a component (§4.2)
    s = model.sample(1, generator=torch.Generator().manual_seed(0))
    assert s.shape == (1, 3, 4, 4) and s.dtype == torch.uint8


def test_colorize_by_default_is_the_papers_ordinary_sampling_of_p_x_given_y():
    """§3: "For a fixed ŷ one follows the ordinary PixelCNN sampling strategy": the default colorize is the
    naive raster sampler on the factor p(x | ŷ), draw for draw, with its options."""
    from pixelar.sampling.pixels import sample_positions
    model = reduced("grayscale_pixelcnn", "small", **TINY_GRAY)
    model.data_dependent_init(_x(4, 4))
    aux = grayscale_view(_x(2, 4, seed=3))
    for opts in ({}, {"map_sampling": True, "log_scale_shift": 1.0}, {"temperature": 0.5}):
        out = model.colorize(aux, generator=torch.Generator().manual_seed(0), **opts)
        with torch.no_grad():
            want = sample_positions(model.eval().conditional_factor(aux), 2, generator=torch.Generator().manual_seed(0),
                                    method="naive", **opts)
        assert out.dtype == torch.uint8 and torch.equal(out, want.to(torch.uint8)), opts
    s = model.sample(1, generator=torch.Generator().manual_seed(0))
    assert s.shape == (1, 3, 4, 4) and s.dtype == torch.uint8


def test_upscale_keeps_the_lower_level_and_sampling_gives_a_consistent_pyramid():
    model = reduced("pyramid_pixelcnn", "small", **{**TINY_PYR, "image_size": 4, "base_size": 1})
    model.data_dependent_init(_x(4, 4))
    low = torch.randint(0, 256, (2, 3, 1, 1), generator=torch.Generator().manual_seed(1))
    out = model.upscale(low, generator=torch.Generator().manual_seed(0), consistent=True)
    assert out.shape == (2, 3, 4, 4) and torch.equal(downsample(downsample(out)), low)
    mid = downsample(_x(1, 4, seed=4))
    out = model.upscale(mid, generator=torch.Generator().manual_seed(0), map_sampling=True, log_scale_shift=1.0,
                        consistent=True)
    assert torch.equal(downsample(out), mid)
    plain = model.upscale(mid, generator=torch.Generator().manual_seed(0))    # the paper's ordinary sampling
    assert plain.shape == (1, 3, 4, 4) and plain.dtype == torch.uint8
    s = model.sample(2, generator=torch.Generator().manual_seed(3))
    t = model.sample(2, generator=torch.Generator().manual_seed(3))
    assert s.shape == (2, 3, 4, 4) and torch.equal(s, t)
    with pytest.raises(ValueError, match="lower level"):
        model.upscale(torch.zeros(1, 3, 3, 3, dtype=torch.long))


# ---- pixelar colorize / eval ------------------------------------------------------------------------

def _tiles(path, n, size):
    a = np.asarray(Image.open(path).convert("RGB"))
    return [a[2:2 + size, 2 + k * (size + 2): 2 + k * (size + 2) + size] for k in range(n)]


def test_colorize_command_output_has_the_input_grayscale_view(tmp_path, capsys):
    torch.manual_seed(0)
    model = pixelar.build("grayscale_pixelcnn", "small", **TINY_GRAY)
    model.data_dependent_init(_x(4, 4))
    ckpt = tmp_path / "ckpt"
    model.save(ckpt)
    gray = np.random.default_rng(0).integers(0, 256, (4, 4), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    out = tmp_path / "color.png"
    argv = ["colorize", "--checkpoint", str(ckpt), "--input", str(tmp_path / "gray.png"), "--out", str(out),
            "-n", "3", "--seed", "1", "--scale", "1"]
    assert main(argv) == 0                                # the paper's sampling: the library's default
    want_plain = model.colorize(torch.from_numpy(gray // 16).long()[None, None].expand(3, -1, -1, -1),
                                generator=torch.Generator().manual_seed(1))
    assert [torch.equal(torch.from_numpy(t.copy()).permute(2, 0, 1), w) for t, w in
            zip(_tiles(out, 4, 4)[1:], want_plain)] == [True] * 3
    argv += ["--consistent", "--force"]
    assert main(argv) == 0
    tiles = _tiles(out, 4, 4)
    want = torch.from_numpy(gray // 16).long()
    for tile in tiles[1:]:
        x = torch.from_numpy(tile.copy()).permute(2, 0, 1)[None]
        assert torch.equal(grayscale_view(x)[0, 0], want)
    assert torch.equal(torch.from_numpy(tiles[0][:, :, 0] // 16).long(), want)   # ŷ shown first
    # a colour input is reduced with the same luma
    rgb = np.random.default_rng(1).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert main(argv[:4] + [str(tmp_path / "rgb.png"), "--out", str(out), "--force", "-n", "1", "--scale", "1",
                            "--consistent"]) == 0
    x = torch.from_numpy(_tiles(out, 2, 4)[1].copy()).permute(2, 0, 1)[None]
    assert torch.equal(grayscale_view(x), grayscale_view(torch.from_numpy(rgb).permute(2, 0, 1)[None]))
    capsys.readouterr()
    assert main(argv[:-1]) == 2 and "already exists" in capsys.readouterr().err     # no --force
    other = tmp_path / "other"
    pixelar.build("pixelcnn", "small", image_size=4).save(other)
    assert main(["colorize", "--checkpoint", str(other), "--input", str(tmp_path / "gray.png"),
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "grayscale_pixelcnn" in capsys.readouterr().err


def test_eval_command_reports_a_bound_with_its_parts(tmp_path, capsys):
    torch.manual_seed(0)
    model = pixelar.build("grayscale_pixelcnn", "small", **TINY_GRAY)
    model.save(tmp_path / "ckpt")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", test_images=rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8))
    argv = ["eval", "--checkpoint", str(tmp_path / "ckpt"), "--dataset", f"npz:{tmp_path / 'd.npz'}"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "upper bound" in out and "part prior" in out and "part conditional" in out
    assert main(argv + ["--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    shares = [v["share_bits_per_dim"] for v in r["parts"].values()]
    assert r["bound"] and math.isclose(sum(shares), r["bits_per_dim"], abs_tol=1e-9)


# ---- §4.2 sampling controls: MAP by component, reduced variance in log-variance units ---------------

def _two_component_factor(levels: int = 256):
    """A 1x1, 1-channel logistic-mixture Factor with two equally weighted components at levels ~40 and ~200."""
    from pixelar.models.auxiliary import Factor, factor_config
    cfg = factor_config(1, 1, levels, "logistic_mixture", 2)
    params = torch.zeros(1, 6, 1, 1)                         # m logits, c*m means, c*m log-scales (1 channel)
    params[0, 2:4, 0, 0] = torch.tensor([40 / 127.5 - 1, 200 / 127.5 - 1])
    params[0, 4:6, 0, 0] = -3.0
    return Factor(cfg, torch.nn.Linear(1, 1), lambda x, ctx: params.expand(x.shape[0], -1, -1, -1), None, "toy")


def test_map_on_the_consistent_path_samples_a_component_and_takes_its_mode():
    from pixelar.sampling.auxiliary import sample_constrained
    factor = _two_component_factor()
    every = lambda x, i, j, c: torch.ones(x.shape[0], 256, dtype=torch.bool)
    out = sample_constrained(factor, 400, every, torch.Generator().manual_seed(0), map_sampling=True)
    values = set(out.flatten().tolist())
    assert values == {40, 200}                               # each component's mode, both drawn
    frac = float((out == 40).float().mean())
    assert 0.4 < frac < 0.6                                  # by their (equal) weights
    # with the mode of component 1 not allowed, its samples take the allowed level nearest to it
    upper = lambda x, i, j, c: torch.arange(256)[None].expand(x.shape[0], -1) >= 100
    out = sample_constrained(factor, 400, upper, torch.Generator().manual_seed(0), map_sampling=True)
    assert set(out.flatten().tolist()) == {100, 200}


def test_reduced_variance_shift_is_in_log_variance_units():
    """§4.2 subtracts constants "from the predicted log-variance": log-variance = 2 log-scale + log(pi^2/3),
    so log_variance_shift=c lowers the log-variance of every component by exactly c."""
    from pixelar.distributions.logistic_mixture import DiscretizedLogisticMixture
    from pixelar.sampling.auxiliary import _shift_log_scales, log_scale_shift_of
    dist = DiscretizedLogisticMixture(3, 256, 2)
    params = torch.randn(1, dist.num_params, 1, 1)
    m, c = 2, 3
    log_var = lambda p: 2 * p[:, m + c * m:m + 2 * c * m] + math.log(math.pi ** 2 / 3)
    for shift in (0.5, 1.0, 2.0):
        shifted = _shift_log_scales(dist, params, log_scale_shift_of(log_variance_shift=shift))
        assert torch.allclose(log_var(params) - log_var(shifted), torch.full((1, c * m, 1, 1), shift))
    assert log_scale_shift_of(log_scale_shift=1.0) == 1.0 and log_scale_shift_of(1.0, 2.0) == 2.0


def test_log_variance_shift_reaches_colorize_and_upscale():
    model = reduced("grayscale_pixelcnn", "small", **TINY_GRAY)
    model.data_dependent_init(_x(4, 4))
    aux = grayscale_view(_x(1, 4, seed=3))
    a = model.colorize(aux, generator=torch.Generator().manual_seed(0), log_variance_shift=2.0, consistent=True)
    b = model.colorize(aux, generator=torch.Generator().manual_seed(0), log_scale_shift=1.0, consistent=True)
    assert torch.equal(a, b) and torch.equal(grayscale_view(a), aux)


# ---- §4.2 pyramid embedding: one down-sampling, two up-samplings (learned x2) ----------------------

@pytest.mark.parametrize("h", [1, 2, 3, 4, 8])
def test_pyramid_embedding_learns_the_upsampling_to_the_level_resolution(h):
    from pixelar.models.auxiliary import UpsamplingEmbedding, updown_schedule
    torch.manual_seed(0)
    emb = UpsamplingEmbedding(3, 8, 3, 0.0)
    out = emb(torch.rand(2, 3, h, h) * 2 - 1)
    assert out.shape == (2, 8, 2 * h, 2 * h)
    if h >= 2:   # not a 2x2 repetition: the four pixels of a block differ
        assert not torch.allclose(out[..., 0::2, 0::2], out[..., 1::2, 1::2])
    assert updown_schedule(6) == (2, 4, 6) and updown_schedule(1) == (0, 0, 1)


def test_pyramid_presets_use_the_learned_upsampling_and_pass_causality():
    assert pixelar.registry.get_preset("pyramid_pixelcnn", "cifar10").model.embedding_upsampling == "learned"
    model = reduced("pyramid_pixelcnn", "small", **TINY_PYR)
    model.data_dependent_init(_x(4, 8))
    assert type(model.embeddings[0]).__name__ == "UpsamplingEmbedding"
    for label, factor in model.causal_factors(torch.Generator().manual_seed(0)):
        assert find_leaks(factor) == [], label
    old = reduced("pyramid_pixelcnn", "small", **TINY_PYR, embedding_upsampling="repeat")
    assert type(old.embeddings[0]).__name__ == "AuxEmbedding"
