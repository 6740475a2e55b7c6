"""What a model refuses (D13 of the reliability audit): float images, whose likelihood would be of other
images (torchvision's ToTensor() scales to [0, 1]), and NaN-filled inputs."""
from __future__ import annotations

import pytest
import torch

import pixelar
from tests.conftest import tiny


@pytest.mark.parametrize("name,preset", [("pixelcnn", "small"), ("pixelcnn_pp", "small"), ("multiscale_pixelcnn", "small")])
def test_d13_float_images_are_refused_everywhere(name, preset):
    model = tiny(name, preset, 8)
    x = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    assert torch.isfinite(model.log_prob(x)).all()
    for bad in (x.float() / 255, x.float(), torch.full((2, 3, 8, 8), float("nan"))):
        for call in (model.log_prob, model.bits_per_dim, model.log_prob_elementwise):
            with pytest.raises(pixelar.PixelarError, match="integer images"):
                call(bad)
        with pytest.raises(pixelar.PixelarError, match="integer images"):
            model.complete(bad, torch.zeros(2, 3, 8, 8, dtype=torch.bool))


def test_d13_the_message_says_how_to_convert():
    model = tiny("pixelcnn", "small", 8)
    with pytest.raises(pixelar.PixelarError, match=r"\(x \* 255\).round\(\).to\(torch.uint8\)"):
        model.log_prob(torch.rand(1, 3, 8, 8))
