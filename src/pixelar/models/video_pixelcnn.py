"""Action-conditional video PixelCNNs of Reed et al. 2017 (§4.3, Tables 2 and 4): the O(T) and the O(T log N) model
(Table 2's O(T) baseline and O(TN) rows are in models/video_baselines.py, on the same VideoModel).

A clip of T frames (C, S, S) is predicted from its first K frames ("conditioned on 2 starting
frames") and per-step action and state vectors (5-d each in the paper):

    log p(x_K..x_{T-1} | x_0..x_{K-1}, a, s) = Σ_{t=K..T-1} log p(x_t | h_{t-1})

where h_{t-1} is the state (N, hidden, S, S) of a ConvLSTM (nn/convlstm.py, "as in Kalchbrenner et
al., 2016b") run over frames 0..t-1, stacked with the pixels of frame t-1 itself (a skip connection:
text silent; it lets a factor copy what did not move, and keeps the gradient from the past strong). The encoder's input at step t is frame x_t and the vector
[a_t, s_{t+1}] broadcast as constant maps: the action taken after frame t and the arm state at the
frame being predicted (text silent on how actions and state enter; this is our choice). Every
factor of frame t reads h_{t-1} at every position (it is all in the past).

* :class:`VideoPixelCNNOT` (``video_pixelcnn_ot``): "we can produce group 1 pixels - i.e. the
  upper-left corner group - directly by conditioning on previous frames. Then a constant number of
  network evaluations are needed to sample the next three pixel groups at the final scale."
  Four type-A upscaling networks (nn/upscale.py) at the frame's own resolution: group g reads
  groups 1..g-1 of the frame and the four sub-lattices of h_{t-1}. O(1) evaluations per frame
  (one per group with the logistic mixture the paper uses; C per group with a softmax).
* :class:`VideoPixelCNNOTLogN` (``video_pixelcnn_otlogn``): "our multi-step upscaler used in
  previous experiments, conditioned on both previous frames and robot arm state and actions" -
  the image model of models/multiscale_pixelcnn.py run for every frame with h_{t-1} as its
  spatial condition (resized to every scale). O(log N) evaluations per frame; softmax output.

Tensor layout (so that every generic tool - trainer, evaluation, causality oracle, naive sampler -
works unchanged): ``x`` is the **filmstrip** of the F = T - K predicted frames stacked top to
bottom, (N, C, F·S, S); frame f is rows f·S..(f+1)·S-1. ``cond`` is a dict with ``"context"``, the
K given frames as a strip (N, C, K·S, S) or a clip (N, K, C, S, S), and ``"actions"`` (N, T, A),
``"state"`` (N, T, A_s) floats; a key the model needs but ``cond`` omits is the null condition
(zeros), as the image models treat a missing spatial map. :func:`to_strip`/:func:`from_strip`
convert clips (N, T, C, S, S).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, PixelarError
from ..nn.convlstm import FrameEncoder, LSTMState
from ..nn.upscale import UpscalerA
from .base import AutoregressiveModel, ImageModelConfig
from .multiscale_pixelcnn import GROUP_OFFSETS, MultiscalePixelCNN, MultiscalePixelCNNConfig

_GROUP_OF = {v: g for g, v in GROUP_OFFSETS.items()}   # (row parity, col parity) -> group 1..4
COND_KEYS = ("context", "actions", "state")


def to_strip(video: torch.Tensor) -> torch.Tensor:
    """Clip (N, T, C, S, S) -> filmstrip (N, C, T·S, S), frames top to bottom."""
    n, t, c, h, w = video.shape
    return video.permute(0, 2, 1, 3, 4).reshape(n, c, t * h, w)


def from_strip(strip: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Filmstrip (N, C, T·S, S) -> clip (N, T, C, S, S)."""
    n, c, th, w = strip.shape
    return strip.reshape(n, c, num_frames, th // num_frames, w).permute(0, 2, 1, 3, 4)


@dataclasses.dataclass(frozen=True)
class VideoPixelCNNConfig(ImageModelConfig):
    """``image_size``/``image_channels``: one frame's side and channels."""
    image_channels: int = 1
    image_size: int = 64
    num_frames: int = 20         # T: frames per clip (context included), Robot Pushing: 20
    num_context: int = 2         # K: given frames ("conditioned on 2 starting frames")
    action_dim: int = 5          # A: per-step action vector (0 = unconditional on actions)
    state_dim: int = 5           # per-step state vector (0 = none)
    encoder_hidden: int = 32     # ConvLSTM units
    hidden: int = 64             # units of every upscaling network
    num_resnet: int = 4          # residual 3x3 layers of each upscaler's ResNet

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.num_context < self.num_frames:
            raise ConfigError(f"need 1 <= num_context < num_frames, got num_context={self.num_context}, "
                              f"num_frames={self.num_frames}")
        if min(self.action_dim, self.state_dim, self.num_resnet) < 0 or self.encoder_hidden < 1:
            raise ConfigError("action_dim, state_dim and num_resnet must be >= 0 and encoder_hidden >= 1")
        if self.hidden < self.image_channels:
            raise ConfigError(f"hidden must be >= image_channels ({self.image_channels}) for channel masking")

    @property
    def num_predicted(self) -> int:
        return self.num_frames - self.num_context


@dataclasses.dataclass(frozen=True)
class VideoPixelCNNOTConfig(VideoPixelCNNConfig):
    def validate(self) -> None:
        super().validate()
        if self.image_size % 2:
            raise ConfigError(f"image_size must be even (2x2 pixel groups), got {self.image_size}")


@dataclasses.dataclass(frozen=True)
class VideoPixelCNNOTLogNConfig(VideoPixelCNNConfig):
    """The multiscale frame model's fields (see MultiscalePixelCNNConfig)."""
    base_size: int = 8
    base_hidden: int = 64
    base_layers: int = 6
    base_output_features: int = 128
    upscaler: str = "A"          # "both versions using type-A upscaling networks"
    num_pixelcnn: int = 2
    patch_size: int = 4

    def frame_config(self) -> MultiscalePixelCNNConfig:
        return MultiscalePixelCNNConfig(
            image_channels=self.image_channels, image_size=self.image_size, num_levels=self.num_levels,
            distribution=self.distribution, num_mixtures=self.num_mixtures, base_size=self.base_size,
            base_hidden=self.base_hidden, base_layers=self.base_layers,
            base_output_features=self.base_output_features, upscaler=self.upscaler, hidden=self.hidden,
            num_resnet=self.num_resnet, num_pixelcnn=self.num_pixelcnn, patch_size=self.patch_size,
            spatial_channels=self.encoder_hidden + self.image_channels)

    def validate(self) -> None:
        super().validate()
        if self.upscaler not in ("A", "B"):
            raise ConfigError(f"upscaler must be 'A' or 'B', got {self.upscaler!r}")
        self.frame_config().validate()


@dataclasses.dataclass
class EncoderState:
    """The encoder after frame t: the ConvLSTM's (h, c) and frame t itself (N, C, S, S) in [-1, 1]."""
    lstm: LSTMState
    last: torch.Tensor

    def condition(self) -> torch.Tensor:
        """The map every factor of frame t+1 reads, (N, hidden + C, S, S): h_t and frame t's pixels."""
        return torch.cat([self.lstm[0], self.last], 1)


@dataclasses.dataclass
class VideoCond:
    """A validated condition: context (N, K, C, S, S) int64, actions (N, T, A) and state (N, T, A_s) float."""
    context: torch.Tensor
    actions: torch.Tensor
    state: torch.Tensor


class VideoModel(AutoregressiveModel):
    """What every video model shares: the filmstrip layout, the condition, the ConvLSTM over past frames,
    and the frame-by-frame ordering. Subclasses give the per-frame network (``frame_network``), each
    frame's allowed inputs and generation order, and the name of their frame sampler."""

    ordering = "video"
    group_sampler = "video"        # pixelar.sampling.video: frame after frame, groups in parallel
    can_predict = True
    #: how ``pixelar.sampling.video`` draws one frame: "groups" (four parallel groups), "multiscale",
    #: "independent" (the whole frame at once) or "pixels" (per-pixel cached loop; models/video_baselines.py)
    frame_sampler: ClassVar[str] = ""

    def __init__(self, config: VideoPixelCNNConfig) -> None:
        super().__init__(config)
        c = config
        self.encoder = FrameEncoder(c.image_channels, c.action_dim + c.state_dim, c.encoder_hidden)

    # ---- shapes ---------------------------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        c = self.config
        return (c.image_channels, c.num_predicted * c.image_size, c.image_size)

    @property
    def num_predicted(self) -> int:
        return self.config.num_predicted

    # ---- conditioning ---------------------------------------------------------------------------
    def condition(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """{"context", "actions", "state"} from a video batch (``pixelar.data.video``); a batch that is not
        video, or whose clips do not fit the model, is an error naming what to change."""
        c = self.config
        missing = [k for k in COND_KEYS if batch.get(k) is None]
        if missing:
            raise PixelarError(f"{self.name} needs video data (context frames, actions, state); this data has no "
                               f"{', '.join(missing)}: use a video data set (moving_digits, moving_mnist)")
        ctx = batch["context"]
        want = (c.image_channels, c.num_context * c.image_size, c.image_size)
        if tuple(ctx.shape[1:]) != want or tuple(batch["image"].shape[1:]) != self.image_shape:
            raise PixelarError(f"{self.name} predicts {c.num_predicted} frames from {c.num_context} "
                               f"({c.image_channels}x{c.image_size}x{c.image_size}); the data's clips are "
                               f"{tuple(batch['image'].shape[1:])} after {tuple(ctx.shape[1:])}: load the data "
                               f"with matching num_frames/num_context or set model.num_frames/num_context")
        for key, field in (("actions", "action_dim"), ("state", "state_dim")):
            want_v = (c.num_frames, getattr(c, field))
            if tuple(batch[key].shape[1:]) != want_v:
                raise PixelarError(f"{self.name} takes {key} of shape {want_v} per clip, the data has "
                                   f"{tuple(batch[key].shape[1:])}: set model.{field} (and model.num_frames) to match")
        return {k: batch[k] for k in COND_KEYS}

    def random_condition(self, n: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        c = self.config
        return {"context": torch.randint(0, c.num_levels, (n, c.num_context, c.image_channels, c.image_size,
                                                           c.image_size), generator=generator),
                "actions": torch.randn(n, c.num_frames, c.action_dim, generator=generator),
                "state": torch.rand(n, c.num_frames, c.state_dim, generator=generator)}

    def video_condition(self, cond: Any, n: int, device: torch.device) -> VideoCond:
        """``cond`` (dict or None) checked and completed with the null condition: see the module docstring."""
        c = self.config
        if cond is not None and not isinstance(cond, Mapping):
            raise ValueError(f"{self.name} takes cond={{'context': frames, 'actions': ..., 'state': ...}}, "
                             f"got {type(cond).__name__}")
        d = dict(cond or {})
        unknown = set(d) - set(COND_KEYS)
        if unknown:
            raise ValueError(f"unknown cond key(s) {sorted(unknown)}; use {', '.join(COND_KEYS)}")
        S, C, K = c.image_size, c.image_channels, c.num_context
        ctx = d.get("context")
        if ctx is None:
            ctx = torch.zeros(n, K, C, S, S, dtype=torch.long, device=device)
        elif ctx.dim() == 4 and tuple(ctx.shape[1:]) == (C, K * S, S):
            ctx = from_strip(ctx, K)
        if ctx.shape != (n, K, C, S, S) or ctx.is_floating_point():
            raise ValueError(f"cond['context'] must be {K} integer frames, (N, {C}, {K * S}, {S}) or "
                             f"(N, {K}, {C}, {S}, {S}), got {ctx.dtype} {tuple(ctx.shape)}")
        vecs = []
        for key, dim in (("actions", c.action_dim), ("state", c.state_dim)):
            v = d.get(key)
            v = torch.zeros(n, c.num_frames, dim, device=device) if v is None else v.to(device).float()
            if v.shape != (n, c.num_frames, dim):
                raise ValueError(f"cond['{key}'] must be (N, {c.num_frames}, {dim}), got {tuple(v.shape)}")
            vecs.append(v)
        return VideoCond(ctx.to(device).long(), vecs[0], vecs[1])

    def check_input(self, x: torch.Tensor, cond: Any) -> None:
        super().check_input(x, None)
        self.video_condition(cond, x.shape[0], x.device)

    # ---- the ConvLSTM over past frames ----------------------------------------------------------
    def _step_vec(self, vc: VideoCond, t: int) -> torch.Tensor:
        """[a_t, s_{t+1}] (N, A + A_s): what drives the transition from frame t to frame t+1."""
        return torch.cat([vc.actions[:, t], vc.state[:, t + 1]], 1)

    def encoder_begin(self, vc: VideoCond) -> EncoderState:
        """Run the encoder over the K context frames: the state that conditions the first predicted frame."""
        state, frame = None, None
        for t in range(self.config.num_context):
            # the class's scale_input, not an instance override: tools that shadow it to differentiate
            # with respect to x (evaluation/receptive_field.py) mean x, not the context frames
            frame = AutoregressiveModel.scale_input(self, vc.context[:, t])
            state = self.encoder.step(frame, self._step_vec(vc, t), state)
        return EncoderState(state, frame)

    def encoder_advance(self, state: EncoderState, frame: torch.Tensor, f: int, vc: VideoCond) -> EncoderState:
        """One step on predicted frame f (N, C, S, S) in [-1, 1]: the state that conditions frame f + 1."""
        return EncoderState(self.encoder.step(frame, self._step_vec(vc, self.config.num_context + f), state.lstm),
                            frame)

    # ---- network --------------------------------------------------------------------------------
    def frame_network(self, frames: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """frames (B, C, S, S) in [-1, 1], h (B, hidden + C, S, S) the encoder's condition of each frame
        (``EncoderState.condition``) -> params (B, P, S, S)."""
        raise NotImplementedError

    def network(self, x: torch.Tensor, cond: Any) -> torch.Tensor:
        """x strip (N, C, F·S, S) in [-1, 1] -> params (N, P, F·S, S). Teacher forcing: the encoder runs
        once over the given frames, then every frame's factors run in parallel."""
        n, Fr = x.shape[0], self.num_predicted
        vc = self.video_condition(cond, n, x.device)
        frames = from_strip(x, Fr)                                     # (N, F, C, S, S)
        state = self.encoder_begin(vc)
        hs = [state.condition()]
        for f in range(Fr - 1):
            state = self.encoder_advance(state, frames[:, f], f, vc)
            hs.append(state.condition())
        h = torch.stack(hs, 1)                                         # (N, F, hidden + C, S, S)
        params = self.frame_network(frames.flatten(0, 1), h.flatten(0, 1))   # (N·F, P, S, S)
        return to_strip(params.view(n, Fr, *params.shape[1:]))

    # ---- ordering -------------------------------------------------------------------------------
    def frame_allowed(self, c: int, i: int, j: int) -> torch.Tensor:
        """(C, S, S) bool: the pixels of its own frame that sub-pixel (c, i, j) of a frame may read."""
        raise NotImplementedError

    def frame_positions(self) -> list[tuple[int, int]]:
        """One frame's generation order (rows, cols inside the frame)."""
        raise NotImplementedError

    def allowed_inputs(self, c: int, i: int, j: int) -> torch.Tensor:
        """Every pixel of the earlier predicted frames (the context frames and actions are in ``cond``, read
        anywhere), and inside its own frame what ``frame_allowed`` says; never a later frame."""
        S = self.config.image_size
        f = i // S
        allowed = torch.zeros(self.image_shape, dtype=torch.bool)
        allowed[:, : f * S] = True
        allowed[:, f * S:(f + 1) * S] = self.frame_allowed(c, i - f * S, j)
        return allowed

    def positions(self) -> list[tuple[int, int]]:
        """Frame after frame, each in ``frame_positions()`` order (what the naive reference sampler follows)."""
        S, inner = self.config.image_size, self.frame_positions()
        return [(f * S + a, b) for f in range(self.num_predicted) for a, b in inner]

    # ---- likelihood -----------------------------------------------------------------------------
    def log_prob_from_params(self, params: torch.Tensor, x: torch.Tensor,
                             generator: torch.Generator | None = None) -> torch.Tensor:
        """Nats per clip (N,): a clip has F·C·S² terms (221,184 for 18 RGB frames of 64×64), so they are
        summed in float64 (a float32 sum drifts by ~1e-5 relative) and returned in the params' dtype."""
        lp = self.distribution.log_prob_elementwise(params, x.long())
        return lp.double().sum((1, 2, 3)).to(lp.dtype)

    # ---- evaluation by frame --------------------------------------------------------------------
    def part_dims(self) -> dict[str, int]:
        """One part per predicted frame ("frame 2", ... counted from the clip's start)."""
        c = self.config
        return {f"frame {c.num_context + f}": c.image_channels * c.image_size ** 2 for f in range(self.num_predicted)}

    def log_prob_parts(self, x: torch.Tensor, cond: Any = None) -> dict[str, torch.Tensor]:
        lp = from_strip(self.log_prob_elementwise(x, cond), self.num_predicted).sum((2, 3, 4))   # (N, F)
        return {name: lp[:, f] for f, name in enumerate(self.part_dims())}


class VideoPixelCNNOT(VideoModel):
    """The O(T) model: four type-A upscalers at the frame's resolution, group 1 from the past alone."""

    name = "video_pixelcnn_ot"
    config_class = VideoPixelCNNOTConfig
    frame_sampler = "groups"

    def __init__(self, config: VideoPixelCNNOTConfig) -> None:
        super().__init__(config)
        c, P, g = config, self.distribution.num_params, self.num_groups
        # group g's context: groups 1..g-1 of the frame + the four sub-lattices of h_{t-1}
        self.upscalers = nn.ModuleList(UpscalerA((grp - 1) * c.image_channels + 4 * (c.encoder_hidden + c.image_channels),
                                                 c.image_channels, P, c.hidden, c.num_resnet, g)
                                       for grp in (1, 2, 3, 4))

    def group_features(self, grp: int, earlier: list[torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        """ResNet features (B, hidden, S/2, S/2) of group ``grp`` from groups 1..grp-1 (each (B, C, S/2, S/2))
        and the encoder's condition h (B, hidden_enc + C, S, S), cut into its four group lattices."""
        return self.upscalers[grp - 1].features(torch.cat([*earlier, F.pixel_unshuffle(h, 2)], 1), None)

    def frame_network(self, frames: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        b, c, s, _ = frames.shape
        groups = F.pixel_unshuffle(frames, 2).view(b, c, 4, s // 2, s // 2).unbind(2)   # groups 1..4
        out = [self.upscalers[grp - 1].head(self.group_features(grp, list(groups[:grp - 1]), h), groups[grp - 1])
               for grp in (1, 2, 3, 4)]
        return F.pixel_shuffle(torch.stack(out, 2).flatten(1, 2), 2)   # interleave back: (B, P, S, S)

    def frame_allowed(self, c: int, i: int, j: int) -> torch.Tensor:
        C, S = self.config.image_channels, self.config.image_size
        allowed = torch.zeros(C, S, S, dtype=torch.bool)
        for g2 in range(1, _GROUP_OF[(i % 2, j % 2)]):
            di, dj = GROUP_OFFSETS[g2]
            allowed[:, di::2, dj::2] = True
        if self.distribution.autoregressive_channels:
            allowed[:c, i, j] = True
        return allowed

    def frame_positions(self) -> list[tuple[int, int]]:
        h = self.config.image_size // 2
        return [(2 * a + GROUP_OFFSETS[g][0], 2 * b + GROUP_OFFSETS[g][1])
                for g in (1, 2, 3, 4) for a in range(h) for b in range(h)]

    def output_layer(self) -> nn.Module:
        return nn.ModuleList(up.output_layer() for up in self.upscalers)


class VideoPixelCNNOTLogN(VideoModel):
    """The O(T log N) model: the multiscale PixelCNN for every frame, h_{t-1} as its spatial condition."""

    name = "video_pixelcnn_otlogn"
    config_class = VideoPixelCNNOTLogNConfig
    frame_sampler = "multiscale"

    def __init__(self, config: VideoPixelCNNOTLogNConfig) -> None:
        super().__init__(config)
        self.frame_model = MultiscalePixelCNN(config.frame_config())

    def frame_network(self, frames: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.frame_model.network(frames, {"spatial": h})

    def frame_allowed(self, c: int, i: int, j: int) -> torch.Tensor:
        return self.frame_model.allowed_inputs(c, i, j)

    def frame_positions(self) -> list[tuple[int, int]]:
        return self.frame_model.positions()

    def output_layer(self) -> nn.Module:
        return self.frame_model.output_layer()
