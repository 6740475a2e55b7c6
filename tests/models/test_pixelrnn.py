"""PixelRNN: receptive fields of the Row LSTM and Diagonal BiLSTM, the bidirectional shift,
and the exact Multi-Scale factorization. (test_common runs every preset through the oracles.)"""
from __future__ import annotations

import itertools

import pytest
import torch

import pixelar
from pixelar.evaluation.causality import dependency_grads, find_leaks
from pixelar.nn import recurrent
from pixelar.nn.recurrent import skew, unskew

TINY = {"hidden": 6, "num_layers": 2, "output_features": 12}


def build(name: str, **over) -> pixelar.models.base.AutoregressiveModel:
    torch.manual_seed(0)
    return pixelar.build(name, "mnist", **{**TINY, **over})


def rgb(**over) -> dict:
    return {"image_channels": 3, "distribution": "categorical", "num_levels": 256, **over}


def all_images(c: int, s: int, k: int) -> torch.Tensor:
    vals = torch.tensor(list(itertools.product(range(k), repeat=c * s * s)), dtype=torch.uint8)
    return vals.view(-1, c, s, s)


def test_skew_moves_row_i_right_by_i_and_unskew_inverts_it():
    x = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    assert skew(x)[0, 0].tolist() == [[1, 2, 3, 0, 0], [0, 4, 5, 6, 0], [0, 0, 7, 8, 9]]
    y = torch.randn(2, 5, 4, 6)
    assert torch.equal(unskew(skew(y), 6), y)


def row_lstm_field(size: int, first_kernel: int, input_kernel: int, state_kernel: int,
                   layers: int) -> torch.Tensor:
    """(H, W, H, W) bool: pixels each position's output depends on, by the paper's wiring.

    7×7-style mask A: the r rows above within ±r columns and r pixels to the left. Each Row
    LSTM layer: state(i, j) = input(i, j - k//2 .. j) ∪ state(i-1, j - ks//2 .. j + ks//2),
    and the residual stream keeps the union (a triangle above the pixel, widening per row).
    """
    r, a, b = first_kernel // 2, input_kernel // 2, state_kernel // 2
    dep = torch.zeros(size, size, size, size, dtype=torch.bool)
    for i, j in itertools.product(range(size), repeat=2):
        dep[i, j, max(0, i - r):i, max(0, j - r):j + r + 1] = True
        dep[i, j, i, max(0, j - r):j] = True
    for _ in range(layers):
        state = torch.zeros_like(dep)
        for i in range(size):
            for j in range(size):
                state[i, j] = dep[i, max(0, j - a):j + 1].any(0)
                if i > 0:
                    state[i, j] |= state[i - 1, max(0, j - b):j + b + 1].any(0)
        dep = dep | state
    return dep


def test_row_lstm_receptive_field_is_the_triangle_above_the_pixel():
    size = 12
    model = build("row_lstm", image_size=size, first_kernel=3, num_layers=2)
    want = row_lstm_field(size, 3, 3, 3, 2)
    positions = [(0, i, j) for i, j in [(11, 0), (11, 6), (6, 0), (5, 11), (11, 11), (3, 4)]]
    for (_c, i, j), grad in dependency_grads(model, positions):
        seen = grad[0] != 0
        assert torch.equal(seen, want[i, j]), f"({i}, {j}): sees {seen.nonzero().tolist()}, " \
                                              f"expected {want[i, j].nonzero().tolist()}"
    # the triangle: from (6, 0), six rows up, row 0 is seen only up to column 6
    assert want[6, 0, 0, :7].all() and not want[6, 0, 0, 7:].any()
    assert not torch.equal(want[6, 0], model.allowed_inputs(0, 6, 0)[0])


@pytest.mark.parametrize("channels", [1, 3])
def test_diagonal_bilstm_sees_every_earlier_pixel(channels):
    """With right_reads_image (the option that closes Table 1's one-pixel gap), one layer already
    covers the whole causal context (and no more), sub-pixels included."""
    size = 12
    # RGB: 16 output units per group, so that at a random init some ReLU of the B group is active
    # at every position (with 4, all four are off at about 1 position in 16: an exact zero there)
    over = rgb(output_features=48) if channels == 3 else {}
    model = build("diagonal_bilstm", image_size=size, num_layers=1, right_reads_image=True, **over)
    if channels == 1:
        positions = [(0, i, j) for i in range(size) for j in range(size)]
    else:
        positions = [(c, i, j) for i, j in [(11, 11), (11, 0), (0, 11), (6, 5)] for c in range(3)]
    for (c, i, j), grad in dependency_grads(model, positions):
        assert torch.equal(grad != 0, model.allowed_inputs(c, i, j)), (c, i, j)


@pytest.mark.parametrize("name", ["row_lstm", "diagonal_bilstm", "multiscale_pixelrnn"])
def test_rgb_subpixel_causality_at_reduced_width(name):
    """The cifar10/imagenet presets' wiring (softmax, R/G/B groups) at a width the default suite
    can afford; test_common checks those presets at full width under `make test-slow`."""
    torch.manual_seed(0)
    preset, extra = ("imagenet64", {"upsample_features": 4}) if name == "multiscale_pixelrnn" else ("cifar10", {})
    model = pixelar.build(name, preset, image_size=6, hidden=6, num_layers=2, output_features=12, **extra)
    assert find_leaks(model) == []


def test_literal_table1_wiring_misses_the_end_of_the_previous_row():
    """Table 1's wiring (the default): mask-A features never carry pixel (i-1, W-1) to (i, 0), and
    that is the only earlier pixel (i, 0) misses."""
    model = build("diagonal_bilstm", image_size=12, num_layers=3)
    assert not model.config.right_reads_image
    ((_, grad),) = list(dependency_grads(model, [(0, 11, 0)]))
    unseen = ((grad[0] == 0) & model.allowed_inputs(0, 11, 0)[0]).nonzero().tolist()
    assert unseen == [[10, 11]]


def test_missing_bidirectional_shift_is_caught_by_the_causality_oracle(monkeypatch):
    """The classic bug: adding the right-to-left map without shifting it down one row."""
    model = build("diagonal_bilstm", image_size=6, num_layers=1)
    assert find_leaks(model) == []
    monkeypatch.setattr(recurrent, "shift_down", lambda x, rows=1: x)
    leaks = find_leaks(model)
    assert leaks and leaks[0].input[1] == leaks[0].output[1]   # a pixel to the right on the same row


@pytest.mark.parametrize("name,over,c,s,k", [
    ("row_lstm", rgb(num_levels=4), 3, 1, 4),              # R -> G -> B inside a pixel
    ("diagonal_bilstm", {"num_levels": 2}, 1, 3, 2),       # 2^9 binary images
    ("diagonal_bilstm", rgb(num_levels=2, residual=False, skip=False), 3, 2, 2),
])
def test_pixelrnn_sums_to_one_over_all_images(name, over, c, s, k):
    model = build(name, image_size=s, **over).eval()
    with torch.no_grad():
        total = torch.logsumexp(model.log_prob(all_images(c, s, k)).double(), 0).exp()
    assert abs(float(total) - 1.0) < 1e-5


def test_multiscale_log_likelihood_sums_to_one_over_all_rgb_images():
    """log p(x) = log p(x_s) + log p(rest | x_s), summed over all 2^12 RGB 2x2 images (1x1 grid)."""
    model = build("multiscale_pixelrnn", image_size=2, hidden=4, num_layers=1, output_features=8,
                  upsample_features=4, lstm="diagonal_bilstm", **rgb(num_levels=2)).eval()
    with torch.no_grad():
        total = torch.logsumexp(model.log_prob(all_images(3, 2, 2)).double(), 0).exp()
    assert abs(float(total) - 1.0) < 1e-5


def test_multiscale_factors_are_each_normalized_on_a_2x2_grid():
    """4x4 binary, factor 2: p(x_s) sums to one over the 16 grid images, and p(rest | x_s) over
    the 2^12 other pixels for two grid images (equivalent to the 2^16-image sum, 8x cheaper)."""
    model = build("multiscale_pixelrnn", image_size=4, hidden=4, num_layers=1, output_features=8,
                  upsample_features=4, lstm="row_lstm").eval()
    grid = ~model.new_1                                                # the 2x2 grid of x_s
    grids = all_images(1, 2, 2)                                        # (16, 1, 2, 2)
    x = torch.zeros(16, 1, 4, 4, dtype=torch.uint8)
    x[:, :, ::2, ::2] = grids
    with torch.no_grad():
        on = model.log_prob_elementwise(x)[:, 0][:, grid].sum(1).double()
        assert abs(float(torch.logsumexp(on, 0).exp()) - 1.0) < 1e-5
        rest = all_images(1, 1, 2).new_tensor(list(itertools.product(range(2), repeat=12)))   # (4096, 12)
        for g in (grids[5], grids[10]):
            y = torch.zeros(4096, 1, 4, 4, dtype=torch.uint8)
            y[:, 0, ~grid] = rest
            y[:, :, ::2, ::2] = g
            off = model.log_prob_elementwise(y)[:, 0][:, ~grid].sum(1).double()
            assert abs(float(torch.logsumexp(off, 0).exp()) - 1.0) < 1e-5


def test_multiscale_grid_pixels_come_first_and_are_scored_by_the_small_network():
    model = build("multiscale_pixelrnn", image_size=8, subsample_factor=4).eval()
    order = model.positions()
    assert order[:4] == [(0, 0), (0, 4), (4, 0), (4, 4)] and sorted(order) == sorted(
        (i, j) for i in range(8) for j in range(8))
    x = torch.randint(0, 2, (3, 1, 8, 8), dtype=torch.uint8)
    per = model.log_prob_elementwise(x)[:, 0, ::4, ::4]          # (3, 2, 2): the grid pixels
    small = model.distribution.log_prob_elementwise(model.small(model.scale_input(x[:, :, ::4, ::4])),
                                                    x[:, :, ::4, ::4].long())[:, 0]
    assert torch.allclose(per, small)
    # changing an off-grid pixel never changes the grid pixels' terms
    y = x.clone()
    y[:, 0, 1, 1] ^= 1
    assert torch.equal(model.log_prob_elementwise(y)[:, 0, ::4, ::4], per)


def test_multiscale_sampling_follows_its_order_and_completion_keeps_known_pixels():
    model = build("multiscale_pixelrnn", image_size=4, num_layers=1, **rgb(num_levels=4))
    a = model.sample(2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, model.sample(2, generator=torch.Generator().manual_seed(1)))
    known = torch.zeros_like(a, dtype=torch.bool)
    known[:, :, ::2, ::2] = True                                   # super-resolution from the grid
    out = model.complete(a, known, generator=torch.Generator().manual_seed(2))
    assert torch.equal(out[known], a[known])


def test_three_scales_chain_two_conditional_networks_exactly():
    """§3.6 "one or more conditional PixelRNNs": 8x8 -> 4x4 -> 2x2, the coarsest grid first, each
    level's new pixels scored by its own network; normalized over all 2^16 binary 4x4 images."""
    model = build("multiscale_pixelrnn", image_size=8, num_scales=3, hidden=4, num_layers=1,
                  output_features=8, upsample_features=4).eval()
    order = model.positions()
    assert order[:4] == [(0, 0), (0, 4), (4, 0), (4, 4)]
    assert set(order[4:16]) == {(i, j) for i in range(0, 8, 2) for j in range(0, 8, 2)} - set(order[:4])
    assert sorted(order) == sorted((i, j) for i in range(8) for j in range(8))
    assert len(model.middle) == 1
    x = torch.randint(0, 2, (3, 1, 8, 8), dtype=torch.uint8)
    with torch.no_grad():
        per = model.log_prob_elementwise(x)[:, 0]
        y = x.clone()
        y[:, 0, 1, 1] ^= 1                                             # a finest-level pixel
        assert torch.equal(model.log_prob_elementwise(y)[:, 0, ::2, ::2], per[:, ::2, ::2])
    small = build("multiscale_pixelrnn", image_size=4, num_scales=3, hidden=4, num_layers=1,
                  output_features=8, upsample_features=4, lstm="diagonal_bilstm").eval()
    with torch.no_grad():
        total = torch.logsumexp(small.log_prob(all_images(1, 4, 2)).double(), 0).exp()
    assert abs(float(total) - 1.0) < 1e-5


def test_bad_configs_say_what_to_fix():
    with pytest.raises(pixelar.ConfigError, match="num_scales"):
        pixelar.build("multiscale_pixelrnn", "mnist", num_scales=1)
    with pytest.raises(pixelar.ConfigError, match="must divide image_size"):
        pixelar.build("multiscale_pixelrnn", "mnist", num_scales=4)        # 28 is not a multiple of 8
    with pytest.raises(pixelar.ConfigError, match="subsample_factor"):
        pixelar.build("multiscale_pixelrnn", "mnist", subsample_factor=3)
    with pytest.raises(pixelar.ConfigError, match="must be odd"):
        pixelar.build("row_lstm", "mnist", state_kernel=2)
    with pytest.raises(pixelar.ConfigError, match="image_channels"):
        pixelar.build("diagonal_bilstm", "cifar10", hidden=2)


@pytest.mark.parametrize("over", [{}, rgb(num_levels=16), {"num_classes": 3, "residual": False, "skip": False}])
def test_row_lstm_cached_sampling_equals_naive(over):
    model = build("row_lstm", image_size=8, **over)
    cond = torch.tensor([0, 2]) if model.config.num_classes else None
    naive = model.sample(2, cond=cond, generator=torch.Generator().manual_seed(5), method="naive")
    cached = model.sample(2, cond=cond, generator=torch.Generator().manual_seed(5), method="cached")
    assert torch.equal(naive, cached)
    if model.config.image_channels == 3:
        return                                   # completion: the one-channel cases cover it
    known = torch.rand(naive.shape, generator=torch.Generator().manual_seed(1)) < 0.3
    a = model.complete(naive, known, cond=cond, generator=torch.Generator().manual_seed(6), method="naive")
    b = model.complete(naive, known, cond=cond, generator=torch.Generator().manual_seed(6), method="cached")
    assert torch.equal(a, b) and torch.equal(b[known], naive[known])


def test_paper_presets_use_rmsprop_and_the_papers_batch_sizes():
    """§5: "RMSProp ... is used for all experiments"; "batch sizes of 16 images" for MNIST and CIFAR-10,
    "64 images/batch for 32 × 32 ImageNet, and 32 images/batch for 64 × 64 ImageNet"."""
    want = {"mnist": 16, "mnist_1layer": 16, "mnist_3scale": 16, "cifar10": 16, "imagenet32": 64, "imagenet64": 32}
    for name in ("row_lstm", "diagonal_bilstm", "multiscale_pixelrnn", "pixelcnn"):
        for preset in pixelar.registry.entry(name).presets:
            if preset in want:
                p = pixelar.registry.get_preset(name, preset)
                assert (p.train.optimizer, p.train.batch_size) == ("rmsprop", want[preset]), (name, preset)
