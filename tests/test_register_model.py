"""A user's own model joins the registry with ``pixelar.register_model`` and is then built, saved,
loaded and trained like a built-in one."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import pixelar
from pixelar.models.base import AutoregressiveModel, ImageModelConfig
from pixelar.nn.masked import MaskedConv2d
from pixelar.presets import Preset
from pixelar.training.config import TrainConfig
from pixelar.training.trainer import Trainer
from tests.conftest import random_dataset


@dataclasses.dataclass(frozen=True)
class OneLayerConfig(ImageModelConfig):
    hidden: int = 8


class OneLayer(AutoregressiveModel):
    """A 5×5 mask-A convolution and a 1×1 mask-B head: the smallest causal model."""
    name = "user_one_layer"
    config_class = OneLayerConfig

    def __init__(self, config: OneLayerConfig) -> None:
        super().__init__(config)
        g = self.num_groups
        self.inp = MaskedConv2d(config.image_channels, config.hidden * g, 5, "A", g)
        self.out = MaskedConv2d(config.hidden * g, self.distribution.num_params, 1, "B", g)

    def network(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return self.out(torch.relu(self.inp(x)))

    def output_layer(self) -> nn.Module:
        return self.out


@pytest.fixture
def registered():
    preset = Preset(model_class=OneLayer, model=OneLayerConfig(image_size=6, distribution="logistic_mixture",
                                                               num_mixtures=2),
                    train=TrainConfig(optimizer="adam", lr=1e-2, batch_size=4, ema=0.0), description="a test model")
    entry = pixelar.register_model(OneLayer, presets={"tiny": preset})
    yield entry
    del pixelar.MODELS[OneLayer.name]


def test_a_registered_model_builds_saves_loads_and_trains(registered, tmp_path):
    from pixelar.evaluation.causality import find_leaks
    assert registered.default_preset == "tiny"
    model = pixelar.build("user_one_layer")
    assert find_leaks(model) == []
    x = torch.randint(0, 256, (2, 3, 6, 6), dtype=torch.uint8)
    model.save(str(tmp_path / "ckpt"))
    assert torch.equal(pixelar.load(tmp_path / "ckpt").log_prob(x), model.eval().log_prob(x))
    trainer = Trainer(model, pixelar.registry.get_preset("user_one_layer").train, random_dataset(16, size=6),
                      tmp_path / "run", progress=False)
    result = trainer.run(steps=3)
    assert result["step"] == 3 and pixelar.load(tmp_path / "run").name == "user_one_layer"


def test_a_name_cannot_be_taken_twice(registered):
    class Other(OneLayer):
        pass
    with pytest.raises(pixelar.ConfigError, match="already registered"):
        pixelar.register_model(Other)
