"""Convert pclucas14/pixel-cnn-pp (the common PyTorch PixelCNN++ port) checkpoints into pixelar.

The port saves ``torch.save(model.state_dict(), path)``: every layer is
``torch.nn.utils.weight_norm`` of a Conv2d, ConvTranspose2d or Linear, so each holds
``weight_g``, ``weight_v`` and ``bias`` (``parametrizations.weight.original0/1`` with the
newer weight-norm API; a plain ``weight`` after ``remove_weight_norm``). Layer map
(port → pixelar ``pixelcnn_pp``; R = nr_resnet, i = block, j = layer):

=====================================================  ==========================================
``u_init.conv``                                        ``u_init.conv``
``ul_init.0.conv`` / ``ul_init.1.conv``                ``ul_init_up.conv`` / ``ul_init_left.conv``
``up_layers.i.u_stream.j`` / ``.ul_stream.j``          ``up_u.i.j`` / ``up_ul.i.j``
``downsize_u_stream.i`` / ``downsize_ul_stream.i``     ``down_u.i`` / ``down_ul.i``
``down_layers.i.u_stream.j`` / ``.ul_stream.j``        ``dn_u.i.j`` / ``dn_ul.i.j``
``upsize_u_stream.i.deconv`` / ``upsize_ul_stream``    ``up_sample_u.i.conv`` / ``up_sample_ul.i.conv``
``nin_out.lin_a`` (rows permuted, see below)           ``out``
=====================================================  ==========================================

inside a gated ResNet: ``conv_input.conv`` → ``conv_in.conv``, ``conv_out.conv`` →
``conv_out.conv``, ``nin_skip.lin_a`` → ``skip``; ``weight_v``/``weight_g``/``bias`` →
``v``/``g``/``b``. The forward passes are the same function (same shifts, crops, concat_elu,
gate a·σ(b), [-1, 1] input scaling 2k/255 - 1 with a channel of ones), so the converted model
computes the port's network output, up to float rounding, once its output rows are permuted.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..models.pixelcnn_pp import PixelCNNPlusPlus, PixelCNNPlusPlusConfig

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
_PREFIXES = ("module.", "_orig_mod.")          # DataParallel / DistributedDataParallel, torch.compile
_SHOW = 4                                      # how many offending keys an error message names


def read_pcl_state_dict(path_or_state_dict: str | os.PathLike | Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The port's state_dict as float32 CPU tensors, from a ``.pth`` file or an in-memory dict.

    A file is read with ``torch.load(weights_only=True)``: only tensors and plain containers are
    unpickled, so a pickle that would run code is refused (CheckpointError) before anything runs.
    A dict wrapping the state_dict (under ``state_dict``, ``model_state_dict`` or ``model``) and a
    ``module.`` prefix (DataParallel) are accepted.
    """
    if isinstance(path_or_state_dict, Mapping):
        obj: Any = path_or_state_dict
        where = "the state_dict"
    else:
        path = Path(path_or_state_dict)
        where = str(path)
        if not path.is_file():
            raise CheckpointError(f"{path} does not exist or is not a file; pass the port's .pth checkpoint")
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # UnpicklingError for code-running pickles; several for corrupt files
            raise CheckpointError(f"{path} is not a plain tensor checkpoint that torch.load(weights_only=True) "
                                  f"accepts ({type(e).__name__}); it was not loaded, so nothing in it ran; "
                                  "if you trust its source, load it with the port and re-save model.state_dict()") from None
    state = _unwrap(obj, where)
    for prefix in _PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    # the newer parametrization API names weight norm's g and v original0 and original1
    return {re.sub(r"parametrizations\.weight\.original([01])$",
                   lambda m: "weight_g" if m.group(1) == "0" else "weight_v", k): v.detach().to("cpu", torch.float32)
            for k, v in state.items()}


def _unwrap(obj: Any, where: str) -> dict[str, torch.Tensor]:
    """The tensor dict inside ``obj``: obj itself, or obj[key] for one of the usual wrapper keys."""
    def is_state(d: Any) -> bool:
        return isinstance(d, Mapping) and len(d) > 0 and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in d.items())

    if is_state(obj):
        return dict(obj)
    if isinstance(obj, Mapping):
        for key in _WRAPPER_KEYS:
            if is_state(obj.get(key)):
                return dict(obj[key])
        keys = ", ".join(map(str, list(obj)[:_SHOW]))
        raise CheckpointError(f"{where} holds a dict ({keys}) with no state_dict of tensors in it (looked at "
                              f"{', '.join(_WRAPPER_KEYS)}); pass the port's model.state_dict()")
    raise CheckpointError(f"{where} holds a {type(obj).__name__}, not a state_dict; "
                          "pass the port's model.state_dict()")


# ---- architecture ------------------------------------------------------------------------
def _layers(R: int) -> list[tuple[str, str, str]]:
    """(port prefix, kind, pixelar prefix) for every weight-normalized layer; kind is
    "conv", "deconv" or "linear" (the port's torch module)."""
    out = [("u_init.conv", "conv", "u_init.conv"), ("ul_init.0.conv", "conv", "ul_init_up.conv"),
           ("ul_init.1.conv", "conv", "ul_init_left.conv")]

    def resnet(port: str, ours: str, skip: bool) -> None:
        out.append((f"{port}.conv_input.conv", "conv", f"{ours}.conv_in.conv"))
        if skip:
            out.append((f"{port}.nin_skip.lin_a", "linear", f"{ours}.skip"))
        out.append((f"{port}.conv_out.conv", "conv", f"{ours}.conv_out.conv"))

    for i in range(3):
        for j in range(R):
            resnet(f"up_layers.{i}.u_stream.{j}", f"up_u.{i}.{j}", skip=False)
            resnet(f"up_layers.{i}.ul_stream.{j}", f"up_ul.{i}.{j}", skip=True)
        for j in range(R if i == 0 else R + 1):           # down blocks have R, R+1, R+1 layers
            resnet(f"down_layers.{i}.u_stream.{j}", f"dn_u.{i}.{j}", skip=True)
            resnet(f"down_layers.{i}.ul_stream.{j}", f"dn_ul.{i}.{j}", skip=True)
    for i in range(2):
        out += [(f"downsize_u_stream.{i}.conv", "conv", f"down_u.{i}.conv"),
                (f"downsize_ul_stream.{i}.conv", "conv", f"down_ul.{i}.conv"),
                (f"upsize_u_stream.{i}.deconv", "deconv", f"up_sample_u.{i}.conv"),
                (f"upsize_ul_stream.{i}.deconv", "deconv", f"up_sample_ul.{i}.conv")]
    out.append(("nin_out.lin_a", "linear", "out"))
    return out


def _weight_of(state: dict[str, torch.Tensor], prefix: str) -> torch.Tensor | None:
    for name in ("weight_v", "weight"):
        if f"{prefix}.{name}" in state:
            return state[f"{prefix}.{name}"]
    return None


def _infer(state: dict[str, torch.Tensor], nr_resnet: int | None, nr_filters: int | None,
           nr_logistic_mix: int | None) -> tuple[int, int, int, int]:
    """(image channels, nr_resnet, nr_filters, nr_logistic_mix) from the tensor shapes.

    A flag that is given must agree with the shapes; where a shape is missing the flag is used
    (and the key check then names what is missing).
    """
    first, head = _weight_of(state, "u_init.conv"), _weight_of(state, "nin_out.lin_a")
    channels = None if first is None else first.shape[1] - 1       # the port adds a channel of ones
    filters = None if first is None else first.shape[0]
    layers = {int(m.group(1)) for k in state if (m := re.match(r"up_layers\.0\.u_stream\.(\d+)\.", k))}
    resnet = max(layers) + 1 if layers else None
    mix = None
    if channels not in (None, 1, 3):
        raise CheckpointError(f"u_init.conv reads {channels + 1} channels: the port models 1- or 3-channel "
                              "images (+ a channel of ones); this is not a pixel-cnn-pp checkpoint")
    if head is not None and channels is not None:
        per_mix = 10 if channels == 3 else 3    # the port's num_mix: logit + C means + C scales + 3 coeffs
        if head.shape[0] % per_mix:
            raise CheckpointError(f"nin_out.lin_a has {head.shape[0]} outputs, not a multiple of {per_mix}; "
                                  "this is not a pixel-cnn-pp checkpoint")
        mix = head.shape[0] // per_mix
    found = {"nr_resnet": resnet, "nr_filters": filters, "nr_logistic_mix": mix}
    given = {"nr_resnet": nr_resnet, "nr_filters": nr_filters, "nr_logistic_mix": nr_logistic_mix}
    for name, value in given.items():
        if value is not None and found[name] is not None and value != found[name]:
            raise CheckpointError(f"the checkpoint's shapes give {name}={found[name]} but {value} was asked for; "
                                  f"drop the flag or pass the matching checkpoint")
        if found[name] is None:
            found[name] = value
    needs = {"nr_resnet": "up_layers.0.u_stream.*", "nr_filters": "u_init.conv.weight_v",
             "nr_logistic_mix": "nin_out.lin_a.weight_v"}
    unknown = [f"{name} (no {needs[name]})" for name, value in found.items() if value is None]
    if channels is None:
        unknown.insert(0, "the image channels (no u_init.conv.weight_v)")
    if unknown:
        raise CheckpointError(f"cannot infer {', '.join(unknown)}: not a complete pixel-cnn-pp state_dict")
    return channels, found["nr_resnet"], found["nr_filters"], found["nr_logistic_mix"]


def _check_keys(state: dict[str, torch.Tensor], layers: list[tuple[str, str, str]]) -> None:
    expected: set[str] = set()
    missing: list[str] = []
    for port, _, _ in layers:
        plain = f"{port}.weight" in state
        names = ("weight", "bias") if plain else ("weight_g", "weight_v", "bias")
        expected.update(f"{port}.{n}" for n in names)
        missing += [f"{port}.{n}" for n in names if f"{port}.{n}" not in state]
    unknown = sorted(set(state) - expected)
    if missing or unknown:
        def show(keys: list[str]) -> str:
            return ", ".join(keys[:_SHOW]) + (f" (+{len(keys) - _SHOW} more)" if len(keys) > _SHOW else "")
        parts = ([f"{len(missing)} missing key(s): {show(missing)}"] if missing else []) + \
                ([f"{len(unknown)} unknown key(s): {show(unknown)}"] if unknown else [])
        raise CheckpointError(f"not a pixel-cnn-pp state_dict of this architecture: {'; '.join(parts)}")


def _v_g(state: dict[str, torch.Tensor], port: str, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """pixelar's (v, g) for one port layer: W = g · v / ||v||, the norm over all but the output axis."""
    def as_conv(t: torch.Tensor) -> torch.Tensor:          # Linear (out, in) -> 1x1 conv (out, in, 1, 1)
        return t[:, :, None, None] if kind == "linear" else t

    if f"{port}.weight" in state:                          # weight norm removed: W itself
        w = as_conv(state[f"{port}.weight"]).double()
    elif kind != "deconv":
        # Conv2d and Linear: torch's weight_norm(dim=0) normalizes each output row, as pixelar does,
        # so v and g are copied as they are (bit for bit).
        return as_conv(state[f"{port}.weight_v"]), state[f"{port}.weight_g"].reshape(-1)
    else:
        # ConvTranspose2d weights are (in, out, kh, kw) and weight_norm(dim=0) normalizes per INPUT
        # channel, while pixelar normalizes per output channel: W is formed in float64 and
        # re-expressed as v = W, g = ||W[:, o]||, which gives the same W up to one float32 rounding.
        v, g = state[f"{port}.weight_v"].double(), state[f"{port}.weight_g"].double()
        w = v * (g.reshape(-1, 1, 1, 1) / v.pow(2).sum(dim=(1, 2, 3), keepdim=True).sqrt())
    out_dim = 1 if kind == "deconv" else 0
    dims = [d for d in range(4) if d != out_dim]
    return w.float(), w.pow(2).sum(dim=dims).sqrt().float()


def output_permutation(channels: int, num_mixtures: int) -> torch.Tensor:
    """Index p such that pixelar's output row r is the port's row p[r], (P,) int64.

    Port, per pixel: M logits, then for each channel c a block of M means, M log-scales and
    M coefficient logits (3-channel images; 1-channel: means and log-scales only). Its coefficient
    slot of channel p is the p-th coupling, (G|R), (B|R), (B|G), which is pixelar's pair order.
    pixelar: M logits, C·M means, C·M log-scales, C(C-1)/2·M coefficients (channel-major).
    """
    M, C = num_mixtures, channels
    block = (3 if C == 3 else 2) * M                       # port rows per channel
    ar = torch.arange(M)
    rows = [ar]
    rows += [M + c * block + ar for c in range(C)]         # means
    rows += [M + c * block + M + ar for c in range(C)]     # log-scales
    rows += [M + p * block + 2 * M + ar for p in range(C * (C - 1) // 2)]   # coupling coefficients
    return torch.cat(rows)


def convert_pcl(path_or_state_dict: str | os.PathLike | Mapping[str, Any], nr_resnet: int | None = None,
                nr_filters: int | None = None, nr_logistic_mix: int | None = None,
                image_size: int = 32) -> PixelCNNPlusPlus:
    """A pixelar PixelCNN++ holding the weights of a pclucas14/pixel-cnn-pp checkpoint.

    path_or_state_dict: the port's ``.pth`` (``torch.save(model.state_dict())``, read with
    ``weights_only=True``) or its state_dict. nr_resnet / nr_filters / nr_logistic_mix are read
    from the tensor shapes; flags given must agree with them. image_size: the side of the
    (square) images the model will score and sample, any multiple of 4 (the port's weights do
    not depend on it; it was trained on 32). The model is in eval mode, takes uint8 images
    (N, C, image_size, image_size) and is marked as initialized (``ddi_done``), so pixelar
    never runs data-dependent init over the converted weights.
    """
    state = read_pcl_state_dict(path_or_state_dict)
    channels, R, F_, M = _infer(state, nr_resnet, nr_filters, nr_logistic_mix)
    layers = _layers(R)
    _check_keys(state, layers)
    # dropout 0.5 is the port's training value (it uses Dropout2d, whole channels; pixelar drops
    # single activations); it does nothing in eval mode, where scores and samples are computed.
    config = PixelCNNPlusPlusConfig(image_channels=channels, image_size=image_size, num_levels=256,
                                    distribution="logistic_mixture", num_mixtures=M, num_filters=F_,
                                    num_resnet=R, dropout=0.5)
    model = PixelCNNPlusPlus(config)
    ours: dict[str, torch.Tensor] = {"ddi_done": torch.tensor(True)}
    for port, kind, prefix in layers:
        ours[f"{prefix}.v"], ours[f"{prefix}.g"] = _v_g(state, port, kind)
        ours[f"{prefix}.b"] = state[f"{port}.bias"]
    perm = output_permutation(channels, M)
    for name in ("out.v", "out.g", "out.b"):
        ours[name] = ours[name][perm]
    expected = model.state_dict()
    for key, value in ours.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            port = next((p for p, _, q in layers if key.startswith(q + ".")), key)
            raise CheckpointError(f"{port}: shape {tuple(value.shape)} does not fit a {R}x{F_}x{M} PixelCNN++ "
                                  f"(pixelar {key} is {tuple(expected[key].shape)}); the checkpoint is inconsistent")
    model.load_state_dict(ours, strict=True)
    return model.eval()


def import_port(src: str | os.PathLike, scratch: str | os.PathLike) -> types.SimpleNamespace:
    """Import a checkout of the port itself (``model.py``, ``layers.py``, ``utils.py`` in ``src``), for
    side-by-side checks (tests/convert, benchmarks/peer_curves.py); nothing of it ships with pixelar.

    Its published files are Python 2 in one line (``print e`` in utils.load_part_of_model) and put a
    tensor on the GPU inside the loss, so they are copied to ``scratch`` with exactly these two edits
    (as ../shared/peer_bench does) and imported from there. Returns PixelCNN, loss (RGB), loss_1d
    (gray) and sample_op. The port's generic module names (model, layers, utils) are removed from
    ``sys.modules`` again, so they shadow nothing.
    """
    src, scratch = Path(src), Path(scratch)
    for name in ("model.py", "layers.py", "utils.py"):
        text = (src / name).read_text()
        if name == "utils.py":
            text = re.sub(r"print e\b", "print(e)", text)
            text = text.replace("Variable(torch.zeros(xs + [nr_mix]).cuda(), requires_grad=False)",
                                "torch.zeros(xs + [nr_mix], device=x.device)")
        (scratch / name).write_text(text)
    saved = {k: sys.modules.pop(k) for k in ("model", "layers", "utils") if k in sys.modules}
    sys.path.insert(0, str(scratch))
    try:
        pcl_model = importlib.import_module("model")
        pcl_utils = importlib.import_module("utils")
    finally:
        sys.path.remove(str(scratch))
        for k in ("model", "layers", "utils"):
            sys.modules.pop(k, None)
        sys.modules.update(saved)
    return types.SimpleNamespace(PixelCNN=pcl_model.PixelCNN, loss=pcl_utils.discretized_mix_logistic_loss,
                                 loss_1d=pcl_utils.discretized_mix_logistic_loss_1d,
                                 sample_op=pcl_utils.sample_from_discretized_mix_logistic)


def convert_pcl_file(pth: str | os.PathLike, out_dir: str | os.PathLike, nr_resnet: int | None = None,
                     nr_filters: int | None = None, nr_logistic_mix: int | None = None,
                     image_size: int = 32) -> PixelCNNPlusPlus:
    """Convert the port's ``pth`` and write a pixelar checkpoint (config.json + model.safetensors)
    at ``out_dir``; returns the model. Nothing is written unless the conversion succeeds; an
    existing pixelar checkpoint at ``out_dir`` is replaced, any other non-empty folder refused."""
    model = convert_pcl(pth, nr_resnet, nr_filters, nr_logistic_mix, image_size)
    model.save(str(out_dir))
    return model
