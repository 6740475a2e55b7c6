"""Learning-rate schedules (decay to a final rate, step decays) and centred RMSprop."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

import pixelar
from pixelar.config import replace
from pixelar.errors import ConfigError
from pixelar.training.config import TrainConfig
from pixelar.training.trainer import Trainer, build_optimizer
from tests.conftest import random_dataset


def test_decay_to_a_final_rate_is_geometric_and_then_flat():
    cfg = TrainConfig(optimizer="rmsprop", lr=1e-4, lr_final=1e-5, lr_decay_steps=200_000)
    cfg.validate()
    assert cfg.lr_at(0) == pytest.approx(1e-4)
    assert cfg.lr_at(100_000) == pytest.approx(1e-4 / math.sqrt(10))     # half way, in log space
    assert cfg.lr_at(200_000) == pytest.approx(1e-5)
    assert cfg.lr_at(300_000) == pytest.approx(1e-5)
    rates = [cfg.lr_at(s) for s in range(0, 200_001, 10_000)]
    assert all(a > b for a, b in itertools.pairwise(rates))


def test_step_decays_multiply_at_each_milestone():
    # Reed et al. video: "decayed by factor 0.3 after 83K steps and after 113K steps"
    cfg = TrainConfig(lr=1e-4, lr_milestones=(83_000, 113_000), lr_gamma=0.3)
    cfg.validate()
    assert cfg.lr_at(82_999) == pytest.approx(1e-4)
    assert cfg.lr_at(83_000) == pytest.approx(3e-5)
    assert cfg.lr_at(113_000) == pytest.approx(9e-6)


def test_defaults_keep_the_per_step_exponential_decay():
    cfg = TrainConfig(lr=2e-3, lr_decay=0.99)
    assert cfg.lr_at(10) == pytest.approx(2e-3 * 0.99 ** 10)


@pytest.mark.parametrize("over", [{"lr_final": 1e-5}, {"lr_decay_steps": 10},
                                  {"lr_final": 1e-2, "lr_decay_steps": 10}, {"lr_final": -1.0, "lr_decay_steps": 10},
                                  {"lr_milestones": (5, 3)}, {"lr_milestones": (0,)}, {"lr_gamma": 0.0},
                                  {"lr_gamma": 1.5}])
def test_bad_schedules_are_refused_with_the_key(over):
    with pytest.raises(ConfigError, match="train.lr_"):
        TrainConfig(lr=1e-3, **over).validate()


def test_overrides_reach_the_new_fields():
    cfg = replace(TrainConfig(), {"rmsprop_centered": "true", "lr_milestones": "83000,113000",
                                          "lr_final": "1e-5", "lr_decay_steps": "200000"})
    assert cfg.rmsprop_centered is True and cfg.lr_milestones == (83000, 113000)
    assert cfg.lr_final == 1e-5 and cfg.lr_decay_steps == 200000


def test_centred_rmsprop_is_built():
    p = [torch.nn.Parameter(torch.zeros(2))]
    opt = build_optimizer(p, TrainConfig(optimizer="rmsprop", rmsprop_centered=True, rmsprop_eps=1e-8))
    assert isinstance(opt, torch.optim.RMSprop)
    assert opt.defaults["centered"] is True and opt.defaults["eps"] == 1e-8


def test_trainer_follows_the_schedule_and_resumes_on_it(tmp_path):
    """The rate set for step s is lr_at(s), also after a resume (the schedule is a function of the step);
    random flips resume exactly too."""
    def model():
        torch.manual_seed(0)
        return pixelar.build("gated_pixelcnn", "small", image_size=6, hidden=12, output_features=16, num_layers=2)

    cfg = TrainConfig(optimizer="rmsprop", rmsprop_centered=True, lr=1e-3, lr_final=1e-4, lr_decay_steps=4,
                      lr_milestones=(3,), lr_gamma=0.5, batch_size=4, log_every=1, checkpoint_every=2, seed=1,
                      hflip=True)
    data = random_dataset(8, size=6)
    full = Trainer(model(), cfg, data, tmp_path / "full", progress=False)
    seen = []
    step_fn = full.optimizer.step

    def spy(*a, **k):
        seen.append(full.optimizer.param_groups[0]["lr"])
        return step_fn(*a, **k)
    full.optimizer.step = spy
    full.run(steps=6)
    assert seen == pytest.approx([cfg.lr_at(s) for s in range(6)])

    first = Trainer(model(), cfg, data, tmp_path / "split", progress=False)
    first.run(steps=2)
    second = Trainer(model(), cfg, data, tmp_path / "split", progress=False)
    second.resume()
    second.run(steps=6)
    for (k, a), (_, b) in zip(full.model.state_dict().items(), second.model.state_dict().items()):
        assert torch.equal(a, b), k
