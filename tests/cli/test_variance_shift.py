"""`--log-variance-shift` (Kolesnikov & Lampert §4.2: "subtracting constants ... from the predicted
log-variance") on every command that has `--log-scale-shift`: a log-variance shift c is a log-scale
shift c/2; giving both is a one-line error."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import pixelar
from pixelar.cli import main
from tests.conftest import fails

pytestmark = pytest.mark.usefixtures("one_thread")

MODELS = {
    "sample": ("gated_pixelcnn", "small", dict(image_size=6, hidden=8, output_features=8, num_layers=2,
                                               distribution="logistic_mixture", num_mixtures=3)),
    "upscale": ("multiscale_pixelcnn", "small", dict(image_size=8, base_size=4, base_hidden=8, hidden=8,
                                                     num_resnet=1, base_layers=2, base_output_features=8)),
    "upscale_pyramid": ("pyramid_pixelcnn", "small", dict(image_size=8, base_size=4, num_filters=8, num_resnet=1,
                                                          embedding_filters=8, embedding_resnet=1)),
    "colorize": ("grayscale_pixelcnn", "small", dict(image_size=4, num_filters=8, num_resnet=1,
                                                     embedding_filters=8, embedding_resnet=1)),
}


def _argv(command, tmp_path):
    name, preset, over = MODELS[command]
    torch.manual_seed(0)
    model = pixelar.build(name, preset, **over)
    model.save(tmp_path / "ckpt")
    size = model.config.image_size
    low = np.random.default_rng(0).integers(0, 256, (size // 2, size // 2, 3), dtype=np.uint8)
    Image.fromarray(low).save(tmp_path / "low.png")
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (size, size), dtype=np.uint8)).save(tmp_path / "g.png")
    extra = {"sample": ["-n", "2"], "upscale": ["--input", str(tmp_path / "low.png")],
             "upscale_pyramid": ["--input", str(tmp_path / "low.png")],
             "colorize": ["-n", "1", "--input", str(tmp_path / "g.png")]}[command]
    return [command.split("_")[0], "--checkpoint", str(tmp_path / "ckpt"), "--seed", "4", *extra]


@pytest.mark.parametrize("command", sorted(MODELS))
def test_log_variance_shift_is_half_as_much_log_scale_shift(command, tmp_path):
    argv = _argv(command, tmp_path)
    images = {}
    for tag, extra in (("var", ["--log-variance-shift", "3"]), ("scale", ["--log-scale-shift", "1.5"]),
                       ("none", [])):
        out = tmp_path / f"{tag}.png"
        assert main([*argv, *extra, "--out", str(out)]) == 0
        images[tag] = np.asarray(Image.open(out))
    assert np.array_equal(images["var"], images["scale"])
    assert not np.array_equal(images["var"], images["none"])      # the shift does something


def test_both_shifts_or_a_nan_are_one_line_errors(tmp_path, capsys):
    argv = [*_argv("sample", tmp_path), "--out", str(tmp_path / "o.png")]
    fails([*argv, "--log-variance-shift", "2", "--log-scale-shift", "1"], capsys, "not both")
    fails([*argv, "--log-variance-shift", "nan"], capsys, "--log-variance-shift")
    assert not (tmp_path / "o.png").exists()


def test_the_distribution_takes_log_variance_shift_in_log_variance_units():
    from pixelar.distributions import build_distribution
    dist = build_distribution("logistic_mixture", 3, 256, num_mixtures=4)
    params = torch.randn(2, dist.num_params, 5, 5)
    a = dist.sample(params, torch.Generator().manual_seed(0), log_variance_shift=2.5)
    b = dist.sample(params, torch.Generator().manual_seed(0), log_scale_shift=1.25)
    assert torch.equal(a, b) and "log_variance_shift" in dist.sample_options
