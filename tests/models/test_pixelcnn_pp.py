"""PixelCNN++: data-dependent init, EMA, class conditioning, parameter count."""
from __future__ import annotations

import pytest
import torch

import pixelar
from pixelar.nn.weightnorm import WeightNormConv2d
from pixelar.training.config import TrainConfig
from pixelar.training.trainer import Trainer
from tests.conftest import random_dataset


def test_cifar10_preset_has_the_reference_architecture_size():
    assert pixelar.build("pixelcnn_pp", "cifar10").num_parameters() == 53_659_080


def test_data_dependent_init_normalizes_every_layer_on_the_init_batch():
    torch.manual_seed(0)
    model = pixelar.build("pixelcnn_pp", "small", image_size=8, num_filters=16)
    x = torch.stack([random_dataset(16, size=8)[i][0] for i in range(16)])
    assert model.needs_data_dependent_init
    model.data_dependent_init(x)
    assert not model.needs_data_dependent_init and "ddi_done" in model.state_dict()
    outputs = []
    hooks = [m.register_forward_hook(lambda m, i, o: outputs.append((m.init_scale, o)))
             for m in model.modules() if isinstance(m, WeightNormConv2d)]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    assert len(outputs) > 20
    for scale, y in outputs:
        mean, std = y.mean(dim=(0, 2, 3)), y.std(dim=(0, 2, 3), unbiased=False)
        assert mean.abs().max() < 1e-3 * max(1.0, scale)
        assert (std - scale).abs().max() < 1e-2 * scale


def _trainer(model, data, out, **over):
    cfg = dict(optimizer="adamax", lr=3e-3, batch_size=8, log_every=5, checkpoint_every=1000, seed=1)
    cfg.update(over)
    return Trainer(model, TrainConfig(**cfg), data, out, progress=False)


def test_trainer_runs_the_init_once_and_ema_is_used_for_eval(tmp_path):
    torch.manual_seed(0)
    data = random_dataset(16, size=8)
    model = pixelar.build("pixelcnn_pp", "small", image_size=8, num_filters=8, num_resnet=1)
    t = _trainer(model, data, tmp_path, ema=0.9)
    t.run(steps=4)
    assert not model.needs_data_dependent_init
    x = torch.stack([data[i][0] for i in range(4)])
    ema, raw = pixelar.load(tmp_path), pixelar.load(tmp_path, weights="raw")
    assert not torch.equal(ema.log_prob(x), raw.log_prob(x))       # eval/sample read the EMA weights
    assert torch.equal(ema.log_prob(x), t.eval_model().log_prob(x))
    resumed = _trainer(pixelar.build("pixelcnn_pp", "small", image_size=8, num_filters=8, num_resnet=1),
                       data, tmp_path, ema=0.9)
    resumed.resume()
    assert not resumed.model.needs_data_dependent_init             # restored, not re-initialized
    assert all(torch.equal(resumed.ema.state[k], t.ema.state[k]) for k in t.ema.state)


def test_map_and_reduced_variance_sampling():
    """MAP sampling is deterministic given the component; a large log-scale shift approaches it."""
    torch.manual_seed(0)
    model = pixelar.build("pixelcnn_pp", "small", image_size=4, num_filters=8, num_resnet=1, num_mixtures=1)
    a = model.sample(2, generator=torch.Generator().manual_seed(0), map_sampling=True)
    b = model.sample(2, generator=torch.Generator().manual_seed(5), map_sampling=True)
    assert torch.equal(a, b)          # one component: nothing random is left
    c = model.sample(2, generator=torch.Generator().manual_seed(1), log_scale_shift=30.0)
    assert torch.equal(a, c)
    d = model.sample(2, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a, d)


def test_dequantized_likelihood_is_reported_as_a_bound(tmp_path):
    from pixelar.evaluation.bpd import evaluate
    torch.manual_seed(0)
    model = pixelar.build("pixelcnn_pp", "small", image_size=4, num_filters=8, num_resnet=1,
                          likelihood="dequantized")
    data = random_dataset(6, size=4)
    r1, r2 = evaluate(model, data), evaluate(model, data)
    assert r1["bound"] is True and r1 == r2        # fixed-seed dequantization: repeatable
    exact = pixelar.build("pixelcnn_pp", "small", image_size=4, num_filters=8, num_resnet=1)
    assert evaluate(exact, data)["bound"] is False
    with pytest.raises(pixelar.ConfigError, match="dequantized needs"):
        pixelar.build("pixelcnn_pp", "small", likelihood="dequantized", distribution="categorical_linear")


def test_activation_checkpointing_gives_the_same_gradients():
    grads = []
    for flag in (False, True):
        torch.manual_seed(0)
        model = pixelar.build("pixelcnn_pp", "small", image_size=8, num_filters=8, num_resnet=1, dropout=0.5,
                              checkpoint_activations=flag).train()
        x = torch.stack([random_dataset(4, size=8)[i][0] for i in range(4)])
        torch.manual_seed(1)                      # same dropout masks in both runs
        (-model.log_prob(x).sum()).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)
