"""Video upscalers of Reed et al. 2017 (§4.3): "We also trained 64 → 128 and 128 → 256 upscalers conditioned
on low-resolution and a previous high-resolution frame, so that we can produce 256×256 videos."

Everything else about them is text silent; our choices, following the paper's own upscaling networks:

    log p(x_t^hi | x_t^lo, x_{t-1}^hi) = Σ_{g=2,3,4} log p(G_g(x_t^hi) | G_1..G_{g-1}(x_t^hi), x_{t-1}^hi)

where x_t^lo = x_t^hi[..., ::2, ::2], the sub-sampling the multiscale PixelCNN uses for its pyramid
(models/multiscale_pixelcnn.py), so x_t^lo *is* group 1 of x_t^hi (Figure 2's upper-left corners) and
is given, not modelled: it costs 0 nats. Groups 2, 3, 4 come from three type-A upscaling networks
(nn/upscale.py, Figure 3A) at half the frame's resolution; group g reads groups 1..g-1 of the frame
stacked as channels and the four group lattices of the previous high-resolution frame (all of it: it
is the past). Sampling a frame takes 3 ResNet calls and 3 head calls with a logistic mixture (3·C with
an RGB softmax): O(1) network evaluations per frame, whatever its size.

Tensor layout: ``x`` is one high-resolution frame (N, C, S, S). ``cond`` is a dict with
``"previous"`` (N, C, S, S) integer levels (missing: the null condition, a zero frame, as the video
models treat a missing key) and optionally ``"low"`` (N, C, S/2, S/2), which must equal x's own
group 1 whenever the network runs (it always reads group 1 from x; a disagreeing ``low`` is refused,
never silently ignored) and which the upscaler sampler (``pixelar.sampling.video``) writes into the
canvas as known pixels. Group 1's parameters are zeros (the null output, never scored; text silent:
our choice): the naive reference sampler must be given group 1 as known pixels.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, PixelarError
from ..nn.upscale import UpscalerA
from .base import AutoregressiveModel, ImageModelConfig
from .multiscale_pixelcnn import GROUP_OFFSETS

_GROUP_OF = {v: g for g, v in GROUP_OFFSETS.items()}   # (row parity, col parity) -> group 1..4
COND_KEYS = ("low", "previous")


@dataclasses.dataclass(frozen=True)
class VideoUpscalerConfig(ImageModelConfig):
    """``image_size``: the high-resolution side S (the low-resolution frame is S/2)."""
    image_size: int = 128
    hidden: int = 64             # units of every upscaling network (text silent: our choice)
    num_resnet: int = 4          # residual 3x3 layers of each upscaler's ResNet (text silent: our choice)

    def validate(self) -> None:
        super().validate()
        if self.image_size % 2:
            raise ConfigError(f"image_size must be even (2x2 pixel groups), got {self.image_size}")
        if self.num_classes:
            raise ConfigError("video_upscaler is conditioned on frames, not classes: num_classes must be 0")
        if self.num_resnet < 0:
            raise ConfigError(f"num_resnet must be >= 0, got {self.num_resnet}")
        if self.hidden < self.image_channels:
            raise ConfigError(f"hidden must be >= image_channels ({self.image_channels}) for channel masking")


@dataclasses.dataclass
class UpscaleCond:
    """A validated condition: low (N, C, S/2, S/2) int64 or None, previous (N, C, S, S) int64."""
    low: torch.Tensor | None
    previous: torch.Tensor


class VideoUpscaler(AutoregressiveModel):
    """p(x_t^hi | x_t^lo, x_{t-1}^hi): groups 2-4 of a frame from three type-A upscalers."""

    name = "video_upscaler"
    config_class = VideoUpscalerConfig
    ordering = "groups"
    group_sampler = "video_upscaler"   # pixelar.sampling.video.sample_upscaler: groups 2, 3, 4 in parallel
    can_upscale_video = True

    def __init__(self, config: VideoUpscalerConfig) -> None:
        super().__init__(config)
        c, P, g = config, self.distribution.num_params, self.num_groups
        C = c.image_channels
        # group g's context: groups 1..g-1 of the frame + the four group lattices of the previous frame
        self.upscalers = nn.ModuleList(UpscalerA((grp - 1) * C + 4 * C, C, P, c.hidden, c.num_resnet, g)
                                       for grp in (2, 3, 4))

    # ---- conditioning ---------------------------------------------------------------------------
    def condition(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """{"previous"} from a batch of consecutive frame pairs: its "previous" field (frame t-1 of every "image"
        frame t), or a video data set's batch of 2-frame clips with 1 given frame ("context" = frame t-1,
        "image" = frame t; ``--data-option num_frames=2 --data-option num_context=1``)."""
        prev = batch.get("previous")
        ctx = batch.get("context")
        if prev is None and ctx is not None and tuple(ctx.shape[1:]) == self.image_shape:
            prev = ctx
        if prev is None:
            C, S, _ = self.image_shape
            raise PixelarError(f"{self.name} needs pairs of consecutive {C}x{S}x{S} frames: load a video data set "
                               f"with --data-option num_frames=2 --data-option num_context=1 (image_size={S}), or give "
                               "the data a 'previous' array (frame t-1 of every image)")
        return {"previous": prev}

    def random_condition(self, n: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """A random previous frame; no "low" (group 1 is then read from x itself)."""
        c = self.config
        return {"previous": torch.randint(0, c.num_levels, (n, *self.image_shape), generator=generator)}

    def upscale_condition(self, cond: Any, n: int, device: torch.device) -> UpscaleCond:
        """``cond`` (dict or None) checked and completed with the null previous frame (zeros)."""
        if cond is not None and not isinstance(cond, Mapping):
            raise ValueError(f"{self.name} takes cond={{'previous': frame, 'low': low-res frame}}, "
                             f"got {type(cond).__name__}")
        d = dict(cond or {})
        unknown = set(d) - set(COND_KEYS)
        if unknown:
            raise ValueError(f"unknown cond key(s) {sorted(unknown)}; use {', '.join(COND_KEYS)}")
        C, S, _ = self.image_shape
        prev = d.get("previous")
        if prev is None:
            prev = torch.zeros(n, C, S, S, dtype=torch.long, device=device)
        if prev.shape != (n, C, S, S) or prev.is_floating_point():
            raise ValueError(f"cond['previous'] must be integer frames (N, {C}, {S}, {S}), "
                             f"got {prev.dtype} {tuple(prev.shape)}")
        low = d.get("low")
        if low is not None and (low.shape != (n, C, S // 2, S // 2) or low.is_floating_point()):
            raise ValueError(f"cond['low'] must be integer frames (N, {C}, {S // 2}, {S // 2}), "
                             f"got {low.dtype} {tuple(low.shape)}")
        for name, t in (("previous", prev), ("low", low)):
            t = None if t is None else t.long()             # a uint8 frame would wrap 256 to 0 in the comparison
            if t is not None and ((t < 0).any() or (t >= self.config.num_levels).any()):
                raise ValueError(f"cond['{name}'] levels must be in 0..{self.config.num_levels - 1}")
        return UpscaleCond(None if low is None else low.to(device).long(), prev.to(device).long())

    def check_input(self, x: torch.Tensor, cond: Any) -> None:
        super().check_input(x, None)
        self.upscale_condition(cond, x.shape[0], x.device)

    # ---- network --------------------------------------------------------------------------------
    def group_features(self, grp: int, earlier: list[torch.Tensor], previous: torch.Tensor) -> torch.Tensor:
        """ResNet features (N, hidden, S/2, S/2) of group ``grp`` (2..4) from groups 1..grp-1 of the frame
        (each (N, C, S/2, S/2) in [-1, 1]) and the previous frame (N, C, S, S) in [-1, 1], cut into its
        four group lattices (N, 4C, S/2, S/2)."""
        return self.upscalers[grp - 2].features(torch.cat([*earlier, F.pixel_unshuffle(previous, 2)], 1), None)

    def scale_previous(self, previous: torch.Tensor) -> torch.Tensor:
        # the class's scale_input, not an instance override: tools that shadow it to differentiate with
        # respect to x (evaluation/receptive_field.py) mean x, not the previous frame
        return AutoregressiveModel.scale_input(self, previous)

    def network(self, x: torch.Tensor, cond: Any) -> torch.Tensor:
        """x (N, C, S, S) in [-1, 1] -> params (N, P, S, S); group 1's are zeros (given, never scored)."""
        n, c, s, _ = x.shape
        uc = self.upscale_condition(cond, n, x.device)
        prev = self.scale_previous(uc.previous)
        groups = F.pixel_unshuffle(x, 2).view(n, c, 4, s // 2, s // 2).unbind(2)   # groups 1..4
        # group 1 is always read from x; a cond['low'] that disagrees would be silently ignored, so refuse it
        # (both sides go through the same scaling: equal levels give bit-identical floats)
        if uc.low is not None and not torch.equal(AutoregressiveModel.scale_input(self, uc.low), groups[0]):
            raise PixelarError("cond['low'] differs from x[..., ::2, ::2]: the low-resolution frame is group 1 of the "
                               "high-resolution one (2x2 sub-sampling, not averaging); drop 'low' or fix it (the naive "
                               "sampler: mark group 1 known in the canvas instead)")
        out = [self.upscalers[grp - 2].head(self.group_features(grp, list(groups[:grp - 1]), prev), groups[grp - 1])
               for grp in (2, 3, 4)]
        out.insert(0, torch.zeros_like(out[0]))
        return F.pixel_shuffle(torch.stack(out, 2).flatten(1, 2), 2)     # interleave back: (N, P, S, S)

    # ---- likelihood: groups 2-4 only ----------------------------------------------------------------
    def scored(self, device: torch.device | None = None) -> torch.Tensor:
        """(S, S) bool: the pixels the model scores (groups 2-4); group 1 is the given low-res frame."""
        S = self.config.image_size
        m = torch.ones(S, S, dtype=torch.bool, device=device)
        m[::2, ::2] = False
        return m

    def log_prob_elementwise(self, x: torch.Tensor, cond: Any = None) -> torch.Tensor:
        """log p per sub-pixel (N, C, S, S) in nats; 0 at group 1 (given)."""
        lp = self.distribution.log_prob_elementwise(self(x, cond), x.long())
        return lp * self.scored(lp.device)

    def log_prob(self, x: torch.Tensor, cond: Any = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact log p(x_t^hi | x_t^lo, x_{t-1}^hi) in nats per frame (N,): groups 2-4 of x."""
        return self.log_prob_from_params(self(x, cond), x, generator)

    def log_prob_from_params(self, params: torch.Tensor, x: torch.Tensor,
                             generator: torch.Generator | None = None) -> torch.Tensor:
        lp = self.distribution.log_prob_elementwise(params, x.long())
        return (lp * self.scored(lp.device)).sum((1, 2, 3))

    def uniform_bits_per_dim(self) -> float:
        """Bits per dimension of the high-res frame when every output is uniform: 3/4 log2 K (group 1 is
        given: a quarter of the frame's dimensions cost nothing)."""
        return 0.75 * math.log2(self.config.num_levels)

    def part_dims(self) -> dict[str, int]:
        """One part per modelled group."""
        C, S, _ = self.image_shape
        return {f"group {g}": C * (S // 2) ** 2 for g in (2, 3, 4)}

    def log_prob_parts(self, x: torch.Tensor, cond: Any = None) -> dict[str, torch.Tensor]:
        lp = self.log_prob_elementwise(x, cond)
        return {f"group {g}": lp[:, :, GROUP_OFFSETS[g][0]::2, GROUP_OFFSETS[g][1]::2].sum((1, 2, 3))
                for g in (2, 3, 4)}

    # ---- ordering -------------------------------------------------------------------------------
    def allowed_inputs(self, c: int, i: int, j: int) -> torch.Tensor:
        """(C, S, S) bool: group g (2..4) reads groups 1..g-1 of the frame (and channels < c of its own pixel
        under R->G->B); group 1 is given, its (zero) parameters read nothing. The previous frame is in
        ``cond``: every factor reads all of it."""
        C, S, _ = self.image_shape
        allowed = torch.zeros(C, S, S, dtype=torch.bool)
        grp = _GROUP_OF[(i % 2, j % 2)]
        if grp == 1:
            return allowed
        for g2 in range(1, grp):
            di, dj = GROUP_OFFSETS[g2]
            allowed[:, di::2, dj::2] = True
        if self.distribution.autoregressive_channels:
            allowed[:c, i, j] = True
        return allowed

    def positions(self) -> list[tuple[int, int]]:
        """Group 1 (given), then groups 2, 3, 4, each in raster order over its lattice."""
        h = self.config.image_size // 2
        return [(2 * a + GROUP_OFFSETS[g][0], 2 * b + GROUP_OFFSETS[g][1])
                for g in (1, 2, 3, 4) for a in range(h) for b in range(h)]

    def output_layer(self) -> nn.Module:
        return nn.ModuleList(up.output_layer() for up in self.upscalers)
