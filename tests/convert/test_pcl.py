"""pixelar.convert.pcl: pclucas14/pixel-cnn-pp checkpoints give the port's own numbers in pixelar.

The port's model gets random weights with non-trivial weight-norm gains (per output channel, and
per INPUT channel in its transposed convolutions) and biases, is saved as the port saves it
(``torch.save(model.state_dict())``), converted, and compared with the port's own loss.
"""
from __future__ import annotations

import argparse
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import pixelar
from pixelar.convert import cli as convert_cli
from pixelar.convert import convert_pcl, convert_pcl_file, output_permutation
from pixelar.errors import CheckpointError

# real CIFAR-10 test images where ../shared/data has them (not needed: random images otherwise)
CIFAR = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10_test_prefix.npz"

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"),   # the port's torch.nn.utils.weight_norm
              pytest.mark.usefixtures("one_thread")]


def port_model(pcl, R: int, F: int, M: int, channels: int = 3, seed: int = 0, log_scale_shift: float = -2.0):
    """The port's PixelCNN with random weights; output logits, means, log-scales spread so that
    edge bins, sharp and broad logistics, and the port's < 1e-5 fallback branch all occur."""
    torch.manual_seed(seed)
    m = pcl.PixelCNN(nr_resnet=R, nr_filters=F, nr_logistic_mix=M, input_channels=channels).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("weight_g"):
                p.mul_(torch.empty_like(p).uniform_(0.5, 1.5))
            elif name.endswith("bias"):
                p.normal_(0.0, 0.1)
        head = m.nin_out.lin_a
        head.weight_g.mul_(10.0)
        head.bias.normal_(0.0, 1.0)
        perm = output_permutation(channels, M)           # log-scale rows in the port's layout
        head.bias[perm[M + channels * M:M + 2 * channels * M]] += log_scale_shift
    return m


def port_forward(m, x8: torch.Tensor) -> torch.Tensor:
    """The port's network output for uint8 images, scaled as its main.py does ((x/255 - .5) * 2)."""
    m.init_padding = None        # the port caches its padding at the first batch size
    with torch.no_grad():
        return m((x8.float() / 255.0 - 0.5) * 2)


def port_log_likelihood(pcl, x8: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Per-image log-likelihood in nats, (N,), from the port's own (summed, negated) loss."""
    loss = pcl.loss if x8.shape[1] == 3 else pcl.loss_1d
    x = (x8.to(out.dtype) / 255.0 - 0.5) * 2
    return torch.stack([-loss(x[i:i + 1], out[i:i + 1]) for i in range(len(x8))])


def images(n: int, size: int = 32, channels: int = 3) -> torch.Tensor:
    """Real CIFAR-10 test images (uint8, (n, 3, 32, 32)) when ../shared/data has them, else random."""
    if CIFAR.exists() and size == 32 and channels == 3:
        return torch.from_numpy(np.load(CIFAR)["images"][:n]).permute(0, 3, 1, 2).contiguous()
    return torch.randint(0, 256, (n, channels, size, size), generator=torch.Generator().manual_seed(1),
                         dtype=torch.uint8)


def saved(m, tmp_path) -> str:
    path = tmp_path / "pcl.pth"
    torch.save(m.state_dict(), path)
    return str(path)


@pytest.mark.parametrize("R,F,M,n", [(5, 160, 10, 2), (2, 64, 5, 6)], ids=["5x160x10", "2x64x5"])
def test_log_likelihood_equals_the_ports_loss(pcl, tmp_path, R, F, M, n):
    m = port_model(pcl, R, F, M)
    model = convert_pcl(saved(m, tmp_path))
    assert (model.config.num_resnet, model.config.num_filters, model.config.num_mixtures) == (R, F, M)
    assert not model.needs_data_dependent_init
    x8 = images(n)
    out = port_forward(m, x8)
    with torch.no_grad():
        params = model(x8)
        ours = model.log_prob(x8)
        exact = model.distribution.log_prob(params.double(), x8.long())       # float64 reference
    # the network output is the port's, rows permuted into pixelar's layout
    torch.testing.assert_close(params, out[:, output_permutation(3, M)], rtol=0, atol=2e-5)
    theirs = port_log_likelihood(pcl, x8, out)
    theirs64 = port_log_likelihood(pcl, x8, out.double())     # the port's formulas in float64
    rel = ((ours - theirs).abs() / theirs.abs()).max().item()
    branch = (exact - theirs64).abs().max().item()
    residual = ((ours.double() - theirs.double()) - (exact - theirs64)).abs().max().item()
    print(f"{R}x{F}x{M}: network outputs within {(params - out[:, output_permutation(3, M)]).abs().max():.1e}; "
          f"max |pixelar - port| = {(ours - theirs).abs().max():.4f} nats/image, rel {rel:.2e}; "
          f"|pixelar - exact64| = {(ours.double() - exact).abs().max():.2e}; |exact64 - port64| = {branch:.4f}; "
          f"residual {residual:.2e}")
    assert rel < 1e-4
    # All but float32 rounding of that difference is the port's formula itself (its pdf-at-bin-centre
    # fallback below cdf_delta 1e-5, evaluated here in float64), not the conversion.
    assert residual < 1e-5 * theirs.abs().min().item()
    # What difference there is comes from the port's numerics, not from the mapping: pixelar in
    # float32 stays within 1e-6 (relative) of the exact float64 value of the same parameters.
    assert ((ours.double() - exact).abs() / exact.abs()).max() < 1e-6


def test_where_the_ports_numerics_differ(pcl):
    """One pixel, one component. R's mean is 20 scales away from its bin at log-scale -7: cdf_delta
    < 1e-5, so the port takes log pdf(bin centre) + log(2/255), short of the exact mass by
    log(sinh(t/2) / (t/2)) nats with t = (2/255)/s (2.148 nats here); G and B sit on their bins and
    both agree. pixelar computes log(σ(a) - σ(b)) exactly (it equals float64)."""
    x8 = torch.tensor([128, 128, 128], dtype=torch.uint8).view(1, 3, 1, 1)
    v = 2 * 128 / 255 - 1
    s = math.exp(-7.0)
    # pixelar layout, M = 1: logit, 3 means, 3 log-scales, 3 coefficient logits
    ours_params = torch.tensor([0.0, v + 20 * s, v, v, -7.0, -3.0, -3.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    port_params = torch.empty(10, dtype=torch.float64)
    port_params[output_permutation(3, 1)] = ours_params
    dist = pixelar.build("pixelcnn_pp", "small", num_mixtures=1).distribution
    ours = dist.log_prob_elementwise(ours_params.view(1, 10, 1, 1).float(), x8.long())[0, :, 0, 0].double()
    exact = dist.log_prob_elementwise(ours_params.view(1, 10, 1, 1), x8.long())[0, :, 0, 0]
    # float64 ground truth of R's bin mass: σ(a) - σ(b) far in the lower tail, no cancellation
    a, b = (v + 1 / 255 - (v + 20 * s)) / s, (v - 1 / 255 - (v + 20 * s)) / s
    truth_r = math.log(1 / (1 + math.exp(-a)) - 1 / (1 + math.exp(-b)))
    assert abs(exact[0].item() - truth_r) < 1e-9 and abs(ours[0].item() - truth_r) < 1e-4
    port = -pcl.loss(((x8.double() / 255 - 0.5) * 2), port_params.view(1, 10, 1, 1)).item()
    t = (2 / 255) / s
    gap = math.log(math.sinh(t / 2) / (t / 2))
    assert gap == pytest.approx(2.1485, abs=1e-3)
    assert port == pytest.approx(exact.sum().item() - gap, abs=1e-3)


def test_grayscale_port_converts(pcl, tmp_path):
    m = port_model(pcl, 1, 16, 3, channels=1)
    model = convert_pcl(saved(m, tmp_path))
    assert model.config.image_channels == 1
    x8 = images(3, channels=1)
    theirs = port_log_likelihood(pcl, x8, port_forward(m, x8))
    with torch.no_grad():
        torch.testing.assert_close(model.log_prob(x8), theirs, rtol=1e-4, atol=0)


def test_saved_checkpoint_loads_and_cached_equals_naive(pcl, tmp_path):
    """A tiny architecture at 8x8 (the weights do not depend on the image size)."""
    m = port_model(pcl, 1, 8, 2)
    model = convert_pcl_file(saved(m, tmp_path), tmp_path / "run", image_size=8)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "model.safetensors"]
    loaded = pixelar.load(tmp_path / "run")
    assert loaded.config == model.config and not loaded.needs_data_dependent_init
    x8 = images(4, size=8)
    with torch.no_grad():
        lp = loaded.log_prob(x8)
        assert torch.equal(lp, model.log_prob(x8))
        torch.testing.assert_close(lp, port_log_likelihood(pcl, x8, port_forward(m, x8)), rtol=1e-4, atol=0)
    cached = loaded.sample(3, generator=torch.Generator().manual_seed(3), method="cached")
    naive = loaded.sample(3, generator=torch.Generator().manual_seed(3), method="naive")
    assert torch.equal(cached, naive)


class _Payload:
    """Unpickling this calls open(marker, "w"): a stand-in for any code a hostile file could run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_hostile_pickle_is_refused_without_running(tmp_path, fmt):
    marker = tmp_path / "pwned"
    payload = {"u_init.conv.weight_v": torch.zeros(1), "x": _Payload(str(marker))}
    path = tmp_path / "evil.pth"
    torch.save(payload, path, _use_new_zipfile_serialization=(fmt == "zip"))  # legacy: torch < 1.6's format
    pickle.loads(pickle.dumps(_Payload(str(tmp_path / "live"))))   # the payload is live: it creates a file
    assert (tmp_path / "live").exists()
    with pytest.raises(CheckpointError, match="weights_only=True") as e:
        convert_pcl(path)
    assert "\n" not in str(e.value)
    assert not marker.exists()


def test_key_errors_name_the_keys(pcl, tmp_path):
    state = port_model(pcl, 1, 8, 2).state_dict()
    missing = dict(state)
    del missing["down_layers.1.ul_stream.1.nin_skip.lin_a.weight_g"]
    with pytest.raises(CheckpointError, match=r"1 missing key\(s\): down_layers\.1\.ul_stream\.1\.nin_skip"):
        convert_pcl(missing)
    unknown = {**state, "ema.shadow": torch.zeros(1), "up_layers.0.u_stream.0.extra": torch.zeros(1)}
    with pytest.raises(CheckpointError, match=r"2 unknown key\(s\): ema\.shadow, up_layers\.0\.u_stream\.0\.extra"):
        convert_pcl(unknown)
    with pytest.raises(CheckpointError, match="nr_filters=8 but 160 was asked for"):
        convert_pcl(state, nr_filters=160)
    with pytest.raises(CheckpointError, match="nr_resnet=1 but 5"):
        convert_pcl(state, nr_resnet=5)
    with pytest.raises(CheckpointError, match=r"holds a dict \(epoch\) with no state_dict of tensors"):
        convert_pcl({"epoch": 3})
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="holds a list, not a state_dict"):
        convert_pcl(tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="does not exist"):
        convert_pcl(tmp_path / "nope.pth")
    for err in (missing, unknown):
        try:
            convert_pcl(err)
        except CheckpointError as e:
            assert "\n" not in str(e)


def test_wrapped_prefixed_and_parametrized_state_dicts(pcl):
    m = port_model(pcl, 1, 8, 2)
    state = m.state_dict()
    x8 = images(2, size=8)
    ref = convert_pcl(state, image_size=8, nr_resnet=1, nr_filters=8, nr_logistic_mix=2)
    variants = [{"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 7},
                {k.replace("weight_g", "parametrizations.weight.original0")
                  .replace("weight_v", "parametrizations.weight.original1"): v for k, v in state.items()}]
    with torch.no_grad():
        for s in variants:
            assert torch.equal(convert_pcl(s, image_size=8).log_prob(x8), ref.log_prob(x8))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixelar")
    convert_cli.register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_run(pcl, tmp_path, capsys):
    pth = saved(port_model(pcl, 1, 8, 2), tmp_path)
    out = tmp_path / "out"
    args = _parser().parse_args(["convert", "--from", "pcl", pth, "--out", str(out), "--nr-resnet", "1",
                                 "--image-size", "8"])
    assert args.func(args) == 0
    assert "pixelcnn_pp 1x8x2" in capsys.readouterr().out
    assert pixelar.load(out).config.image_size == 8
    with pytest.raises(CheckpointError, match="not empty; choose another --out or pass --force"):
        args.func(args)
    forced = _parser().parse_args(["convert", "--from", "pcl", pth, "--out", str(out), "--force"])
    assert forced.func(forced) == 0 and pixelar.load(out).config.image_size == 32
    other = tmp_path / "photos"
    other.mkdir()
    (other / "keep.jpg").write_bytes(b"x")
    args = _parser().parse_args(["convert", "--from", "pcl", pth, "--out", str(other), "--force"])
    with pytest.raises(CheckpointError, match="not a pixelar checkpoint"):
        args.func(args)
    assert (other / "keep.jpg").exists()
    with pytest.raises(SystemExit):
        _parser().parse_args(["convert", "--from", "tf", pth, "--out", str(out)])
