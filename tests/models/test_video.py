"""The video PixelCNNs (Reed et al. 2017 §4.3): filmstrip layout, causality in time and inside a frame,
normalization over a tiny clip space, samplers drawing from the model, prediction keeping the given
frames, O(1) / O(log N) network evaluations per frame, and exact resume through the Trainer."""
from __future__ import annotations

import itertools

import pytest
import torch

import pixelar
from pixelar.data.video import MovingDigits
from pixelar.evaluation.causality import find_leaks
from pixelar.models.video_pixelcnn import from_strip, to_strip
from pixelar.sampling.video import predict
from pixelar.training.config import TrainConfig
from pixelar.training.trainer import Trainer
from tests.conftest import tiny

pytestmark = pytest.mark.usefixtures("one_thread")
MODELS = ["video_pixelcnn_ot", "video_pixelcnn_otlogn", "video_pixelcnn_ot_baseline", "video_pixelcnn_otn"]
# what a 2x2 frame needs (the multiscale frame model's base must fit it)
AT_2X2 = {"video_pixelcnn_otlogn": {"base_size": 1}}


def small(name: str, size: int = 4, frames: int = 4, context: int = 2, **over):
    """The small preset at ``size`` with tiny widths and a short clip."""
    return tiny(name, "small", size, num_frames=frames, num_context=context, encoder_hidden=4, **over)


def test_strip_round_trip_and_shapes():
    clip = torch.randint(0, 256, (2, 5, 3, 4, 4))
    strip = to_strip(clip)
    assert strip.shape == (2, 3, 20, 4) and torch.equal(strip[:, :, 4:8], clip[:, 1])
    assert torch.equal(from_strip(strip, 5), clip)
    m = small("video_pixelcnn_ot")
    assert m.image_shape == (1, 8, 4) and m.num_predicted == 2
    x = torch.randint(0, 256, (3, *m.image_shape), dtype=torch.uint8)
    lp = m.log_prob(x, m.random_condition(3))
    assert lp.shape == (3,) and torch.isfinite(lp).all()
    parts = m.log_prob_parts(x, m.random_condition(3, torch.Generator().manual_seed(0)))
    assert list(parts) == ["frame 2", "frame 3"]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("channels,dist", [(1, "logistic_mixture"), (3, "categorical"), (3, "logistic_mixture")])
def test_exact_causality_in_time_and_inside_frames(name, channels, dist):
    m = small(name, image_channels=channels, distribution=dist, **({"base_size": 2} if "otlogn" in name else {}))
    assert find_leaks(m) == []


@pytest.mark.parametrize("name", MODELS)
def test_causality_oracle_is_tight(name, monkeypatch):
    """Declaring that a frame may not read the frame before it is caught: the model does read it."""
    m = small(name)
    S = m.config.image_size
    honest = m.allowed_inputs

    def without_previous_frame(c, i, j):
        a = honest(c, i, j).clone()
        f = i // S
        if f:
            a[:, (f - 1) * S: f * S] = False
        return a

    monkeypatch.setattr(m, "allowed_inputs", without_previous_frame)
    leaks = find_leaks(m)
    assert leaks and leaks[0].output[1] >= S


def _all_clips(shape, k):
    vals = torch.tensor(list(itertools.product(range(k), repeat=shape[0] * shape[1] * shape[2])), dtype=torch.uint8)
    return vals.view(-1, *shape)


@pytest.mark.parametrize("name,k,dist", [(m, k, d) for m in MODELS for k, d in ((2, "bernoulli"), (3, "logistic_mixture"),
                                                                             (2, "categorical"))])
def test_two_frames_of_2x2_sum_to_one(name, k, dist):
    m = small(name, size=2, frames=3, context=1, num_levels=k, distribution=dist, **AT_2X2.get(name, {}))
    x = _all_clips(m.image_shape, k)                                 # every 2-frame clip of 2x2
    cond = {key: v.expand(len(x), *v.shape[1:]) for key, v in m.random_condition(1, torch.Generator().manual_seed(2)).items()}
    with torch.no_grad():
        total = torch.logsumexp(m.log_prob(x, cond).double(), 0).exp()
    assert abs(float(total) - 1.0) < 1e-5


@pytest.mark.parametrize("name,method", [(m, "auto") for m in MODELS] + [("video_pixelcnn_ot", "naive")])
def test_samplers_draw_from_the_model(name, method):
    """Empirical frequencies of the frame-by-frame sampler (and of the naive reference loop) over
    every 2-frame clip of 2x2 binary frames match exp(log p) within 5 standard errors."""
    m = small(name, size=2, frames=3, context=1, num_levels=2, distribution="bernoulli", **AT_2X2.get(name, {}))
    x = _all_clips(m.image_shape, 2)
    one = m.random_condition(1, torch.Generator().manual_seed(4))
    expand = lambda n: {key: v.expand(n, *v.shape[1:]) for key, v in one.items()}
    with torch.no_grad():
        probs = m.log_prob(x, expand(len(x))).double().exp()
    n = 3000
    s = m.sample(n, cond=expand(n), generator=torch.Generator().manual_seed(0), method=method)
    codes = (s.view(n, -1).long() * (2 ** torch.arange(8 - 1, -1, -1))).sum(1)
    freq = torch.bincount(codes, minlength=len(x)).double() / n
    assert torch.all((freq - probs).abs() <= 5 * (probs * (1 - probs) / n).sqrt() + 2e-3)


@pytest.mark.parametrize("name", MODELS)
def test_prediction_keeps_the_context_and_completion_keeps_known_pixels(name):
    m = small(name, size=4, frames=5)
    g = torch.Generator().manual_seed(0)
    cond = m.random_condition(2, g)
    out = predict(m, cond["context"], cond["actions"], cond["state"], frames=2, generator=g)
    assert out.shape == (2, 4, 1, 4, 4) and torch.equal(out[:, :2], cond["context"].to(torch.uint8))
    a = m.sample(2, cond=cond, generator=torch.Generator().manual_seed(3))
    b = m.sample(2, cond=cond, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.isfinite(m.log_prob(a, cond)).all()
    known = torch.zeros_like(a, dtype=torch.bool)
    known[:, :, :4] = True                                            # the first predicted frame is given
    x = torch.randint(0, 256, a.shape, dtype=torch.uint8)
    done = m.complete(x, known, cond=cond, generator=torch.Generator().manual_seed(1))
    assert torch.equal(done[known], x[known])


def _count_evaluations(m) -> int:
    """Forward calls of every network of a frame: ResNets, heads and the base PixelCNN."""
    count = [0]
    hook = lambda *_: count.__setitem__(0, count[0] + 1)
    if m.frame_sampler == "groups":
        modules = [mod for up in m.upscalers for mod in (up.resnet, up.out)]
    elif m.frame_sampler == "independent":
        modules = [m.frame_net.resnet, m.frame_net.out]
    else:
        fm = m.frame_model
        modules = [fm.base] + [mod for level in fm.upscalers for up in level for mod in (up.resnet, up.out)]
    handles = [mod.register_forward_hook(hook) for mod in modules]
    m.sample(1, cond=m.random_condition(1, torch.Generator().manual_seed(0)), generator=torch.Generator().manual_seed(0))
    for h in handles:
        h.remove()
    return count[0]


def test_network_evaluations_per_frame_are_constant_for_ot_and_grow_as_log_n_for_otlogn():
    ot = [_count_evaluations(small("video_pixelcnn_ot", size=s, frames=3)) for s in (16, 32, 64)]
    assert ot[0] == ot[1] == ot[2] == 8           # 4 groups x (ResNet + 1 mixture head), per frame
    logn = [_count_evaluations(small("video_pixelcnn_otlogn", size=s, frames=3, base_size=4)) for s in (16, 32, 64)]
    # 4x4 base (16 draws) + per doubling 3 groups x (ResNet + 1 softmax head on one channel)
    assert logn == [16 + 2 * 6, 16 + 3 * 6, 16 + 4 * 6]


@pytest.mark.parametrize("size", [16, 32, 64])
def test_the_baseline_evaluates_its_network_once_per_frame(size):
    """Table 2's O(T) baseline: one ResNet pass and one head call give a whole frame (logistic mixture)."""
    m = small("video_pixelcnn_ot_baseline", size=size, frames=4)     # 2 predicted frames
    assert _count_evaluations(m) == 2 * (1 + 1)


def test_condition_reads_video_batches_and_refuses_other_data():
    m = small("video_pixelcnn_ot", size=8, frames=5)
    data = MovingDigits("train", image_size=8, num_frames=5, num_sequences=3)
    batch = pixelar.data.base.collate([data[i] for i in range(3)])
    cond = m.condition(batch)
    assert torch.isfinite(m.log_prob(batch["image"], cond)).all()
    with pytest.raises(pixelar.PixelarError, match="needs video data"):
        m.condition({"image": batch["image"], "label": batch["label"]})
    longer = pixelar.data.base.collate([MovingDigits("train", image_size=8, num_frames=6, num_sequences=1)[0]])
    with pytest.raises(pixelar.PixelarError, match="num_frames"):
        m.condition(longer)
    with pytest.raises(ValueError, match="unknown cond key"):
        m.log_prob(batch["image"], {"frames": batch["context"]})


@pytest.mark.parametrize("name", MODELS)
def test_training_resumes_exactly(name, tmp_path):
    data = MovingDigits("train", image_size=4, num_frames=4, num_sequences=6)
    cfg = TrainConfig(optimizer="rmsprop", lr=1e-3, batch_size=2, checkpoint_every=1, log_every=1, seed=1)
    full = Trainer(small(name).train(), cfg, data, tmp_path / "full", progress=False)
    full.run(steps=2)
    first = Trainer(small(name).train(), cfg, data, tmp_path / "split", progress=False)
    first.run(steps=1)
    second = Trainer(small(name).train(), cfg, data, tmp_path / "split", progress=False)
    second.resume()
    second.run(steps=2)
    for (k, a), (_, b) in zip(full.model.state_dict().items(), second.model.state_dict().items()):
        assert torch.equal(a, b), k
