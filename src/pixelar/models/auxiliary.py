"""Building blocks of the auxiliary-variable PixelCNNs (Kolesnikov & Lampert 2017).

Both models factor an image x through a deterministic auxiliary variable ŷ = f(x):

    log p(x) >= log p(ŷ) + log p(x | ŷ)          (eq. 5: an exact log-likelihood of the pair)

so -log p(ŷ) - log p(x | ŷ) is an upper bound on -log p(x), reported as such.

* The two fixed views, in integer arithmetic: :func:`grayscale_view` (4-bit luma) and
  :func:`downsample` (rounded mean of 2x2 blocks).
* :class:`AuxEmbedding`: f_w(ŷ), an *unshifted* single-stream stack of gated ResNets
  (it may see all of ŷ, which is given); :class:`PixelCNNPlusPlusEmbedding`: the same stream with
  PixelCNN++'s three resolutions and short-cuts (the Grayscale PixelCNN's f_w, §3.3);
  :class:`UpsamplingEmbedding`: the pyramid's f_w, which learns the ×2 up-sampling (§4.2).
* :class:`LightPixelCNNPlusPlus`: PixelCNN++'s two shifted streams at one resolution
  (no down/up-sampling), every gated ResNet biased by a spatial conditioning map.
* :class:`Factor`: one autoregressive factor with its conditioning fixed, e.g. p(x | ŷ) for
  a given ŷ. It is an ordinary :class:`AutoregressiveModel`, so the naive sampler and the
  causality oracle run on it unchanged: with ŷ supplied separately, the gradient test of
  p(x | ŷ) with respect to x is the honest causality check (ŷ itself is a function of x).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.gated_resnet import GatedResNet
from ..nn.shifted import DownRightShiftedConv2d, DownShiftedConv2d, FirstShiftedLayer, nin, pad_with_ones
from ..nn.weightnorm import WeightNormConv2d
from .base import AutoregressiveModel, ImageModelConfig

# ITU-R BT.601 luma in 16-bit fixed point, as PIL's RGB -> "L" conversion (weights sum to 65536).
LUMA_WEIGHTS = (19595, 38470, 7471)


def grayscale_levels(x: torch.Tensor) -> torch.Tensor:
    """Luma of an RGB image, in the image's own levels: (N, 3, H, W) ints -> (N, 1, H, W) int64.

    gray = (19595 R + 38470 G + 7471 B + 32768) >> 16, exact integer arithmetic (for 8-bit
    images this is PIL's ``convert("L")``). gray is in 0..K-1 when the channels are.
    """
    r, g, b = x.long().unbind(1)
    return ((LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b + 32768) >> 16)[:, None]


def quantize_gray(gray: torch.Tensor, num_levels: int, aux_levels: int) -> torch.Tensor:
    """Gray levels 0..K-1 -> ŷ in 0..L-1: ŷ = floor(gray · L / K) (for K=256, L=16: the top 4 bits)."""
    return gray.long() * aux_levels // num_levels


def grayscale_view(x: torch.Tensor, num_levels: int = 256, aux_levels: int = 16) -> torch.Tensor:
    """ŷ: the ``aux_levels``-level grayscale view of RGB x, (N, 3, H, W) -> (N, 1, H, W) int64."""
    return quantize_gray(grayscale_levels(x), num_levels, aux_levels)


def gray_bin(t: torch.Tensor, num_levels: int, aux_levels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The gray levels [lo, hi] (inclusive) that quantize to ŷ = t."""
    lo = (t.long() * num_levels + aux_levels - 1) // aux_levels
    hi = ((t.long() + 1) * num_levels + aux_levels - 1) // aux_levels - 1
    return lo, hi


def downsample(x: torch.Tensor) -> torch.Tensor:
    """Half resolution: the mean of each 2x2 block rounded half up, (a+b+c+d+2) // 4 per channel.

    (N, C, H, W) ints with even H, W -> (N, C, H/2, W/2) int64 in the same levels.
    """
    x = x.long()
    s = x[:, :, 0::2, 0::2] + x[:, :, 0::2, 1::2] + x[:, :, 1::2, 0::2] + x[:, :, 1::2, 1::2]
    return (s + 2) // 4


def pyramid(x: torch.Tensor, num_scales: int) -> list[torch.Tensor]:
    """[x, downsample(x), downsample²(x), ...]: num_scales + 1 images, finest first, int64."""
    out = [x.long()]
    for _ in range(num_scales):
        out.append(downsample(out[-1]))
    return out


def scale_levels(x: torch.Tensor, num_levels: int) -> torch.Tensor:
    """Integer levels 0..K-1 -> float in [-1, 1] (as AutoregressiveModel.scale_input)."""
    return x.float() * (2.0 / (num_levels - 1)) - 1.0


class CentredConv2d(nn.Module):
    """Weight-normalized convolution with 'same' zero padding: sees every neighbour (unshifted)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int] = (3, 3),
                 stride: int = 1, init_scale: float = 1.0) -> None:
        super().__init__()
        self.kh, self.kw = kernel_size
        self.conv = WeightNormConv2d(in_channels, out_channels, kernel_size, stride, init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ph, pw = (self.kh - 1) // 2, (self.kw - 1) // 2
        return self.conv(F.pad(x, (pw, self.kw - 1 - pw, ph, self.kh - 1 - ph)))


class AuxEmbedding(nn.Module):
    """f_w(ŷ) (§3.3): an unshifted, single-stream PixelCNN++-like network.

    (N, C_in, H, W) float in [-1, 1] -> (N, filters, H, W) features: a 3x3 convolution, then
    ``num_resnet`` gated ResNets with centred 3x3 convolutions, then an ELU.
    """

    def __init__(self, in_channels: int, filters: int, num_resnet: int, dropout: float) -> None:
        super().__init__()
        self.init = CentredConv2d(in_channels + 1, filters, (3, 3))   # + a channel of ones: marks the padding
        self.layers = nn.ModuleList(GatedResNet(filters, CentredConv2d, 0, dropout, 0) for _ in range(num_resnet))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        h = self.init(torch.cat([y, torch.ones_like(y[:, :1])], dim=1))
        for layer in self.layers:
            h = layer(h)
        return F.elu(h)


def down_sampling(filters: int) -> CentredConv2d:
    """PixelCNN++'s stride-2 down-sampling, unshifted: a centred 3×3 convolution, h -> ⌈h/2⌉."""
    return CentredConv2d(filters, filters, (3, 3), stride=2)


def up_sampling(filters: int) -> WeightNormConv2d:
    """PixelCNN++'s ×2 up-sampling, unshifted: a 2×2 stride-2 weight-normalized transposed convolution
    (use :func:`up_to`, which crops its output to the target size)."""
    return WeightNormConv2d(filters, filters, (2, 2), stride=2, transposed=True)


def up_to(layer: nn.Module, h: torch.Tensor, size: int) -> torch.Tensor:
    """``layer(h)`` cropped to ``size`` × ``size`` (a transposed convolution's output_padding row)."""
    return layer(h)[..., :size, :size]


class PixelCNNPlusPlusEmbedding(nn.Module):
    """f_w(ŷ) of the Grayscale PixelCNN as §3.3 describes it: "almost identical to the architecture of
    PixelCNN++. The main difference is that we use only one flow of residual blocks and do not shift the
    convolutional layers outputs".

    (N, C_in, H, W) float in [-1, 1] -> (N, filters, H, W), H a multiple of 4: PixelCNN++'s six blocks with
    one stream of centred 3×3 convolutions: ``num_resnet`` gated ResNets at H, H/2 and H/4 (stride-2
    down-sampling between them), then decoder blocks of ``num_resnet``, +1, +1 gated ResNets at H/4, H/2, H
    (×2 transposed-convolution up-sampling between them), each reading as its skip input the encoder
    activation of the same position, last in first out (PixelCNN++'s short-cuts), then an ELU. The
    down/up-sampling layers are :class:`UpsamplingEmbedding`'s (the pyramid's f_w)."""

    def __init__(self, in_channels: int, filters: int, num_resnet: int, dropout: float) -> None:
        super().__init__()
        R = num_resnet
        self.init = CentredConv2d(in_channels + 1, filters, (3, 3))
        self.up = nn.ModuleList(nn.ModuleList(GatedResNet(filters, CentredConv2d, 0, dropout, 0) for _ in range(R))
                                for _ in range(3))
        self.down = nn.ModuleList(down_sampling(filters) for _ in range(2))
        self.dn = nn.ModuleList(nn.ModuleList(GatedResNet(filters, CentredConv2d, filters, dropout, 0)
                                              for _ in range(n)) for n in (R, R + 1, R + 1))
        self.ups = nn.ModuleList(up_sampling(filters) for _ in range(2))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        sizes = [y.shape[-1], y.shape[-1] // 2]           # after the first and the second up-sampling
        h = self.init(torch.cat([y, torch.ones_like(y[:, :1])], dim=1))
        stored = [h]                                      # every activation of the encoder, as PixelCNN++
        for block in range(3):
            for layer in self.up[block]:
                h = layer(h)
                stored.append(h)
            if block < 2:
                h = self.down[block](h)                   # (N, F, H/2^(block+1), ·)
                stored.append(h)
        h = stored.pop()
        for block in range(3):
            for layer in self.dn[block]:
                h = layer(h, stored.pop())                # short-cut from the mirrored encoder layer
            if block < 2:
                h = up_to(self.ups[block], h, sizes[1 - block])
        assert not stored, "every encoder activation is read exactly once"
        return F.elu(h)                                   # (N, F, H, W)


def updown_schedule(num_resnet: int) -> tuple[int, int, int]:
    """Residual blocks after which the pyramid embedding down-samples once and up-samples twice.

    §4.2: "downsampling layer after the residual block number [·] and upsampling layers after the
    residual blocks number [·] and [·]" - the numbers are lost in the text: our choice spreads them
    over thirds, the last up-sampling after the last block (6 blocks: 2, 4, 6; 0 = right after the
    input convolution)."""
    return num_resnet // 3, (2 * num_resnet) // 3, num_resnet


class UpsamplingEmbedding(nn.Module):
    """f_w(y_{l+1}) of the Pyramid PixelCNN (§4.2): a single unshifted PixelCNN++-like stream that learns
    the ×2 up-sampling to its level's resolution.

    (N, C_in, h, h) float in [-1, 1] -> (N, filters, 2h, 2h): a 3x3 convolution, ``num_resnet`` gated
    ResNets with centred 3x3 convolutions, a stride-2 3x3 convolution after block ``down`` (h -> ⌈h/2⌉),
    a 2x2 stride-2 weight-normalized transposed convolution after blocks ``up1`` (-> h) and ``up2``
    (-> 2h), then an ELU (PixelCNN++'s down/up-sampling layers, unshifted). No short-cuts between the
    resolutions: text silent, our choice.
    """

    def __init__(self, in_channels: int, filters: int, num_resnet: int, dropout: float) -> None:
        super().__init__()
        self.init = CentredConv2d(in_channels + 1, filters, (3, 3))
        self.layers = nn.ModuleList(GatedResNet(filters, CentredConv2d, 0, dropout, 0) for _ in range(num_resnet))
        self.down_after, *self.up_after = updown_schedule(num_resnet)
        self.down = down_sampling(filters)
        self.ups = nn.ModuleList(up_sampling(filters) for _ in range(2))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        h_in = y.shape[-1]
        targets = [h_in, 2 * h_in]          # the sizes after the first and the second up-sampling
        h = self.init(torch.cat([y, torch.ones_like(y[:, :1])], dim=1))
        ups = 0
        for b in range(len(self.layers) + 1):
            if b == self.down_after:
                h = self.down(h)                                           # (N, F, ⌈h/2⌉, ⌈h/2⌉)
            while ups < 2 and b == self.up_after[ups]:
                h = up_to(self.ups[ups], h, targets[ups])     # cropped to the target
                ups += 1
            if b < len(self.layers):
                h = self.layers[b](h)
        return F.elu(h)                                                    # (N, F, 2h, 2h)


class LightPixelCNNPlusPlus(FirstShiftedLayer, nn.Module):
    """PixelCNN++'s shifted u/ul streams at a single resolution, biased by a spatial map.

    (N, C, H, W) float in [-1, 1] (+ spatial (N, E, H, W) when ``spatial_channels``) ->
    params (N, num_params, H, W). Causality as in PixelCNN++: the first layer's outputs are
    shifted down (u) and down + right (ul), so position (r, c) sees rows < r and row r, cols < c.
    """

    def __init__(self, in_channels: int, num_params: int, filters: int, num_resnet: int, dropout: float,
                 spatial_channels: int = 0) -> None:
        super().__init__()
        c_in = in_channels + 1
        self.spatial_channels = spatial_channels
        self._build_first_layer(c_in, filters)
        self.u = nn.ModuleList(GatedResNet(filters, DownShiftedConv2d, 0, dropout, 0, spatial_channels)
                               for _ in range(num_resnet))
        self.ul = nn.ModuleList(GatedResNet(filters, DownRightShiftedConv2d, filters, dropout, 0, spatial_channels)
                                for _ in range(num_resnet))
        self.out = nin(filters, num_params)

    def forward(self, x: torch.Tensor, spatial: torch.Tensor | None = None) -> torch.Tensor:
        u, ul = self._first_layer(pad_with_ones(x))
        for lu, lul in zip(self.u, self.ul):
            u = lu(u, None, None, spatial)
            ul = lul(ul, u, None, spatial)
        return self.out(F.elu(ul))                     # (N, P, H, W)


class Factor(AutoregressiveModel):
    """One autoregressive factor p(v | context) of an auxiliary-variable model, context fixed.

    ``network`` is ``fn(v_float, context)``; ``context`` (N or 1, E, H, W) was computed from
    the conditioning variable alone, so it is a constant here: gradients with respect to v
    see only the factor's own (shifted) network. Samplers and the causality oracle run on it
    like on any model (naive sampler only: no cached path).
    """

    name = "factor"

    def __init__(self, config: ImageModelConfig, module: nn.Module,
                 fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
                 context: torch.Tensor | None, label: str) -> None:
        super().__init__(config)
        self.module = module            # registered so that parameters()/eval() reach the weights
        self.fn = fn
        self.context = context
        self.label = label

    def network(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        ctx = self.context
        if ctx is not None and ctx.shape[0] != x.shape[0]:
            ctx = ctx.expand(x.shape[0], -1, -1, -1)   # one context for every copy (causality oracle)
        return self.fn(x, ctx)

    def output_layer(self) -> nn.Module:
        raise NotImplementedError("a Factor is a view; zero the owning model's output_layer()")


def factor_config(channels: int, size: int, num_levels: int, distribution: str,
                  num_mixtures: int) -> ImageModelConfig:
    return ImageModelConfig(image_channels=channels, image_size=size, num_levels=num_levels,
                            distribution=distribution, num_mixtures=num_mixtures)  # type: ignore[arg-type]
