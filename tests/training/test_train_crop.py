"""The multiscale PixelCNN's training loss: random 32×32 crops at scales above 32×32 (Reed et al. §4.2, §4.4).

The trainer minimizes ``model.training_nll(model.training_output(...))``; evaluation stays the exact
likelihood of the whole image."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import pixelar
from pixelar.data.transforms import seeded_generator
from pixelar.evaluation.bpd import evaluate
from pixelar.training.config import TrainConfig
from pixelar.training.trainer import Trainer
from tests.conftest import random_dataset

TINY = dict(image_size=64, base_size=8, hidden=8, base_hidden=8, base_layers=2, base_output_features=8,
            num_resnet=1, num_pixelcnn=1, num_mixtures=2)


def _model(**over):
    torch.manual_seed(0)
    return pixelar.build("multiscale_pixelcnn", "small", **{**TINY, "train_crop": 32, **over})


def _cfg(**over):
    return TrainConfig(**{**dict(optimizer="adam", lr=1e-3, lr_decay=1.0, ema=0.9, batch_size=2, log_every=1,
                                 checkpoint_every=2, keep_checkpoints=2, seed=3, eval_every=0), **over})


def _record_input_sizes(module):
    sizes = []
    module.register_forward_hook(lambda mod, args, out: sizes.append(tuple(args[0].shape[-2:])))
    return sizes


def test_trainer_scores_the_64x64_upscalers_on_32x32_crops_and_evaluation_on_the_whole_image(tmp_path):
    data = random_dataset(4, size=64)
    t = Trainer(_model(), _cfg(), data, tmp_path, progress=False)
    top = _record_input_sizes(t.model.upscalers[-1][0].resnet)    # 64x64 scale, group 2: group 1 as input
    below = _record_input_sizes(t.model.upscalers[-2][0].resnet)  # 32x32 scale: trained whole
    t.run(steps=1)
    assert top == [(16, 16)] and below == [(16, 16)]              # a 32x32 crop of 64; all of 32
    top.clear()
    result = evaluate(t.model, data, batch_size=4)
    assert top == [(32, 32)]                                      # the whole 64x64 image
    x = torch.stack([data[i][0] for i in range(4)])
    with torch.no_grad():
        exact = -t.model.eval().log_prob(x).double().sum()
    assert result["nats_per_image"] * 4 == pytest.approx(float(exact), rel=1e-6)


def test_crop_loss_terms_are_the_exact_low_scales_and_aligned_windows_of_the_top_scale():
    m = _model().eval()
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    windows = set()
    for step in range(6):
        out = m.training_output(x, None, seeded_generator(3, step))
        (low, low_x, w0), *crops = out
        assert w0 == 1.0 and torch.equal(low_x, x[..., ::2, ::2].long())
        parts = m.log_prob_parts(x)
        exact_low = parts["8x8"] + parts["16x16"] + parts["32x32"]   # scales up to 32x32, whole
        assert torch.allclose(m.distribution.log_prob(low, low_x), exact_low, rtol=1e-5)
        assert len(crops) == 3 and all(w == 4.0 and p.shape[-2:] == (16, 16) for p, _, w in crops)
        # the targets are groups 2, 3, 4 of one 32x32 window on the 8-pixel grid (2 x the 4x4 patches)
        found = [(a, b) for a in range(0, 33, 8) for b in range(0, 33, 8)
                 if all(torch.equal(t, x[..., a + di:a + 32:2, b + dj:b + 32:2].long())
                        for (_, t, _), (di, dj) in zip(crops, ((0, 1), (1, 0), (1, 1))))]
        assert len(found) == 1
        windows.add(found[0])
        nll = m.training_nll(out, x)
        expected = -exact_low - sum(4.0 * m.distribution.log_prob(p, t) for p, t, _ in crops)
        assert torch.allclose(nll, expected, rtol=1e-5)
    assert len(windows) > 1                                        # the window depends on the step


def test_spatial_map_is_cropped_with_the_image():
    m = _model(spatial_channels=1)
    x = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8)
    spatial = torch.rand(1, 1, 32, 32)                             # a 32x32 map, as in §4.2
    seen = []
    m.upscalers[-1][0].resnet.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    m.training_output(x, {"spatial": spatial}, seeded_generator(0))
    ctx = seen[-1]                                                 # (1, 3 + 4, 16, 16): group 1 + the map's lattices
    (_, crop_x, _) = m.training_output(x, {"spatial": spatial}, seeded_generator(0))[1]
    grid = [(a, b) for a in range(0, 33, 8) for b in range(0, 33, 8)
            if torch.equal(crop_x, x[..., a:a + 32:2, b + 1:b + 32:2].long())]
    (a, b), = grid
    full = F.interpolate(spatial, size=(64, 64), mode="bilinear", align_corners=False)[..., a:a + 32, b:b + 32]
    assert torch.allclose(ctx[:, 3:], F.pixel_unshuffle(full, 2), atol=1e-6)


def test_resume_with_crops_is_bit_identical(tmp_path):
    data = random_dataset(4, size=64)
    full = Trainer(_model(), _cfg(), data, tmp_path / "full", progress=False)
    full.run(steps=4)
    first = Trainer(_model(), _cfg(), data, tmp_path / "split", progress=False)
    first.run(steps=2)
    second = Trainer(_model(), _cfg(), data, tmp_path / "split", progress=False)
    second.resume()
    second.run(steps=4)
    for (k, a), (_, b) in zip(full.model.state_dict().items(), second.model.state_dict().items()):
        assert torch.equal(a, b), k


def test_train_crop_must_sit_on_the_patch_grid():
    with pytest.raises(pixelar.ConfigError, match="train_crop must be 0"):
        _model(train_crop=12)                                      # type B, 4x4 patches: a multiple of 8
    assert _model(train_crop=64).crop_scales() == []               # no scale above the crop: exact loss


@pytest.mark.parametrize("preset,crop", [("imagenet_class", 32), ("imagenet128_class", 32), ("cub", 32),
                                         ("small", 0), ("text_small", 0)])
def test_paper_presets_crop_at_64_and_above(preset, crop):
    assert pixelar.registry.get_preset("multiscale_pixelcnn", preset).model.train_crop == crop
