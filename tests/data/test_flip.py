"""Random horizontal flips (Kolesnikov & Lampert §4.1): deterministic per (seed, epoch, item), maps alike."""
from __future__ import annotations

import torch

import pixelar
from pixelar.data.transforms import RandomHFlip
from pixelar.training.config import TrainConfig
from pixelar.training.trainer import Trainer
from tests.conftest import random_dataset


class _Items:
    def __init__(self, n):
        self.images = torch.arange(n * 4 * 4, dtype=torch.uint8).view(n, 1, 4, 4)
        self.epochs = []

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], {"label": i, "spatial": self.images[i].float()}

    def set_epoch(self, e):
        self.epochs.append(e)


def test_flips_half_the_items_with_their_maps_and_repeats_per_epoch():
    base = _Items(200)
    data = RandomHFlip(base, seed=3)
    flips = []
    for i in range(200):
        image, target = data[i]
        mirrored = torch.equal(image, base.images[i].flip(-1))
        assert mirrored or torch.equal(image, base.images[i])
        assert torch.equal(target["spatial"], image.float()) and target["label"] == i
        flips.append(mirrored)
    assert 70 < sum(flips) < 130
    assert [torch.equal(data[i][0], base.images[i].flip(-1)) for i in range(200)] == flips   # same again
    data.set_epoch(1)
    assert base.epochs == [1]
    assert [torch.equal(data[i][0], base.images[i].flip(-1)) for i in range(200)] != flips   # a new epoch
    assert len(data) == 200


def test_trainer_flips_when_asked_and_the_auxiliary_presets_ask(tmp_path):
    for name in ("grayscale_pixelcnn", "pyramid_pixelcnn"):      # K&L: "For numeric optimization, we use Adam"
        for preset in pixelar.registry.entry(name).presets:
            train = pixelar.registry.get_preset(name, preset).train
            assert train.hflip and train.optimizer == "adam", (name, preset)
    torch.manual_seed(0)
    model = pixelar.build("gated_pixelcnn", "small", image_size=6, hidden=12, output_features=16, num_layers=2)
    data = random_dataset(8, size=6)
    t = Trainer(model, TrainConfig(hflip=True, batch_size=4), data, tmp_path, progress=False)
    assert isinstance(t.train_data, RandomHFlip) and t.train_data.info == data.info
    assert not isinstance(Trainer(model, TrainConfig(batch_size=4), data, tmp_path, progress=False).train_data,
                          RandomHFlip)
