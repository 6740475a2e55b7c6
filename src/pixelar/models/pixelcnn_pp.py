"""PixelCNN++ (Salimans, Karpathy, Chen & Kingma 2017).

Two streams of shifted convolutions instead of masks: ``u`` sees every row
above the current pixel, ``ul`` the rows above and the pixels to the left.
Six blocks of ``num_resnet`` gated ResNet layers (concat_elu, dropout on the
residual path after the first convolution, gate a·σ(b)): blocks 1–3 go up
(stride-2 down-sampling after blocks 1 and 2), blocks 4–6 come down
(transposed-conv up-sampling before blocks 5 and 6), and every down layer
reads the matching up layer's output (the long-range shortcuts between block k
and block 7-k; ``shortcuts=False`` removes them, the §3.4.3 ablation). Output: a discretized logistic mixture conditioned on whole
pixels with linear R→G→B coefficients. Every layer is weight-normalized with
data-dependent initialization. Class conditioning: a one-hot label times a
per-layer matrix, added to the gate pre-activations of every gated ResNet.
Optional spatial conditioning (``spatial_channels`` > 0, used by the auxiliary-variable
models): a feature map h (N, E, H, W) passed as ``network(x, cond, spatial=h)`` is average-
pooled to each resolution and added, through a per-layer 1x1 projection, to the same gate
pre-activations. h must not depend on x, or the network is no longer causal in x.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from ..errors import ConfigError
from ..nn.gated_resnet import GatedResNet
from ..nn.modes import maybe_checkpoint
from ..nn.shifted import (
    DownRightShiftedConv2d,
    DownRightShiftedDeconv2d,
    DownShiftedConv2d,
    DownShiftedDeconv2d,
    FirstShiftedLayer,
    nin,
    pad_with_ones,
)
from ..nn.weightnorm import DataDependentInit
from .base import AutoregressiveModel, ImageModelConfig
from .pixelcnn_pp_cached import PixelCNNPlusPlusState
from .pixelcnn_pp_small import ARChannelHead, SmallStack, window_layers


@dataclasses.dataclass(frozen=True)
class PixelCNNPlusPlusConfig(ImageModelConfig):
    distribution: Literal["logistic_mixture", "categorical_linear",
                          "channel_logistic_mixture"] = "logistic_mixture"
    num_mixtures: int = 10
    num_filters: int = 160
    num_resnet: int = 5          # gated ResNet layers per block (blocks 5 and 6 have one more)
    dropout: float = 0.5
    # "dequantized": train and score the continuous density of x + U[0,1) (§3.4.2 ablation);
    # log_prob is then a random variational bound, reported as such, never an exact likelihood.
    likelihood: Literal["discrete", "dequantized"] = "discrete"
    # Recompute each gated ResNet's activations in backward instead of storing them: less memory
    # for the large presets, about one extra forward pass of compute. Same gradients.
    checkpoint_activations: bool = False
    # Table 2's "Small PixelCNN": receptive_width × receptive_height > 0 replaces the six-block
    # network by a full-resolution stack with exactly that causal window (width columns, height
    # rows above the pixel, plus (width-1)/2 to its left: pixelcnn_pp_small.py); num_nin 1×1 gated
    # ResNets sit between consecutive window-growing blocks ("NIN"; the paper's presets use 3).
    receptive_width: int = 0
    receptive_height: int = 0
    num_nin: int = 0
    # §3.4.3 ablation: False removes the long short-cut connections between the up pass and the
    # down pass (block k -> block 7-k; the dotted lines of Figure 2). The u -> ul connection inside
    # each layer is a stream connection, not a short-cut, and stays.
    shortcuts: bool = True
    #: config.from_dict: checkpoints written before these fields existed hold this model
    FIELDS_ADDED: ClassVar[dict[str, Any]] = {"shortcuts": True}

    def validate(self) -> None:
        super().validate()
        if self.distribution not in ("logistic_mixture", "categorical_linear", "channel_logistic_mixture"):
            raise ConfigError("pixelcnn_pp conditions on whole pixels: distribution must be logistic_mixture, "
                              "categorical_linear (the §3.4.1 softmax ablation) or channel_logistic_mixture "
                              "(Table 2's Autoregressive Channel head)")
        if (self.receptive_width > 0) != (self.receptive_height > 0):
            raise ConfigError("set both receptive_width and receptive_height (the small network) or neither")
        if self.receptive_width:
            window_layers(self.receptive_width, self.receptive_height)   # raises on impossible windows
            if not self.shortcuts:
                raise ConfigError("shortcuts=False is the six-block network's ablation: the Table 2 small "
                                  "network (receptive_width > 0) has no short-cuts to remove")
        elif self.image_size % 4:
            raise ConfigError(f"pixelcnn_pp down-samples twice: image_size must be a multiple of 4, "
                              f"got {self.image_size}")
        if self.num_nin < 0:
            raise ConfigError(f"num_nin must be >= 0, got {self.num_nin}")
        if self.num_resnet < 1 or self.num_filters < 1:
            raise ConfigError("num_resnet and num_filters must be >= 1")
        if self.likelihood == "dequantized" and self.distribution != "logistic_mixture":
            raise ConfigError("likelihood=dequantized needs the continuous logistic mixture")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")


class PixelCNNPlusPlus(DataDependentInit, FirstShiftedLayer, AutoregressiveModel):
    name = "pixelcnn_pp"
    config_class = PixelCNNPlusPlusConfig
    bound_description = "upper bound: dequantized continuous likelihood"

    def __init__(self, config: PixelCNNPlusPlusConfig, spatial_channels: int = 0) -> None:
        super().__init__(config)
        self._register_ddi()
        F_, R, k = config.num_filters, config.num_resnet, config.num_classes
        self.spatial_channels = spatial_channels   # > 0: network() takes spatial=(N, E, H, W)
        c_in = config.image_channels + 1                       # + a channel of ones: marks the padding
        p = config.dropout

        if config.receptive_width:
            self.small = SmallStack(c_in, F_, config.receptive_width, config.receptive_height, config.num_nin,
                                    p, k)
        else:
            self._build_six_blocks(c_in, F_, R, k, p)
        # the head is made last, so the six-block network's weights draw in the reference's order
        if config.distribution == "channel_logistic_mixture":
            self.out = ARChannelHead(F_, config.image_channels, self.distribution.num_params, p)
        else:
            self.out = nin(F_, self.distribution.num_params)

    def _build_six_blocks(self, c_in: int, F_: int, R: int, k: int, p: float) -> None:
        spatial_channels = self.spatial_channels

        def u_layer(skip: int) -> GatedResNet:
            return GatedResNet(F_, DownShiftedConv2d, skip, p, k, spatial_channels)

        def ul_layer(skip: int) -> GatedResNet:
            return GatedResNet(F_, DownRightShiftedConv2d, skip, p, k, spatial_channels)

        self._build_first_layer(c_in, F_)
        # Up pass: 3 blocks of R layers; ul layers read u (F channels).
        self.up_u = nn.ModuleList(nn.ModuleList(u_layer(0) for _ in range(R)) for _ in range(3))
        self.up_ul = nn.ModuleList(nn.ModuleList(ul_layer(F_) for _ in range(R)) for _ in range(3))
        self.down_u = nn.ModuleList(DownShiftedConv2d(F_, F_, (2, 3), stride=2) for _ in range(2))
        self.down_ul = nn.ModuleList(DownRightShiftedConv2d(F_, F_, (2, 2), stride=2) for _ in range(2))
        # Down pass: R, R+1, R+1 layers; u reads the stored u, ul reads [u, stored ul] (2F channels);
        # without short-cuts u reads nothing and ul reads u only.
        sizes, sc = [R, R + 1, R + 1], self.config.shortcuts
        self.dn_u = nn.ModuleList(nn.ModuleList(u_layer(F_ if sc else 0) for _ in range(n)) for n in sizes)
        self.dn_ul = nn.ModuleList(nn.ModuleList(ul_layer(2 * F_ if sc else F_) for _ in range(n)) for n in sizes)
        self.up_sample_u = nn.ModuleList(DownShiftedDeconv2d(F_, F_, (2, 3)) for _ in range(2))
        self.up_sample_ul = nn.ModuleList(DownRightShiftedDeconv2d(F_, F_, (2, 2)) for _ in range(2))

    def _layer(self, layer: GatedResNet, *args: torch.Tensor | None) -> torch.Tensor:
        return maybe_checkpoint(layer, *args, enabled=self.config.checkpoint_activations)

    def network(self, x: torch.Tensor, cond: torch.Tensor | None,
                spatial: torch.Tensor | None = None) -> torch.Tensor:
        _n, _, _h, _w = x.shape
        onehot = (F.one_hot(cond, self.config.num_classes).to(x.dtype) if self.config.num_classes else None)
        if (spatial is not None) != bool(self.spatial_channels):
            raise ValueError(f"this network takes spatial conditioning of {self.spatial_channels} channels: "
                             f"pass spatial=(N, {self.spatial_channels}, H, W)" if self.spatial_channels
                             else "this network has no spatial conditioning (spatial_channels=0)")
        # the conditioning map at full, 1/2 and 1/4 resolution (None when unconditioned)
        sp = [None if spatial is None else F.avg_pool2d(spatial, 2 ** r) if r else spatial for r in range(3)]
        x_pad = pad_with_ones(x)
        if self.config.receptive_width:
            return self._head(self.small(x_pad, onehot), x)
        u, ul = self._first_layer(x_pad)       # u sees rows < r, ul (rows < r) ∪ (row r, cols < c)
        us, uls = [u], [ul]
        for block in range(3):
            for lu, lul in zip(self.up_u[block], self.up_ul[block]):
                u = self._layer(lu, u, None, onehot, sp[block])
                ul = self._layer(lul, ul, u, onehot, sp[block])
                us.append(u)
                uls.append(ul)
            if block < 2:
                u, ul = self.down_u[block](u), self.down_ul[block](ul)
                us.append(u)
                uls.append(ul)
        u, ul = us.pop(), uls.pop()
        if not self.config.shortcuts:
            us, uls = [], []                   # §3.4.3 ablation: the stored activations go unused
        for block in range(3):
            for lu, lul in zip(self.dn_u[block], self.dn_ul[block]):
                if self.config.shortcuts:
                    u = self._layer(lu, u, us.pop(), onehot, sp[2 - block])
                    ul = self._layer(lul, ul, torch.cat([u, uls.pop()], dim=1), onehot, sp[2 - block])
                else:
                    u = self._layer(lu, u, None, onehot, sp[2 - block])
                    ul = self._layer(lul, ul, u, onehot, sp[2 - block])
            if block < 2:
                u, ul = self.up_sample_u[block](u), self.up_sample_ul[block](ul)
        assert not us and not uls, "every stored activation must be consumed exactly once"
        return self._head(ul, x)

    def _head(self, ul: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Distribution parameters (N, P, H, W) from the final ul features."""
        if isinstance(self.out, ARChannelHead):
            return self.out(ul, x)
        return self.out(F.elu(ul))

    def output_layer(self) -> nn.Module:
        return self.out

    def has_cached_sampler(self) -> bool:
        # The cached state follows the six-block network with the plain head; the Table 2 small
        # stack and the channel head sample naively.
        return not self.config.receptive_width and self.config.distribution != "channel_logistic_mixture"

    def incremental(self, n: int, cond: torch.Tensor | None) -> PixelCNNPlusPlusState:
        return PixelCNNPlusPlusState(self, n, cond)

    # ---- likelihood: exact (discrete) or the §3.4.2 dequantized bound -------------------------
    @property
    def is_bound(self) -> bool:
        return self.config.likelihood == "dequantized"

    def log_prob_from_params(self, params: torch.Tensor, x: torch.Tensor,
                             generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact log p(x); with ``likelihood="dequantized"`` instead log q(x + u) for a fresh
        u ~ U[0,1)^D drawn from ``generator``: a one-sample estimate of a lower bound on log p(x)."""
        if self.is_bound:
            u = torch.rand(x.shape, generator=generator, device=x.device)
            return self.distribution.dequantized_log_prob(params, x.long(), u)
        return super().log_prob_from_params(params, x, generator)
