"""The cached sampler gives bit-identical images to the naive one (DESIGN.md, sampler agreement).

Every registered preset whose model has a cached state (``has_cached_sampler()``, read from the
registry: PixelCNN, Gated PixelCNN, PixelCNN++, Row LSTM, PixelSNAIL, ...) at tiny widths: fresh samples and completions at 8×8, RGB and binary, with and
without class conditioning; 16×16 completions whose unknown region covers rows of every
resolution; the mixture options; and the per-step parameters against the whole network.
"""
from __future__ import annotations

import pytest
import torch

import pixelar
from pixelar.models.base import AutoregressiveModel
from pixelar.sampling.naive import steps
from tests.conftest import SLOW_PRESETS, tiny

# Every preset (at tiny widths) that has a cached state: e.g. PixelCNN++'s Table 2 small stacks have
# none (they sample naively: test below). Full-width-only presets stay in `make test-slow`.
PRESETS = [(m, p) for m, e in pixelar.MODELS.items() for p in e.presets
           if e.model_class.incremental is not AutoregressiveModel.incremental and (m, p) not in SLOW_PRESETS
           and tiny(m, p, 8).has_cached_sampler()]
FAMILIES = sorted({m for m, _ in PRESETS})
ids = [f"{m}-{p}" for m, p in PRESETS]


def test_models_without_a_cached_state_sample_naively_under_auto():
    model = tiny("pixelcnn_pp", "table2_11x5_ar_channel", 4)
    assert not model.has_cached_sampler()
    with pytest.raises(pixelar.PixelarError, match="no cached sampler"):
        model.sample(1, method="cached")
    a = model.sample(1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, model.sample(1, method="naive", generator=torch.Generator().manual_seed(0)))


pytestmark = pytest.mark.usefixtures("one_thread")   # many tiny ops: see conftest.one_thread


def _cond(model, n: int) -> torch.Tensor | None:
    return torch.arange(n) % model.config.num_classes if model.config.num_classes else None


def _both(fn, **kw) -> tuple[torch.Tensor, torch.Tensor]:
    a = fn(method="naive", generator=torch.Generator().manual_seed(5), **kw)
    b = fn(method="cached", generator=torch.Generator().manual_seed(5), **kw)
    return a, b


@pytest.mark.parametrize("name,preset", PRESETS, ids=ids)
def test_cached_samples_equal_naive_samples(name, preset):
    model = tiny(name, preset, 8)
    assert model.has_cached_sampler()
    a, b = _both(model.sample, n=2, cond=_cond(model, 2))
    assert torch.equal(a, b)


@pytest.mark.parametrize("name,preset", PRESETS, ids=ids)
def test_cached_completion_equals_naive_completion(name, preset):
    model = tiny(name, preset, 8)
    c, s, k = model.image_shape[0], 8, model.config.num_levels
    g = torch.Generator().manual_seed(2)
    x = torch.randint(0, k, (2, c, s, s), generator=g, dtype=torch.uint8)
    known = (torch.rand(2, 1, s, s, generator=g) < 0.5).expand(2, c, s, s)   # whole pixels (mixtures need it)
    a, b = _both(model.complete, x=x, known=known, cond=_cond(model, 2))
    assert torch.equal(a, b) and torch.equal(b[known], x[known])


@pytest.mark.parametrize("name,preset", [("pixelcnn", "cifar10"), ("gated_pixelcnn", "mnist"),
                                         ("gated_pixelcnn", "cifar10_class"), ("pixelcnn_pp", "small"),
                                         ("pixelcnn_pp", "cifar10_class")])
def test_cached_equals_naive_at_16x16(name, preset):
    """A 16×16 completion: the caches run over every position (known ones too) and the naive
    sampler only over the few unknown ones: part of row 10 (an odd row of PixelCNN++'s level 1),
    the start of row 12 (a new level-2 row) and the end of the last row."""
    model = tiny(name, preset, 16)
    c, k = model.image_shape[0], model.config.num_levels
    x = torch.randint(0, k, (2, c, 16, 16), generator=torch.Generator().manual_seed(4), dtype=torch.uint8)
    known = torch.ones(2, c, 16, 16, dtype=torch.bool)
    known[:, :, 10, 10:] = False
    known[:, :, 12, :6] = False
    known[0, :, 15, 12:] = False
    a, b = _both(model.complete, x=x, known=known, cond=_cond(model, 2))
    assert torch.equal(a, b) and not torch.equal(a, x)


def test_partly_known_pixels_rgb_softmax():
    """Per-channel models may know some channels of a pixel (e.g. colorization): the cached
    visit for the last channel still runs and leaves its caches final."""
    model = tiny("pixelcnn", "cifar10", 8)
    x = torch.randint(0, 256, (2, 3, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    known = torch.zeros(2, 3, 8, 8, dtype=torch.bool)
    known[:, 0] = True                       # red known everywhere
    known[0, 2, ::2] = True                  # blue known on some rows of image 0
    a, b = _both(model.complete, x=x, known=known)
    assert torch.equal(a, b)


@pytest.mark.parametrize("name,preset,options", [
    ("pixelcnn_pp", "small", {"temperature": 0.7}),
    ("pixelcnn_pp", "small", {"map_sampling": True}),
    ("pixelcnn_pp", "small", {"log_scale_shift": 1.0, "temperature": 1.3}),
    ("pixelcnn", "small", {"log_scale_shift": 0.5, "map_sampling": True}),
], ids=str)
def test_mixture_options_through_cached(name, preset, options):
    model = tiny(name, preset, 8)
    a, b = _both(model.sample, n=2, **options)
    assert torch.equal(a, b)


@pytest.mark.parametrize("name,preset,over", [("pixelcnn", "cifar10", {"temperature": 0.5}),
                                              ("pixelcnn_pp", "small", {"distribution": "categorical_linear"})])
def test_softmax_heads_through_cached(name, preset, over):
    t = over.pop("temperature", 1.0)
    model = tiny(name, preset, 8, **over)
    a, b = _both(model.sample, n=2, temperature=t)
    assert torch.equal(a, b)


@pytest.mark.parametrize("name,preset", [("pixelcnn", "cifar10"), ("gated_pixelcnn", "cifar10_class"),
                                         ("pixelcnn_pp", "cifar10_class"), ("pixelcnn", "mnist")])
def test_incremental_params_match_the_network(name, preset):
    """Each step's parameters equal the whole network's on the same canvas, to float rounding."""
    model = tiny(name, preset, 16)
    c, k = model.image_shape[0], model.config.num_levels
    x = torch.randint(0, k, (2, c, 16, 16), generator=torch.Generator().manual_seed(0))
    cond = _cond(model, 2)
    with torch.no_grad():
        full = model(x, cond)                    # causal: position (i, j) sees only earlier sub-pixels
        state = model.incremental(2, cond)
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
    scale = float(full.abs().max())
    assert worst <= 1e-5 * max(1.0, scale), (worst, scale)


def test_auto_picks_cached_for_these_families():
    from pixelar.sampling.cached import sample_cached
    from pixelar.sampling.pixels import position_sampler
    for name in FAMILIES:
        assert position_sampler(tiny(name, pixelar.MODELS[name].default_preset, 8), "auto") is sample_cached


def test_cli_sample_and_complete_give_the_same_png_with_every_method(tmp_path):
    import numpy as np
    from PIL import Image

    from pixelar.cli import main
    model = tiny("pixelcnn_pp", "cifar10_class", 4)
    model.save(tmp_path / "ckpt")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    for cmd, extra in [("sample", ["-n", "2"]),
                       ("complete", ["-n", "2", "--input", str(tmp_path / "in.png"), "--known", "top-half"])]:
        pngs = []
        for method in ("naive", "cached", "auto"):
            out = tmp_path / f"{cmd}-{method}.png"
            assert main([cmd, "--checkpoint", str(tmp_path / "ckpt"), "--class", "2", "--seed", "3",
                         "--method", method, "--out", str(out), *extra]) == 0
            pngs.append(out.read_bytes())
        assert pngs[0] == pngs[1] == pngs[2]
