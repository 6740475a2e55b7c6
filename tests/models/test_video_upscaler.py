"""The video upscalers (Reed et al. 2017 §4.3, p(x_t^hi | x_t^lo, x_{t-1}^hi)): causality inside the frame,
group 1 and the previous frame reaching every factor, normalization over a tiny frame space, save/load,
the group sampler against the naive reference, upscaled clips keeping the low-res frames, and a constant
number of network evaluations per frame."""
from __future__ import annotations

import itertools

import pytest
import torch

import pixelar
from pixelar.evaluation.causality import find_leaks
from pixelar.sampling.naive import sample_naive
from pixelar.sampling.video import sample_upscaler, upscale_video
from tests.conftest import tiny

pytestmark = pytest.mark.usefixtures("one_thread")


def small(size: int = 4, **over):
    return tiny("video_upscaler", "small", size, **over)


def _cond(m, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    return m.random_condition(n, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("channels,dist", [(1, "logistic_mixture"), (3, "categorical"), (3, "logistic_mixture"),
                                           (1, "bernoulli")])
def test_exact_causality_inside_the_frame(channels, dist):
    over = {"num_levels": 2} if dist == "bernoulli" else {}
    assert find_leaks(small(image_channels=channels, distribution=dist, **over)) == []


def test_causality_oracle_is_tight(monkeypatch):
    """Declaring that group 3 may not read group 2 is caught: the model does read it."""
    m = small()
    honest = m.allowed_inputs

    def without_group_2(c, i, j):
        a = honest(c, i, j).clone()
        if (i % 2, j % 2) == (1, 0):
            a[:, 0::2, 1::2] = False
        return a

    monkeypatch.setattr(m, "allowed_inputs", without_group_2)
    leaks = find_leaks(m)
    assert leaks and leaks[0].output[1] % 2 == 1 and leaks[0].input[1:] in {(0, 1), (0, 3), (2, 1), (2, 3)}


def test_group_1_and_the_previous_frame_reach_every_factor(monkeypatch):
    """Every sub-pixel of groups 2-4 depends on group 1 of its frame and on the previous frame; group 1's
    (unscored) parameters depend on nothing."""
    m = small(size=4, image_channels=3, distribution="categorical", hidden=24)   # no channel group all dead ReLUs
    g = torch.Generator().manual_seed(0)
    x = m.scale_input(torch.randint(0, 256, (1, 3, 4, 4), generator=g)).requires_grad_(True)
    prev = m.scale_input(torch.randint(0, 256, (1, 3, 4, 4), generator=g)).requires_grad_(True)
    monkeypatch.setattr(m, "scale_previous", lambda _: prev)
    params = m.network(x, None)
    dist = m.distribution
    for c, i, j in itertools.product(range(3), range(4), range(4)):
        gx, gp = torch.autograd.grad(params[0, dist.param_channels(c), i, j].sum(), (x, prev), retain_graph=True,
                                     allow_unused=True)
        gx = torch.zeros_like(x) if gx is None else gx
        gp = torch.zeros_like(prev) if gp is None else gp
        if (i % 2, j % 2) == (0, 0):
            assert not gx.any() and not gp.any()
        else:
            assert gx[0, :, ::2, ::2].abs().sum() > 0 and gp.abs().sum() > 0, (c, i, j)


@pytest.mark.parametrize("k,dist", [(2, "bernoulli"), (2, "categorical"), (3, "logistic_mixture")])
def test_2x2_frames_sum_to_one_for_every_low_res_pixel(k, dist):
    m = small(size=2, image_channels=1, num_levels=k, distribution=dist)
    x = torch.tensor(list(itertools.product(range(k), repeat=4)), dtype=torch.uint8).view(-1, 1, 2, 2)
    prev = _cond(m, 1, seed=2)["previous"].expand(len(x), -1, -1, -1)
    with torch.no_grad():
        lp = m.log_prob(x, {"previous": prev}).double()
    for v in range(k):                                    # group 1 (the low-res frame) given
        same = x[:, 0, 0, 0] == v
        assert abs(float(torch.logsumexp(lp[same], 0).exp()) - 1.0) < 1e-5


def test_low_res_frame_is_given_and_must_match(tmp_path):
    m = small(size=4)
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    cond = _cond(m, 2)
    lp = m.log_prob(x, cond)
    assert torch.equal(lp, m.log_prob(x, {**cond, "low": x[..., ::2, ::2]}))
    y = x.clone()
    y[..., ::2, ::2] = 255 - y[..., ::2, ::2]             # another group 1: another condition, same cost of 0
    assert torch.equal(m.log_prob_elementwise(y, cond)[..., ::2, ::2], torch.zeros(2, 3, 2, 2))
    parts = m.log_prob_parts(x, cond)
    assert list(parts) == ["group 2", "group 3", "group 4"]
    assert torch.allclose(sum(parts.values()), lp, atol=1e-3)
    with pytest.raises(pixelar.PixelarError, match="group 1"):
        m.log_prob(x, {**cond, "low": y[..., ::2, ::2]})
    m.save(tmp_path / "ckpt")
    loaded = pixelar.load(tmp_path / "ckpt")
    assert loaded.config == m.config and torch.equal(loaded.log_prob(x, cond), lp)


def test_group_sampler_reads_the_same_params_as_the_naive_reference(monkeypatch):
    """With every draw replaced by the mode, the group sampler and the naive loop (group 1 known) give the
    same frame, and it is a fixed point of mode(model(x)) at groups 2-4."""
    m = small(size=8, image_channels=3, num_levels=8, distribution="categorical")
    dist = m.distribution

    def mode_sample(params, generator=None, temperature=1.0, channel=None):
        out = dist.mode(params)
        return out if channel is None else out[:, channel:channel + 1]
    monkeypatch.setattr(dist, "sample", mode_sample)
    cond = _cond(m, 2)
    low = torch.randint(0, 8, (2, 3, 4, 4))
    a = m.sample(2, cond={**cond, "low": low})
    x = torch.zeros(2, 3, 8, 8, dtype=torch.long)
    x[..., ::2, ::2] = low
    known = torch.zeros_like(x, dtype=torch.bool)
    known[..., ::2, ::2] = True
    b = sample_naive(m, x, known, cond=cond)
    assert torch.equal(a, b) and torch.equal(a[..., ::2, ::2].long(), low)
    assert torch.equal(dist.mode(m(a, cond))[..., 1::2, :], a[..., 1::2, :].long())
    assert torch.equal(dist.mode(m(a, cond))[..., 0::2, 1::2], a[..., 0::2, 1::2].long())


def test_group_sampler_draws_from_the_model():
    """Empirical frequencies over every 2x2 binary frame with a given low-res pixel match exp(log p)."""
    m = small(size=2, image_channels=1, num_levels=2, distribution="bernoulli")
    x = torch.tensor(list(itertools.product(range(2), repeat=4)), dtype=torch.uint8).view(-1, 1, 2, 2)
    x = x[x[:, 0, 0, 0] == 1]                              # group 1 = 1
    prev = _cond(m, 1, seed=4)["previous"]
    with torch.no_grad():
        probs = m.log_prob(x, {"previous": prev.expand(len(x), -1, -1, -1)}).double().exp()
    n = 3000
    s = m.sample(n, cond={"previous": prev.expand(n, -1, -1, -1), "low": torch.ones(n, 1, 1, 1, dtype=torch.long)},
                 generator=torch.Generator().manual_seed(0))
    assert (s[:, 0, 0, 0] == 1).all()
    codes = (s.view(n, -1)[:, 1:].long() * torch.tensor([4, 2, 1])).sum(1)
    freq = torch.bincount(codes, minlength=8).double() / n
    assert torch.all((freq - probs).abs() <= 5 * (probs * (1 - probs) / n).sqrt() + 2e-3)


def test_sampling_needs_the_low_res_frame():
    m = small(size=4)
    with pytest.raises(pixelar.PixelarError, match="cond\\['low'\\]"):
        m.sample(1, cond=_cond(m, 1))
    x = torch.randint(0, 256, (1, 3, 4, 4), dtype=torch.uint8)
    known = torch.zeros_like(x, dtype=torch.bool)
    known[..., ::2, ::2] = True                            # group 1 given as known pixels instead
    out = m.complete(x, known, cond=_cond(m, 1), generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[known], x[known])


def test_upscaled_clip_keeps_the_low_res_frames_and_chains_the_previous_frame():
    m = small(size=4)
    g = torch.Generator().manual_seed(0)
    first = torch.randint(0, 256, (2, 3, 4, 4), generator=g)
    low = torch.randint(0, 256, (2, 4, 3, 2, 2), generator=g)
    low[:, 0] = first[..., ::2, ::2]
    out = upscale_video(m, low, first, generator=torch.Generator().manual_seed(1))
    assert out.shape == (2, 4, 3, 4, 4) and out.dtype == torch.uint8
    assert torch.equal(out[:, 0], first.to(torch.uint8))
    assert torch.equal(out[:, :, :, ::2, ::2].long(), low)
    # frame t is the canvas sampler's draw given frame t-1 (the same generator stream)
    g2 = torch.Generator().manual_seed(1)
    blank = torch.zeros(2, 3, 4, 4, dtype=torch.long)
    none = torch.zeros_like(blank, dtype=torch.bool)
    for t in range(1, 4):
        frame = sample_upscaler(m, blank, none, cond={"low": low[:, t], "previous": out[:, t - 1].long()}, generator=g2)
        assert torch.equal(frame, out[:, t])
    with pytest.raises(pixelar.PixelarError, match="sub-sample"):
        upscale_video(m, low, 255 - first)


def _evaluations_per_frame(m, s: int) -> tuple[float, float]:
    """(ResNet calls, head calls) per upscaled frame of a 3-frame clip of side s (2 frames upscaled)."""
    resnets, outs = [0], [0]
    hooks = [up.resnet.register_forward_hook(lambda *_: resnets.__setitem__(0, resnets[0] + 1)) for up in m.upscalers]
    hooks += [up.out.register_forward_hook(lambda *_: outs.__setitem__(0, outs[0] + 1)) for up in m.upscalers]
    first = torch.zeros(1, 3, s, s, dtype=torch.long)
    upscale_video(m, torch.zeros(1, 3, 3, s // 2, s // 2, dtype=torch.long), first,
                  generator=torch.Generator().manual_seed(0))
    for h in hooks:
        h.remove()
    return resnets[0] / 2, outs[0] / 2


@pytest.mark.parametrize("dist,heads", [("logistic_mixture", 3), ("categorical", 9)])
def test_network_evaluations_per_frame_are_constant(dist, heads):
    """3 upscaler ResNet calls per frame at every size; 3 heads with a joint mixture, 3·C with an RGB softmax."""
    counts = [_evaluations_per_frame(small(size=s, distribution=dist), s) for s in (16, 32, 64)]
    assert counts == [(3, heads)] * 3


def test_the_naive_loop_refuses_a_low_res_frame_it_would_ignore():
    m = small(size=4)
    cond = {**_cond(m, 1), "low": torch.full((1, 3, 2, 2), 7)}
    with pytest.raises(pixelar.PixelarError, match="group 1"):
        m.sample(1, cond=cond, method="naive")
    x = torch.zeros(1, 3, 4, 4, dtype=torch.long)
    x[..., ::2, ::2] = 7
    known = torch.zeros_like(x, dtype=torch.bool)
    known[..., ::2, ::2] = True
    out = m.complete(x, known, cond=cond, method="naive", generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[known].long(), x[known])


def test_condition_reads_frame_pairs_of_a_video_data_set_and_refuses_other_data():
    from pixelar.data.base import collate
    from pixelar.data.video import MovingDigits
    m = small(size=8, image_channels=1)
    data = MovingDigits("train", image_size=8, num_frames=2, num_context=1, num_sequences=3)
    batch = collate([data[i] for i in range(3)])
    cond = m.condition(batch)
    assert torch.equal(cond["previous"], batch["context"])
    assert torch.isfinite(m.log_prob(batch["image"], cond)).all()
    with pytest.raises(pixelar.PixelarError, match="num_frames=2"):
        m.condition(collate([data[i] for i in range(2)]) | {"context": None})
    longer = MovingDigits("train", image_size=8, num_frames=4, num_context=2, num_sequences=2)
    with pytest.raises(pixelar.PixelarError, match="num_context=1"):
        m.condition(collate([longer[i] for i in range(2)]))
